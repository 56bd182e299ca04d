/** The lead's paired bootstrap interval (scripts/eval/lead-interval.ts) on leads whose answer is known. */
import { describe, expect, it } from "vitest";
import { LEAD_DRAWS, leadInterval } from "../../scripts/eval/lead-interval";
import { Rng } from "../../scripts/lib/rng";

/** `n` readers whose baseline NDCG is uniform in [0, 1) and whose served NDCG is `lift` times it plus noise. */
function readers(n: number, lift: number, noise: number, seed: number) {
  const rng = new Rng(seed);
  const baseline = Float64Array.from({ length: n }, () => rng.next());
  const served = baseline.map((b) => Math.max(0, lift * b + noise * (rng.next() - 0.5)));
  return { served, baseline };
}

describe("lead interval", () => {
  it("is a point when every reader's served figure is the same multiple of their baseline's", () => {
    const { baseline } = readers(500, 1, 0, 3);
    const cutoff = { served: baseline.map((b) => 1.2 * b), baseline };
    const [lo, hi] = leadInterval([cutoff, cutoff]);
    expect(lo).toBeCloseTo(1.2, 12);
    expect(hi).toBeCloseTo(1.2, 12);
  });

  it("holds the ratio of the cutoffs' means, and narrows as readers grow (about 1/sqrt(readers))", () => {
    const width = (n: number) => {
      const cutoffs = [readers(n, 1.1, 0.6, 1), readers(n, 1.1, 0.6, 2), readers(n, 1.1, 0.6, 3)];
      const mean = (xs: Float64Array) => xs.reduce((a, b) => a + b, 0) / xs.length;
      const ratio = cutoffs.reduce((a, c) => a + mean(c.served), 0) / cutoffs.reduce((a, c) => a + mean(c.baseline), 0);
      const [lo, hi] = leadInterval(cutoffs);
      expect(lo).toBeLessThan(ratio);
      expect(hi).toBeGreaterThan(ratio);
      return hi - lo;
    };
    const small = width(200);
    const large = width(5000);
    // 25 times the readers: a fifth of the width, give or take the draws' own noise
    expect(large / small).toBeGreaterThan(0.12);
    expect(large / small).toBeLessThan(0.3);
  });

  it("pairs the readers: a shared reader effect cancels, so the interval is narrower than unpaired resampling's", () => {
    // each reader's two figures move together (most of the spread is the reader, not the model)
    const n = 1000;
    const { served, baseline } = readers(n, 1.1, 0.05, 4);
    const [lo, hi] = leadInterval([{ served, baseline }]);
    // shuffling one side breaks the pairs: the same means, a wider interval
    const rng = new Rng(9);
    const shuffled = served.slice();
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as number, shuffled[i] as number];
    }
    const [ulo, uhi] = leadInterval([{ served: shuffled, baseline }]);
    expect(hi - lo).toBeLessThan((uhi - ulo) / 3);
  });

  it("gives the same interval for the same inputs and seed, and refuses readers that do not pair", () => {
    const c = readers(300, 1.05, 0.4, 5);
    expect(leadInterval([c])).toEqual(leadInterval([c]));
    expect(leadInterval([c], LEAD_DRAWS, 2)).not.toEqual(leadInterval([c], LEAD_DRAWS, 1));
    expect(() => leadInterval([{ served: c.served, baseline: c.baseline.subarray(1) }])).toThrow(/same readers/);
    expect(() => leadInterval([])).toThrow(/no cutoffs/);
  });
});
