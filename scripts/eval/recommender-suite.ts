/**
 * The recommender half of the evaluation, at one origin: baselines (popularity, repeat, item-kNN, EASE with
 * lambda tuned on validation, RP3beta with alpha and beta tuned on validation, and "own items, then X" for X in
 * ALS and EASE), ALS tuned on validation,
 * content, the hybrid (linear weights fitted on validation) and the learned ranker (candidates + gradient-
 * boosted trees trained on validation), with int8 variants of what is exported, on the test split. Which of
 * hybrid and ranker serves each mode is decided on validation readers held out of the ranker's training.
 */
import type { NeighbourTable } from "../../core/neighbour-table";
import type { PurchaseLog } from "../data/purchase-log";
import { type TemporalSplit, trainData } from "../data/temporal-split";
import type { TrainData } from "../data/train-data";
import type { Progress } from "../lib/progress";
import { evaluateModel, evaluateVariant, K, type ProtocolMetrics, type Variant } from "../ranking/evaluate-recommender";
import { type Recommender, recommend } from "../ranking/recommender-contract";
import { ALS_BASE, ALS_GRID, type AlsOptions, fitAlsInWorker, ImplicitAls } from "../train/als";
import { ContentLsa } from "../train/content";
import { EASE_LAMBDAS, Ease, fitEaseInWorker } from "../train/ease";
import { HybridRecommender } from "../train/hybrid";
import { ItemKnn } from "../train/item-knn";
import { NeighbourSum } from "../train/neighbour-sum";
import { OwnThen } from "../train/own-then";
import { Popularity } from "../train/popularity";
import { QuantizedRecommender } from "../train/quantized";
import { CandidateRanker, chooseRanker, earlierWindow, NEIGHBOURS_K, type RankerChoice } from "../train/ranker";
import { RepeatPurchases } from "../train/repeat";
import { RP3BETA_GRID, Rp3Beta, type Rp3BetaOptions } from "../train/rp3beta";
import { FitCache } from "./fit-cache";

export type VariantMetrics = Partial<Record<Variant, ProtocolMetrics | null>>;

export interface RecommenderSuite {
  recommenders: Record<string, VariantMetrics>;
  quantized: Record<string, VariantMetrics>;
  tuning: {
    als: { options: Partial<AlsOptions>; validation_ndcg_at_10: number }[];
    als_chosen: Partial<AlsOptions>;
    ease: { lambda: number; validation_ndcg_at_10: number }[];
    ease_chosen: number;
    rp3beta: { options: Rp3BetaOptions; validation_ndcg_at_10: number }[];
    rp3beta_chosen: Rp3BetaOptions;
    /** test NDCG@10 of EASE cut to K neighbours per item, as the edge keeps it */
    neighbours: { k: number; all: number; novel: number }[];
    ranker: RankerChoice;
    /** validation windows the ranker learned from: 2 when the log reached back one more window */
    ranker_windows: number;
  };
  models: { als: ImplicitAls; content: ContentLsa; hybrid: HybridRecommender; ranker: CandidateRanker };
}

/** Steps `runRecommenderSuite` reports to its progress bar. */
export const SUITE_STEPS = 8;

/** Evaluates a recommender with a mode (hybrid, ranker) per variant. */
function evalModed(
  split: TemporalSplit,
  m: Recommender & { mode: "all" | "novel" },
  variants: readonly Variant[],
): VariantMetrics {
  const out: VariantMetrics = {};
  for (const v of variants) {
    m.mode = v === "novel" ? "novel" : "all";
    out[v] = evaluateVariant(split, v, (u, ex) => recommend(m, u, K, ex));
  }
  m.mode = "all";
  return out;
}

const meanNdcg = (r: Partial<Record<Variant, ProtocolMetrics | null>>) =>
  ((r.all?.ndcg_at_10 ?? 0) + (r.novel?.ndcg_at_10 ?? 0)) / 2;

/** Each setting's validation ndcg@10 (mean of all and novel) with its model, and the best setting (the first of equals). */
function onValidation<P>(val: TemporalSplit, settings: readonly P[], model: (setting: P) => Recommender) {
  const tuning = settings.map((options) => ({
    options,
    validation_ndcg_at_10: meanNdcg(evaluateModel(val, model(options), ["all", "novel"])),
  }));
  const chosen = tuning.reduce((a, b) => (b.validation_ndcg_at_10 > a.validation_ndcg_at_10 ? b : a)).options;
  return { tuning, chosen };
}

