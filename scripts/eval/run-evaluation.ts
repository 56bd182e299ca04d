/**
 * The whole "temporal-30d" evaluation: read -> split (test, and validation carved from train) ->
 * recommenders -> segments, propensity, send time. Returns the report document (and fitted models).
 */
import { readPurchaseLog } from "../data/purchase-log";
import { temporalSplit } from "../data/temporal-split";
import { Progress } from "../lib/progress";
import type { SegmentOptions } from "../segments/segmenter";
import { type EngagementSuite, runEngagementSuite } from "./engagement-suite";
import { type RecommenderSuite, runRecommenderSuite } from "./recommender-suite";

export interface EvaluationOptions {
  data: string;
  testDays?: number;
  segments?: Partial<SegmentOptions>;
  progress?: boolean;
}

/** The data set's own wall-clock format (UCI times carry no zone). */
export function formatTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").slice(0, 19);
}

export async function runEvaluation(opts: EvaluationOptions) {
  const started = performance.now();
  const testDays = opts.testDays ?? 30;
  const progress = new Progress(23, "evaluate", opts.progress === false ? devNull() : process.stderr);
  const log = await readPurchaseLog(opts.data);
  progress.step(
    `read ${log.read.toLocaleString("en")} rows (${log.layout}), ${log.rows.toLocaleString("en")} clean purchases`,
  );
  const tooShort = (name: string, cutoff: number) =>
    new Error(
      `the ${name} split has no users who bought both before and after its cutoff (${formatTime(cutoff)}): ` +
        `the log needs returning customers over more than ${2 * testDays} days`,
    );
  const test = temporalSplit(log, testDays);
  if (test.testAll.size === 0) throw tooShort("test", test.cutoff);
  let val: ReturnType<typeof temporalSplit>;
  try {
    val = temporalSplit(log, testDays, test.cutoff);
  } catch {
    throw tooShort("validation", test.cutoff);
  }
  if (val.testAll.size === 0) throw tooShort("validation", val.cutoff);
  progress.step(`split at ${formatTime(test.cutoff)}; validation at ${formatTime(val.cutoff)}`);
  const recs: RecommenderSuite = runRecommenderSuite(log, test, val, progress);
  const engagement: EngagementSuite = runEngagementSuite(log, test.cutoff, test.end, testDays, progress, opts.segments);
  const p = engagement.propensity;
  const document = {
    protocol: "temporal-30d",
    data: { path: opts.data, layout: log.layout, rows_read: log.read, clean_purchases: log.rows, dropped: log.dropped },
    split: {
      cutoff: formatTime(test.cutoff),
      train_rows: test.trainRows,
      test_rows: test.testRows,
      test_users: {
        all: test.testAll.size,
        novel: test.testNovel.size,
        cold: recs.recommenders.popularity?.cold?.users ?? 0,
      },
      candidate_items: test.itemIds.length,
      validation: {
        cutoff: formatTime(val.cutoff),
        train_rows: val.trainRows,
        test_users: { all: val.testAll.size, novel: val.testNovel.size },
        candidate_items: val.itemIds.length,
      },
    },
    recommenders: recs.recommenders,
    quantized: recs.quantized,
    propensity: {
      auc: p.auc,
      log_loss: p.log_loss,
      baseline_auc: p.baseline_auc,
      baseline: p.baseline,
      customers: p.customers,
      positives: p.positives,
      calibration: p.calibration,
      model: "logistic regression (L2, IRLS) trained at cutoff - 30 days",
    },
    segments: engagement.segments,
    send_time: engagement.send_time,
    tuning: {
      als: recs.tuning.als,
      als_chosen: recs.tuning.als_chosen,
      ease: recs.tuning.ease,
      ease_lambda: recs.tuning.ease_chosen,
      hybrid_weights: recs.models.hybrid.weights,
    },
    seconds: 0,
  };
  document.seconds = Math.round((performance.now() - started) / 100) / 10;
  progress.step(`done in ${document.seconds} s`);
  return { document, log, test, recs, engagement };
}

export type EvaluationDocument = Awaited<ReturnType<typeof runEvaluation>>["document"];

function devNull(): NodeJS.WriteStream {
  return { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
}
