/**
 * Rates (opens, clicks, conversions per recipient): the two-proportion test. The difference's p-value is the
 * pooled z-test's (under the null both arms share one rate); its interval uses each arm's own variance
 * (Wald); the uplift's interval, the delta method (core/stats/compare.ts). Pure.
 */
import { compareArms } from "./compare";
import { normalQuantile, normalTwoSided } from "./distributions";
import type { Comparison, TestOptions } from "./estimate";

export interface Proportion {
  /** units (recipients exposed) */
  n: number;
  /** of them, those who did it (clicked, bought) */
  x: number;
}

export function proportionTest(control: Proportion, treatment: Proportion, opts: TestOptions = {}): Comparison {
  const arm = ({ n, x }: Proportion) => {
    const mean = n > 0 ? x / n : 0;
    return { n, mean, variance: mean * (1 - mean) };
  };
  const a = arm(control);
  const b = arm(treatment);
  const pooled = (control.x + treatment.x) / (control.n + treatment.n);
  const se0 = Math.sqrt(pooled * (1 - pooled) * (1 / control.n + 1 / treatment.n));
  const absolutePValue = se0 > 0 ? normalTwoSided((b.mean - a.mean) / se0) : 1;
  return compareArms(a, b, { quantile: normalQuantile, twoSided: normalTwoSided, absolutePValue }, opts);
}
