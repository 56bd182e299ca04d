/**
 * Addresses as the messages' headers will carry them, read by nodemailer's own parser (addressparser), which
 * composeMime's MailComposer uses, so that what is checked is what is written. Left to it unchecked, an email cell
 * `bob,ann@x.com` was addressed to `ann@x.com` alone, and `ann@x.com:x` to an empty group (no recipient at all); a
 * `--from` without an address (`--from "Demo Shop"`) left every message with no From header.
 */
import addressparser from "nodemailer/lib/addressparser";
import { looksLikeEmailAsSent } from "../../core/events";

/** Whether `s` is one address as it is, nothing more (a recipients file's `email` cell): To: holds it unchanged. */
export function isBareAddress(s: string): boolean {
  const parsed = addressparser(s);
  return parsed.length === 1 && parsed[0]?.address === s && parsed[0].name === "" && looksLikeEmailAsSent(s);
}

/** Whether `s` names one sender with an address (`Shop <n@shop.example>`, `n@shop.example`): From: holds one. */
export function isOneMailbox(s: string): boolean {
  const parsed = addressparser(s);
  const address = parsed.length === 1 ? parsed[0]?.address : undefined;
  return address !== undefined && looksLikeEmailAsSent(address);
}
