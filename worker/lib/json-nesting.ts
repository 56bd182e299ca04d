/**
 * How deep a JSON text nests, counted on its bytes before it is parsed: one pass, no allocation. JSON.parse takes
 * about 2 µs a level, so a 1 MiB body of 500,000 `[` costs a second of CPU where a flat one of that size costs
 * 30 ms; no body opentime reads nests anywhere near MAX_JSON_NESTING (a campaign's conditions: 6 levels,
 * core/conditions.ts), so one that does is refused unread (lib/read-json-body.ts).
 */

/** The deepest JSON body accepted: `[`/`{` levels. */
export const MAX_JSON_NESTING = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;

/** Whether `bytes` (UTF-8 JSON text, valid or not) opens more than `limit` arrays or objects at once. */
export function nestsDeeper(bytes: Uint8Array, limit = MAX_JSON_NESTING): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (inString) {
      // an escape takes the next byte with it (`\"` does not end the string); multi-byte UTF-8 never holds these
      if (b === BACKSLASH) i++;
      else if (b === QUOTE) inString = false;
    } else if (b === QUOTE) inString = true;
    else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) depth--;
  }
  return false;
}
