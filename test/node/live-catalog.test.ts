// The live catalog's pure rules: how a change merges, what hides an item, and how live fields lay over it.
import { describe, expect, it } from "vitest";
import type { CatalogItem } from "../../core/catalog";
import { fieldPath } from "../../core/field-path";
import {
  CatalogPatchSchema,
  isAvailable,
  LiveCatalogSchema,
  liveBytes,
  liveCatalogJson,
  liveItem,
  mergeOverlay,
  overlayItem,
  planPatch,
  UrlSchema,
  unavailableIds,
} from "../../core/live-catalog";

const item: CatalogItem = {
  id: "p1",
  title: "Lamp",
  category: "home",
  price: 20,
  currency: "GBP",
  image: "/img/p1.png",
  url: "/p/p1",
};

describe("live catalog", () => {
  it("merges the fields a change names, keeps the others, and clears those set to null", () => {
    const a = mergeOverlay(undefined, { id: "p1", stock: 3, price: 9 });
    expect(a).toEqual({ stock: 3, price: 9 });
    const b = mergeOverlay(a, { id: "p1", title: "New", price: null });
    expect(b).toEqual({ stock: 3, title: "New" });
    expect(a).toEqual({ stock: 3, price: 9 }); // the input is untouched
    expect(mergeOverlay(b, { id: "p1", stock: null, title: null })).toEqual({});
  });

  it("hides an item out of stock or switched off; unknown stock counts as in stock", () => {
    expect(isAvailable(undefined)).toBe(true);
    expect(isAvailable({ price: 3 })).toBe(true);
    expect(isAvailable({ stock: 1 })).toBe(true);
    expect(isAvailable({ stock: 0 })).toBe(false);
    expect(isAvailable({ stock: -2 })).toBe(false);
    expect(isAvailable({ stock: 5, active: false })).toBe(false);
    expect([
      ...unavailableIds({
        version: 3,
        updatedAt: 0,
        items: new Map([
          ["a", { stock: 0 }],
          ["b", { stock: 2 }],
          ["c", { active: false }],
        ]),
      }),
    ]).toEqual(["a", "c"]);
  });

  it("keeps an item whatever its id, `__proto__` and `constructor` included, from the writer to the opens", () => {
    const items = new Map([
      ["__proto__", { stock: 0 }],
      ["constructor", { active: false }],
      ["toString", { price: 3 }],
    ]);
    const read = LiveCatalogSchema.parse(JSON.parse(liveCatalogJson({ version: 2, updatedAt: 0, items })));
    expect([...read.items]).toEqual([...items]);
    expect([...unavailableIds(read)]).toEqual(["__proto__", "constructor"]);
    // an id with no live fields has none, whatever Object.prototype holds
    expect(read.items.get("valueOf")).toBeUndefined();
    expect(Object.getPrototypeOf({})).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).stock).toBeUndefined();
  });

  it("lays live fields over the model's item", () => {
    expect(liveItem(item, undefined)).toBe(item);
    expect(liveItem(item, { price: 12.5, title: "Sale lamp", stock: 4, tags: ["x"] })).toEqual({
      ...item,
      price: 12.5,
      title: "Sale lamp",
    });
  });

  it("plans a PATCH: only real changes, and how many items hold live fields after it", () => {
    const current = new Map([
      ["a", { stock: 1 }],
      ["b", { price: 2 }],
    ]);
    const { next, held } = planPatch(current, [
      { id: "a", stock: 1 }, // no change
      { id: "b", price: null }, // cleared: b holds nothing any more
      { id: "c", stock: 0 }, // new
      { id: "d", title: null }, // nothing to clear
    ]);
    expect([...next]).toEqual([
      ["b", null],
      ["c", { stock: 0 }],
    ]);
    expect(held).toBe(2);
  });

  it("counts the published overlay's bytes a PATCH leaves (UTF-8), from the current ones", () => {
    const current = new Map([["a", { title: "é" }]]);
    const before = liveBytes(current);
    expect(before).toBe(new TextEncoder().encode('"a":{"title":"é"},').length);
    const { bytes } = planPatch(
      current,
      [
        { id: "a", title: null },
        { id: "b", stock: 2 },
      ],
      before,
    );
    expect(bytes).toBe(liveBytes(new Map([["b", { stock: 2 }]])));
  });

  it("takes http(s) URLs and site paths for links and pictures, and ISO currency codes only", () => {
    const ok = (change: Record<string, unknown>) =>
      CatalogPatchSchema.safeParse({ items: [{ id: "p1", ...change }] }).success;
    expect(ok({ url: "https://shop.example/p/1", image: "/img/p1.png?w={width}" })).toBe(true);
    expect(ok({ url: "javascript:alert(1)" })).toBe(false);
    expect(ok({ image: "data:image/png;base64,AAAA" })).toBe(false);
    expect(ok({ url: "//evil.example/p" })).toBe(false);
    expect(ok({ currency: "EUR" })).toBe(true);
    expect(ok({ currency: "eur" })).toBe(false);
    // the refusal says what to write: the events API takes any case, a catalog or a campaign capitals only
    const lower = CatalogPatchSchema.safeParse({ items: [{ id: "p1", currency: "gbp" }] });
    expect(lower.error?.issues[0]?.message).toBe("an ISO 4217 code in capitals, such as GBP (not gbp)");
  });

  it("refuses unknown fields, ids twice, non-integer stock, out-of-range numbers, and more than 1,000 items", () => {
    const ok = (items: unknown[]) => CatalogPatchSchema.safeParse({ items }).success;
    expect(ok([{ id: "p1", stock: 0, price: 1.5, active: false, tags: ["a"] }])).toBe(true);
    expect(ok([{ id: "p1", colour: "red" }])).toBe(false);
    expect(ok([{ id: "p1" }, { id: "p1", stock: 1 }])).toBe(false);
    expect(ok([{ id: "p1", stock: 1.5 }])).toBe(false);
    expect(ok([{ id: "p1", price: -1 }])).toBe(false);
    expect(ok([{ id: "p1", price: 1e12 }])).toBe(false);
    expect(ok([])).toBe(false);
    expect(ok(Array.from({ length: 1001 }, (_, i) => ({ id: `p${i}`, stock: 1 })))).toBe(false);
  });

  it("an id twice is named where it comes again, with where it came first (a batch of 1,000 says which row)", () => {
    const twice = CatalogPatchSchema.safeParse({
      items: [{ id: "p1" }, { id: "p2", stock: 1 }, { id: "p3" }, { id: "p2", price: 4 }],
    });
    expect(twice.error?.issues.map((i) => [fieldPath(i.path), i.message])).toEqual([
      ["items[3].id", '"p2" is also items[1].id: each item id at most once per request'],
    ]);
  });
});

