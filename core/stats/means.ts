/**
 * Values per unit (revenue per recipient): Welch's t-test from each arm's count, sum and sum of squares
 * (what the daily aggregates keep), with the Welch-Satterthwaite degrees of freedom; the uplift's interval
 * Fieller's for the ratio of the means with the same degrees of freedom, its p-value Welch's (core/stats/compare.ts),
 * given that each arm expects MIN_EVENTS_FOR_UPLIFT units with a value (buyers) at the pooled share when their count
 * is known (estimate.ts upliftEstimable). Pure.
 */
import { interval, type Reference, upliftInterval } from "./compare";
import { studentQuantile, studentTwoSided } from "./distributions";
import { type Comparison, checkOptions, type TestOptions, upliftEstimable } from "./estimate";

export interface Moments {
  n: number;
  sum: number;
  sumSquares: number;
  /** units with a non-zero value (buyers), when known */
  positive?: number;
}

function arm({ n, sum, sumSquares }: Moments) {
  if (!(Number.isInteger(n) && n >= 0 && Number.isFinite(sum) && Number.isFinite(sumSquares)))
    throw new RangeError(`moments need a whole count and finite sums, not n=${n}`);
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
  const alpha = checkOptions(opts);
  const a = arm(control);
  const b = arm(treatment);
  // a variance needs two units in each arm
  if (a.n < 2 || b.n < 2) return { absolute: null, relative: null };
  const df = welchDf(a, b);
  const ref: Reference = { quantile: (p) => studentQuantile(p, df), twoSided: (t) => studentTwoSided(t, df) };
  const diff = b.mean - a.mean;
  const absolute = interval(diff, diff, a.variance / a.n + b.variance / b.n, a.n + b.n, alpha, ref, opts);
  const enough = upliftEstimable(
    { n: control.n, events: control.positive },
    { n: treatment.n, events: treatment.positive },
  );
  const relative =
    absolute && enough && a.mean > 0
      ? upliftInterval(a, b, b.mean / a.mean - 1, absolute, a.n + b.n, alpha, ref, opts)
      : null;
  return { absolute, relative };
}
