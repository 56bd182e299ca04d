/**
 * Intervals and p-values from an estimate and its variance: fixed-horizon by a reference distribution (normal,
 * or Student's t), or always-valid by the sequence (core/stats/sequential.ts). The uplift's interval is Fieller's
 * for the ratio of the means (upliftInterval), made with the same half-width as the difference's, and its p-value is
 * the difference's: the uplift and the difference always agree on whether there is an effect, and the uplift's
 * p-value and its own interval agree too. Pure.
 */
import type { Estimate, TestOptions } from "./estimate";
import { sequentialHalfWidth, sequentialPValue, sequentialRho } from "./sequential";

/** A fixed-horizon reference distribution: its quantile, and the two-sided p-value of a statistic. */
export interface Reference {
  quantile(p: number): number;
  twoSided(statistic: number): number;
}

/** An interval around `center` (the estimate, or an adjusted one) with `variance`, over `n` units in all. */
export function interval(
  estimate: number,
  center: number,
  variance: number,
  n: number,
  alpha: number,
  ref: Reference,
  opts: TestOptions,
): Estimate | null {
  if (!(variance > 0) || !Number.isFinite(variance) || !Number.isFinite(center)) return null;
  if (opts.sequential) {
    const rho = sequentialRho(opts.sequential.tunedAlpha ?? alpha, opts.sequential.tuning);
    const half = sequentialHalfWidth(variance, n, alpha, rho);
    return {
      estimate,
      ciLow: center - half,
      ciHigh: center + half,
      pValue: sequentialPValue(center, variance, n, rho),
    };
  }
  const se = Math.sqrt(variance);
  const half = ref.quantile(1 - alpha / 2) * se;
  return { estimate, ciLow: center - half, ciHigh: center + half, pValue: ref.twoSided(center / se) };
}

/**
 * The uplift of `b` over `a` (the ratio of their means, less 1) by Fieller's interval: the ratios R for which the
 * difference b - R a is within the test's half-width of 0, k sqrt(V_b + R^2 V_a), with k the half-width of a unit
 * variance (the normal's or Student's quantile, or the sequence's); its p-value the difference's test (R = 1). So
 * the uplift's interval excludes 0 exactly when the difference's does, whatever the tails: the log ratio's interval
 * (the delta method) excluded 0 for 8.2% of equal arms of 5,000 readers with lognormal order values, where Welch's
 * test of the difference did for 4.3%. Null when the control's mean is not itself clear of 0 at that width (the set
 * of ratios is then unbounded).
 */
export function upliftInterval(
  a: { n: number; mean: number; variance: number },
  b: { n: number; mean: number; variance: number },
  estimate: number,
  /** the difference's own estimate (`interval` of b.mean - a.mean at va + vb): its p-value is the uplift's */
  difference: Estimate,
  /** units in both arms (as the difference's interval counts them) */
  units: number,
  alpha: number,
  ref: Reference,
  opts: TestOptions,
): Estimate | null {
  if (!(a.mean > 0 && b.mean > 0)) return null;
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const unit = interval(0, 0, 1, units, alpha, ref, opts);
  if (!unit) return null;
  const k = unit.ciHigh;
  const lead = a.mean * a.mean - k * k * va;
  if (!(lead > 0)) return null;
  const root = k * Math.sqrt(a.mean * a.mean * vb + b.mean * b.mean * va - k * k * va * vb);
  const mid = a.mean * b.mean;
  return { estimate, ciLow: (mid - root) / lead - 1, ciHigh: (mid + root) / lead - 1, pValue: difference.pValue };
}
