/**
 * Purchase propensity: the probability that a customer buys in the `horizonDays` after a cutoff, from
 * features computed strictly before it. Logistic regression, trained at an earlier cutoff (validation:
 * cutoff - horizon, labels in [cutoff - horizon, cutoff)) and evaluated at the cutoff. Baseline: recency alone.
 */
import type { PurchaseLog } from "../data/purchase-log";
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

/** 1 for customers with a purchase in [from, to). */
export function buyersBetween(log: PurchaseLog, from: number, to: number): Set<number> {
  const out = new Set<number>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t >= from && t < to) out.add(log.customer[i] as number);
  }
  return out;
}

export interface PropensityResult {
  model: LogisticModel;
  auc: number;
  log_loss: number;
  baseline_auc: number;
  baseline: "recency_days (lower = more likely)";
  positives: number;
  customers: number;
  calibration: ReturnType<typeof calibrationTable>;
}

export function dataset(log: PurchaseLog, cutoff: number, horizonDays: number) {
  const feats = customerFeatures(log, cutoff);
  const buyers = buyersBetween(log, cutoff, cutoff + horizonDays * DAY);
  const x = new Float64Array(feats.length * PROPENSITY_FEATURES.length);
  const y = new Uint8Array(feats.length);
  feats.forEach((f, i) => {
    x.set(propensityRow(f), i * PROPENSITY_FEATURES.length);
    y[i] = buyers.has(f.customer) ? 1 : 0;
  });
  return { feats, x, y };
}

/**
 * The model fitted at `cutoff - horizon` (labels up to the cutoff) and its predictions at the cutoff, with the
 * labels they are judged by: the validation split of the procedure that fits the published model one horizon later.
 */
export function propensityValidation(log: PurchaseLog, cutoff: number, horizonDays = 30) {
  const train = dataset(log, cutoff - horizonDays * DAY, horizonDays);
  const model = fitLogistic(train.x, train.y, PROPENSITY_FEATURES.length, { l2: 1 });
  const test = dataset(log, cutoff, horizonDays);
  const d = PROPENSITY_FEATURES.length;
  const probs = Float64Array.from(test.feats, (_, i) =>
    sigmoid(predictLogit(model, test.x.subarray(i * d, (i + 1) * d))),
  );
  return { model, train, test, probs };
}

export function trainPropensity(log: PurchaseLog, cutoff: number, horizonDays = 30): PropensityResult {
  const { model, test, probs } = propensityValidation(log, cutoff, horizonDays);
  return {
    model,
    auc: rocAuc(probs, test.y),
    log_loss: logLoss(probs, test.y),
    baseline_auc: rocAuc(
      test.feats.map((f) => -f.recencyDays),
      test.y,
    ),
    baseline: "recency_days (lower = more likely)",
    positives: test.y.reduce((a, b) => a + b, 0),
    customers: test.y.length,
    calibration: calibrationTable(probs, test.y),
  };
}
