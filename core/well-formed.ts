/**
 * Text made safe for encoders that refuse some of what a JavaScript string may hold: lone surrogates (half of
 * an emoji, as a cut at a fixed length leaves it) become U+FFFD, as String.prototype.toWellFormed does.
 * `encodeURIComponent` throws on them, and XML parsers refuse them.
 */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

export function wellFormed(s: string): string {
  return s.replace(LONE_SURROGATE, "\uFFFD");
}
