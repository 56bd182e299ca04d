/**
 * Rates (opens, clicks, conversions per recipient): the two-proportion test, Agresti-Caffo style: one success
 * and one failure added to each arm before the interval and the test statistic (a rate of 0 or 1 keeps a
 * variance; the interval holds its level at small counts), so that the p-value and the interval always agree
 * (p < alpha exactly when the interval excludes 0). The reported estimates are the raw rates'. The uplift's
 * interval is Fieller's for the ratio of the adjusted rates, its p-value the difference's (core/stats/compare.ts).
 * Pure.
 */
import { interval, type Reference, upliftInterval } from "./compare";
import { normalQuantile, normalTwoSided } from "./distributions";
import { type Comparison, checkOptions, type TestOptions, upliftEstimable } from "./estimate";

export interface Proportion {
  /** units (recipients exposed) */
  n: number;
  /** of them, those who did it (clicked, bought) */
  x: number;
}

const NORMAL: Reference = { quantile: normalQuantile, twoSided: normalTwoSided };

function check({ n, x }: Proportion): void {
  if (!(Number.isInteger(n) && Number.isInteger(x) && n >= 0 && x >= 0 && x <= n))
    throw new RangeError(`a proportion needs whole counts with 0 <= x <= n, not ${x} of ${n}`);
}

export function proportionTest(control: Proportion, treatment: Proportion, opts: TestOptions = {}): Comparison {
  const alpha = checkOptions(opts);
  check(control);
  check(treatment);
  if (control.n === 0 || treatment.n === 0) return { absolute: null, relative: null };
  const adjusted = ({ n, x }: Proportion) => {
    const mean = (x + 1) / (n + 2);
    return { n: n + 2, mean, variance: mean * (1 - mean) };
  };
  const a = adjusted(control);
  const b = adjusted(treatment);
  const raw = treatment.x / treatment.n - control.x / control.n;
  const absolute = interval(
    raw,
    b.mean - a.mean,
    a.variance / a.n + b.variance / b.n,
    control.n + treatment.n,
    alpha,
    NORMAL,
    opts,
  );
  const enough = upliftEstimable({ n: control.n, events: control.x }, { n: treatment.n, events: treatment.x });
  const relative =
    absolute && enough
      ? upliftInterval(
          a,
          b,
          treatment.x / treatment.n / (control.x / control.n) - 1,
          absolute,
          control.n + treatment.n,
          alpha,
          NORMAL,
          opts,
        )
      : null;
  return { absolute, relative };
}
