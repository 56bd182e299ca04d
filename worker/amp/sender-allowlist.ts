/**
 * Sender allow-list matching: exact addresses, `*@domain` wildcards, or `*` (any; testing only). A sender
 * must first be a well-formed address (its value goes back in a response header): at most 254 characters,
 * one `@`, no whitespace, control characters or header delimiters.
 */

const MAX_SENDER_LENGTH = 254;
/** Linear: a character class, no nesting. */
const SENDER_CHARACTERS = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~@-]+$/;

export function isWellFormedSender(sender: string): boolean {
  if (sender.length === 0 || sender.length > MAX_SENDER_LENGTH || !SENDER_CHARACTERS.test(sender)) return false;
  const at = sender.indexOf("@");
  return at > 0 && at === sender.lastIndexOf("@") && at < sender.length - 1;
}

export function isSenderAllowed(sender: string, allowList: readonly string[]): boolean {
  if (!isWellFormedSender(sender)) return false;
  const s = sender.toLowerCase();
  const domain = s.slice(s.indexOf("@") + 1);
  return allowList.some(
    (entry) => entry === "*" || entry === s || (entry.startsWith("*@") && entry.slice(2) === domain),
  );
}
