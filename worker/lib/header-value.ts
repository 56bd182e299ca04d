/**
 * Values from data (catalog ids, model versions) that go into response headers: printable ASCII up to
 * 200 characters is kept as is; anything else is percent-encoded (and cut), so a header can never throw.
 * Explanations (a sentence of data) keep their printable ASCII and lose the rest to `?`.
 */
const PRINTABLE = /^[\x20-\x7e]{0,200}$/;
const NOT_PRINTABLE = /[^\x20-\x7e]/g;

export function headerValue(value: string): string {
  if (PRINTABLE.test(value)) return value;
  // well-formed: a lone surrogate (in the data, or half an emoji the cut left) would make encodeURIComponent throw
  return encodeURIComponent(value.slice(0, 200).toWellFormed()).slice(0, 600);
}

/** A readable line for a header: printable ASCII kept, anything else `?`, at most `max` characters. */
export function headerText(value: string, max = 600): string {
  return value.slice(0, max).replace(NOT_PRINTABLE, "?");
}
