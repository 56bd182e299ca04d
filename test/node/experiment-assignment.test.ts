/**
 * Experiment assignment (core/experiments/assignment.ts) and configuration (core/experiments/experiment.ts):
 * the same reader always lands in the same arm; raising coverage never moves a reader in the experiment; a
 * reader's first exposure wins over re-weighting; the shares follow the weights, the holdout and the global
 * holdout (checked with the SRM test itself); the hash is the one shards use, pinned.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { assign, bucket, inGlobalHoldout } from "../../core/experiments/assignment";
import { type Experiment, ExperimentSchema, strictVariantIssues } from "../../core/experiments/experiment";
import { emptyArm, experimentResults } from "../../core/experiments/report";
import { fieldPath } from "../../core/field-path";
import { fnv1a32 } from "../../core/fnv";
import { srmTest } from "../../core/stats/srm";

const experiment = (over: Record<string, unknown> = {}): Experiment =>
  ExperimentSchema.parse({
    v: 1,
    id: "spring-test",
    campaign: "spring",
    variants: [
      { id: "personal", weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
      { id: "popular", weight: 1, content: "popular" },
    ],
    ...over,
  });

const readers = Array.from({ length: 60_000 }, (_, i) => `c${String(i).padStart(7, "0")}`);
const armName = (a: ReturnType<typeof assign>) => (a.kind === "variant" ? a.variant : a.kind);

describe("the hash", () => {
  it("is FNV-1a, as the shards place readers (pinned: changing it would move both)", () => {
    expect(fnv1a32("")).toBe(0x811c9dc5);
    expect(fnv1a32("a")).toBe(0xe40c292c);
    expect(fnv1a32("c0000002")).toBe(3694361392);
    // the buckets too: a changed separator or step name would move every reader
    expect(bucket("spring-test", "variant", "c0000001")).toBe(0.8622);
    expect(bucket("s", "coverage", "r")).toBe(0.6087);
    expect(bucket("global-holdout", "global", "c0000002")).toBe(0.6843);
  });
});

describe("assignment", () => {
  it("is deterministic, and follows the weights (SRM test on 60,000 readers)", () => {
    const e = experiment({
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
        { id: "c", weight: 2, content: "popular" },
      ],
    });
    const counts = { a: 0, b: 0, c: 0 };
    for (const r of readers) {
      const arm = assign(e, r);
      expect(assign(e, r)).toEqual(arm);
      counts[armName(arm) as keyof typeof counts]++;
    }
    expect(srmTest([counts.a, counts.b, counts.c], [1, 1, 2]).pValue).toBeGreaterThan(0.001);
    // the same readers against the wrong weights: a mismatch
    expect(srmTest([counts.a, counts.b, counts.c], [1, 1, 1]).mismatch).toBe(true);
  });

  it("raising coverage only adds readers: nobody in the experiment changes arm", () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 24 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.integer({ min: 0, max: 10_000 }),
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,16}$/),
        (reader, c1, c2, seed) => {
          const [low, high] = [Math.min(c1, c2) / 10_000, Math.max(c1, c2) / 10_000];
          const before = assign(experiment({ seed, coverage: low, holdout: 0.1 }), reader);
          const after = assign(experiment({ seed, coverage: high, holdout: 0.1 }), reader);
          if (before.kind !== "excluded") expect(after).toEqual(before);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("re-weighting moves only readers not exposed yet: an exposure wins over the hash", () => {
    const even = experiment();
    const skewed = experiment({
      variants: [
        { id: "personal", weight: 3, content: "popular" },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    let moved = 0;
    for (const r of readers.slice(0, 5000)) {
      const first = armName(assign(even, r));
      if (armName(assign(skewed, r)) !== first) moved++;
      // exposed under the even weights: the same arm under the new ones
      expect(armName(assign(skewed, r, first))).toBe(first);
    }
    // without the exposure, about a quarter of them would have moved
    expect(moved / 5000).toBeGreaterThan(0.2);
    // a variant removed since the exposure: the hash decides again
    expect(armName(assign(even, readers[0] as string, "gone"))).toBe(armName(assign(even, readers[0] as string)));
  });

  it("coverage, the holdout and the global holdout take their shares", () => {
    const e = experiment({ coverage: 0.5, holdout: 0.2 });
    const global = { share: 0.05, seed: "global-holdout" };
    const counts = { excluded: 0, holdout: 0, global: 0, personal: 0, popular: 0 };
    for (const r of readers) {
      const arm = assign(e, r, null, global);
      if (arm.kind === "holdout" && arm.global) counts.global++;
      else counts[armName(arm) as keyof typeof counts]++;
    }
    const n = readers.length;
    // global 5%; of the rest, half excluded; of the covered, 20% held out, the others split evenly
    const expected = [0.05, 0.95 * 0.5, 0.95 * 0.5 * 0.2, 0.95 * 0.5 * 0.4, 0.95 * 0.5 * 0.4];
    const observed = [counts.global, counts.excluded, counts.holdout, counts.personal, counts.popular];
    expect(observed.reduce((s, x) => s + x, 0)).toBe(n);
    expect(srmTest(observed, expected).pValue).toBeGreaterThan(0.001);
  });
});

describe("holdouts and stopping", () => {
  it("the global holdout keeps the arm a reader's first open recorded, whatever its share is now", () => {
    const before = { share: 0.1, seed: "global-holdout" };
    const after = { share: 0.3, seed: "global-holdout" };
    let moved = 0;
    for (const r of readers.slice(0, 3000)) {
      const recorded = inGlobalHoldout(before, r) ? "holdout" : "personalized";
      if (inGlobalHoldout(after, r) !== inGlobalHoldout(before, r)) moved++;
      expect(inGlobalHoldout(after, r, recorded)).toBe(recorded === "holdout");
    }
    // raising the share would have moved readers not yet recorded: about a fifth of them
    expect(moved).toBeGreaterThan(400);
    expect(inGlobalHoldout({ share: 0, seed: "s" }, "r", "holdout")).toBe(false);
    expect(inGlobalHoldout(null, "r", "holdout")).toBe(false);
  });

  it("the global holdout comes first, even for a reader exposed before it was turned on", () => {
    const e = experiment();
    const global = { share: 0.1, seed: "global-holdout" };
    let held = 0;
    for (const r of readers.slice(0, 3000)) {
      const exposed = armName(assign(e, r));
      const arm = assign(e, r, exposed, global);
      if (arm.kind === "holdout") {
        // held out of every campaign, never counted as this experiment's own holdout
        expect(arm.global).toBe(true);
        held++;
      } else expect(armName(arm)).toBe(exposed);
    }
    expect(held / 3000).toBeGreaterThan(0.07);
    expect(held / 3000).toBeLessThan(0.13);
  });

  it("raising the experiment's holdout leaves exposed readers where they are; a stopped experiment covers nobody", () => {
    const before = experiment({ holdout: 0 });
    const after = experiment({ holdout: 0.3 });
    let wouldMove = 0;
    for (const r of readers.slice(0, 2000)) {
      const exposed = armName(assign(before, r));
      if (armName(assign(after, r)) !== exposed) wouldMove++;
      expect(armName(assign(after, r, exposed))).toBe(exposed);
      expect(assign(experiment({ status: "stopped" }), r, exposed)).toEqual({ kind: "excluded" });
    }
    expect(wouldMove).toBeGreaterThan(400);
  });
});

describe("configuration", () => {
  it("variants are campaign configurations, validated as the admin API does at the PUT, with the path named", () => {
    const body = {
      v: 1,
      id: "x",
      campaign: "spring",
      variants: [
        {
          id: "a",
          weight: 1,
          content: { v: 2, default: { id: "d", type: "recommendations", copy: { cta: "{{segment}}" } } },
        },
        { id: "b", weight: 1, content: "popular" },
      ],
    };
    // the PUT's check (worker/experiments/experiment-input.ts) names the path
    const issues = strictVariantIssues(body).map((i) => `${fieldPath(i.path)}: ${i.message}`);
    expect(issues[0]).toMatch(/^variants\[0\]\.content\.default\.copy\.cta: unknown variable "segment"/);
    // a stored one is read as it was written: one saved before a check was added still serves
    expect(ExperimentSchema.safeParse(body).success).toBe(true);
    // what no campaign reads is refused on read too
    const notACampaign = { ...body, variants: [{ id: "a", weight: 1, content: { v: 2, default: 7 } }] };
    expect(ExperimentSchema.safeParse(notACampaign).success).toBe(false);
  });

  it("refuses a variant id used twice or the reserved `holdout`", () => {
    const bad = ExperimentSchema.safeParse({
      v: 1,
      id: "x",
      campaign: "spring",
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "a", weight: 1, content: "popular" },
        { id: "holdout", weight: 1, content: "popular" },
      ],
    });
    expect(bad.success ? [] : bad.error.issues.map((i) => fieldPath(i.path))).toEqual([
      "variants[1].id",
      "variants[2].id",
    ]);
  });

  it("refuses ids every JavaScript object has (they would read a function from the objects ids key)", () => {
    const bad = ExperimentSchema.safeParse({
      v: 1,
      id: "constructor",
      campaign: "spring",
      variants: [
        { id: "valueOf", weight: 1, content: "popular" },
        { id: "toString", weight: 1, content: "popular" },
        { id: "hasOwnProperty2", weight: 1, content: "popular" },
      ],
    });
    expect(bad.success ? [] : bad.error.issues.map((i) => fieldPath(i.path))).toEqual([
      "id",
      "variants[0].id",
      "variants[1].id",
    ]);
  });

  it("a report counts an arm removed since its exposures, even one named like an object's member", () => {
    const experiment = ExperimentSchema.parse({
      v: 1,
      id: "x",
      campaign: "spring",
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
      ],
    });
    const arm = emptyArm;
    // readers exposed under an earlier version (before such ids were refused) to a variant named valueOf
    const r = experimentResults(experiment, [arm("a", 500), arm("b", 500), arm("valueOf", 40)]);
    expect(r.arms.map((x) => x.arm)).toEqual(["a", "b", "valueOf"]);
    // left out of the ratio check, as any removed variant: the planned arms match their shares
    expect(r.srm?.expected).toEqual({ a: 0.5, b: 0.5 });
    expect(r.srm?.mismatch).toBe(false);
  });
});
