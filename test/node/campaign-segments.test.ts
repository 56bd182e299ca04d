/**
 * Conditions naming a segment a model lacks (core/campaign-segments.ts): every such test is listed, at a path that
 * leads to it, and none other; the names listed are dead (renaming them changes no reader's outcome); blocks,
 * subject rules, running experiments' variants; a campaign pinned to another version is left to that version.
 * And a move over KV (core/model-versions.ts) lists them without refusing, reading a bounded number of campaigns.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Campaign, parseCampaign } from "../../core/campaign";
import {
  campaignSource,
  describeMissing,
  experimentSources,
  missingSegments,
  nearestName,
  SEGMENT_OPS,
} from "../../core/campaign-segments";
import { type Condition, evaluate } from "../../core/conditions";
import { ExperimentSchema } from "../../core/experiments/experiment";

const POOL = ["Champions", "Loyal regulars", "At risk", "Champion", "Lost (B)"];
const PICKS = { id: "picks", type: "recommendations" };

const campaign = (raw: unknown): Campaign => {
  const parsed = parseCampaign(raw, true);
  if (!parsed.success) throw parsed.error;
  return parsed.data;
};
const staticBlock = (id: string, when: Condition) => ({
  id,
  type: "static",
  title: id,
  image: "https://shop.example/i.png",
  url: "https://shop.example/",
  when,
});

const leaf: fc.Arbitrary<Condition> = fc.oneof(
  fc.record({
    segment: fc.oneof(
      fc.record({ $eq: fc.constantFrom(...POOL) }),
      fc.record({ $ne: fc.constantFrom(...POOL) }),
      fc.record({ $in: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 3 }) }),
      fc.record({ $nin: fc.uniqueArray(fc.constantFrom(...POOL), { minLength: 1, maxLength: 3 }) }),
      fc.record({ $exists: fc.boolean() }),
    ),
  }),
  fc.record({ engagement: fc.record({ $eq: fc.constantFrom("high", "low") }) }),
) as fc.Arbitrary<Condition>;
const condition: fc.Arbitrary<Condition> = fc.letrec<{ c: Condition }>((tie) => ({
  c: fc.oneof(
    { maxDepth: 4, depthIdentifier: "cond", withCrossShrink: true },
    leaf,
    fc.record({ $and: fc.array(tie("c"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $or: fc.array(tie("c"), { minLength: 1, maxLength: 3 }) }),
    fc.record({ $not: tie("c") }),
  ) as fc.Arbitrary<Condition>,
})).c;

/** Follows `blocks[1].when.$or[0].segment` through a JSON value. */
function resolve(root: unknown, path: string): unknown {
  const steps = path.split(".").flatMap((part) => {
    const m = /^([^[]+)((?:\[\d+\])*)$/.exec(part) as RegExpExecArray;
    return [m[1] as string, ...[...(m[2] as string).matchAll(/\[(\d+)\]/g)].map((x) => Number(x[1]))];
  });
  return steps.reduce<unknown>((v, k) => (v as Record<string | number, unknown>)?.[k], root);
}

/** The oracle: every (op, name) under a `segment` key anywhere in a JSON value. */
function namesTested(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) namesTested(v, into);
  else if (value && typeof value === "object")
    for (const [k, v] of Object.entries(value)) {
      if (k !== "segment") {
        namesTested(v, into);
        continue;
      }
      for (const [op, operand] of Object.entries(v as object))
        if (op !== "$exists") into.push(...(Array.isArray(operand) ? operand : [operand]).map((n) => `${op} ${n}`));
    }
  return into;
}

/** The condition with every name not in `keep` renamed to one no model has. */
function renameLost(cond: Condition, keep: ReadonlySet<string>): Condition {
  return JSON.parse(
    JSON.stringify(cond, (_, v) => (typeof v === "string" && POOL.includes(v) && !keep.has(v) ? "Gone entirely" : v)),
  );
}

