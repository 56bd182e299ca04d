/**
 * Time to the next purchase as a discrete-time hazard (Singer and Willett 1993): after a cutoff, week by week,
 * the probability that a customer who has not bought yet buys that week, by logistic regression over the
 * propensity features and one indicator per week. The first week's hazard is "likely to buy within 7 days"; the
 * weeks together give the whole curve (the probability of buying within four weeks is 1 - the product of the
 * first four survivals). A customer contributes one row per week until their first purchase (then none), so a purchase in
 * week 3 also teaches weeks 1 and 2 that they did not buy: every horizon learns from every customer.
 */
import { calibrationBins } from "../../core/drift";
import type { PurchaseLog } from "../data/purchase-log";
import { fitLogistic, type LogisticModel, predictLogit, sigmoid } from "../learn/logistic";
import { type CustomerFeatures, customerFeatures } from "../segments/rfm";
import { logLoss, rocAuc } from "./classification-metrics";
import { buyersBetween, labelUntil, PROPENSITY_FEATURES, propensityRow } from "./propensity";

const DAY = 86400;
/** weeks of follow-up the hazard is fitted over */
export const HAZARD_WEEKS = 8;

export interface HazardModel {
  logistic: LogisticModel;
  weeks: number;
}

/** One customer's row for week `w` (0-based): their features, then a one-hot week. */
function hazardRow(f: CustomerFeatures, w: number, weeks: number): number[] {
  const week = new Array<number>(weeks).fill(0);
  week[w] = 1;
  return [...propensityRow(f), ...week];
}

/** The week (0-based) of each customer's first purchase in [cutoff, cutoff + weeks), or -1. */
function firstWeeks(log: PurchaseLog, cutoff: number, weeks: number): Map<number, number> {
  const out = new Map<number, number>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t < cutoff || t >= cutoff + weeks * 7 * DAY) continue;
    const w = Math.floor((t - cutoff) / (7 * DAY));
    const c = log.customer[i] as number;
    out.set(c, Math.min(out.get(c) ?? w, w));
  }
  return out;
}

/**
 * Fits the hazard on customers as they were at `cutoff`, followed for HAZARD_WEEKS (all before the log's end);
 * null when that leaves nothing to learn (no customers then, or nobody or everybody bought).
 */
export function fitHazard(log: PurchaseLog, cutoff: number, weeks = HAZARD_WEEKS): HazardModel | null {
  const feats = customerFeatures(log, cutoff);
  const first = firstWeeks(log, cutoff, weeks);
  const width = PROPENSITY_FEATURES.length + weeks;
  const x: number[] = [];
  const y: number[] = [];
  for (const f of feats) {
    const bought = first.get(f.customer) ?? -1;
    const last = bought >= 0 ? bought : weeks - 1;
    for (let w = 0; w <= last; w++) {
      x.push(...hazardRow(f, w, weeks));
      y.push(w === bought ? 1 : 0);
    }
  }
  if (!y.includes(1) || !y.includes(0)) return null;
  return { logistic: fitLogistic(Float64Array.from(x), Uint8Array.from(y), width, { l2: 1 }), weeks };
}

/** Probability of a purchase within `days` (whole weeks, at most the model's) for a customer's features now. */
export function buyWithin(model: HazardModel, f: CustomerFeatures, days = 7): number {
  const weeks = Math.max(1, Math.min(model.weeks, Math.round(days / 7)));
  let survive = 1;
  for (let w = 0; w < weeks; w++) {
    survive *= 1 - sigmoid(predictLogit(model.logistic, Float64Array.from(hazardRow(f, w, model.weeks))));
  }
  return 1 - survive;
}

export interface HazardEvaluation {
  /** "buys within 7 days": AUC, log loss and expected calibration error of the first week's hazard */
  auc: number;
  log_loss: number;
  ece: number;
  /** the same label ranked by recency alone */
  baseline_auc: number;
  positives: number;
  customers: number;
  /**
   * the same model's answer for 30 days (four weeks of hazards) against who bought within 30 days; null when the log
   * ends less than 30 days after the cutoff (nobody was followed that long)
   */
  auc_30d: number | null;
  calibration: ReturnType<typeof calibrationBins>["bins"];
}

/**
 * Fitted on the HAZARD_WEEKS before `cutoff` (customers as they were then, followed up to the cutoff), judged at
 * the cutoff: who bought in the next 7 days (and 30), a window reaching `end` (the last purchase time considered)
 * taking in purchases at that very time (labelUntil). A window the log stops short of is not judged (a customer who
 * did not buy in the days it holds is censored, not a negative): null without the week, `auc_30d` null without the
 * 30 days.
 */
export function evaluateHazard(log: PurchaseLog, cutoff: number, end?: number): HazardEvaluation | null {
  const followed = (days: number) => end === undefined || cutoff + days * DAY <= end + 1;
  if (!followed(7)) return null;
  const model = fitHazard(log, cutoff - HAZARD_WEEKS * 7 * DAY);
  if (!model) return null;
  const feats = customerFeatures(log, cutoff);
  const week = buyersBetween(log, cutoff, labelUntil(cutoff, 7, end));
  const month = buyersBetween(log, cutoff, labelUntil(cutoff, 30, end));
  const p7 = feats.map((f) => buyWithin(model, f, 7));
  const p30 = feats.map((f) => buyWithin(model, f, 30));
  const y7 = feats.map((f) => (week.has(f.customer) ? 1 : 0));
  const y30 = feats.map((f) => (month.has(f.customer) ? 1 : 0));
  const cal = calibrationBins(p7.map((p, i) => ({ p, y: y7[i] as 0 | 1 })));
  return {
    auc: rocAuc(p7, y7),
    log_loss: logLoss(p7, y7),
    ece: cal.ece,
    baseline_auc: rocAuc(
      feats.map((f) => -f.recencyDays),
      y7,
    ),
    positives: y7.reduce<number>((a, b) => a + b, 0),
    customers: feats.length,
    auc_30d: followed(30) ? rocAuc(p30, y30) : null,
    calibration: cal.bins,
  };
}
