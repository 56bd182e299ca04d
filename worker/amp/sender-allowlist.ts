/** Sender allow-list matching: exact addresses, `*@domain` wildcards, or `*` (any; testing only). */

export function isSenderAllowed(sender: string, allowList: readonly string[]): boolean {
  const s = sender.trim().toLowerCase();
  if (!s) return false;
  const at = s.lastIndexOf("@");
  const domain = at >= 0 ? s.slice(at + 1) : "";
  return allowList.some(
    (entry) => entry === "*" || entry === s || (entry.startsWith("*@") && domain !== "" && entry.slice(2) === domain),
  );
}
