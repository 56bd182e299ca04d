/**
 * Training step 1: tune on the validation split (the window before the last weeks, scored on them): the ALS
 * grid, EASE's lambda (its neighbour table), the hybrid's weights and the learned ranker (its trees, tree count and
 * whether it serves each mode; purchase logs), and the top score's calibration per scorer. Nothing of the test
 * period is used. With `tune: false` the defaults stand; without a validation split (a log no longer than the
 * holdout, or no reader who bought both before and in it) training stops, naming the log's span and the holdout,
 * rather than ship the defaults unasked.
 */
import type { HybridWeights } from "../../../core/hybrid";
import type { ModelManifest } from "../../../core/manifest";
import { workerCount } from "../../lib/worker-pool";
import { evaluateVariant, K } from "../../ranking/evaluate-recommender";
import { recommend } from "../../ranking/recommender-contract";
import { ALS_BASE, ALS_GRID, type AlsOptions, DEFAULT_ALS_OPTIONS, fitAlsInWorker, type ImplicitAls } from "../als";
import { fitCalibration } from "../calibration";
import { ContentLsa } from "../content";
import { EASE_LAMBDAS, type Ease, fitEaseInWorker } from "../ease";
import { HybridRecommender, UNTUNED_WEIGHTS } from "../hybrid";
import { Popularity } from "../popularity";
import {
  CandidateRanker,
  chooseRanker,
  earlierWindow,
  isHeldOut,
  NEIGHBOURS_K,
  type RankerChoice,
  type RankerModels,
  type RankerSplit,
} from "../ranker";
import type { TrainingSet, Validation } from "../training-set";

/** Below this many validation readers `train` says its pick of ALS settings is mostly chance. */
export const FEW_VALIDATION_READERS = 30;

export interface Tuned {
  alsOptions: Partial<AlsOptions>;
  weights: HybridWeights;
  /** the learned ranker trained on validation (purchase logs): EASE's lambda for its neighbours, trees, choice */
  ranker: { easeLambda: number; models: RankerModels; choice: RankerChoice } | null;
  calibration: NonNullable<ModelManifest["calibration"]>;
  /** validation figures, published in the manifest */
  metrics: Record<string, number>;
}

