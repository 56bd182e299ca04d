/**
 * Purchase propensity: the probability that a customer buys in the `horizonDays` after a cutoff, from
 * features computed strictly before it. Logistic regression or gradient-boosted trees (whichever scores the
 * lower log loss one horizon earlier), trained at an earlier cutoff (cutoff - horizon, labels in
 * [cutoff - horizon, cutoff)) and evaluated at the cutoff. Baseline: recency alone. A label window that reaches the
 * end of the log considered (`end`, its last purchase time) takes in purchases at that very time (labelUntil).
 */

import type { TreeEnsemble } from "../../core/tree-ensemble";
import type { PurchaseLog } from "../data/purchase-log";
import { fitGbdt, type GbdtOptions, predictRows } from "../learn/gbdt";
import { fitLogistic, type LogisticModel, predictLogit, sigmoid } from "../learn/logistic";
import { type CustomerFeatures, customerFeatures } from "../segments/rfm";
import { calibrationTable, logLoss, rocAuc } from "./classification-metrics";

const DAY = 86400;

export const PROPENSITY_FEATURES = [
  "log_recency_days",
  "log_frequency",
  "log_monetary",
  "log_tenure_days",
  "log_avg_basket_value",
  "log_avg_basket_lines",
  "log_invoices_last_30d",
  "log_invoices_last_90d",
  "log_invoices_prior_90d",
  "trend_90d",
  "log_distinct_items",
  "log_avg_days_between",
  "overdue_ratio",
] as const;

export function propensityRow(f: CustomerFeatures): number[] {
  const l = Math.log1p;
  return [
    l(f.recencyDays),
    l(f.frequency),
    l(Math.max(0, f.monetary)),
    l(f.tenureDays),
    l(Math.max(0, f.avgBasketValue)),
    l(f.avgBasketLines),
    l(f.invoicesLast30d),
    l(f.invoicesLast90d),
    l(f.invoicesPrior90d),
    l(f.invoicesLast90d) - l(f.invoicesPrior90d),
    l(f.distinctItems),
    l(f.avgDaysBetween),
    f.avgDaysBetween > 0 ? Math.min(10, f.recencyDays / f.avgDaysBetween) : 0,
  ];
}

/**
 * The end (exclusive) of a label window of `days` from `from`, in a log considered up to `end` (its last purchase
 * time): a window that reaches `end` stops at `end + 1`, so purchases at that very time count, as the recommenders'
 * test window and send time's (`end + 1`) take them in; other windows stop at `from + days`.
 */
export function labelUntil(from: number, days: number, end = Number.POSITIVE_INFINITY): number {
  const to = from + days * DAY;
  return to >= end ? end + 1 : to;
}

/** 1 for customers with a purchase in [from, to). */
export function buyersBetween(log: PurchaseLog, from: number, to: number): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t >= from && t < to) out.add(log.customer[i] as number);
  }
  return out;
}

/** Features at `cutoff` and whether each customer bought in the `horizonDays` after it (up to `end`, labelUntil). */
export function dataset(log: PurchaseLog, cutoff: number, horizonDays: number, end?: number) {
  const feats = customerFeatures(log, cutoff);
  const buyers = buyersBetween(log, cutoff, labelUntil(cutoff, horizonDays, end));
  const x = new Float64Array(feats.length * PROPENSITY_FEATURES.length);
  const y = new Uint8Array(feats.length);
  feats.forEach((f, i) => {
    x.set(propensityRow(f), i * PROPENSITY_FEATURES.length);
    y[i] = buyers.has(f.customer) ? 1 : 0;
  });
  return { feats, x, y };
}

/** The two model kinds compared on validation: logistic regression and gradient-boosted trees. */
export type PropensityKind = "logistic" | "gbdt";
export type PropensityModel = { kind: "logistic"; model: LogisticModel } | { kind: "gbdt"; model: TreeEnsemble };

/** Trees for ~10^3-10^5 customers and 13 features: shallow, slow learning, a sizeable leaf minimum. */
export const PROPENSITY_GBDT: Partial<GbdtOptions> = {
  objective: "logloss",
  trees: 200,
  depth: 4,
  learningRate: 0.05,
  minHessian: 5,
  subsample: 0.8,
};