describe("UrlSchema", () => {
  it("takes http(s) URLs and paths, never a path a URL parser reads as another host", () => {
    const ok = (u: string) => UrlSchema.safeParse(u).success;
    for (const u of ["https://shop.example/p/1", "http://shop.example", "/p/1", "/demo/img/a.png", "/sale page"])
      expect(ok(u), u).toBe(true);
    for (const u of [
      "//evil.example",
      "/\\evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "javascript:x",
      "p/1",
    ])
      expect(ok(u), JSON.stringify(u)).toBe(false);
    // what those would have been: another host, resolved against the shop's
    for (const u of ["/\\evil.example", "/\t/evil.example"])
      expect(new URL(u, "https://shop.example/").host).toBe("evil.example");
  });
});

describe("items the model does not know", () => {
  it("are made from their live fields when those give title, price, currency and link, and they may be shown", () => {
    const full = { title: "New lamp", price: 49, currency: "GBP", url: "/p/new-lamp" };
    expect(overlayItem("new-lamp", full)).toEqual({
      id: "new-lamp",
      ...full,
      image: "",
      category: "",
    });
    expect(overlayItem("new-lamp", { ...full, image: "/i.png", category: "Lamps", tags: ["new"] })).toMatchObject({
      image: "/i.png",
      category: "Lamps",
    });
    for (const missing of ["title", "price", "currency", "url"] as const) {
      const { [missing]: _, ...rest } = full;
      expect(overlayItem("new-lamp", rest)).toBeNull();
    }
    expect(overlayItem("new-lamp", { ...full, stock: 0 })).toBeNull();
    expect(overlayItem("new-lamp", { ...full, active: false })).toBeNull();
    expect(overlayItem("new-lamp", undefined)).toBeNull();
  });
});
