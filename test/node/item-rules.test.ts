// A campaign's item rules over candidates: exclusions, boosts, diversity and pinned items hold for any input.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCampaign } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import {
  applyItemRules,
  type Candidate,
  candidatesFor,
  ItemRulesSchema,
  readerExclusions,
  withinRoom,
} from "../../core/item-rules";

const item = (id: string, category: string, price = 10): CatalogItem => ({
  id,
  title: id,
  category,
  price,
  currency: "GBP",
  image: `/img/${id}.png`,
  url: `/p/${id}`,
});
const ranked = (items: CatalogItem[]): Candidate[] => items.map((it, i) => ({ item: it, score: 10 - i }));
const noTags = () => undefined;

describe("item rules", () => {
  const pool = [
    item("a1", "lamps", 5),
    item("a2", "lamps", 50),
    item("b1", "rugs", 20),
    item("a3", "lamps", 15),
    item("c1", "mugs", 8),
    item("b2", "rugs", 30),
  ];

  it("excludes by price range, category and id, and says how many", () => {
    const { items, applied } = applyItemRules(
      ranked(pool),
      { exclude: { priceMin: 6, priceMax: 40, categories: ["mugs"], ids: ["b1"] } },
      6,
      [],
      noTags,
    );
    expect(items.map((c) => c.item.id)).toEqual(["a3", "b2"]);
    expect(applied.excluded).toBe(4);
  });

  it("price bounds in a named currency: an item priced in another is excluded, never compared as a number", () => {
    const euros = (id: string, price: number): CatalogItem => ({ ...item(id, "lamps", price), currency: "EUR" });
    // a catalog file's lower-case code is the same currency
    const lower = { ...item("g-lower", "lamps", 30), currency: "gbp" };
    const mixed = [
      item("g-cheap", "lamps", 4),
      euros("e-mid", 20),
      item("g-mid", "lamps", 20),
      euros("e-big", 300),
      lower,
    ];
    const rules = { exclude: { priceMin: 5, priceMax: 200, currency: "GBP" } };
    expect(ItemRulesSchema.safeParse(rules).success).toBe(true);
    const { items, applied } = applyItemRules(ranked(mixed), rules, 5, [], noTags);
    expect(items.map((c) => c.item.id)).toEqual(["g-mid", "g-lower"]);
    expect(applied.excluded).toBe(3);
    // without it, the bounds compare numbers whatever the currency (EUR 20 passes a GBP-meant range)
    const plain = applyItemRules(ranked(mixed), { exclude: { priceMin: 5, priceMax: 200 } }, 5, [], noTags);
    expect(plain.items.map((c) => c.item.id)).toEqual(["e-mid", "g-mid", "g-lower"]);
    // a currency alone bounds nothing: refused, named by its path; and only ISO 4217 codes as written
    const alone = ItemRulesSchema.safeParse({ exclude: { currency: "GBP" } });
    expect(alone.success).toBe(false);
    expect(alone.error?.issues[0]?.path).toEqual(["exclude", "currency"]);
    expect(ItemRulesSchema.safeParse({ exclude: { priceMin: 5, currency: "gbp" } }).success).toBe(false);
  });

  it("caps a category, pins first in the given order, and boosts by category and tag", () => {
    const capped = applyItemRules(ranked(pool), { maxPerCategory: 1 }, 4, [], noTags);
    // three categories for four places: the best item passed over (a2) takes the last one
    expect(capped.items.map((c) => c.item.id)).toEqual(["a1", "b1", "c1", "a2"]);
    expect(capped.applied).toMatchObject({ capped: 3, relaxed: 1 });
    const pinned = applyItemRules(
      ranked(pool),
      { maxPerCategory: 2 },
      4,
      [item("z9", "lamps"), pool[4] as CatalogItem],
      noTags,
    );
    expect(pinned.items.map((c) => c.item.id)).toEqual(["z9", "c1", "a1", "b1"]);
    const tags = (id: string) => (id === "c1" ? ["margin-high"] : undefined);
    const lifted = applyItemRules(
      ranked(pool),
      { boost: { categories: { rugs: 0.3 }, tags: { "margin-high": 1 } } },
      3,
      [],
      tags,
    );
    // scaled scores a1 1.0, a2 0.8, b1 0.6 + 0.3, c1 0.2 + 1: c1, a1, b1
    expect(lifted.items.map((c) => c.item.id)).toEqual(["c1", "a1", "b1"]);
    expect(lifted.applied.boosted).toBe(3);
  });

  it("for any candidates and rules: at most n, no repeats, pinned first, exclusions and the cap hold", () => {
    const categories = ["a", "b", "c", "d"];
    const arbItem = fc
      .record({
        id: fc.integer({ min: 0, max: 40 }),
        category: fc.constantFrom(...categories),
        price: fc.integer({ min: 0, max: 100 }),
      })
      .map((x) => item(`i${x.id}`, x.category, x.price));
    const arbRules = fc.record(
      {
        exclude: fc.record(
          { priceMax: fc.integer({ min: 0, max: 100 }), categories: fc.subarray(categories) },
          { requiredKeys: [] },
        ),
        boost: fc.record({
          categories: fc.dictionary(fc.constantFrom(...categories), fc.double({ min: -1, max: 1, noNaN: true })),
        }),
        maxPerCategory: fc.integer({ min: 1, max: 4 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(arbItem, { selector: (i) => i.id, maxLength: 30 }),
        arbRules,
        fc.integer({ min: 1, max: 8 }),
        (items, rules, n) => {
          expect(ItemRulesSchema.safeParse(rules).success).toBe(true);
          const pinned = items.slice(0, 2);
          const { items: out, applied } = applyItemRules(ranked(items), rules, n, pinned, noTags);
          const ids = out.map((c) => c.item.id);
          expect(ids.length).toBeLessThanOrEqual(n);
          expect(new Set(ids).size).toBe(ids.length);
          expect(ids.slice(0, Math.min(n, pinned.length))).toEqual(pinned.slice(0, n).map((i) => i.id));
          const rest = out.slice(Math.min(n, pinned.length)).map((c) => c.item);
          for (const it of rest) {
            if (rules.exclude?.priceMax !== undefined) expect(it.price).toBeLessThanOrEqual(rules.exclude.priceMax);
            expect(rules.exclude?.categories ?? []).not.toContain(it.category);
          }
          const per = new Map<string, number>();
          for (const c of out) per.set(c.item.category, (per.get(c.item.category) ?? 0) + 1);
          // the cap counts pinned items too: a category that took ranked items holds at most the cap, unless
          // too few categories were left (then the answer is full: n items, or every candidate)
          const eligible = items.filter(
            (it) =>
              !pinned.includes(it) &&
              !(rules.exclude?.priceMax !== undefined && it.price > rules.exclude.priceMax) &&
              !(rules.exclude?.categories ?? []).includes(it.category),
          );
          if (applied.relaxed > 0) expect(out.length === n || rest.length === eligible.length).toBe(true);
          else if (rules.maxPerCategory) {
            for (const it of rest) expect(per.get(it.category) as number).toBeLessThanOrEqual(rules.maxPerCategory);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("fills a short answer with allowed items under the cap before relaxing it", () => {
    // the model's candidates: three lamps; the fill: popular items, one of them excluded, a lamp first
    const popular = [item("a9", "lamps"), item("x1", "gift cards"), item("b1", "rugs"), item("c1", "mugs")];
    let asked: { taken: string[]; short: number } | null = null;
    const { items, applied } = applyItemRules(
      ranked([item("a1", "lamps"), item("a2", "lamps"), item("a3", "lamps")]),
      { maxPerCategory: 2, exclude: { categories: ["gift cards"] } },
      5,
      [],
      noTags,
      (taken, short) => {
        asked = { taken: [...taken].sort(), short };
        return ranked(popular);
      },
    );
    expect(asked).toEqual({ taken: ["a1", "a2", "a3"], short: 3 });
    expect(items.map((c) => c.item.id)).toEqual(["a1", "a2", "b1", "c1", "a3"]);
    expect(applied).toMatchObject({ capped: 1, relaxed: 1, filled: 2, excluded: 0 });
  });

  it("tells the fill what each category's cap leaves: one searching past a full category keeps the cap", () => {
    // the model's candidates: three lamps under a cap of 2; the popular list: 60 lamps, then a rug and a mug far below
    const popular = [
      ...Array.from({ length: 60 }, (_, i) => item(`l${i}`, "lamps")),
      item("b1", "rugs"),
      item("b2", "rugs"),
      item("c1", "mugs"),
    ];
    let rooms: number[] = [];
    const { items, applied } = applyItemRules(
      ranked([item("a1", "lamps"), item("a2", "lamps"), item("a3", "lamps")]),
      { maxPerCategory: 2 },
      5,
      [],
      noTags,
      (taken, short, room) => {
        rooms = [room("lamps"), room("rugs")];
        // as the Worker's fill takes popular items: its first 54 allowed, within what each category has room for
        const hasRoom = withinRoom(room);
        return ranked(popular.filter((c) => !taken.has(c.id) && hasRoom(c.category)).slice(0, candidatesFor(short)));
      },
    );
    expect(rooms).toEqual([0, 2]);
    expect(items.map((c) => c.item.id)).toEqual(["a1", "a2", "b1", "b2", "c1"]);
    expect(applied).toMatchObject({ capped: 1, relaxed: 0, filled: 3 });
    // no cap: room without end
    const free = withinRoom(() => Number.POSITIVE_INFINITY);
    expect(Array.from({ length: 5 }, () => free("lamps"))).toEqual([true, true, true, true, true]);
  });

  it("a fill told the cap's room that finds only full categories still fills the answer, the cap relaxed", () => {
    // a catalog of lamps only, and exclusions that leave one of the model's candidates: diversity gives way before
    // length (README), as when the fill was not told the room
    const popular = Array.from({ length: 60 }, (_, i) => item(`l${i}`, "lamps"));
    const { items, applied } = applyItemRules(
      ranked([item("a1", "lamps"), item("x1", "lamps", 500)]),
      { maxPerCategory: 1, exclude: { priceMax: 100 } },
      4,
      [],
      noTags,
      (taken, short, room) => {
        const hasRoom = withinRoom(room);
        return ranked(popular.filter((c) => !taken.has(c.id) && hasRoom(c.category)).slice(0, candidatesFor(short)));
      },
    );
    expect(items.map((c) => c.item.id)).toEqual(["a1", "l0", "l1", "l2"]);
    expect(applied).toMatchObject({ excluded: 1, relaxed: 3, filled: 3 });
  });

  it("scales boosts over finite scores only, and reads weights as own keys", () => {
    const odd = [
      { item: item("x", "constructor"), score: Number.NaN },
      { item: item("y", "lamps"), score: 3 },
      { item: item("z", "lamps"), score: 2 },
      { item: item("w", "rugs"), score: 1 },
    ];
    // y 1.0, z 0.5, w 0 + 0.9: the NaN does not make every scaled score NaN (which would keep the input order)
    const { items } = applyItemRules(odd, { boost: { categories: { rugs: 0.9 } } }, 4, [], noTags);
    expect(items.map((c) => c.item.id).filter((id) => id !== "x")).toEqual(["y", "w", "z"]);
  });

  it("refuses unknown fields, out-of-range weights, a pinned id twice and an empty price range", () => {
    expect(ItemRulesSchema.safeParse({ pinned: ["p1", "p1"] }).success).toBe(false);
    expect(ItemRulesSchema.safeParse({ exclude: { priceMin: 10, priceMax: 5 } }).success).toBe(false);
    expect(ItemRulesSchema.safeParse({ maxPerCategory: 2, pinned: ["p1"] }).success).toBe(true);
    expect(ItemRulesSchema.safeParse({ sort: "price" }).success).toBe(false);
    expect(ItemRulesSchema.safeParse({ boost: { categories: { lamps: 5 } } }).success).toBe(false);
    // a category or tag `__proto__` (an own key, as JSON gives it) is refused by its path where a campaign is
    // submitted, not dropped; `constructor` is a name like any other
    const proto = parseCampaign(
      JSON.parse(
        '{"v":2,"default":{"id":"picks","type":"recommendations","items":{"boost":{"tags":{"__proto__":0.5}}}}}',
      ),
      true,
    );
    expect(proto.success ? [] : proto.error.issues.map((i) => [i.path.join("."), i.message])).toEqual([
      ["default.items.boost.tags.__proto__", '"__proto__" cannot be used as a category, tag or any other key'],
    ]);
    expect(ItemRulesSchema.parse(JSON.parse('{"boost":{"tags":{"constructor":0.5}}}'))).toEqual({
      boost: { tags: { constructor: 0.5 } },
    });
    expect(ItemRulesSchema.safeParse({ maxPerCategory: 0 }).success).toBe(false);
  });
});

describe("the rules' exclusions by the reader's own history", () => {
  const NOW = 1_800_000_000;
  const DAY = 86_400;
  it("the frequency cap counts impressions inside its window; bought-within counts purchases inside its days", () => {
    const history = {
      impressions: [
        { item: "a", ts: NOW - DAY },
        { item: "a", ts: NOW - 2 * DAY },
        { item: "b", ts: NOW - DAY },
        { item: "c", ts: NOW - 40 * DAY },
        { item: "c", ts: NOW - 41 * DAY },
      ],
      purchases: [
        { item: "x", lastTs: NOW - 3 * DAY },
        { item: "y", lastTs: NOW - 90 * DAY },
      ],
    };
    const rules = ItemRulesSchema.parse({ frequencyCap: { max: 2, days: 30 }, exclude: { boughtWithinDays: 7 } });
    const out = readerExclusions(rules, history, NOW);
    expect([...out.seen]).toEqual(["a"]);
    expect([...out.bought]).toEqual(["x"]);
    expect(readerExclusions(ItemRulesSchema.parse({ frequencyCap: { max: 1, days: 60 } }), history, NOW).seen).toEqual(
      new Set(["a", "b", "c"]),
    );
    expect(readerExclusions(rules, undefined, NOW)).toEqual({ seen: new Set(), bought: new Set() });
    // an email's own impressions never count against it (a re-open shows what it showed)
    const own = { ...history, impressions: history.impressions.map((i) => ({ ...i, send: "spring:1800003600" })) };
    expect([...readerExclusions(rules, own, NOW, "spring:1800003600").seen]).toEqual([]);
    expect([...readerExclusions(rules, own, NOW, "spring:1800090000").seen]).toEqual(["a"]);
  });
});