export function fitPropensity(kind: PropensityKind, x: Float64Array, y: Uint8Array): PropensityModel {
  const d = PROPENSITY_FEATURES.length;
  if (kind === "logistic") return { kind, model: fitLogistic(x, y, d, { l2: 1 }) };
  return {
    kind,
    model: fitGbdt({ x, y, features: PROPENSITY_FEATURES, groups: Int32Array.from([0, y.length]) }, PROPENSITY_GBDT),
  };
}

/** Purchase probabilities of rows (row-major, PROPENSITY_FEATURES wide). */
export function predictPropensity(m: PropensityModel, x: Float64Array): Float64Array {
  const d = PROPENSITY_FEATURES.length;
  if (m.kind === "gbdt") return predictRows(m.model, x, d).map(sigmoid);
  return Float64Array.from({ length: x.length / d }, (_, i) =>
    sigmoid(predictLogit(m.model, x.subarray(i * d, (i + 1) * d))),
  );
}

/**
 * The model fitted at `cutoff - horizon` (labels up to the cutoff) and its predictions at the cutoff, with the
 * labels they are judged by: the validation split of the procedure that fits the published model one horizon later.
 */
export function propensityValidation(
  log: PurchaseLog,
  cutoff: number,
  horizonDays = 30,
  kind: PropensityKind = "logistic",
  end?: number,
) {
  const train = dataset(log, cutoff - horizonDays * DAY, horizonDays, end);
  const model = fitPropensity(kind, train.x, train.y);
  const test = dataset(log, cutoff, horizonDays, end);
  return { model, train, test, probs: predictPropensity(model, test.x) };
}

export interface KindScores {
  auc: number;
  log_loss: number;
}

/**
 * Which kind to publish: both fitted one horizon before `cutoff` and judged on the horizon up to it; the lower
 * log loss (a proper score: ranking and calibration) wins.
 */
export function choosePropensity(log: PurchaseLog, cutoff: number, horizonDays = 30, end?: number) {
  const { scores, runs } = bothKinds(log, cutoff, horizonDays, end);
  const chosen: PropensityKind = scores.gbdt.log_loss < scores.logistic.log_loss ? "gbdt" : "logistic";
  // the chosen kind's run as well: its datasets and predictions, not made again by the caller
  return { chosen, validation: scores, run: runs[chosen] };
}

/** Each kind fitted one horizon before `cutoff`, its run and what it scored on the horizon up to it. */
function bothKinds(log: PurchaseLog, cutoff: number, horizonDays: number, end?: number) {
  const scores = {} as Record<PropensityKind, KindScores>;
  const runs = {} as Record<PropensityKind, ReturnType<typeof propensityValidation>>;
  for (const kind of ["logistic", "gbdt"] as const) {
    const v = propensityValidation(log, cutoff, horizonDays, kind, end);
    runs[kind] = v;
    scores[kind] = { auc: rocAuc(v.probs, v.test.y), log_loss: logLoss(v.probs, v.test.y) };
  }
  return { scores, runs };
}

export interface PropensityResult {
  /** the kind validation chose, and what each scored there and on test */
  chosen: PropensityKind;
  validation: Record<PropensityKind, KindScores>;
  test: Record<PropensityKind, KindScores>;
  auc: number;
  log_loss: number;
  baseline_auc: number;
  baseline: "recency_days (lower = more likely)";
  positives: number;
  customers: number;
  calibration: ReturnType<typeof calibrationTable>;
}

/**
 * Both kinds on test (fitted one horizon before `cutoff`), the figures of the one chosen on the horizon before; `end`
 * is the last purchase time the test considers (labelUntil).
 */
export function trainPropensity(log: PurchaseLog, cutoff: number, horizonDays = 30, end?: number): PropensityResult {
  const { chosen, validation } = choosePropensity(log, cutoff - horizonDays * DAY, horizonDays, end);
  const { scores: test, runs } = bothKinds(log, cutoff, horizonDays, end);
  const { test: data, probs } = runs[chosen];
  return {
    chosen,
    validation,
    test,
    auc: test[chosen].auc,
    log_loss: test[chosen].log_loss,
    baseline_auc: rocAuc(
      data.feats.map((f) => -f.recencyDays),
      data.y,
    ),
    baseline: "recency_days (lower = more likely)",
    positives: data.y.reduce((a, b) => a + b, 0),
    customers: data.y.length,
    calibration: calibrationTable(probs, data.y),
  };
}
