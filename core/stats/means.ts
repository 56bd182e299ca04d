/**
 * Values per unit (revenue per recipient): Welch's t-test from each arm's count, sum and sum of squares
 * (what the daily aggregates keep), with the Welch-Satterthwaite degrees of freedom for the difference and the
 * uplift alike (GrowthBook's choice). Pure.
 */
import { compareArms } from "./compare";
import { studentQuantile, studentTwoSided } from "./distributions";
import { type Comparison, NO_ESTIMATE, type TestOptions } from "./estimate";

export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
}

function arm({ n, sum, sumSquares }: Moments) {
  const mean = n > 0 ? sum / n : 0;
  const variance = n > 1 ? Math.max(0, (sumSquares - n * mean * mean) / (n - 1)) : 0;
  return { n, mean, variance };
}

/** Welch-Satterthwaite degrees of freedom. */
export function welchDf(a: { n: number; variance: number }, b: { n: number; variance: number }): number {
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  return (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
}

export function meanTest(control: Moments, treatment: Moments, opts: TestOptions = {}): Comparison {
  const a = arm(control);
  const b = arm(treatment);
  // a variance needs two units in each arm
  if (a.n < 2 || b.n < 2) return { absolute: { ...NO_ESTIMATE, estimate: b.mean - a.mean }, relative: null };
  const df = welchDf(a, b);
  return compareArms(a, b, { quantile: (p) => studentQuantile(p, df), twoSided: (t) => studentTwoSided(t, df) }, opts);
}
