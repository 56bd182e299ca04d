/**
 * The distribution functions the experiment statistics need, from stdlib-js (one small package each): the
 * standard normal's CDF and quantile, Student's t CDF and quantile, and the chi-square CDF. Upper tails are taken
 * as 1 - CDF, which loses nothing at the p-values an experiment reports (down to about 1e-15). Pure.
 */
import chiSquareCdf from "@stdlib/stats-base-dists-chisquare-cdf";
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
  return 2 * (1 - normalCdf(Math.abs(z)));
}

/** Two-sided p-value of a t statistic with `df` degrees of freedom. */
export function studentTwoSided(t: number, df: number): number {
  return 2 * (1 - tCdf(Math.abs(t), df));
}

/** The t with P(T <= t) = p, `df` degrees of freedom. */
export function studentQuantile(p: number, df: number): number {
  return tQuantile(p, df);
}

/** P(X >= x) for a chi-square X with `df` degrees of freedom. */
export function chiSquareUpper(x: number, df: number): number {
  return 1 - chiSquareCdf(x, df);
}
