/**
 * Training step 3: the engagement models, from the purchase log up to `end`: segments (RFM k-means, exported as
 * ONNX), send time (per-customer hours with shop and segment priors, tuned on the log's last 30 days) and 30-day
 * purchase propensity (logistic; its validation one horizon earlier gives the drift job's calibration bins).
 * Fewer than 30 customers: none of them.
 */
import { type CalibrationBins, calibrationBins } from "../../../core/drift";
import type { PurchaseLog } from "../../data/purchase-log";
import { dataset, PROPENSITY_FEATURES, propensityValidation } from "../../engagement/propensity";
import { fitSendTime, type SendTimeModel } from "../../engagement/send-time";
import { invoiceHours, tuneSendTime } from "../../engagement/send-time-tuning";
import { buildSegmentGraph } from "../../export/segment-graph";
import { fitLogistic, predictLogit, sigmoid } from "../../learn/logistic";
import { customerFeatures } from "../../segments/rfm";
import { fitSegments } from "../../segments/segmenter";

const DAY = 86400;
const MIN_CUSTOMERS = 30;

export interface Engagement {
  segments: ReturnType<typeof fitSegments> | null;
  segmentOnnx: Uint8Array | null;
  /** each customer's segment (customer index in the purchase log) */
  segmentOf: Map<number, number>;
  hoursByCustomer: ReturnType<typeof invoiceHours>;
  sendTime: SendTimeModel | null;
  /** each customer's 30-day purchase probability */
  propensity: Map<number, number>;
  propensityCalibration?: CalibrationBins;
}

export function fitEngagement(plog: PurchaseLog, end: number, log: (msg: string) => void): Engagement {
  const customers = plog.rows > 0 ? customerFeatures(plog, end) : [];
  const segments = customers.length >= MIN_CUSTOMERS ? fitSegments(customers) : null;
  const segmentOf = new Map(segments ? customers.map((c, i) => [c.customer, segments.labels[i] as number]) : []);
  const segmentOnnx = segments ? buildSegmentGraph(segments.model) : null;
  const hoursByCustomer = invoiceHours(plog, Number.NEGATIVE_INFINITY, end);
  const sendTime = segments
    ? fitSendTime(
        hoursByCustomer,
        (c) => segmentOf.get(c) ?? -1,
        segments.model.centroids.length,
        tuneSendTime(plog, end, 30),
      )
    : null;
  const propensity = new Map<number, number>();
  let propensityCalibration: CalibrationBins | undefined;
  if (customers.length >= MIN_CUSTOMERS) {
    // the published model is fitted on features at end - 30 days (labels up to the end); the same procedure one
    // horizon earlier, predicting at end - 30 days, is its validation split (the drift reference's calibration)
    const validation = propensityValidation(plog, end - 30 * DAY, 30);
    const train = validation.test;
    if (bothClasses(train.y)) {
      const model = fitLogistic(train.x, train.y, PROPENSITY_FEATURES.length, { l2: 1 });
      const now = dataset(plog, end, 0);
      now.feats.forEach((c, i) => {
        const d = PROPENSITY_FEATURES.length;
        propensity.set(c.customer, sigmoid(predictLogit(model, now.x.subarray(i * d, (i + 1) * d))));
      });
      if (bothClasses(validation.train.y))
        propensityCalibration = calibrationBins(Array.from(validation.probs, (p, i) => ({ p, y: train.y[i] ? 1 : 0 })));
    }
  }
  if (segments) log(`segments: k=${segments.model.centroids.length}, silhouette ${segments.silhouette.toFixed(3)}`);
  return {
    segments,
    segmentOnnx,
    segmentOf,
    hoursByCustomer,
    sendTime,
    propensity,
    ...(propensityCalibration && { propensityCalibration }),
  };
}

function bothClasses(y: Uint8Array): boolean {
  return y.includes(1) && y.includes(0);
}
