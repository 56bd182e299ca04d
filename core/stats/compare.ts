/**
 * Intervals and p-values from an estimate and its variance: fixed-horizon by a reference distribution (normal,
 * or Student's t), or always-valid by the sequence (core/stats/sequential.ts). The uplift's interval is made on
 * the log of the ratio (its variance: var_b / (n_b mean_b^2) + var_a / (n_a mean_a^2)) and mapped back, which
 * holds its level at counts where the delta method's symmetric interval does not; its p-value is that test's
 * (a log ratio of 0), so the uplift's p-value and its own interval always agree, as GrowthBook's relative
 * results do. The difference keeps its own test: at small counts the two can disagree near alpha. Pure.
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
 * The uplift from the log of the ratio of two means (both positive): its interval mapped back by exp - 1, its
 * p-value the log ratio's.
 */
export function upliftInterval(
  a: { n: number; mean: number; variance: number },
  b: { n: number; mean: number; variance: number },
  estimate: number,
  /** units in both arms (as the difference's interval counts them) */
  units: number,
  alpha: number,
  ref: Reference,
  opts: TestOptions,
): Estimate | null {
  if (!(a.mean > 0 && b.mean > 0)) return null;
  const logVariance = b.variance / (b.n * b.mean ** 2) + a.variance / (a.n * a.mean ** 2);
  const log = interval(Math.log(b.mean / a.mean), Math.log(b.mean / a.mean), logVariance, units, alpha, ref, opts);
  if (!log) return null;
  return { estimate, ciLow: Math.expm1(log.ciLow), ciHigh: Math.expm1(log.ciHigh), pValue: log.pValue };
}
