/**
 * AMP for Email CORS v1 sends the mail client's `Origin`. It is checked against the origins of the mail
 * providers that render AMP (never reflected as sent): Gmail, Yahoo Mail and AOL (`Origin: null`),
 * Mail.ru, and the AMP playground. AMP_ALLOWED_ORIGINS (comma-separated) replaces the list; worker/env.ts drops
 * an entry no `Origin` can equal (`isOriginValue`).
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

/** Whether `entry` is a value an `Origin` header can hold (`null`, or a scheme, host and port: no path, no slash). */
export function isOriginValue(entry: string): boolean {
  if (entry === "null") return true;
  try {
    return new URL(entry).origin === entry;
  } catch {
    return false;
  }
}
