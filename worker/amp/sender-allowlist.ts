/**
 * Sender allow-list matching: exact addresses, `*@domain` wildcards, or `*` (any; testing only). A sender
 * must first be a well-formed address (its value goes back in a response header): at most 254 characters,
 * one `@`, no whitespace, control characters or header delimiters. A configured domain in Unicode is read as its
 * A-labels (asciiSender); a local part in Unicode (EAI) cannot travel in a header, and is refused.
 */

const MAX_SENDER_LENGTH = 254;
/** Linear: a character class, no nesting. */
const SENDER_CHARACTERS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+$/;

export function isWellFormedSender(sender: string): boolean {
  if (sender.length === 0 || sender.length > MAX_SENDER_LENGTH || !SENDER_CHARACTERS.test(sender)) return false;
  const at = sender.indexOf("@");
  return at > 0 && at === sender.lastIndexOf("@") && at < sender.length - 1;
}

/**
 * A configured sender (lower-cased) with its domain as DNS and a mail client's AMP-Email-Sender header write it, in
 * IDNA A-labels (`news@café.example` is `news@xn--caf-dma.example`); unchanged when its domain is ASCII already or
 * is no host name (then isWellFormedSender refuses it, and health names the variable).
 */
export function asciiSender(entry: string): string {
  const at = entry.lastIndexOf("@");
  const domain = entry.slice(at + 1);
  if (at < 0 || /^[\x21-\x7e]*$/.test(domain) || /[\s/?#:@\\[\]%]/.test(domain)) return entry;
  try {
    return `${entry.slice(0, at + 1)}${new URL(`http://${domain}`).hostname}`;
  } catch {
    return entry;
  }
}

export function isSenderAllowed(sender: string, allowList: readonly string[]): boolean {
  if (!isWellFormedSender(sender)) return false;
  const s = sender.toLowerCase();
  const domain = s.slice(s.indexOf("@") + 1);
  return allowList.some(
    (entry) => entry === "*" || entry === s || (entry.startsWith("*@") && entry.slice(2) === domain),
  );
}
