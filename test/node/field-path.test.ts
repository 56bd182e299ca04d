// core/field-path.ts: one notation for a field's place, with no two places written alike.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fieldPath } from "../../core/field-path";

describe("fieldPath", () => {
  it("joins keys with dots and writes array places in brackets", () => {
    expect(fieldPath(["blocks", 0, "when", "localHour", "$gte"])).toBe("blocks[0].when.localHour.$gte");
    expect(fieldPath([1, "content"], "variants")).toBe("variants[1].content");
    expect(fieldPath([])).toBe("");
  });

  it("quotes a key that would read as another path", () => {
    expect(fieldPath(["properties", "utm.source"])).toBe('properties["utm.source"]');
    expect(fieldPath(["a", ""])).toBe('a[""]');
    expect(fieldPath(["a b", "x"])).toBe('["a b"].x');
    expect(fieldPath(["k[0]"])).toBe('["k[0]"]');
    expect(fieldPath(['say "hi"'])).toBe('["say \\"hi\\""]');
  });

  it("writes different places differently", () => {
    const segment = fc.oneof(
      fc.nat({ max: 20 }),
      fc.constantFrom("", ".", "a", "a.b", "b", "0", "[0]", '"', " ", "a b"),
      fc.string({ maxLength: 4 }),
    );
    const path = fc.array(segment, { maxLength: 4 });
    fc.assert(
      fc.property(path, path, (a, b) => {
        fc.pre(JSON.stringify(a) !== JSON.stringify(b));
        expect(fieldPath(a)).not.toBe(fieldPath(b));
      }),
      { numRuns: 2000 },
    );
  });
});
