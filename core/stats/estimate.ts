/**
 * What a comparison of a treatment with its control reports: the difference (absolute) and the uplift
 * (relative to the control), each with a two-sided confidence interval and p-value, or null when the data
 * cannot support one (an empty arm, no variance, too few conversions for a ratio). Fixed-horizon intervals
 * hold for one look at the data; sequential ones (core/stats/sequential.ts) for every look. Pure.
 */

export interface Estimate {
  estimate: number;
  ciLow: number;
  ciHigh: number;
  /** two-sided; for a sequential interval, the always-valid p-value; the same for the difference and the uplift */
  pValue: number;
  /**
   * with a correction for multiple comparisons (a report comparing several arms with one control): the p-value
   * adjusted over the family, and the interval that agrees with it (core/stats/multiple-testing.ts)
   */
  adjusted?: { ciLow: number; ciHigh: number; pValue: number };
}

export interface Comparison {
  /** treatment minus control; null: not estimable */
  absolute: Estimate | null;
  /** treatment / control - 1; null: not estimable (a control of 0, or under MIN_EVENTS_FOR_UPLIFT events) */
  relative: Estimate | null;
}

export interface TestOptions {
  /** 1 - confidence level, in (0, 1); 0.05 by default */
  alpha?: number;
  /**
   * always-valid intervals, tuned to be narrowest at `tuning` units in both arms together (GrowthBook's
   * default: 5,000); absent: fixed-horizon intervals
   */
  sequential?: {
    tuning: number;
    /**
     * the alpha the sequence is tuned for (default: `alpha`): an interval asked at another level (a corrected
     * one) keeps the sequence, and so the p-value, of the test it adjusts; any tuning keeps the level
     */
    tunedAlpha?: number;
  };
}

export const DEFAULT_ALPHA = 0.05;

/**
 * Conversions (or buyers) each arm needs before an uplift is estimated: below it the ratio's interval misses
 * far more often than its level says (a control with 3 conversions makes any treatment look like +50%).
 */
export const MIN_EVENTS_FOR_UPLIFT = 10;

/** An arm's readers, and its events (conversions, buyers) where they were counted. */
interface UpliftCounts {
  n: number;
  events?: number | null;
}

/**
 * Whether an uplift is estimated: each arm expects MIN_EVENTS_FOR_UPLIFT events at the two arms' pooled share, and
 * has one at least. The expected count, not each arm's own: a gate on an arm's own count lets through the arms that
 * happened to do well and holds back those that did badly, so the uplifts shown would lean positive (of nine small
 * arms equal to their control, one in eight experiments showed a "significant" one). Counts not kept
 * (`events` undefined or null): estimated.
 */
export function upliftEstimable(a: UpliftCounts, b: UpliftCounts): boolean {
  if (a.events === undefined || a.events === null || b.events === undefined || b.events === null) return true;
  const share = (a.events + b.events) / (a.n + b.n);
  return Math.min(a.n, b.n) * share >= MIN_EVENTS_FOR_UPLIFT && a.events > 0 && b.events > 0;
}

/** Throws on options no interval can be made of. */
export function checkOptions(opts: TestOptions): number {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1), not ${alpha}`);
  if (opts.sequential && !(opts.sequential.tuning >= 1 && Number.isFinite(opts.sequential.tuning)))
    throw new RangeError(`the sequential tuning must be a count of units (>= 1), not ${opts.sequential.tuning}`);
  const tuned = opts.sequential?.tunedAlpha;
  if (tuned !== undefined && !(tuned > 0 && tuned < 1))
    throw new RangeError(`the sequence's tuned alpha must be in (0, 1), not ${tuned}`);
  return alpha;
}
