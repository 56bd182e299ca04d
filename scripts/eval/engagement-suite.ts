/** The engagement half of the evaluation: segments, purchase propensity, time to the next purchase, best send time. */

import type { SegmentModel } from "../../core/segments";
import { HOURS_OF_WEEK } from "../../core/send-time";
import type { PurchaseLog } from "../data/purchase-log";
import { type PropensityResult, trainPropensity } from "../engagement/propensity";
import { fitSendTime, type SendTimeModel, type SendTimeOptions } from "../engagement/send-time";
import { invoiceHours, scoreSendTime, tuneSendTime } from "../engagement/send-time-tuning";
import { evaluateHazard, type HazardEvaluation } from "../engagement/time-to-purchase";
import type { Progress } from "../lib/progress";
import { customerFeatures } from "../segments/rfm";
import { fitSegments, type SegmentFit, type SegmentOptions } from "../segments/segmenter";

export interface SendTimeMetrics {
  top3_hit_rate: number;
  baseline_top3_hit_rate: number;
  log_likelihood: number;
  baseline_log_likelihood: number;
  invoices: number;
  customers: number;
  options: SendTimeOptions;
}

export interface EngagementSuite {
  segments: {
    k: number;
    silhouette: number;
    method: string;
    silhouette_by_k: Record<string, number>;
    segments: SegmentModel["segments"];
  };
  segmentFit: SegmentFit;
  propensity: PropensityResult;
  /** null when the log holds too little before the cutoff to fit it, or less than a week after it to judge it */
  time_to_purchase: HazardEvaluation | null;
  send_time: SendTimeMetrics;
  sendTimeModel: SendTimeModel;
  segmentOfCustomer: Map<number, number>;
}

export function runEngagementSuite(
  log: PurchaseLog,
  cutoff: number,
  end: number,
  horizonDays: number,
  progress: Progress,
  segmentOptions: Partial<SegmentOptions> = {},
): EngagementSuite {
  const features = customerFeatures(log, cutoff);
  const segmentFit = fitSegments(features, segmentOptions);
  const segmentOfCustomer = new Map(features.map((f, i) => [f.customer, segmentFit.labels[i] as number]));
  const k = segmentFit.model.centroids.length;
  progress.step(`segments: k=${k}, silhouette ${segmentFit.silhouette.toFixed(3)}`);

  // label windows reaching `end` take in its purchases, as the send-time test's does (end + 1)
  const propensity = trainPropensity(log, cutoff, horizonDays, end);
  const timeToPurchase = evaluateHazard(log, cutoff, end);
  progress.step(
    `propensity (${propensity.chosen}): AUC ${propensity.auc.toFixed(3)} (recency alone ${propensity.baseline_auc.toFixed(3)}); buys within 7 days: AUC ${timeToPurchase?.auc.toFixed(3) ?? "n/a"}`,
  );

  const bestOpts = tuneSendTime(log, cutoff, horizonDays, segmentOptions);
  const history = invoiceHours(log, Number.NEGATIVE_INFINITY, cutoff);
  const future = invoiceHours(log, cutoff, end + 1);
  const segOf = (c: number) => segmentOfCustomer.get(c) ?? -1;
  const sendTimeModel = fitSendTime(history, segOf, k, bestOpts);
  const sendTime = { ...scoreSendTime(sendTimeModel, history, future, segOf), options: bestOpts };
  progress.step(
    `send time: top-3 hit rate ${sendTime.top3_hit_rate.toFixed(3)} (shop-wide ${sendTime.baseline_top3_hit_rate.toFixed(3)})`,
  );
  if (HOURS_OF_WEEK !== sendTimeModel.shop.length) throw new Error("send-time distribution has the wrong length");
  return {
    segments: {
      k,
      silhouette: segmentFit.silhouette,
      method: segmentOptions.method ?? "kmeans",
      silhouette_by_k: segmentFit.silhouetteByK,
      segments: segmentFit.model.segments,
    },
    segmentFit,
    propensity,
    time_to_purchase: timeToPurchase,
    send_time: sendTime,
    sendTimeModel,
    segmentOfCustomer,
  };
}
