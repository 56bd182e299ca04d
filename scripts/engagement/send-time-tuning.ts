/**
 * Send-time tuning: the priors of the send-time model (scripts/engagement/send-time.ts) chosen on a validation
 * window, scored by the log-likelihood of the invoices that follow it; and the scoring itself, which the
 * evaluation reports. Used by training and by the evaluation.
 */
import { bestHours, hourOfWeek } from "../../core/send-time";
import type { PurchaseLog } from "../data/purchase-log";
import { customerFeatures } from "../segments/rfm";
import { fitSegments, type SegmentOptions } from "../segments/segmenter";
import { fitSendTime, type SendTimeModel, type SendTimeOptions } from "./send-time";

const DAY = 86400;

/** Hour-of-week of each distinct invoice per customer, for invoices with from <= time < to. */
export function invoiceHours(log: PurchaseLog, from: number, to: number): Map<number, number[]> {
  const seen = new Set<number>();
  const out = new Map<number, number[]>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    const inv = log.invoice[i] as number;
    if (t < from || t >= to || seen.has(inv)) continue;
    seen.add(inv);
    const c = log.customer[i] as number;
    const list = out.get(c) ?? [];
    list.push(hourOfWeek(t));
    out.set(c, list);
  }
  return out;
}

export function scoreSendTime(
  model: SendTimeModel,
  history: Map<number, number[]>,
  future: Map<number, number[]>,
  segmentOf: (c: number) => number,
) {
  const shopTop = new Set(bestHours(model.shop, 3));
  let hits = 0;
  let baseHits = 0;
  let ll = 0;
  let baseLl = 0;
  let n = 0;
  let customers = 0;
  for (const [c, hours] of future) {
    const past = history.get(c);
    if (!past) continue;
    customers++;
    const dist = model.customer(past, segmentOf(c));
    const top = new Set(bestHours(dist, 3));
    for (const h of hours) {
      n++;
      if (top.has(h % 24)) hits++;
      if (shopTop.has(h % 24)) baseHits++;
      ll += Math.log(dist[h] as number);
      baseLl += Math.log(model.shop[h] as number);
    }
  }
  const d = Math.max(1, n);
  return {
    top3_hit_rate: hits / d,
    baseline_top3_hit_rate: baseHits / d,
    log_likelihood: ll / d,
    baseline_log_likelihood: baseLl / d,
    invoices: n,
    customers,
  };
}

export const SEND_TIME_GRID: SendTimeOptions[] = [1, 3, 8, 20].flatMap((customerPrior) =>
  [0, 0.2].flatMap((spread) => [10, 100].map((segmentPrior) => ({ customerPrior, spread, segmentPrior }))),
);

/**
 * Send-time priors chosen on validation: history before `cutoff - horizon`, scored by log-likelihood of
 * the invoices in the following `horizon` days (segments refitted at that earlier cutoff).
 */
export function tuneSendTime(
  log: PurchaseLog,
  cutoff: number,
  horizonDays: number,
  segmentOptions: Partial<SegmentOptions> = {},
): SendTimeOptions {
  const valCut = cutoff - horizonDays * DAY;
  const valFeatures = customerFeatures(log, valCut);
  if (valFeatures.length < 10) return SEND_TIME_GRID[0] as SendTimeOptions;
  const valSegFit = fitSegments(valFeatures, segmentOptions);
  const valSeg = new Map(valFeatures.map((f, i) => [f.customer, valSegFit.labels[i] as number]));
  const valHistory = invoiceHours(log, Number.NEGATIVE_INFINITY, valCut);
  const valFuture = invoiceHours(log, valCut, cutoff);
  const segOf = (c: number) => valSeg.get(c) ?? -1;
  let best = SEND_TIME_GRID[0] as SendTimeOptions;
  let bestLl = Number.NEGATIVE_INFINITY;
  for (const o of SEND_TIME_GRID) {
    const m = fitSendTime(valHistory, segOf, valSegFit.model.centroids.length, o);
    const s = scoreSendTime(m, valHistory, valFuture, segOf);
    if (s.invoices > 0 && s.log_likelihood > bestLl) {
      bestLl = s.log_likelihood;
      best = o;
    }
  }
  return best;
}
