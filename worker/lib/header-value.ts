/**
 * Values from data (catalog ids, model versions) that go into response headers: printable ASCII up to
 * 200 characters is kept as is; anything else is percent-encoded (and cut), so a header can never throw.
 */
const PRINTABLE = /^[\x20-\x7e]{0,200}$/;

export function headerValue(value: string): string {
  if (PRINTABLE.test(value)) return value;
  return encodeURIComponent(value.slice(0, 200)).slice(0, 600);
}
