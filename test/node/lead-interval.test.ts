/** The lead's paired customer bootstrap (scripts/eval/lead-interval.ts) on leads whose answer is known. */
import { describe, expect, it } from "vitest";
import { LEAD_DRAWS, leadInterval, type PairedCutoff } from "../../scripts/eval/lead-interval";
import { Rng } from "../../scripts/lib/rng";

/**
 * `n` readers (customers `<prefix>0..`) whose baseline NDCG is uniform in [0, 1) and whose served NDCG is `lift`
 * times it plus noise.
 */
function readers(
  n: number,
  lift: number,
  noise: number,
  seed: number,
  prefix = `s${seed}-`,
): PairedCutoff & { served: Float64Array; baseline: Float64Array } {
  const rng = new Rng(seed);
  const baseline = Float64Array.from({ length: n }, () => rng.next());
  const served = baseline.map((b) => Math.max(0, lift * b + noise * (rng.next() - 0.5)));
  return { customers: Array.from({ length: n }, (_, i) => `${prefix}${i}`), served, baseline };
}

const width = (iv: [number, number] | null) => (iv ? iv[1] - iv[0] : Number.NaN);
const mean = (xs: ArrayLike<number>) => Array.from(xs).reduce((a, b) => a + b, 0) / xs.length;
/** the ratio of the cutoffs' means, as the lead is taken */
const ratio = (cs: PairedCutoff[]) =>
  cs.reduce((a, c) => a + mean(c.served), 0) / cs.reduce((a, c) => a + mean(c.baseline), 0);

describe("lead interval", () => {
  it("is a point when every reader's served figure is the same multiple of their baseline's", () => {
    const { baseline, customers } = readers(500, 1, 0, 3);
    const cutoff = { customers, served: baseline.map((b) => 1.2 * b), baseline };
    const [lo, hi] = leadInterval([cutoff, { ...cutoff, customers: customers.map((c) => `other-${c}`) }]) ?? [];
    expect(lo).toBeCloseTo(1.2, 12);
    expect(hi).toBeCloseTo(1.2, 12);
  });

  it("centres on the ratio of the cutoffs' means (not of every reader pooled), and narrows as readers grow", () => {
    // a large cutoff without a lead and a small one with a big lead: pooled, the lead is about 1.05; by cutoff, 1.25
    const cutoffs = [readers(2000, 1, 0.2, 1), readers(200, 1.5, 0.2, 2)];
    const [lo, hi] = leadInterval(cutoffs) ?? [];
    expect(lo).toBeLessThan(ratio(cutoffs));
    expect(hi).toBeGreaterThan(ratio(cutoffs));
    expect(lo).toBeGreaterThan(1.15);
    const at = (n: number) => width(leadInterval([readers(n, 1.1, 0.6, 1), readers(n, 1.1, 0.6, 2)]));
    // 25 times the readers: a fifth of the width, give or take the draws' own noise
    expect(at(5000) / at(200)).toBeGreaterThan(0.12);
    expect(at(5000) / at(200)).toBeLessThan(0.3);
  });

  it("pairs the readers: a shared reader effect cancels, so the interval is narrower than unpaired resampling's", () => {
    // each reader's two figures move together (most of the spread is the reader, not the model)
    const n = 1000;
    const paired = readers(n, 1.1, 0.05, 4);
    const rng = new Rng(9);
    const shuffled = paired.served.slice();
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
    }
    // shuffling one side breaks the pairs: the same means, a wider interval
    expect(width(leadInterval([paired]))).toBeLessThan(width(leadInterval([{ ...paired, served: shuffled }])) / 3);
  });

  it("resamples customers: one tested at every cutoff counts once, so a lead that is theirs is not counted thrice", () => {
    // each customer has their own lift, the same at every cutoff
    const rng = new Rng(5);
    const n = 800;
    const lift = Array.from({ length: n }, () => 0.6 + rng.next());
    const cutoff = (seed: number, prefix: (i: number) => string): PairedCutoff => {
      const r = new Rng(seed);
      const baseline = Float64Array.from({ length: n }, () => 0.2 + r.next());
      return {
        customers: Array.from({ length: n }, (_, i) => prefix(i)),
        baseline,
        served: baseline.map((b, i) => b * (lift[i] as number)),
      };
    };
    const same = [1, 2, 3].map((s) => cutoff(s, (i) => `c${i}`));
    const distinct = [1, 2, 3].map((s) => cutoff(s, (i) => `c${s}-${i}`));
    // three cutoffs of the same customers carry one cutoff's information about their lifts: about sqrt(3) as wide
    const ratioOfWidths = width(leadInterval(same)) / width(leadInterval(distinct));
    expect(ratioOfWidths).toBeGreaterThan(1.4);
    expect(ratioOfWidths).toBeLessThan(2.1);
  });

  it("gives the same interval for the same inputs and seed; refuses readers that do not pair; null without a baseline", () => {
    const c = readers(300, 1.05, 0.4, 5);
    expect(leadInterval([c])).toEqual(leadInterval([c]));
    expect(leadInterval([c], LEAD_DRAWS, 2)).not.toEqual(leadInterval([c], LEAD_DRAWS, 1));
    expect(() => leadInterval([{ ...c, baseline: c.baseline.subarray(1) }])).toThrow(/same readers/);
    expect(() => leadInterval([{ customers: [], served: [], baseline: [] }])).toThrow(/without readers/);
    expect(() => leadInterval([])).toThrow(/no cutoffs/);
    expect(leadInterval([{ ...c, baseline: new Float64Array(300) }])).toBeNull();
  });
});
