/**
 * AMP for Email CORS v1 sends the mail client's `Origin`. It is checked against the origins of the mail
 * providers that render AMP (never reflected as sent): Gmail, Yahoo Mail and AOL (`Origin: null`),
 * Mail.ru, and the AMP playground. AMP_ALLOWED_ORIGINS (comma-separated) replaces the list.
 */
export const DEFAULT_MAIL_ORIGINS = [
  "https://mail.google.com",
  "null",
  "https://mail.yahoo.com",
  "https://mail.aol.com",
  "https://e.mail.ru",
  "https://touch.mail.ru",
  "https://octavius.mail.ru",
  "https://playground.amp.dev",
] as const;

export function isMailOrigin(origin: string, allowed: readonly string[]): boolean {
  return allowed.includes(origin.trim().toLowerCase());
}
