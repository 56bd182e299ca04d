/**
 * The distribution functions the experiment statistics need, from stdlib-js (one small package each): the
 * standard normal's CDF and quantile, Student's t CDF and quantile, and the regularized upper incomplete gamma
 * for the chi-square's upper tail. Tails are computed as tails (the CDF at -|z|, not 1 - CDF), so tiny p-values
 * keep their digits instead of rounding to 0. Pure.
 */
import gammainc from "@stdlib/math-base-special-gammainc";
import normalCdfOf from "@stdlib/stats-base-dists-normal-cdf";
import normalQuantileOf from "@stdlib/stats-base-dists-normal-quantile";
import tCdf from "@stdlib/stats-base-dists-t-cdf";
import tQuantile from "@stdlib/stats-base-dists-t-quantile";

/** P(Z <= z) for a standard normal Z. */
export function normalCdf(z: number): number {
  return normalCdfOf(z, 0, 1);
}

/** The z with P(Z <= z) = p. */
export function normalQuantile(p: number): number {
  return normalQuantileOf(p, 0, 1);
}

/** Two-sided p-value of a z statistic. */
export function normalTwoSided(z: number): number {
  return Math.min(1, 2 * normalCdf(-Math.abs(z)));
}

/** Two-sided p-value of a t statistic with `df` degrees of freedom. */
export function studentTwoSided(t: number, df: number): number {
  return Math.min(1, 2 * tCdf(-Math.abs(t), df));
}

/** The t with P(T <= t) = p, `df` degrees of freedom. */
export function studentQuantile(p: number, df: number): number {
  return tQuantile(p, df);
}

/** P(X >= x) for a chi-square X with `df` degrees of freedom: Q(df / 2, x / 2). */
export function chiSquareUpper(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, df / 2, true, true);
}
