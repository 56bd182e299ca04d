/**
 * How a field's place in a value is written in every message that names one (a 400's `<path>: <message>`, a
 * stored value's log line, a campaign's warnings and `why`): keys joined by `.`, array places in brackets, as
 * `blocks[0].when.localHour.$gte` or `variants[1].content.default`. A key that could not be told apart written
 * plain (empty, or holding `.`, a bracket, a quote or a space) is written as a quoted place: `properties["utm.source"]`,
 * `a[""]`, so no two paths read alike.
 */
export function fieldPath(segments: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else if (typeof s === "string" && PLAIN_KEY.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(String(s))}]`;
  }
  return out;
}

/** a key written as it is: not empty, and nothing that reads as a separator, a place or a quote */
const PLAIN_KEY = /^[^.[\]"'\s]+$/;
