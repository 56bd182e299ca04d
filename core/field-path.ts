/**
 * How a field's place in a value is written in every message that names one (a 400's `<path>: <message>`, a
 * stored value's log line, a campaign's warnings and `why`): keys joined by `.`, array places in brackets, as
 * `blocks[0].when.localHour.$gte` or `variants[1].content.default`.
 */
export function fieldPath(segments: readonly PropertyKey[], prefix = ""): string {
  let out = prefix;
  for (const s of segments) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out ? `.${String(s)}` : String(s);
  }
  return out;
}
