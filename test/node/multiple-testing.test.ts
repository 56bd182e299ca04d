/**
 * Corrections for comparing several arms with one control (core/stats/multiple-testing.ts and the report,
 * core/experiments/report.ts): adjusted p-values and intervals against scipy's golden cases
 * (test/golden/stats_golden.py), an interval that agrees with its adjusted p-value, and the family-wise error
 * rate of nine arms that differ in nothing, with and without the correction.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { type ArmCounts, emptyArm, experimentResults } from "../../core/experiments/report";
import { adjustPValues, type Correction } from "../../core/stats/multiple-testing";
import { Rng } from "../../scripts/lib/rng";
import { close, closeP } from "../shared/same-comparison";

interface Adjusted {
  ciLow: number;
  ciHigh: number;
  pValue: number;
}

interface Golden {
  multiple: {
    pValues: { pValues: number[]; holm: number[]; bh: number[] }[];
    families: {
      control: [number, number];
      treatments: [number, number][];
      alpha: number;
      tuning: number | null;
      method: Correction;
      expected: { absolute: Adjusted | null; relative: Adjusted | null }[];
    }[];
  };
}

const golden = JSON.parse(readFileSync("test/golden/stats.json", "utf8")) as Golden;

/** An experiment whose control is `control` (its `popular` variant) and `arms` other variants. */
const experiment = (arms: number): Experiment =>
  ExperimentSchema.parse({
    v: 1,
    id: "many-arms",
    campaign: "spring",
    variants: [
      { id: "control", weight: 1, content: "popular" },
      ...Array.from({ length: arms }, (_, i) => ({
        id: `v${i}`,
        weight: 1,
        content: { v: 2, default: { id: "picks", type: "recommendations" } },
      })),
    ],
  });

const clicks = (arm: string, [n, x]: [number, number]): ArmCounts => ({ ...emptyArm(arm, n), clickers: x, clicks: x });

describe("adjusted p-values (golden: Holm from its definition, Benjamini-Hochberg from scipy)", () => {
  it("match to 1e-12, with ties, zeros and ones", () => {
    expect(golden.multiple.pValues.length).toBeGreaterThanOrEqual(6);
    for (const [i, c] of golden.multiple.pValues.entries()) {
      const holm = adjustPValues(c.pValues, "holm-bonferroni");
      const bh = adjustPValues(c.pValues, "benjamini-hochberg");
      for (const [k, e] of c.holm.entries()) close(holm[k] as number, e, `holm[${i}][${k}]`, 1e-12);
      for (const [k, e] of c.bh.entries()) close(bh[k] as number, e, `bh[${i}][${k}]`, 1e-12);
    }
  });

  it("a family of one, and `none`, are left as they are; every adjusted value is at least its own", () => {
    expect(adjustPValues([0.01], "holm-bonferroni")).toEqual([0.01]);
    expect(adjustPValues([0.01, 0.02], "none")).toEqual([0.01, 0.02]);
    const random = new Rng(3);
    for (let t = 0; t < 200; t++) {
      const ps = Array.from({ length: 1 + random.int(12) }, () => random.next() ** 3);
      for (const method of ["holm-bonferroni", "benjamini-hochberg"] as const)
        adjustPValues(ps, method).forEach((q, k) => {
          expect(q).toBeGreaterThanOrEqual(ps[k] as number);
          expect(q).toBeLessThanOrEqual(1);
        });
    }
  });
});

