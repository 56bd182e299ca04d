// The slots of an open-time image block: each slot keeps its ranked item, empty ones take spares, never one twice.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { CatalogItem } from "../../core/catalog";
import { emptySlots, slotItems } from "../../core/slot-items";

const item = (id: string, category = "mugs"): CatalogItem => ({
  id,
  title: id,
  category,
  price: 10,
  currency: "GBP",
  image: `/img/${id}.png`,
  url: `/p/${id}`,
});
const ids = (slots: (CatalogItem | null)[]) => slots.map((s) => s?.id ?? null);
const none = () => false;

describe("slot items", () => {
  it("fewer ranked items than slots: spares fill the rest, and a slot with none left is empty, not a repeat", () => {
    const ranked = [item("a"), item("b")];
    expect(ids(slotItems(ranked, 3, none))).toEqual(["a", "b", null]);
    expect(ids(slotItems(ranked, 4, none, [item("a"), item("s1")]))).toEqual(["a", "b", "s1", null]);
    expect(emptySlots(ranked, 4, none)).toBe(2);
    expect(ids(slotItems([], 2, none))).toEqual([null, null]);
  });

  it("a slot whose item went away takes the first spare; the other slots keep their places", () => {
    const ranked = [item("a"), item("b"), item("c")];
    const gone = (id: string) => id === "b" || id === "s1";
    expect(emptySlots(ranked, 3, gone)).toBe(1);
    expect(ids(slotItems(ranked, 3, gone, [item("s1"), item("s2"), item("s3")]))).toEqual(["a", "s2", "c"]);
  });

  it("under the block's category cap a spare of a category not yet full comes first, then any", () => {
    const ranked = [item("a", "lamps"), item("b", "lamps")];
    const spares = [item("l1", "lamps"), item("r1", "rugs"), item("l2", "lamps")];
    expect(ids(slotItems(ranked, 4, none, spares, 2))).toEqual(["a", "b", "r1", "l1"]);
    expect(ids(slotItems(ranked, 4, none, spares))).toEqual(["a", "b", "l1", "r1"]);
  });

  it("whatever the ranking, the spares and what went away: no item twice, nothing gone, ranked items in place", () => {
    const id = fc.constantFrom<string>("a", "b", "c", "d", "e", "f", "g");
    fc.assert(
      fc.property(
        fc.uniqueArray(id, { maxLength: 6 }),
        fc.array(id, { maxLength: 8 }),
        fc.uniqueArray(id, { maxLength: 3 }),
        fc.integer({ min: 1, max: 4 }),
        (rankedIds, spareIds, goneIds, slots) => {
          const gone = (x: string) => goneIds.includes(x);
          const ranked = rankedIds.map((x) => item(x));
          const out = slotItems(
            ranked,
            slots,
            gone,
            spareIds.map((x) => item(x)),
            1,
          );
          expect(out).toHaveLength(slots);
          const shown = ids(out).filter((x): x is string => x !== null);
          expect(new Set(shown).size).toBe(shown.length);
          expect(shown.some(gone)).toBe(false);
          for (let i = 0; i < slots; i++) {
            const r = rankedIds[i];
            if (r !== undefined && !gone(r)) expect(out[i]?.id).toBe(r);
          }
          // a slot is left empty only when no usable spare is left
          const usable = new Set(spareIds.filter((x) => !gone(x) && !rankedIds.includes(x)));
          if (out.includes(null)) for (const x of usable) expect(shown).toContain(x);
        },
      ),
    );
  });
});