export async function runRecommenderSuite(
  log: PurchaseLog,
  test: TemporalSplit,
  val: TemporalSplit,
  progress: Progress,
  cache: FitCache = new FitCache(),
  /** the validation split of `val` (one window earlier still): the ranker learns from its readers too */
  earlier: TemporalSplit | null = null,
  /** the validation split of `earlier`: the ranker's forward check looks from it to `earlier` too */
  older: TemporalSplit | null = null,
): Promise<RecommenderSuite> {
  const testData = trainData(test, log);
  const valData = trainData(val, log);
  const recommenders: Record<string, VariantMetrics> = {};
  const quantized: Record<string, VariantMetrics> = {};
  const fitEval = (m: Recommender, variants?: readonly Variant[]) => {
    m.fit(testData);
    return evaluateModel(test, m, variants);
  };
  const fitOn = <T extends Recommender>(split: TemporalSplit, data: TrainData, key: string, make: () => T): T =>
    cache.get(split.cutoff, key, () => {
      const m = make();
      m.fit(data);
      return m;
    });
  recommenders.popularity = fitEval(new Popularity());
  recommenders.repeat = { ...fitEval(new RepeatPurchases(), ["all", "cold"]), novel: null };
  recommenders.item_knn = fitEval(new ItemKnn());
  progress.step("baselines: popularity, repeat, item_knn");

  // EASE: lambda chosen by validation ndcg@10 (mean of all and novel), then refit on the full train window
  const easeOn = (split: TemporalSplit, data: TrainData, lambda: number) =>
    fitOn(split, data, `ease:${lambda}`, () => new Ease({ lambda }));
  // the validation fits of EASE's lambdas and of the ALS grid run side by side, in worker threads
  const alsGrid = ALS_GRID.map((g) => ({ ...ALS_BASE, ...g }));
  const workerFits = Promise.all([
    ...EASE_LAMBDAS.map((lambda) =>
      cache.getAsync(val.cutoff, `ease:${lambda}`, () => fitEaseInWorker({ lambda }, valData)),
    ),
    ...alsGrid.map((options) =>
      cache.getAsync(val.cutoff, `als:${JSON.stringify(options)}`, () => fitAlsInWorker(options, valData)),
    ),
  ]);
  // RP3beta (a second or two per setting) is tuned on this thread meanwhile: chosen by validation ndcg@10 (mean of
  // all and novel), then refit on the full train window
  const rp3On = (split: TemporalSplit, data: TrainData, options: Rp3BetaOptions) =>
    fitOn(split, data, `rp3beta:${JSON.stringify(options)}`, () => new Rp3Beta(options));
  const { tuning: rp3Tuning, chosen: rp3Chosen } = onValidation(val, RP3BETA_GRID, (o) => rp3On(val, valData, o));
  recommenders.rp3beta = evaluateModel(test, rp3On(test, testData, rp3Chosen));
  await workerFits;
  const easeJudged = onValidation(val, EASE_LAMBDAS, (lambda) => easeOn(val, valData, lambda));
  const easeTuning = easeJudged.tuning.map(({ options, validation_ndcg_at_10 }) => ({
    lambda: options,
    validation_ndcg_at_10,
  }));
  const easeLambda = easeJudged.chosen;
  // ALS: choose by validation ndcg@10 (mean of all and novel), then refit on the full train window
  const alsOn = (split: TemporalSplit, data: TrainData, options: Partial<AlsOptions>) =>
    fitOn(split, data, `als:${JSON.stringify(options)}`, () => new ImplicitAls(options));
  const { tuning, chosen } = onValidation(val, alsGrid, (options) => alsOn(val, valData, options));
  // the refits at the chosen settings, side by side in worker threads: on test (an origin after the first finds
  // them made, its test being the previous origin's validation), on the earlier window the ranker learns from and on
  // the older one its forward check looks from
  const earlierData = earlier && earlier.testAll.size > 0 ? trainData(earlier, log) : null;
  const olderData = earlierData && older && older.testAll.size > 0 ? trainData(older, log) : null;
  await Promise.all(
    [
      { split: test, data: testData },
      ...(earlier && earlierData ? [{ split: earlier, data: earlierData }] : []),
      ...(older && olderData ? [{ split: older, data: olderData }] : []),
    ].flatMap(({ split, data }) => [
      cache.getAsync(split.cutoff, `ease:${easeLambda}`, () => fitEaseInWorker({ lambda: easeLambda }, data)),
      cache.getAsync(split.cutoff, `als:${JSON.stringify(chosen)}`, () => fitAlsInWorker(chosen, data)),
    ]),
  );
  const ease = easeOn(test, testData, easeLambda);
  recommenders.ease = evaluateModel(test, ease);
  // EASE's table as the ranker (and the edge) keeps it, per window
  const neighbours = (split: TemporalSplit, data: TrainData): NeighbourTable =>
    cache.get(split.cutoff, `neighbours:${easeLambda}:${NEIGHBOURS_K}`, () =>
      easeOn(split, data, easeLambda).neighbours(NEIGHBOURS_K),
    );
  // what the edge's cut to K neighbours per item costs (the ranker's neighbour features use NEIGHBOURS_K)
  const neighboursCost = [10, NEIGHBOURS_K, 50].map((k) => {
    const cut = new NeighbourSum(k === NEIGHBOURS_K ? neighbours(test, testData) : ease.neighbours(k));
    cut.fit(testData);
    const r = evaluateModel(test, cut, ["all", "novel"]);
    return { k, all: r.all?.ndcg_at_10 ?? 0, novel: r.novel?.ndcg_at_10 ?? 0 };
  });
  // own items first, then EASE: the novel variant excludes own items, so it equals EASE there
  recommenders.own_then_ease = { ...fitEval(new OwnThen(ease, true), ["all"]), novel: null };
  progress.step(
    `EASE (lambda ${easeLambda} on validation; the ALS grid fitted beside it), own items then EASE; RP3beta (alpha ${rp3Chosen.alpha} beta ${rp3Chosen.beta})`,
  );

  const valAls = alsOn(val, valData, chosen);
  progress.step(`ALS grid on validation: alpha=${chosen.alpha} reg=${chosen.regularization}`);
  const als = alsOn(test, testData, chosen);
  recommenders.als = evaluateModel(test, als);
  quantized.als = evaluateModel(test, new QuantizedRecommender(als, als.itemFactors, als.options.factors), [
    "all",
    "novel",
  ]);
  recommenders.own_then_als = { ...fitEval(new OwnThen(als, true), ["all"]), novel: null };
  progress.step("ALS refit on train, float and int8 evaluated; own items then ALS");

  const content = fitOn(test, testData, "content", () => new ContentLsa());
  recommenders.content = evaluateModel(test, content);
  quantized.content = evaluateModel(test, new QuantizedRecommender(content, content.itemVectors, content.dims), [
    "all",
    "novel",
  ]);
  const valContent = fitOn(val, valData, "content", () => new ContentLsa());
  progress.step("content (TF-IDF + LSA) fitted and evaluated");

  const tuner = new HybridRecommender(chosen, {}, val.cutoff);
  tuner.fitWith(valData, valAls, valContent, neighbours(val, valData));
  const weights = tuner.tune(val.testAll, val.testNovel);
  const hybrid = new HybridRecommender(chosen, {}, test.cutoff);
  hybrid.fitWith(testData, als, content, neighbours(test, testData));
  hybrid.weights = weights;
  recommenders.hybrid = evalModed(test, hybrid, ["all", "novel", "cold"]);
  progress.step("hybrid: weights fitted on validation, evaluated");

  // the learned ranker: trained on validation over the validation-window components (and on the window before,
  // over its own, when the log reaches back that far), scored on test
  const valRanker = new CandidateRanker();
  valRanker.fitWith(tuner);
  // a window before validation over its own components, fitted before its cutoff
  const windowOf = (split: TemporalSplit, data: TrainData) =>
    earlierWindow({
      data,
      end: split.cutoff,
      als: alsOn(split, data, chosen),
      content: fitOn(split, data, "content", () => new ContentLsa()),
      neighbours: neighbours(split, data),
      relevant: { all: split.testAll, novel: split.testNovel },
      userIds: split.userIds,
    });
  if (earlier && earlierData) {
    valRanker.earlier = [windowOf(earlier, earlierData)];
    // the forward check's second window: the trees do not learn from it
    if (older && olderData) valRanker.older = windowOf(older, olderData);
  }
  const choice = await chooseRanker(valRanker, val, tuner);
  progress.step(
    `ranker vs hybrid on held-out validation readers${choice.forward ? ` and forward from the window before${valRanker.older ? " (and from the one before it)" : ""}` : ""}: all ${choice.chosen.all}, novel ${choice.chosen.novel}`,
  );
  const models = await valRanker.train(val.testAll, val.testNovel, choice);
  const ranker = new CandidateRanker();
  ranker.fitWith(hybrid);
  ranker.models = models;
  recommenders.ranker = evalModed(test, ranker, ["all", "novel", "cold"]);
  // int8 as exported, both over the one quantized hybrid
  hybrid.quantize();
  quantized.hybrid = evalModed(test, hybrid, ["all", "novel"]);
  quantized.ranker = evalModed(test, ranker, ["all", "novel"]);
  hybrid.quantized = null;
  const r = recommenders.ranker;
  const hy = recommenders.hybrid;
  progress.step(
    `ranker trained on validation, hybrid and ranker in int8: test ndcg@10 all ${r.all?.ndcg_at_10.toFixed(4)} novel ${r.novel?.ndcg_at_10.toFixed(4)} (hybrid ${hy.all?.ndcg_at_10.toFixed(4)} / ${hy.novel?.ndcg_at_10.toFixed(4)})`,
  );
  return {
    recommenders,
    quantized,
    tuning: {
      als: tuning,
      als_chosen: chosen,
      ease: easeTuning,
      ease_chosen: easeLambda,
      rp3beta: rp3Tuning,
      rp3beta_chosen: rp3Chosen,
      neighbours: neighboursCost,
      ranker: choice,
      ranker_windows: 1 + valRanker.earlier.length,
    },
    models: { als, content, hybrid, ranker },
  };
}
