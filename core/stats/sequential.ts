/**
 * Always-valid (sequential) confidence intervals: the asymptotic confidence sequences of Waudby-Smith et al.
 * (2023), as GrowthBook applies them. With N units in both arms together and an estimator whose variance is V,
 * the interval is estimate +- sqrt(V N) sqrt(2 (N rho^2 + 1) / (N^2 rho^2) log(sqrt(N rho^2 + 1) / alpha)), where
 * rho (fixed by the configured alpha) makes it narrowest at N = tuning. Looking at it every day does not raise
 * the false-positive rate above alpha; the price is a wider interval than a fixed-horizon one at the same N.
 * The always-valid p-value is the alpha at which the interval just reaches 0 (closed form). Pure.
 */

/** The mixing parameter that makes the sequence narrowest at `tuning` units, for the configured alpha. */
export function sequentialRho(alpha: number, tuning: number): number {
  const l = -2 * Math.log(alpha);
  return Math.sqrt((l + Math.log(l + 1)) / tuning);
}

/** 2 (N rho^2 + 1) / (N^2 rho^2), times the estimator's variance per unit (V N). */
function scale(variance: number, n: number, rho: number): number {
  const r2 = rho * rho;
  return variance * n * ((2 * (n * r2 + 1)) / (n * n * r2));
}

/** Half the width of the always-valid interval at level `alpha`, mixing parameter `rho`. */
export function sequentialHalfWidth(variance: number, n: number, alpha: number, rho: number): number {
  return Math.sqrt(scale(variance, n, rho) * Math.log(Math.sqrt(n * rho * rho + 1) / alpha));
}

/** The smallest alpha whose interval excludes 0: sqrt(N rho^2 + 1) exp(-estimate^2 / scale), at most 1. */
export function sequentialPValue(estimate: number, variance: number, n: number, rho: number): number {
  const p = Math.sqrt(n * rho * rho + 1) * Math.exp(-(estimate * estimate) / scale(variance, n, rho));
  return Math.min(1, p);
}
