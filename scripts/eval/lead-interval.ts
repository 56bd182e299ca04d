/**
 * How sure a lead is: a paired bootstrap over readers (Efron and Tibshirani 1993, percentile interval) of the ratio
 * "served mean NDCG@10 over the cutoffs / the baseline's". Each draw resamples each cutoff's test readers with
 * replacement, the same readers for both recommenders (a reader the served model fails is the baseline's reader
 * too, so what they share cancels), and recomputes the ratio of the cutoffs' means.
 */
import { Rng } from "../lib/rng";

/** One cutoff's readers: each one's NDCG@10 under the served recommender and under the baseline, in one order. */
export interface PairedCutoff {
  served: ArrayLike<number>;
  baseline: ArrayLike<number>;
}

/**
 * Draws of the bootstrap: over three cutoffs of 1,800 synthetic readers, six seeds put each end of the interval
 * within 0.001 of the others (about 0.2 s a run).
 */
export const LEAD_DRAWS = 2000;

/** The central 95% of the ratio over `draws` resamples (seeded: the same inputs give the same interval). */
export function leadInterval(cutoffs: readonly PairedCutoff[], draws = LEAD_DRAWS, seed = 1): [number, number] {
  if (cutoffs.length === 0) throw new Error("no cutoffs to resample");
  for (const c of cutoffs) {
    if (c.served.length !== c.baseline.length) throw new Error("served and baseline must judge the same readers");
    if (c.served.length === 0) throw new Error("a cutoff without readers");
  }
  const rng = new Rng(seed);
  const ratios = new Float64Array(draws);
  for (let d = 0; d < draws; d++) {
    let served = 0;
    let baseline = 0;
    for (const c of cutoffs) {
      const n = c.served.length;
      let s = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        const r = rng.int(n);
        s += c.served[r] as number;
        b += c.baseline[r] as number;
      }
      served += s / n;
      baseline += b / n;
    }
    ratios[d] = baseline > 0 ? served / baseline : Number.POSITIVE_INFINITY;
  }
  ratios.sort();
  const at = (q: number) => ratios[Math.min(draws - 1, Math.max(0, Math.round(q * (draws - 1))))] as number;
  return [at(0.025), at(0.975)];
}
