/**
 * The whole "temporal-30d" evaluation: read -> split (test, and validation carved from train) ->
 * recommenders -> segments, propensity, send time. Returns the report document (and fitted models).
 */
import type { DateOrder } from "../data/interaction-log";
import {
  checkNumbers,
  checkPurchasesLeft,
  checkReadable,
  crowdedCustomerWarning,
  refuseEmailIds,
} from "../data/log-checks";
import { readPurchaseLog } from "../data/purchase-log";
import { latestTime, type TemporalSplit, temporalSplit } from "../data/temporal-split";
import { HAZARD_WEEKS } from "../engagement/time-to-purchase";
import { Progress } from "../lib/progress";
import { customerFeatures } from "../segments/rfm";
import { fewestToSegment, type SegmentOptions } from "../segments/segmenter";
import { type EngagementSuite, runEngagementSuite } from "./engagement-suite";
import { FitCache } from "./fit-cache";
import { servedMetrics, summarizeOrigins } from "./origins";
import { type RecommenderSuite, runRecommenderSuite, SUITE_STEPS, type VariantMetrics } from "./recommender-suite";

export interface EvaluationOptions {
  data: string;
  testDays?: number;
  /** cutoffs evaluated: T, then each `testDays` earlier (each with its own validation split); default 1 */
  origins?: number;
  segments?: Partial<SegmentOptions>;
  progress?: boolean;
  /** the order of day-and-month dates no date of the log settles (`--date-order`) */
  dateOrder?: DateOrder;
}

/** The data set's own wall-clock format (UCI times carry no zone). */
export function formatTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace("T", " ").slice(0, 19);
}

