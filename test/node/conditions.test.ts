/** Campaign blocks and their conditions (core/conditions.ts, core/block-selection.ts, core/campaign.ts v2). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { explainSelection, factsNeeded, selectBlock } from "../../core/block-selection";
import { calibrated } from "../../core/calibration";
import {
  CampaignSchema,
  CampaignV1Schema,
  campaignProblems,
  DEFAULT_CAMPAIGN,
  migrateCampaign,
  parseCampaign,
} from "../../core/campaign";
import {
  type Condition,
  ConditionSchema,
  conditionProblems,
  evaluate,
  type Facts,
  jsonDepth,
} from "../../core/conditions";
import { fieldPath } from "../../core/field-path";

const campaign = (blocks: unknown[], extra: Record<string, unknown> = {}) =>
  CampaignSchema.parse({ v: 2, blocks, default: { id: "picks", type: "recommendations" }, ...extra });

const banner = { type: "static", title: "Spring sale", image: "/b.png", url: "https://shop.example/sale" };

describe("conditions", () => {
  it("test numbers, strings and sets; every field of one object must hold", () => {
    const facts: Facts = { topProbability: 0.72, segment: "loyal", boughtCategories: ["Mugs", "Cookware"] };
    expect(evaluate({ topProbability: { $gte: 0.7 } }, facts).held).toBe(true);
    expect(evaluate({ topProbability: { $gte: 0.7, $lt: 0.72 } }, facts).held).toBe(false);
    expect(evaluate({ segment: { $in: ["loyal", "vip"] } }, facts).held).toBe(true);
    expect(evaluate({ segment: { $nin: ["loyal"] } }, facts).held).toBe(false);
    expect(evaluate({ boughtCategories: { $in: ["Toys", "Mugs"] } }, facts).held).toBe(true);
    expect(evaluate({ boughtCategories: { $all: ["Toys", "Mugs"] } }, facts).held).toBe(false);
    expect(evaluate({ boughtCategories: { $nin: ["Toys"] } }, facts).held).toBe(true);
    expect(evaluate({ segment: { $eq: "loyal" }, topProbability: { $lt: 0.5 } }, facts).held).toBe(false);
  });

  it("an unknown fact fails every test but $exists: false, so an unknown never selects a block", () => {
    const none: Facts = { country: null };
    for (const cond of [
      { country: { $eq: "DE" } },
      { country: { $ne: "DE" } },
      { country: { $nin: ["DE"] } },
      { localHour: { $lt: 24 } },
      { topics: { $nin: ["news"] } },
      { country: { $exists: true } },
    ] satisfies Condition[]) {
      expect(evaluate(cond, none).held).toBe(false);
    }
    expect(evaluate({ country: { $exists: false } }, none).held).toBe(true);
    expect(evaluate({ $not: { country: { $eq: "DE" } } }, none).held).toBe(true);
  });

  it("$and, $or and $not combine, and the trace says which tests ran and how they went", () => {
    const facts: Facts = { localHour: 19, country: "DE", fetcher: "direct" };
    const cond: Condition = {
      $or: [{ country: { $in: ["FR"] } }, { country: { $in: ["DE", "AT"] }, localHour: { $gte: 18 } }],
      $not: { fetcher: { $eq: "apple-mpp" } },
    };
    const result = evaluate(cond, facts);
    expect(result.held).toBe(true);
    // an $or is one entry (every branch tried, in order); the fields of one object are tested in the order of
    // FACTS (the open's hour before its country)
    expect(result.trace).toEqual([
      "or(country=DE $in [FR] no, localHour=19 $gte 18 ok, country=DE $in [DE|AT] ok) ok",
      "not(fetcher=direct $eq apple-mpp no) ok",
    ]);
  });

  it("combinators agree with boolean logic over generated conditions and facts", () => {
    const leaf = fc.oneof(
      fc.record({ localHour: fc.record({ $gte: fc.integer({ min: 0, max: 23 }) }) }),
      fc.record({ country: fc.record({ $in: fc.array(fc.constantFrom("DE", "FR", "GB"), { minLength: 1 }) }) }),
      fc.record({ topics: fc.record({ $all: fc.array(fc.constantFrom("a", "b"), { minLength: 1 }) }) }),
    ) as fc.Arbitrary<Condition>;
    const facts = fc.record({
      localHour: fc.option(fc.integer({ min: 0, max: 23 }), { nil: null }),
      country: fc.option(fc.constantFrom("DE", "FR", "GB"), { nil: null }),
      topics: fc.subarray(["a", "b"]),
    }) as fc.Arbitrary<Facts>;
    fc.assert(
      fc.property(leaf, leaf, facts, (a, b, f) => {
        const [x, y] = [evaluate(a, f).held, evaluate(b, f).held];
        expect(evaluate({ $and: [a, b] }, f).held).toBe(x && y);
        expect(evaluate({ $or: [a, b] }, f).held).toBe(x || y);
        expect(evaluate({ $not: a }, f).held).toBe(!x);
        expect(ConditionSchema.safeParse({ $or: [a, { $not: b }] }).success).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses unknown facts and operators, values outside a closed set, and empty tests, naming the path", () => {
    const issues = (c: unknown) =>
      (ConditionSchema.safeParse(c).error?.issues ?? []).map((i) => `${fieldPath(i.path)}: ${i.message}`);
    expect(issues({ segmnt: { $eq: "x" } })[0]).toMatch(/segmnt/);
    expect(issues({ localHour: { $between: [1, 2] } })[0]).toMatch(/^localHour: .*\$between/);
    expect(issues({ engagement: { $in: ["hi"] } })).toEqual(["engagement.$in: engagement is one of high, medium, low"]);
    expect(issues({ localHour: {} })[0]).toMatch(/^localHour: a test needs an operator/);
    expect(issues({ localHour: { $gte: "18" } })[0]).toMatch(/^localHour\.\$gte/);
    expect(issues({ $or: [{ country: { $eq: "DE" } }, { weekday: { $eq: "monday" } }] })[0]).toMatch(
      /^\$or\[1\]\.weekday\.\$eq/,
    );
  });

  it("measures nesting without recursion, however deep", () => {
    let deep: unknown = {};
    for (let i = 0; i < 100_000; i++) deep = { $not: deep };
    expect(jsonDepth(deep, 32)).toBe(33);
    expect(jsonDepth({ a: [{ b: 1 }] })).toBe(3);
  });
});

describe("campaign v2", () => {
  it("serves the first block whose condition holds, else the default, and explains the choice", () => {
    const c = campaign([
      { id: "hot", type: "recommendations", when: { topProbability: { $gte: 0.7 } } },
      { id: "sale", ...banner, when: { segment: { $eq: "bargain" } } },
    ]);
    expect(selectBlock(c, { topProbability: 0.8, segment: "bargain" }).block.id).toBe("hot");
    const sale = selectBlock(c, { topProbability: 0.3, segment: "bargain" });
    expect(sale).toMatchObject({ index: 1, block: { id: "sale", type: "static" } });
    // what the reader's data is stays out of the explanation that goes into headers and stored decisions: nor
    // the operand, which "segment $eq bargain ok" would give away
    expect(explainSelection(sale)).toBe("sale (blocks[1]: segment ok); skipped hot: topProbability no");
    const shown = selectBlock(c, { topProbability: 0.3, segment: "bargain" }, new Set());
    expect(explainSelection(shown)).toBe(
      "sale (blocks[1]: segment=bargain $eq bargain ok); skipped hot: topProbability=0.3 $gte 0.7 no",
    );
    const fallback = selectBlock(c, {});
    expect(fallback).toMatchObject({ index: -1, block: { id: "picks" } });
    expect(explainSelection(fallback)).toBe(
      "picks (default); skipped hot: topProbability no; skipped sale: segment no",
    );
    expect([...factsNeeded(c)].sort()).toEqual(["segment", "topProbability"]);
  });

  it("requires a default block, unique block ids and shallow conditions; errors name the field's path", () => {
    const paths = (raw: unknown) => (CampaignSchema.safeParse(raw).error?.issues ?? []).map((i) => fieldPath(i.path));
    expect(paths({ v: 2 })).toContain("default");
    expect(
      paths({ v: 2, default: { id: "a", type: "recommendations" }, blocks: [{ id: "a", ...banner, when: {} }] }),
    ).toEqual(["default.id"]);
    expect(paths({ v: 2, default: { id: "d", ...banner, url: "javascript:alert(1)" } })).toEqual(["default.url"]);
    let deep: Condition = { country: { $eq: "DE" } };
    for (let i = 0; i < 5; i++) deep = { $not: deep };
    // five combinators deep is accepted, the sixth refused
    expect(
      paths({ v: 2, default: { id: "d", type: "recommendations" }, blocks: [{ id: "x", ...banner, when: deep }] }),
    ).toEqual([]);
    deep = { $not: deep };
    expect(
      paths({ v: 2, default: { id: "d", type: "recommendations" }, blocks: [{ id: "x", ...banner, when: deep }] }),
    ).toEqual(["blocks[0].when"]);
    expect(
      CampaignSchema.safeParse({ v: 2, default: { id: "d", ...banner }, blocks: [{ id: "x", ...banner, when: deep }] })
        .error?.issues[0]?.message,
    ).toBe("$and/$or/$not nest at most 5 deep");
    // subject lines' conditions too
    const subjects = (depth: number) => {
      let when: Condition = { segment: { $eq: "loyal" } };
      for (let i = 0; i < depth; i++) when = { $not: when };
      return { default: { subject: "Hi" }, rules: [{ id: "r", when, subject: "Hey" }] };
    };
    expect(paths({ v: 2, default: { id: "d", ...banner }, subjects: subjects(5) })).toEqual([]);
    expect(paths({ v: 2, default: { id: "d", ...banner }, subjects: subjects(6) })).toEqual(["subjects.rules[0].when"]);
    expect(paths({ v: 2, default: { id: "d", type: "recommendations" }, timeZone: "Mars/Olympus" })).toEqual([
      "timeZone",
    ]);
    expect(
      paths({ v: 2, default: { id: "d", type: "recommendations" }, engagementBands: { high: 1, low: 2 } }),
    ).toEqual(["engagementBands"]);
  });

  it("reads version 1 (no `v`) as one default block with its item rules; the admin API refuses unknown fields", () => {
    const v1 = { policy: "live", badge: "New", items: { maxPerCategory: 2 } };
    const parsed = parseCampaign(v1);
    expect(parsed.success && parsed.data).toEqual({
      ...DEFAULT_CAMPAIGN,
      policy: "live",
      badge: "New",
      default: { id: "default", type: "recommendations", items: { maxPerCategory: 2 } },
    });
    expect(migrateCampaign(CampaignV1Schema.parse({}))).toEqual(DEFAULT_CAMPAIGN);
    expect(parseCampaign({ ...v1, colour: "red" }).success).toBe(true);
    expect(parseCampaign({ ...v1, colour: "red" }, true).success).toBe(false);
    expect(parseCampaign({ v: 3, default: { id: "d", type: "recommendations" } }).success).toBe(false);
    expect(parseCampaign(null).success).toBe(false);
  });

  it("calibration maps a score to a probability, monotonically and without overflow", () => {
    const fit = { a: 4, b: -3, n: 100, positives: 20 };
    expect(calibrated(fit, 0.75)).toBeCloseTo(0.5, 10);
    expect(calibrated(fit, 1e6)).toBe(1);
    expect(calibrated(fit, -1e6)).toBe(0);
    expect(calibrated(fit, 0.9)).toBeGreaterThan(calibrated(fit, 0.8));
  });
});

describe("tests no value of the fact passes, refused where a campaign is saved", () => {
  const put = (when: unknown, subjects?: unknown) => {
    const parsed = CampaignSchema.parse({
      v: 2,
      blocks: [{ id: "hot", type: "recommendations", when }],
      default: { id: "picks", type: "recommendations" },
      ...(subjects !== undefined && { subjects }),
    });
    const problems = campaignProblems(parsed).map((p) => `${fieldPath(p.path)}: ${p.message}`);
    return problems.length > 0 ? `BAD_REQUEST ${problems.join("; ")}` : null;
  };

  it("a probability asked as a percentage, an hour past 23 or a fractional purchase count is a 400 at its path", () => {
    expect(put({ topProbability: { $gte: 70 } })).toBe(
      "BAD_REQUEST blocks[0].when.topProbability.$gte: topProbability is a probability, 0 to 1 (0.7 is 70%): this test never holds",
    );
    expect(put({ $or: [{ segment: { $eq: "a" } }, { localHour: { $in: [9, 24] } }] })).toMatch(
      /^BAD_REQUEST blocks\[0\]\.when\.\$or\[1\]\.localHour\.\$in: localHour is an hour, 0 to 23/,
    );
    expect(put({ $not: { purchases: { $eq: 1.5 } } })).toMatch(
      /^BAD_REQUEST blocks\[0\]\.when\.\$not\.purchases\.\$eq: /,
    );
    expect(put({ propensity: { $lt: 0 } })).toMatch(/propensity\.\$lt: .* never holds/);
    expect(
      put({}, { rules: [{ id: "r", when: { buyWithin7d: { $gt: 1 } }, subject: "Hi" }], default: { subject: "x" } }),
    ).toMatch(/^BAD_REQUEST subjects\.rules\[0\]\.when\.buyWithin7d\.\$gt: /);
  });

  it("operators of one test that contradict each other (18:00 to 06:00 as $gte 18, $lt 6) are a 400 at the fact", () => {
    expect(put({ localHour: { $gte: 18, $lt: 6 } })).toBe(
      'BAD_REQUEST blocks[0].when.localHour: no value passes $gte 18, $lt 6 at once: this test never holds (hours across midnight: "$or": [{"localHour": {"$gte": 18}}, {"localHour": {"$lt": 6}}])',
    );
    expect(put({ $and: [{ daysSinceLastPurchase: { $gte: 30, $lte: 7 } }] })).toMatch(
      /^BAD_REQUEST blocks\[0\]\.when\.\$and\[0\]\.daysSinceLastPurchase: no value passes \$gte 30, \$lte 7 at once: .*"\$or" of two tests/,
    );
    // whole numbers only: no purchase count is over 1 and under 2; an order value is
    expect(put({ purchases: { $gt: 1, $lt: 2 } })).toMatch(/purchases: no value passes \$gt 1, \$lt 2 at once/);
    expect(put({ orderValue: { $gt: 1, $lt: 2 } })).toBeNull();
    expect(put({ propensity: { $gt: 0.5, $lt: 0.5 } })).toMatch(/propensity: no value passes/);
    expect(put({ purchases: { $eq: 3, $gte: 5 } })).toMatch(/purchases: no value passes \$eq 3, \$gte 5/);
    // what the marketer meant, and a range of one value, are taken
    expect(put({ $or: [{ localHour: { $gte: 18 } }, { localHour: { $lt: 6 } }] })).toBeNull();
    expect(put({ propensity: { $gte: 0.5, $lte: 0.5 } })).toBeNull();
    expect(put({ purchases: { $eq: 3, $gte: 3, $lt: 4 } })).toBeNull();
  });

  it("operators of any kind of test that no value passes together are a 400 at the fact; satisfiable ones are taken", () => {
    for (const [when, why] of [
      [{ purchases: { $exists: false, $lt: 1 } }, /purchases: \$exists false holds only where purchases is unknown/],
      [{ localHour: { $in: [3, 4], $gte: 18 } }, /localHour: no value passes (\$in, \$gte|\$gte, \$in) at once/],
      [{ localHour: { $eq: 9, $ne: 9 } }, /localHour: no value passes (\$eq, \$ne|\$ne, \$eq) at once/],
      [
        { segment: { $in: ["Champions"], $nin: ["Champions"] } },
        /segment: no value passes (\$in, \$nin|\$nin, \$in) at once/,
      ],
      [
        { boughtCategories: { $all: ["Mugs"], $nin: ["Mugs"] } },
        /boughtCategories: \$all and \$nin name the same value/,
      ],
      [{ topics: { $in: ["a", "b"], $nin: ["b", "a"] } }, /topics: every value \$in names, \$nin refuses/],
    ] as const) {
      expect(put(when), JSON.stringify(when)).toMatch(why);
    }
    for (const when of [
      { purchases: { $exists: false } },
      { purchases: { $exists: true, $lt: 1 } },
      { localHour: { $in: [3, 19], $gte: 18 } },
      { segment: { $in: ["Champions", "Loyal regulars"], $nin: ["Champions"] } },
      { boughtCategories: { $all: ["Mugs"], $nin: ["Lamps"] } },
      { topics: { $in: ["a", "b"], $nin: ["a"] } },
      { engagement: { $eq: "high", $ne: "low" } },
    ])
      expect(put(when), JSON.stringify(when)).toBeNull();
  });

  it("a test on a fact of few values (an hour, a weekday, a bounded count) that $ne or $nin leave none of is a 400", () => {
    for (const [when, why] of [
      [
        { localHour: { $gte: 22, $nin: [22, 23] } },
        /localHour: no value localHour takes passes (\$gte, \$nin|\$nin, \$gte) at once/,
      ],
      [
        { localHour: { $gt: 22, $ne: 23 } },
        /localHour: no value localHour takes passes (\$gt, \$ne|\$ne, \$gt) at once/,
      ],
      [{ weekday: { $nin: ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] } }, /weekday: no value weekday takes/],
      [{ format: { $ne: "amp", $nin: ["html"] } }, /format: no value format takes/],
      [{ purchases: { $gte: 1, $lte: 2, $nin: [1, 2] } }, /purchases: no value purchases takes/],
      [{ topProbability: { $gte: 1, $ne: 1 } }, /topProbability: no value topProbability takes/],
    ] as const) {
      expect(put(when), JSON.stringify(when)).toMatch(why);
    }
    for (const when of [
      { localHour: { $gte: 22, $nin: [22] } },
      { weekday: { $nin: ["sat", "sun"] } },
      { purchases: { $gte: 1, $nin: [1, 2] } },
      { topProbability: { $gte: 0.9, $ne: 1 } },
      { orderValue: { $gte: 5, $lte: 5, $ne: 4 } },
    ])
      expect(put(when), JSON.stringify(when)).toBeNull();
    // accepted at save means some value of the fact (or an unknown one) passes: every hour test, generated
    const hour = fc.integer({ min: 0, max: 23 });
    const hourTest = fc
      .record(
        {
          $ne: hour,
          $gt: hour,
          $gte: hour,
          $lt: hour,
          $lte: hour,
          $nin: fc.array(hour, { minLength: 1, maxLength: 6 }),
        },
        { requiredKeys: [] },
      )
      .filter((t) => Object.keys(t).length > 0);
    fc.assert(
      fc.property(hourTest, (test) => {
        const cond = { localHour: test } as Condition;
        if (conditionProblems(cond).length > 0) return;
        const hours = Array.from({ length: 24 }, (_, h) => h);
        expect(hours.some((h) => evaluate(cond, { localHour: h }).held)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("a block below one served to every reader (when {}) is a 400 at the block: it would never be served", () => {
    const saved = (blocks: unknown[]) =>
      campaignProblems(CampaignSchema.parse({ v: 2, blocks, default: { id: "picks", type: "recommendations" } })).map(
        (p) => `${fieldPath(p.path)}: ${p.message}`,
      );
    const all = { id: "all", type: "recommendations", when: {} };
    const de = { id: "de", type: "recommendations", when: { country: { $eq: "DE" } } };
    expect(saved([all, de])).toEqual([
      'blocks[1]: block "de" is never served: blocks[0] ("all") above it holds for every reader (its when is {}); move it above, or give blocks[0] a condition',
    ]);
    // below it, the default alone; above it, any block; a product block is skipped while its item is hidden
    expect(saved([de, all])).toEqual([]);
    expect(saved([{ id: "deal", type: "product", item: "p1", when: {} }, de])).toEqual([]);
    // a when that holds whatever the facts, written otherwise than {}
    for (const when of [
      { $or: [{}] },
      { $and: [{}] },
      { $or: [{ country: { $eq: "DE" } }, {}] },
      { $not: { $not: {} } },
    ])
      expect(saved([{ ...all, when }, de]), JSON.stringify(when)).toEqual([
        `blocks[1]: block "de" is never served: blocks[0] ("all") above it holds for every reader (its when holds whatever the reader's facts); move it above, or give blocks[0] a condition`,
      ]);
    // one that tests a fact somewhere it decides: blocks below it are served to others
    for (const when of [{ $or: [{ country: { $eq: "DE" } }] }, { $and: [{}, { country: { $eq: "DE" } }] }])
      expect(saved([{ ...all, when }, de]), JSON.stringify(when)).toEqual([]);
    // one that holds for no reader is never served itself
    for (const when of [
      { $not: {} },
      { $or: [{ $not: {} }] },
      { $and: [{ country: { $eq: "DE" } }, { $not: { $or: [{}] } }] },
    ])
      expect(saved([{ ...all, when }, de]), JSON.stringify(when)).toEqual([
        'blocks[0].when: block "all" is never served: its when holds for no reader',
      ]);
  });

  it("a subject rule below one that holds for every reader, or whose when holds for no one, is a 400: it never chooses", () => {
    const saved = (rules: unknown[]) =>
      campaignProblems(
        CampaignSchema.parse({
          v: 2,
          default: { id: "picks", type: "recommendations" },
          subjects: { rules, default: { subject: "Hello" } },
        }),
      ).map((p) => `${fieldPath(p.path)}: ${p.message}`);
    const all = { id: "all", when: {}, subject: "For you" };
    const loyal = { id: "loyal", when: { segment: { $eq: "Champions" } }, subject: "Thanks" };
    expect(saved([all, loyal])).toEqual([
      'subjects.rules[1]: subject rule "loyal" never chooses: subjects.rules[0] ("all") above it holds for every reader (its when is {}); move it above, or give subjects.rules[0] a condition',
    ]);
    // below it, the default alone; above it, any rule
    expect(saved([loyal, all])).toEqual([]);
    expect(saved([{ ...all, when: { $or: [{}] } }, loyal])).toEqual([
      `subjects.rules[1]: subject rule "loyal" never chooses: subjects.rules[0] ("all") above it holds for every reader (its when holds whatever the reader's facts); move it above, or give subjects.rules[0] a condition`,
    ]);
    expect(saved([{ ...all, when: { $not: {} } }, loyal])).toEqual([
      'subjects.rules[0].when: subject rule "all" never chooses: its when holds for no reader',
    ]);
  });

  it("a country that is not two capitals, or UK (the United Kingdom is GB), is a 400 at its path", () => {
    expect(put({ country: { $eq: "uk" } })).toBe(
      'BAD_REQUEST blocks[0].when.country.$eq: country is an ISO 3166 code in capitals, such as GB or DE (the United Kingdom is GB): names "uk", a value it never takes',
    );
    expect(put({ country: { $in: ["GB", "UK", "Germany"] } })).toMatch(/country\.\$in: .*names "UK", "Germany"/);
    expect(put({ country: { $nin: ["GB", "DE"] } })).toBeNull();
    expect(put({ country: { $exists: true, $ne: "DE" } })).toBeNull();
    // Cloudflare's own values: XX (unknown) and T1 (Tor)
    expect(put({ country: { $nin: ["T1", "XX"] } })).toBeNull();
  });

  it("tests some value passes are taken, bounds included; stored campaigns are read as they are", () => {
    for (const when of [
      { localHour: { $gte: 18, $lt: 24 } },
      { localHour: { $lte: 0 } },
      { topProbability: { $gte: 1 } },
      { topProbability: { $gt: 0.99, $exists: true } },
      { purchases: { $lt: 1 } },
      { daysSinceLastPurchase: { $gte: 0.5 } },
      { orderValue: { $gt: 1e9 } },
    ])
      expect(put(when)).toBeNull();
    expect(conditionProblems({ localHour: { $gte: 23 } })).toEqual([]);
    expect(conditionProblems({ localHour: { $gt: 23 } })).toHaveLength(1);
    const stored = { v: 2, blocks: [{ id: "hot", type: "recommendations", when: { topProbability: { $gte: 70 } } }] };
    expect(parseCampaign({ ...stored, default: { id: "picks", type: "recommendations" } }).success).toBe(true);
  });
});
