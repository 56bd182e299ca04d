/**
 * Sample ratio mismatch: whether the units each arm got fit the weights they were meant to get (a chi-square
 * goodness-of-fit test, k - 1 degrees of freedom). A p-value under SRM_THRESHOLD (0.001, as GrowthBook and
 * Statsig flag it) means the assignment or the counting is broken, and no result of the experiment can be
 * trusted. Pure.
 */
import { chiSquareUpper } from "./distributions";

export const SRM_THRESHOLD = 0.001;

export interface SrmResult {
  chiSquare: number;
  pValue: number;
  /** pValue < SRM_THRESHOLD */
  mismatch: boolean;
}

/**
 * `observed[i]` units against `weights[i]` (any non-negative scale). Units in an arm of weight 0 are a mismatch
 * by definition; such arms count for nothing else. Fewer than two weighted arms, or no units: no test.
 */
export function srmTest(observed: readonly number[], weights: readonly number[]): SrmResult {
  if (observed.length !== weights.length)
    throw new RangeError(`${observed.length} counts against ${weights.length} weights`);
  for (const [i, o] of observed.entries()) {
    const w = weights[i] as number;
    if (!(Number.isFinite(o) && o >= 0 && Number.isFinite(w) && w >= 0))
      throw new RangeError("counts and weights must be finite and non-negative");
    if (w === 0 && o > 0) return { chiSquare: Number.POSITIVE_INFINITY, pValue: 0, mismatch: true };
  }
  const weighted = weights.filter((w) => w > 0).length;
  const total = observed.reduce((s, o) => s + o, 0);
  const weightSum = weights.reduce((s, w) => s + w, 0);
  if (weighted < 2 || total <= 0) return { chiSquare: 0, pValue: 1, mismatch: false };
  let chiSquare = 0;
  for (const [i, o] of observed.entries()) {
    const expected = (total * (weights[i] as number)) / weightSum;
    if (expected > 0) chiSquare += (o - expected) ** 2 / expected;
  }
  const pValue = chiSquareUpper(chiSquare, weighted - 1);
  return { chiSquare, pValue, mismatch: pValue < SRM_THRESHOLD };
}