export async function tuneOnValidation(
  ts: TrainingSet,
  opts: { als?: Partial<AlsOptions>; tune?: boolean; holdoutDays?: number },
  log: (msg: string) => void,
): Promise<Tuned> {
  const tuned: Tuned = {
    alsOptions: { ...ALS_BASE, ...opts.als },
    weights: UNTUNED_WEIGHTS,
    ranker: null,
    calibration: {},
    metrics: {},
  };
  const val = ts.validation;
  if (opts.tune === false) return tuned;
  if (!val) throw new Error(nothingToTune(ts, opts.holdoutDays ?? 30));
  const { metrics } = tuned;

  /** the top score as a probability, per scorer (scripts/train/calibration.ts), fitted on validation */
  const calibrate = (
    scorer: "als" | "hybrid" | "ranker",
    model: { scores(u: number): ArrayLike<number> },
    only?: (user: number) => boolean,
  ): void => {
    // an event log's: on its purchases, not its views (Validation.calibration)
    const on = val.calibration ?? { data: val.data, bought: val.relevantAll, readers: () => true };
    const readers = (u: number) => on.readers(u) && (only?.(u) ?? true);
    const fit = fitCalibration(model, on.data, on.bought, val.end, readers);
    if (!fit) {
      log(`calibration (${scorer}): too few validation purchases of the top item, none published`);
      return;
    }
    tuned.calibration[scorer] = fit.calibration;
    // fold-in vectors live in the same space as the ALS ones
    if (scorer === "als") tuned.calibration["als-foldin"] = fit.calibration;
    metrics[`validation_${scorer}_top1_buy_rate`] = fit.calibration.positives / fit.calibration.n;
    metrics[`validation_${scorer}_calibration_ece`] = fit.ece;
    log(
      `calibration (${scorer}): ${fit.calibration.positives} of ${fit.calibration.n} readers bought their top item in the validation window; ECE ${fit.ece.toFixed(4)} on the half not fitted`,
    );
  };

  let best = { score: Number.NEGATIVE_INFINITY, options: tuned.alsOptions, model: null as ImplicitAls | null };
  // the grid's fits run side by side in worker threads, a batch at a time (so memory holds that batch and the best
  // so far); the first best in grid order wins, as one by one
  const grid = ALS_GRID.map((g) => ({ ...tuned.alsOptions, ...g }));
  log(`tuning ALS on the validation split: ${grid.length} settings, in worker threads`);
  for (const batch of batches(grid)) {
    const fits = await Promise.all(batch.map((options) => fitAlsInWorker(options, val.data)));
    fits.forEach((m, i) => {
      const score = (ndcg(val, m, "all") + ndcg(val, m, "novel")) / 2;
      if (score > best.score) best = { score, options: batch[i] as Partial<AlsOptions>, model: m };
    });
  }
  tuned.alsOptions = best.options;
  // a pick among the grid's settings made on a handful of readers is mostly chance: say on how many it was made
  const readers = val.relevantAll.size;
  log(
    `ALS tuned on validation (${readers} readers): alpha ${tuned.alsOptions.alpha}, regularization ${tuned.alsOptions.regularization}` +
      (readers < FEW_VALIDATION_READERS
        ? `; fewer than ${FEW_VALIDATION_READERS} readers choose among ${grid.length} settings mostly by chance: --no-tune keeps alpha ${DEFAULT_ALS_OPTIONS.alpha}, regularization ${DEFAULT_ALS_OPTIONS.regularization}`
        : ""),
  );
  const als = best.model as ImplicitAls;
  const pop = new Popularity();
  pop.fit(val.data);
  metrics.validation_users = val.relevantAll.size;
  metrics.validation_novel_users = val.relevantNovel.size;
  // a mean over no reader is no figure: a `novel` NDCG is published only when some reader bought something new
  const novel = (name: string, value: () => number) => {
    if (val.relevantNovel.size > 0) metrics[name] = value();
  };
  metrics.validation_als_ndcg_at_10 = ndcg(val, als, "all");
  novel("validation_als_novel_ndcg_at_10", () => ndcg(val, als, "novel"));
  metrics.validation_popularity_ndcg_at_10 = ndcg(val, pop, "all");
  if (ts.source === "purchases") {
    const valContent = new ContentLsa();
    valContent.fit(val.data);
    // EASE's lambda first: the hybrid's neighbour sums read its table, as the ranker does
    const ease = await tuneEase(val);
    const neighbours = ease.neighbours(NEIGHBOURS_K);
    const tuner = new HybridRecommender(tuned.alsOptions, {}, val.end);
    tuner.fitWith(val.data, als, valContent, neighbours);
    tuned.weights = tuner.tune(val.relevantAll, val.relevantNovel);
    metrics.validation_hybrid_ndcg_at_10 = ndcg(val, tuner, "all");
    tuner.mode = "novel";
    novel("validation_hybrid_novel_ndcg_at_10", () => ndcg(val, tuner, "novel"));
    tuner.mode = "all";
    calibrate("hybrid", tuner);
    log("ranker: fitting each earlier window's models, then the trees on the validation readers");
    tuned.ranker = await tuneRanker(val, ts.earlier, ts.older, tuner, ease.options.lambda, metrics, log);
    if (tuned.ranker.choice.chosen.all === "ranker") {
      // the trees trained without the held-out readers (over hybrid features from weights fitted without them
      // too), calibrated on those readers alone
      const ranker = new CandidateRanker();
      ranker.fitWith(tuner);
      ranker.models = tuned.ranker.choice.heldOut;
      const fitted = tuner.weights;
      tuner.weights = tuned.ranker.choice.heldOutWeights;
      calibrate("ranker", ranker, isHeldOut);
      tuner.weights = fitted;
    }
  }
  calibrate("als", als);
  return tuned;
}

/** EASE at the lambda best on validation (mean NDCG@10 of both modes), for the neighbour table. */
async function tuneEase(val: Validation): Promise<Ease> {
  let best = { score: Number.NEGATIVE_INFINITY, model: null as Ease | null };
  for (const batch of batches(EASE_LAMBDAS)) {
    for (const m of await Promise.all(batch.map((lambda) => fitEaseInWorker({ lambda }, val.data)))) {
      const score = (ndcg(val, m, "all") + ndcg(val, m, "novel")) / 2;
      if (score > best.score) best = { score, model: m };
    }
  }
  return best.model as Ease;
}

/**
 * The learned ranker over the tuned hybrid's components and EASE's neighbour table: trained on two thirds of the
 * validation readers (and the earlier window's, over components fitted on that window) against the hybrid on the
 * rest (which serves each mode), then on all.
 */
