/**
 * A treatment against its control from each arm's count, mean and per-unit variance: the absolute difference
 * with its standard error, and the relative uplift with the delta method's (as GrowthBook computes it:
 * var = var_b / (mean_a^2 n_b) + var_a mean_b^2 / (mean_a^4 n_a)), each turned into an interval and p-value by
 * the caller's reference distribution, or by the always-valid sequence. Pure.
 */
import { type Comparison, DEFAULT_ALPHA, type Estimate, NO_ESTIMATE, type TestOptions } from "./estimate";
import { sequentialHalfWidth, sequentialPValue, sequentialRho } from "./sequential";

export interface Arm {
  n: number;
  mean: number;
  /** per unit (the sample variance) */
  variance: number;
}

/** A fixed-horizon reference distribution: its quantile, and the two-sided p-value of a statistic. */
export interface Reference {
  quantile(p: number): number;
  twoSided(statistic: number): number;
  /** the p-value of the absolute difference, when the test has its own (a pooled two-proportion z-test) */
  absolutePValue?: number;
}

function interval(
  estimate: number,
  variance: number,
  n: number,
  ref: Reference,
  opts: TestOptions,
  p?: number,
): Estimate {
  if (!(variance > 0) || !Number.isFinite(variance)) return { ...NO_ESTIMATE, estimate };
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const se = Math.sqrt(variance);
  if (opts.sequential) {
    const rho = sequentialRho(alpha, opts.sequential.tuning);
    const half = sequentialHalfWidth(variance, n, alpha, rho);
    return {
      estimate,
      ciLow: estimate - half,
      ciHigh: estimate + half,
      pValue: sequentialPValue(estimate, variance, n, rho),
    };
  }
  const half = ref.quantile(1 - alpha / 2) * se;
  return { estimate, ciLow: estimate - half, ciHigh: estimate + half, pValue: p ?? ref.twoSided(estimate / se) };
}

export function compareArms(a: Arm, b: Arm, ref: Reference, opts: TestOptions = {}): Comparison {
  if (a.n < 1 || b.n < 1) return { absolute: NO_ESTIMATE, relative: null };
  const n = a.n + b.n;
  const absolute = interval(
    b.mean - a.mean,
    a.variance / a.n + b.variance / b.n,
    n,
    ref,
    opts,
    opts.sequential ? undefined : ref.absolutePValue,
  );
  if (a.mean === 0) return { absolute, relative: null };
  const relVariance = b.variance / (a.mean ** 2 * b.n) + (a.variance * b.mean ** 2) / (a.mean ** 4 * a.n);
  return { absolute, relative: interval((b.mean - a.mean) / a.mean, relVariance, n, ref, opts) };
}