describe("a report comparing several arms with the control", () => {
  it("gives each click-through comparison scipy's adjusted p-value and interval (fixed and sequential)", () => {
    for (const [i, f] of golden.multiple.families.entries()) {
      const counts = [clicks("control", f.control), ...f.treatments.map((t, k) => clicks(`v${k}`, t))];
      const r = experimentResults(experiment(f.treatments.length), counts, {
        alpha: f.alpha,
        ...(f.tuning !== null && { sequential: { tuning: f.tuning } }),
        correction: f.method,
      });
      expect(r.correction).toEqual({ method: f.method, comparisons: f.treatments.length });
      f.expected.forEach((e, k) => {
        const ctr = r.arms.find((a) => a.arm === `v${k}`)?.vsControl?.ctr;
        for (const scale of ["absolute", "relative"] as const) {
          const got = ctr?.[scale]?.adjusted;
          const want = e[scale];
          expect(got === undefined, `families[${i}] v${k} ${scale}: adjusted as expected`).toBe(want === null);
          if (!got || !want) continue;
          close(got.ciLow, want.ciLow, `families[${i}] v${k} ${scale}.ciLow`);
          close(got.ciHigh, want.ciHigh, `families[${i}] v${k} ${scale}.ciHigh`);
          closeP(got.pValue, want.pValue, `families[${i}] v${k} ${scale}.pValue`);
        }
      });
    }
  });

  it("an adjusted interval excludes no effect exactly when its adjusted p-value is under alpha, and is never narrower", () => {
    const random = new Rng(19);
    let significant = 0;
    for (let t = 0; t < 300; t++) {
      const arms = 2 + random.int(6);
      const n = 500 + random.int(20_000);
      const rate = 0.01 + random.next() * 0.1;
      const counts = Array.from({ length: arms + 1 }, (_, k) => {
        const lift = k === 0 ? 1 : 1 + (random.next() - 0.3) * 0.6;
        return clicks(k === 0 ? "control" : `v${k - 1}`, [n, Math.round(n * rate * lift)]);
      });
      for (const sequential of [false, true])
        for (const correction of ["holm-bonferroni", "benjamini-hochberg"] as const) {
          const r = experimentResults(experiment(arms), counts, {
            ...(sequential && { sequential: { tuning: 5000 } }),
            correction,
          });
          for (const a of r.arms)
            for (const e of [a.vsControl?.ctr.absolute, a.vsControl?.ctr.relative]) {
              if (!e) continue;
              const adj = e.adjusted as Adjusted;
              expect(adj.pValue).toBeGreaterThanOrEqual(e.pValue);
              expect(adj.ciLow).toBeLessThanOrEqual(e.ciLow + 1e-12);
              expect(adj.ciHigh).toBeGreaterThanOrEqual(e.ciHigh - 1e-12);
              // away from the boundary itself, where rounding decides
              if (Math.abs(adj.pValue - 0.05) < 1e-9) continue;
              const excludes = adj.ciLow > 0 || adj.ciHigh < 0;
              expect(excludes, `p ${adj.pValue} [${adj.ciLow}, ${adj.ciHigh}]`).toBe(adj.pValue < 0.05);
              if (excludes) significant++;
            }
        }
    }
    // the cases cover both sides
    expect(significant).toBeGreaterThan(100);
  });

  it("a p-value near the smallest double still gets an interval (alpha x p would underflow to a level of 0)", () => {
    // v0's difference has a p-value under 1e-322 (it underflows to 0 a few clicks later)
    const counts = [clicks("control", [100_000, 1000]), clicks("v0", [100_000, 3557]), clicks("v1", [100_000, 1000])];
    const r = experimentResults(experiment(2), counts, { alpha: 0.05 });
    const e = r.arms.find((a) => a.arm === "v0")?.vsControl?.ctr.absolute;
    expect(e?.pValue).toBeGreaterThan(0);
    expect(e?.pValue).toBeLessThan(1e-300);
    expect(e?.adjusted?.ciLow).toBeGreaterThan(0);
  });

  it("one arm against the control is not corrected; `none` leaves every estimate as it is", () => {
    const one = experimentResults(experiment(1), [clicks("control", [5000, 250]), clicks("v0", [5000, 320])]);
    expect(one.correction).toEqual({ method: "holm-bonferroni", comparisons: 1 });
    expect(one.arms[1]?.vsControl?.ctr.absolute?.adjusted).toBeUndefined();
    const counts = [clicks("control", [5000, 250]), clicks("v0", [5000, 320]), clicks("v1", [5000, 240])];
    const none = experimentResults(experiment(2), counts, { correction: "none" });
    expect(none.arms[1]?.vsControl?.ctr.absolute?.adjusted).toBeUndefined();
    // the raw estimates are the same with the correction as without it
    const holm = experimentResults(experiment(2), counts);
    const { adjusted, ...raw } = holm.arms[1]?.vsControl?.ctr.absolute ?? {};
    expect(adjusted).toBeDefined();
    expect(raw).toEqual(none.arms[1]?.vsControl?.ctr.absolute);
  });

  it("nine arms that differ in nothing: about a quarter of experiments show a false positive, under 5% corrected", () => {
    const random = new Rng(2026);
    const runs = 1000;
    const n = 2000;
    let raw = 0;
    let holm = 0;
    let bh = 0;
    for (let t = 0; t < runs; t++) {
      const counts = Array.from({ length: 10 }, (_, k) => {
        let x = 0;
        for (let u = 0; u < n; u++) if (random.next() < 0.05) x++;
        return clicks(k === 0 ? "control" : `v${k - 1}`, [n, x]);
      });
      const r = experimentResults(experiment(9), counts, { correction: "holm-bonferroni" });
      const ps = r.arms.flatMap((a) => (a.vsControl?.ctr.absolute ? [a.vsControl.ctr.absolute] : []));
      if (ps.some((e) => e.pValue < 0.05)) raw++;
      if (ps.some((e) => (e.adjusted?.pValue ?? 1) < 0.05)) holm++;
      if (
        adjustPValues(
          ps.map((e) => e.pValue),
          "benjamini-hochberg",
        ).some((q) => q < 0.05)
      )
        bh++;
    }
    // with every null true, the family-wise rate of both is at most alpha (BH's equals its false discovery rate)
    expect(raw / runs).toBeGreaterThan(0.2);
    expect(holm / runs).toBeLessThan(0.065);
    expect(bh / runs).toBeLessThan(0.065);
  });

  it("an uplift no ratio bounds at the corrected level is dropped, not shown uncorrected; corrected uplift and difference agree", () => {
    // sequential, 300 readers an arm: b's uplift alone is +200% [+1.8%, ...], corrected it has no bound
    const seq = experimentResults(
      experiment(2),
      [clicks("control", [300, 13]), clicks("v0", [300, 39]), clicks("v1", [300, 13])],
      { sequential: { tuning: 5000 } },
    );
    const b = seq.arms.find((a) => a.arm === "v0")?.vsControl?.ctr;
    expect(b?.absolute?.adjusted?.ciLow).toBeLessThan(0);
    expect(b?.relative).toBeNull();
    // fixed: an arm with no uplift (no clicks) beside one whose corrected difference excludes 0: so does its uplift
    const fixed = experimentResults(experiment(2), [
      clicks("control", [1000, 50]),
      clicks("v0", [1000, 0]),
      clicks("v1", [1000, 74]),
    ]);
    const c = fixed.arms.find((a) => a.arm === "v1")?.vsControl?.ctr;
    expect(c?.absolute?.adjusted?.ciLow).toBeGreaterThan(0);
    expect(c?.relative?.adjusted?.ciLow).toBeGreaterThan(0);
    expect(c?.relative?.adjusted?.pValue).toBe(c?.absolute?.adjusted?.pValue);
  });

  it("nine small arms, some under the 10 clicks an uplift needs: the uplift is corrected over all nine, not over those that reached one", () => {
    // the arm past the others by chance: alone with an uplift, it was corrected over a family of one
    const lucky = [clicks("control", [2000, 100]), clicks("v0", [200, 18])];
    const few = Array.from({ length: 8 }, (_, k) => clicks(`v${k + 1}`, [200, 9]));
    const one = experimentResults(experiment(9), [...lucky, ...few]);
    const uplift = one.arms.find((a) => a.arm === "v0")?.vsControl?.ctr.relative;
    expect(uplift?.pValue).toBeLessThan(0.05);
    expect(uplift?.adjusted?.pValue).toBeGreaterThan(0.05);
    expect(uplift?.adjusted?.ciLow).toBeLessThan(0);
    // under the null, fixed intervals: with a family of the arms that reached an uplift, 11.9% of such experiments
    // showed a significant one
    const random = new Rng(7);
    const runs = 1000;
    let significant = 0;
    for (let t = 0; t < runs; t++) {
      const counts = Array.from({ length: 10 }, (_, k) => {
        const n = k === 0 ? 2000 : 200;
        let x = 0;
        for (let u = 0; u < n; u++) if (random.next() < 0.05) x++;
        return clicks(k === 0 ? "control" : `v${k - 1}`, [n, x]);
      });
      const r = experimentResults(experiment(9), counts);
      if (r.arms.some((a) => (a.vsControl?.ctr.relative?.adjusted?.pValue ?? 1) < 0.05)) significant++;
    }
    expect(significant / runs).toBeLessThan(0.065);
  });
});
