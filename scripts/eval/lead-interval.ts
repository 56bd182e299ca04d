/**
 * How sure a lead is: a paired bootstrap over customers (Efron and Tibshirani 1993, percentile interval) of the
 * ratio "served mean NDCG@10 over the cutoffs / the baseline's". Each draw resamples customers with replacement
 * from everyone tested at any cutoff, and takes each drawn customer's readers at every cutoff they were tested at:
 * the same customer is often tested at several cutoffs, and one the model suits at one cutoff it may well suit at
 * the next, so resampling each cutoff's readers on their own could understate the spread. Served and baseline are
 * judged on the same drawn readers (what a reader's history makes easy or hard for both cancels). The interval is
 * conditional on these cutoffs and the models fitted at them: it says which readers happened to be tested could
 * move the lead this much, not what another time window or another shop would give.
 */
import { Rng } from "../lib/rng";

/**
 * One cutoff's tested readers, in one order: each one's customer, and their NDCG@10 under the served recommender
 * and under the baseline.
 */
export interface PairedCutoff {
  customers: readonly string[];
  served: ArrayLike<number>;
  baseline: ArrayLike<number>;
}

/**
 * Draws of the bootstrap: over three cutoffs of 1,800 synthetic readers (some customers at several), six seeds
 * put each end of the interval within 0.001 of the others (about 0.4 s a run).
 */
export const LEAD_DRAWS = 2000;

/**
 * The central 95% of the ratio over `draws` resamples (seeded: the same inputs give the same interval); null when
 * a draw's baseline means sum to zero (no ratio to take).
 */
export function leadInterval(cutoffs: readonly PairedCutoff[], draws = LEAD_DRAWS, seed = 1): [number, number] | null {
  if (cutoffs.length === 0) throw new Error("no cutoffs to resample");
  // each reader's customer, numbered over all cutoffs (a customer is tested at most once per cutoff)
  const index = new Map<string, number>();
  const owners = cutoffs.map((c) => {
    const n = c.customers.length;
    if (c.served.length !== n || c.baseline.length !== n)
      throw new Error("served and baseline must judge the same readers");
    if (n === 0) throw new Error("a cutoff without readers");
    return c.customers.map((id) => {
      let at = index.get(id);
      if (at === undefined) {
        at = index.size;
        index.set(id, at);
      }
      return at;
    });
  });
  const m = index.size;
  // where each customer's reader sits at each cutoff (-1: not tested there)
  const rowOf = owners.map((owner) => {
    const out = new Int32Array(m).fill(-1);
    owner.forEach((o, r) => {
      out[o] = r;
    });
    return out;
  });
  const rng = new Rng(seed);
  const ratios = new Float64Array(draws);
  const k = cutoffs.length;
  const served = new Float64Array(k);
  const baseline = new Float64Array(k);
  const count = new Int32Array(k);
  for (let d = 0; d < draws; d++) {
    served.fill(0);
    baseline.fill(0);
    count.fill(0);
    for (let i = 0; i < m; i++) {
      const who = rng.int(m);
      for (let c = 0; c < k; c++) {
        const r = (rowOf[c] as Int32Array)[who] as number;
        if (r < 0) continue;
        const cut = cutoffs[c] as PairedCutoff;
        served[c] = (served[c] as number) + (cut.served[r] as number);
        baseline[c] = (baseline[c] as number) + (cut.baseline[r] as number);
        count[c] = (count[c] as number) + 1;
      }
    }
    // a draw that missed a cutoff's every reader: that cutoff's means are unknown, the draw is drawn again
    if (count.includes(0)) {
      d--;
      continue;
    }
    let s = 0;
    let b = 0;
    for (let c = 0; c < k; c++) {
      s += (served[c] as number) / (count[c] as number);
      b += (baseline[c] as number) / (count[c] as number);
    }
    if (!(b > 0)) return null;
    ratios[d] = s / b;
  }
  ratios.sort();
  const at = (q: number) => ratios[Math.min(draws - 1, Math.max(0, Math.round(q * (draws - 1))))] as number;
  return [at(0.025), at(0.975)];
}