describe("campaign segments", () => {
  it("lists every test naming a segment the model lacks, at a path leading to it, and no other", () => {
    fc.assert(
      fc.property(
        fc.array(condition, { minLength: 1, maxLength: 4 }),
        fc.array(condition, { maxLength: 2 }),
        fc.subarray(POOL),
        (whens, subjects, names) => {
          const raw = {
            v: 2,
            blocks: whens.map((w, i) => staticBlock(`b${i}`, w)),
            default: PICKS,
            ...(subjects.length > 0 && {
              subjects: {
                rules: subjects.map((w, i) => ({ id: `s${i}`, when: w, subject: "Hi" })),
                default: { subject: "Hi" },
              },
            }),
          };
          const missing = missingSegments([campaignSource("spring", campaign(raw))], { version: "v2", names });
          const known = new Set(names);
          const expected = namesTested(raw).filter((t) => !known.has(t.slice(t.indexOf(" ") + 1)));
          expect(missing.map((m) => `${m.op} ${m.segment}`).sort()).toEqual(expected.sort());
          for (const m of missing) {
            expect(m.campaign).toBe("spring");
            expect(known.has(m.segment)).toBe(false);
            const test = resolve(raw, m.path) as Record<string, unknown>;
            expect([test[m.op]].flat()).toContain(m.segment);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("lists only dead names: renaming them changes no reader's outcome", () => {
    fc.assert(
      fc.property(condition, fc.subarray(POOL), fc.constantFrom("high", "low"), (when, names, engagement) => {
        const c = campaign({ v: 2, blocks: [staticBlock("b", when)], default: PICKS });
        const listed = new Set(
          missingSegments([campaignSource("x", c)], { version: "v", names }).map((m) => m.segment),
        );
        const keep = new Set(POOL.filter((n) => !listed.has(n)));
        const renamed = renameLost(when, keep);
        for (const segment of [...names, null]) {
          const facts = { segment, engagement };
          expect(evaluate(renamed, facts).held).toBe(evaluate(when, facts).held);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("names nested tests by path and operator, with the name the slip is likely of", () => {
    const c = campaign({
      v: 2,
      blocks: [
        staticBlock("ok", { segment: { $eq: "Champions" } }),
        staticBlock("sale", {
          $and: [{ engagement: { $eq: "high" } }, { $or: [{ segment: { $in: ["Loyal regulars", "champions"] } }] }],
          $not: { segment: { $nin: ["Champion", "Lost"] } },
        }),
      ],
      default: PICKS,
      subjects: { rules: [{ id: "r", when: { segment: { $ne: "Zzz" } }, subject: "Hi" }], default: { subject: "Hi" } },
    });
    const missing = missingSegments([campaignSource("spring", c)], {
      version: "v2",
      names: ["Champions", "Loyal regulars", "At risk"],
    });
    expect(missing.map((m) => [m.path, m.op, m.segment, m.nearest])).toEqual([
      ["blocks[1].when.$and[1].$or[0].segment", "$in", "champions", "Champions"],
      ["blocks[1].when.$not.segment", "$nin", "Champion", "Champions"],
      ["blocks[1].when.$not.segment", "$nin", "Lost", null],
      ["subjects.rules[0].when.segment", "$ne", "Zzz", null],
    ]);
    expect(describeMissing(missing[1] as (typeof missing)[number])).toBe(
      'spring blocks[1].when.$not.segment $nin "Champion": no such segment, excludes nobody by it; did you mean "Champions"?',
    );
    expect(SEGMENT_OPS).toEqual(["$eq", "$ne", "$in", "$nin"]);
    // a model without a segment model: every name is missing
    expect(missingSegments([campaignSource("spring", c)], { version: "v0", names: [] })).toHaveLength(6);
  });

  it("reads running experiments' variant campaigns and leaves a campaign pinned to another version alone", () => {
    const when = { segment: { $eq: "Bargain hunters" } };
    const variant = { v: 2, blocks: [staticBlock("b", when)], default: PICKS };
    const experiment = ExperimentSchema.parse({
      v: 1,
      id: "exp-1",
      campaign: "spring",
      variants: [
        { id: "control", weight: 1, content: "popular" },
        { id: "seg", weight: 1, content: variant },
      ],
    });
    const model = { version: "v2", names: ["Champions"] };
    expect(missingSegments(experimentSources(experiment), model)).toEqual([
      {
        campaign: "spring",
        experiment: "exp-1",
        path: "variants[1].content.blocks[0].when.segment",
        op: "$eq",
        segment: "Bargain hunters",
        nearest: null,
        noSegmentModel: false,
      },
    ]);
    expect(experimentSources({ ...experiment, status: "stopped" })).toEqual([]);
    const pinned = campaign({ ...variant, model: "v1" });
    expect(missingSegments([campaignSource("pinned", pinned)], model)).toEqual([]);
    expect(missingSegments([campaignSource("pinned", pinned)], { ...model, version: "v1" })).toHaveLength(1);
  });

  it("suggests a name only for a slip of case or one or two letters", () => {
    const names = ["Champions", "Loyal regulars", "Loyal regulars (B)"];
    expect(nearestName("Champion", names)).toBe("Champions");
    expect(nearestName("LOYAL REGULARS", names)).toBe("Loyal regulars");
    expect(nearestName("Loyal regulars (C)", names)).toBe("Loyal regulars");
    expect(nearestName("Champions (B)", names)).toBe("Champions");
    expect(nearestName("Loyal regular", ["Loyal regulars (B)"])).toBe("Loyal regulars (B)");
    expect(nearestName("At risk", names)).toBeNull();
    expect(nearestName("x", [])).toBeNull();
  });
});
