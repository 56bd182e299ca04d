/**
 * What a comparison of a treatment with its control reports: the difference (absolute) and the uplift
 * (relative to the control), each with a two-sided confidence interval and p-value. Fixed-horizon intervals
 * hold for one look at the data; sequential ones (core/stats/sequential.ts) for every look. Pure.
 */

export interface Estimate {
  estimate: number;
  ciLow: number;
  ciHigh: number;
  /** two-sided; for a sequential interval, the always-valid p-value */
  pValue: number;
}

export interface Comparison {
  /** treatment minus control */
  absolute: Estimate;
  /** (treatment - control) / control; null when the control's value is 0 */
  relative: Estimate | null;
}

export interface TestOptions {
  /** 1 - confidence level; 0.05 by default */
  alpha?: number;
  /**
   * always-valid intervals, tuned to be narrowest at `tuning` units in both arms together (GrowthBook's
   * default: 5,000); absent: fixed-horizon intervals
   */
  sequential?: { tuning: number };
}

export const DEFAULT_ALPHA = 0.05;

/** The uninformative answer when a comparison cannot be made (an empty arm, no variance). */
export const NO_ESTIMATE: Estimate = { estimate: 0, ciLow: 0, ciHigh: 0, pValue: 1 };