async function tuneRanker(
  val: Validation,
  earlier: Validation | null,
  older: Validation | null,
  tuner: HybridRecommender,
  easeLambda: number,
  metrics: Record<string, number>,
  log: (msg: string) => void,
) {
  const ranker = new CandidateRanker();
  ranker.fitWith(tuner);
  // a window's own components (fitted on what came before its cutoff), as the ranker reads them: ALS and EASE in
  // worker threads (the factors and weights a fit here gives, to the bit), content here meanwhile
  const windowOf = async (w: Validation) => {
    const fits = Promise.all([
      fitAlsInWorker(tuner.alsOptions, w.data),
      fitEaseInWorker({ lambda: easeLambda }, w.data),
    ]);
    const content = new ContentLsa();
    content.fit(w.data);
    const [als, ease] = await fits;
    return earlierWindow({
      data: w.data,
      end: w.end,
      als,
      content,
      neighbours: ease.neighbours(NEIGHBOURS_K),
      relevant: { all: w.relevantAll, novel: w.relevantNovel },
      userIds: w.userIds,
    });
  };
  if (earlier) {
    // both windows' fits at once: four fits over the worker threads, the two content fits here
    const [earlierFit, olderFit] = await Promise.all([windowOf(earlier), older ? windowOf(older) : null]);
    ranker.earlier = [earlierFit];
    log(`ranker: learns from the window before validation too (${earlier.relevantAll.size} readers)`);
    if (older && olderFit) {
      ranker.older = olderFit;
      log(`ranker: its tree count is also checked from the window before that (${older.relevantAll.size} readers)`);
    }
  }
  metrics.validation_ranker_windows = 1 + ranker.earlier.length;
  const choice = await chooseRanker(ranker, judged(val), tuner);
  const models = await ranker.train(val.relevantAll, val.relevantNovel, choice);
  for (const mode of ["all", "novel"] as const) {
    const h = choice.holdout[mode];
    const suffix = mode === "all" ? "" : "_novel";
    metrics[`validation_holdout${suffix}_users`] = h.users;
    if (h.users === 0) {
      // no figure to publish: a mean over no reader would read as an NDCG of 0 for both
      log(`ranker (${mode}): no held-out validation reader to judge it on: ${choice.chosen[mode]} serves`);
      continue;
    }
    metrics[`validation_holdout_hybrid${suffix}_ndcg_at_10`] = h.hybrid;
    metrics[`validation_holdout_ranker${suffix}_ndcg_at_10`] = h.ranker;
    metrics[`validation_holdout_margin${suffix}`] = h.margin;
    const f = choice.forward?.[mode];
    if (f?.users) {
      metrics[`validation_forward${suffix}_users`] = f.users;
      metrics[`validation_forward_hybrid${suffix}_ndcg_at_10`] = f.hybrid;
      metrics[`validation_forward_ranker${suffix}_ndcg_at_10`] = f.ranker;
      metrics[`validation_forward_margin${suffix}`] = f.margin;
      metrics[`validation_forward${suffix}_picked_over`] = f.pickedOver;
    }
    const pool = f && f.pickedOver > f.users ? `, the count picked over ${f.pickedOver} readers of two windows` : "";
    const forward = f?.users
      ? `; forward from the window before, ${f.ranker.toFixed(4)} vs ${f.hybrid.toFixed(4)} on ${f.users} validation readers (past ${f.margin.toFixed(4)})${pool}`
      : "";
    log(
      `ranker (${mode}): ${h.ranker.toFixed(4)} vs hybrid ${h.hybrid.toFixed(4)} on ${h.users} held-out validation readers (the hybrid serves past a lead of ${h.margin.toFixed(4)}), ${h.trees} trees${h.blend ? ` plus ${h.blend} x the hybrid logit` : ""} (${f?.users ? "where the forward curve peaks" : "where held-out readers' NDCG peaks"})${forward}: ${choice.chosen[mode]} serves`,
    );
  }
  return { easeLambda, models, choice };
}

/** Why a log gives no validation split, with what to do about it. */
function nothingToTune(ts: TrainingSet, holdoutDays: number): string {
  const day = (t: number) => new Date(t * 1000).toISOString().slice(0, 10);
  const days = (ts.full.end - ts.start) / 86400;
  const span = `the log spans ${days.toFixed(1)} days (${day(ts.start)} to ${day(ts.full.end)})`;
  const why =
    days <= holdoutDays
      ? `${span}, no more than --holdout-days ${holdoutDays}: nothing lies before the validation window`
      : `${span}, but no reader bought both before its last ${holdoutDays} days (--holdout-days) and in them`;
  // --holdout-days is a whole number of days, 1 at least: a log of a day or less has none shorter to try
  const shorter = days > 1 ? "Pass a shorter --holdout-days, or " : "No --holdout-days (1 at least) is shorter: pass ";
  return (
    `nothing to tune on: ${why}. ${shorter}--no-tune to train with the defaults ` +
    "(ALS alpha 2, regularization 20; the hybrid's hand-set weights; no ranker, no calibration)"
  );
}

/** `list` in consecutive batches of as many as fit at once in worker threads. */
function batches<T>(list: readonly T[]): T[][] {
  const size = workerCount();
  return Array.from({ length: Math.ceil(list.length / size) }, (_, b) => list.slice(b * size, (b + 1) * size));
}

/** A validation window as the evaluation judges it, with its readers' ids. */
function judged(w: Validation): RankerSplit {
  return { train: w.data.matrix, testAll: w.relevantAll, testNovel: w.relevantNovel, userIds: w.userIds };
}

/** NDCG@10 of a recommender on a validation window. */
function ndcg(
  w: Validation,
  m: { scores(u: number): ArrayLike<number> } & Parameters<typeof recommend>[0],
  variant: "all" | "novel",
): number {
  return evaluateVariant(judged(w), variant, (u, ex) => recommend(m, u, K, ex)).ndcg_at_10;
}
