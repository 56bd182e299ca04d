/**
 * Training step 3: the engagement models, from the purchase log up to `end`: segments (RFM k-means, exported as
 * ONNX), send time (per-customer hours with shop and segment priors, tuned on the log's last 30 days) and 30-day
 * purchase propensity (logistic or trees, chosen on validation; that validation one horizon earlier gives the
 * drift job's calibration bins), and the probability of buying within 7 days (a discrete-time hazard).
 * Fewer than 30 customers: none of them.
 */
import { type CalibrationBins, calibrationBins } from "../../../core/drift";
import type { PurchaseLog } from "../../data/purchase-log";
import { choosePropensity, dataset, fitPropensity, predictPropensity } from "../../engagement/propensity";
import { fitSendTime, type SendTimeModel } from "../../engagement/send-time";
import { invoiceHours, tuneSendTime } from "../../engagement/send-time-tuning";
import { buyWithin, fitHazard, HAZARD_WEEKS } from "../../engagement/time-to-purchase";
import { buildSegmentGraph } from "../../export/segment-graph";
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
  /** each customer's probability of buying within 7 days (the time-to-purchase hazard) */
  buyWithin7d: Map<number, number>;
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
    // logistic or trees: whichever scored the lower log loss there
    const { chosen, run: validation } = choosePropensity(plog, end - 30 * DAY, 30);
    const train = validation.test;
    if (bothClasses(train.y)) {
      const model = fitPropensity(chosen, train.x, train.y);
      const now = dataset(plog, end, 0);
      const probs = predictPropensity(model, now.x);
      now.feats.forEach((c, i) => {
        propensity.set(c.customer, probs[i] as number);
      });
      log(`propensity: ${chosen} (lower validation log loss)`);
      if (bothClasses(validation.train.y))
        propensityCalibration = calibrationBins(Array.from(validation.probs, (p, i) => ({ p, y: train.y[i] ? 1 : 0 })));
    } else log(`propensity: none (${train.y.includes(1) ? "every" : "no"} customer bought in the last 30 days)`);
  } else {
    // said, not left to a profile without them to show
    log(
      `segments, send time, propensity, buys within 7 days: none (${customers.length} customers with a purchase, fewer than ${MIN_CUSTOMERS})`,
    );
  }
  // the hazard is fitted on customers as they were HAZARD_WEEKS before the end, followed up to it
  const buySoon = new Map<number, number>();
  if (customers.length >= MIN_CUSTOMERS) {
    const hazard = fitHazard(plog, end - HAZARD_WEEKS * 7 * DAY);
    if (hazard) for (const c of customers) buySoon.set(c.customer, buyWithin(hazard, c, 7));
  }
  if (segments) log(`segments: k=${segments.model.centroids.length}, silhouette ${segments.silhouette.toFixed(3)}`);
  return {
    segments,
    segmentOnnx,
    segmentOf,
    hoursByCustomer,
    sendTime,
    propensity,
    buyWithin7d: buySoon,
    ...(propensityCalibration && { propensityCalibration }),
  };
}

function bothClasses(y: Uint8Array): boolean {
  return y.includes(1) && y.includes(0);
}