export async function runEvaluation(opts: EvaluationOptions) {
  const started = performance.now();
  const testDays = opts.testDays ?? 30;
  const origins = opts.origins ?? 1;
  if (!Number.isInteger(origins) || origins < 1 || origins > MAX_ORIGINS)
    throw new Error(`origins must be a whole number from 1 to ${MAX_ORIGINS}`);
  const progress = new Progress(
    6 + SUITE_STEPS * origins,
    "evaluate",
    opts.progress === false ? devNull() : process.stderr,
  );
  const log = await readPurchaseLog(opts.data, { dateOrder: opts.dateOrder });
  // as train refuses it: a format most likely misread, or nothing left to evaluate on
  checkReadable(opts.data, log);
  checkNumbers(opts.data, log);
  checkPurchasesLeft(opts.data, log, "evaluate");
  // as train refuses it: email addresses as customer ids (its warnings name customers)
  refuseEmailIds(opts.data, log.layout === "online-retail-ii" ? "Customer ID" : "CustomerID", log.customerIds);
  const perCustomer = new Float64Array(log.customerIds.length);
  for (let r = 0; r < log.rows; r++) {
    const c = log.customer[r] as number;
    perCustomer[c] = (perCustomer[c] as number) + 1;
  }
  const crowded = crowdedCustomerWarning(opts.data, log.customerIds, perCustomer);
  if (crowded) process.stderr.write(`evaluate: warning: ${crowded}\n`);
  progress.step(
    `read ${log.read.toLocaleString("en")} rows (${log.layout}), ${log.rows.toLocaleString("en")} clean purchases`,
  );
  const tooShort = (name: string, cutoff: number) =>
    new Error(
      `the ${name} split has no users who bought both before and after its cutoff (${formatTime(cutoff)}): ` +
        `the log needs returning customers over more than ${2 * testDays} days`,
    );
  // splits[0] is the test split at T, splits[k + 1] the validation split of splits[k] (and the test split of
  // the next older origin)
  const splits = [temporalSplit(log, testDays)];
  for (let k = 0; k < origins; k++) {
    const later = splits[k] as TemporalSplit;
    let earlier: TemporalSplit;
    try {
      earlier = temporalSplit(log, testDays, later.cutoff);
    } catch {
      throw tooShort(k === 0 ? "validation" : `origin ${k + 1}'s validation`, later.cutoff);
    }
    splits.push(earlier);
  }
  // up to two windows further back, where the log reaches: the last origin's ranker learns from the first as the
  // others do, and each origin's forward check looks one window past the window its ranker learns from
  const beyond: TemporalSplit[] = [];
  for (let k = 0; k < 2; k++) {
    const from = (beyond.at(-1) ?? (splits[origins] as TemporalSplit)).cutoff;
    if (!Number.isFinite(latestTime(log, from))) break;
    beyond.push(temporalSplit(log, testDays, from));
  }
  splits.forEach((s, k) => {
    if (s.testAll.size === 0)
      throw tooShort(k === 0 ? "test" : k === 1 ? "validation" : `origin ${k}'s validation`, s.cutoff);
  });
  const test = splits[0] as TemporalSplit;
  const val = splits[1] as TemporalSplit;
  // the segments are fitted last, on the customers who bought before the test cutoff: too few of them would fail
  // there, after every recommender was fitted
  const customers = customerFeatures(log, test.cutoff).length;
  const fewest = fewestToSegment(opts.segments);
  if (customers < fewest)
    throw new Error(
      `${customers} customer${customers === 1 ? "" : "s"} bought before the test cutoff (${formatTime(test.cutoff)}): ` +
        `segmenting them (${opts.segments?.method ?? "kmeans"}) needs ${fewest} at least; evaluate a log of more customers`,
    );
  progress.step(`split at ${formatTime(test.cutoff)}; validation at ${formatTime(val.cutoff)}`);
  // the latest origin first: each origin's validation fits are the next older origin's test fits (FitCache)
  const cache = new FitCache();
  const suites: RecommenderSuite[] = [];
  // origin k tests on splits[k], validates on splits[k + 1], learns from the window before that too (earlierOf) and
  // checks forward from the one before it (olderOf)
  const windows = [...splits, ...beyond];
  const earlierOf = (k: number) => windows[k + 2] ?? null;
  const olderOf = (k: number) => windows[k + 3] ?? null;
  for (let k = 0; k < origins; k++) {
    const test = splits[k] as TemporalSplit;
    const val = splits[k + 1] as TemporalSplit;
    suites.push(await runRecommenderSuite(log, test, val, progress, cache, earlierOf(k), olderOf(k)));
    // the next origin tests at this validation's cutoff, validates at the earlier window's and learns from the
    // older one's
    cache.keepOnly([val.cutoff, earlierOf(k)?.cutoff ?? val.cutoff, olderOf(k)?.cutoff ?? val.cutoff]);
  }
  const recs = suites[0] as RecommenderSuite;
  const engagement: EngagementSuite = runEngagementSuite(log, test.cutoff, test.end, testDays, progress, opts.segments);
  const p = engagement.propensity;
  const document = {
    // named by its test window: temporal-30d by default (`--test-days`)
    protocol: `temporal-${testDays}d`,
    data: { path: opts.data, layout: log.layout, rows_read: log.read, clean_purchases: log.rows, dropped: log.dropped },
    split: {
      cutoff: formatTime(test.cutoff),
      test_days: testDays,
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
    recommenders: { ...recs.recommenders, served: servedMetrics(recs) } as Record<string, VariantMetrics>,
    quantized: recs.quantized,
    propensity: {
      chosen: p.chosen,
      validation: p.validation,
      test: p.test,
      auc: p.auc,
      log_loss: p.log_loss,
      baseline_auc: p.baseline_auc,
      baseline: p.baseline,
      customers: p.customers,
      positives: p.positives,
      calibration: p.calibration,
      model: `${p.chosen === "gbdt" ? "gradient-boosted trees" : "logistic regression (L2, IRLS)"} trained at cutoff - 30 days, the kind with the lower log loss one horizon earlier`,
    },
    time_to_purchase: engagement.time_to_purchase && {
      ...engagement.time_to_purchase,
      model: `discrete-time hazard: logistic regression on customer-weeks (propensity features + week), fitted on the ${HAZARD_WEEKS} weeks before the cutoff`,
    },
    segments: engagement.segments,
    send_time: engagement.send_time,
    tuning: {
      als: recs.tuning.als,
      als_chosen: recs.tuning.als_chosen,
      ease: recs.tuning.ease,
      ease_lambda: recs.tuning.ease_chosen,
      ease_neighbours: recs.tuning.neighbours,
      rp3beta: recs.tuning.rp3beta,
      rp3beta_chosen: recs.tuning.rp3beta_chosen,
      hybrid_weights: recs.models.hybrid.weights,
      // the choice, without the held-out ensembles and weights it carries for calibration
      ranker: {
        holdout: recs.tuning.ranker.holdout,
        forward: recs.tuning.ranker.forward,
        chosen: recs.tuning.ranker.chosen,
        windows: recs.tuning.ranker_windows,
      },
    },
    origins:
      origins > 1
        ? {
            cutoffs: suites
              .map((_, k) => originOf(splits[k] as TemporalSplit, splits[k + 1] as TemporalSplit))
              .reverse(),
            ...summarizeOrigins(
              suites.map((s) => ({ ...s.recommenders, served: servedMetrics(s) })).reverse(),
              suites.map((_, k) => (splits[k] as TemporalSplit).userIds).reverse(),
            ),
            chosen: suites.map((s) => s.tuning.ranker.chosen).reverse(),
            holdout: suites.map((s) => s.tuning.ranker.holdout).reverse(),
            forward: suites.map((s) => s.tuning.ranker.forward).reverse(),
          }
        : null,
    seconds: 0,
  };
  document.seconds = Math.round((performance.now() - started) / 100) / 10;
  progress.step(`done in ${document.seconds} s`);
  return { document, log, test, recs, engagement };
}

/** At most this many origins (each is a full tuning and training run). */
export const MAX_ORIGINS = 6;

/** What one origin's windows hold: the report says what changes between cutoffs from these. */
function originOf(test: TemporalSplit, val: TemporalSplit) {
  return {
    cutoff: formatTime(test.cutoff),
    test_until: formatTime(test.end),
    validation_cutoff: formatTime(val.cutoff),
    train_rows: test.trainRows,
    test_rows: test.testRows,
    candidate_items: test.itemIds.length,
    test_users: { all: test.testAll.size, novel: test.testNovel.size },
    train_users: test.userIds.length,
  };
}

export type EvaluationDocument = Awaited<ReturnType<typeof runEvaluation>>["document"];

function devNull(): NodeJS.WriteStream {
  return { isTTY: false, write: () => true } as unknown as NodeJS.WriteStream;
}
