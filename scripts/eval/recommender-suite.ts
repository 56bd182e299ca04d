/**
 * The recommender half of the evaluation: baselines (popularity, repeat, item-kNN, EASE with lambda tuned on
 * validation, and "own items, then X" for X in ALS and EASE), ALS tuned on validation, content, the hybrid
 * (weights tuned on validation), and int8 variants of every exported recommender, on the test split.
 */
import type { PurchaseLog } from "../data/purchase-log";
import { type TemporalSplit, trainData } from "../data/temporal-split";
import type { Progress } from "../lib/progress";
import { evaluateModel, evaluateVariant, K, type ProtocolMetrics, type Variant } from "../ranking/evaluate-recommender";
import { type Recommender, recommend } from "../ranking/recommender";
import { ALS_BASE, ALS_GRID, type AlsOptions, ImplicitAls } from "../train/als";
import { ContentLsa } from "../train/content";
import { EASE_LAMBDAS, Ease } from "../train/ease";
import { HybridRecommender } from "../train/hybrid";
import { ItemKnn } from "../train/item-knn";
import { OwnThen } from "../train/own-then";
import { Popularity } from "../train/popularity";
import { QuantizedRecommender } from "../train/quantized";
import { RepeatPurchases } from "../train/repeat";

export type VariantMetrics = Partial<Record<Variant, ProtocolMetrics | null>>;

export interface RecommenderSuite {
  recommenders: Record<string, VariantMetrics>;
  quantized: Record<string, VariantMetrics>;
  tuning: {
    als: { options: Partial<AlsOptions>; validation_ndcg_at_10: number }[];
    als_chosen: Partial<AlsOptions>;
    ease: { lambda: number; validation_ndcg_at_10: number }[];
    ease_chosen: number;
  };
  models: { als: ImplicitAls; content: ContentLsa; hybrid: HybridRecommender };
}

function evalHybrid(split: TemporalSplit, h: HybridRecommender, variants: readonly Variant[]): VariantMetrics {
  const out: VariantMetrics = {};
  for (const v of variants) {
    h.mode = v === "novel" ? "novel" : "all";
    out[v] = evaluateVariant(split, v, (u, ex) => recommend(h, u, K, ex));
  }
  h.mode = "all";
  return out;
}

export function runRecommenderSuite(
  log: PurchaseLog,
  test: TemporalSplit,
  val: TemporalSplit,
  progress: Progress,
): RecommenderSuite {
  const testData = trainData(test, log);
  const valData = trainData(val, log);
  const recommenders: Record<string, VariantMetrics> = {};
  const quantized: Record<string, VariantMetrics> = {};
  const fitEval = (m: Recommender, variants?: readonly Variant[]) => {
    m.fit(testData);
    return evaluateModel(test, m, variants);
  };
  recommenders.popularity = fitEval(new Popularity());
  recommenders.repeat = { ...fitEval(new RepeatPurchases(), ["all", "cold"]), novel: null };
  progress.step("baselines: popularity, repeat");
  recommenders.item_knn = fitEval(new ItemKnn());
  progress.step("baseline: item_knn");

  // EASE: lambda chosen by validation ndcg@10 (mean of all and novel), then refit on the full train window
  const easeTuning: { lambda: number; validation_ndcg_at_10: number }[] = [];
  for (const lambda of EASE_LAMBDAS) {
    const m = new Ease({ lambda });
    m.fit(valData);
    const r = evaluateModel(val, m, ["all", "novel"]);
    easeTuning.push({ lambda, validation_ndcg_at_10: ((r.all?.ndcg_at_10 ?? 0) + (r.novel?.ndcg_at_10 ?? 0)) / 2 });
    progress.step(`EASE lambda=${lambda}: validation ${(easeTuning.at(-1)?.validation_ndcg_at_10 ?? 0).toFixed(4)}`);
  }
  const easeLambda = easeTuning.reduce((a, b) => (b.validation_ndcg_at_10 > a.validation_ndcg_at_10 ? b : a)).lambda;
  const ease = new Ease({ lambda: easeLambda });
  recommenders.ease = fitEval(ease);
  // own items first, then EASE: the novel variant excludes own items, so it equals EASE there
  recommenders.own_then_ease = { ...fitEval(new OwnThen(ease, true), ["all"]), novel: null };
  progress.step(`baseline: EASE (lambda ${easeLambda}), own items then EASE`);

  // ALS: choose by validation ndcg@10 (mean of all and novel), then refit on the full train window
  const tuning: { options: Partial<AlsOptions>; validation_ndcg_at_10: number }[] = [];
  let best: { options: Partial<AlsOptions>; score: number; model: ImplicitAls } | null = null;
  for (const g of ALS_GRID) {
    const options = { ...ALS_BASE, ...g };
    const m = new ImplicitAls(options);
    m.fit(valData);
    const r = evaluateModel(val, m, ["all", "novel"]);
    const score = ((r.all?.ndcg_at_10 ?? 0) + (r.novel?.ndcg_at_10 ?? 0)) / 2;
    tuning.push({ options, validation_ndcg_at_10: score });
    if (!best || score > best.score) best = { options, score, model: m };
    progress.step(`ALS grid alpha=${g.alpha} reg=${g.regularization}: validation ${score.toFixed(4)}`);
  }
  const chosen = (best as NonNullable<typeof best>).options;
  const als = new ImplicitAls(chosen);
  recommenders.als = fitEval(als);
  quantized.als = evaluateModel(test, new QuantizedRecommender(als, als.itemFactors, als.options.factors), [
    "all",
    "novel",
  ]);
  recommenders.own_then_als = { ...fitEval(new OwnThen(als, true), ["all"]), novel: null };
  progress.step("ALS refit on train, float and int8 evaluated; own items then ALS");

  const content = new ContentLsa();
  recommenders.content = fitEval(content);
  quantized.content = evaluateModel(test, new QuantizedRecommender(content, content.itemVectors, content.dims), [
    "all",
    "novel",
  ]);
  const valContent = new ContentLsa();
  valContent.fit(valData);
  progress.step("content (TF-IDF + LSA) fitted and evaluated");

  const tuner = new HybridRecommender(chosen, {}, val.cutoff);
  tuner.fitWith(valData, (best as NonNullable<typeof best>).model, valContent);
  const weights = tuner.tune(val.testAll, val.testNovel);
  progress.step("hybrid weights tuned on validation");
  const hybrid = new HybridRecommender(chosen, {}, test.cutoff);
  hybrid.fitWith(testData, als, content);
  hybrid.weights = weights;
  recommenders.hybrid = evalHybrid(test, hybrid, ["all", "novel", "cold"]);
  hybrid.quantize();
  quantized.hybrid = evalHybrid(test, hybrid, ["all", "novel"]);
  hybrid.quantized = null;
  progress.step("hybrid evaluated (float and int8)");
  return {
    recommenders,
    quantized,
    tuning: { als: tuning, als_chosen: chosen, ease: easeTuning, ease_chosen: easeLambda },
    models: { als, content, hybrid },
  };
}
