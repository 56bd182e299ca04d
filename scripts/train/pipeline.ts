/**
 * `npm run train`: load -> tune on the validation split (ALS grid, hybrid weights, send-time priors) ->
 * refit on the whole window -> quantize -> export everything the Worker serves into `<out>/<version>/`:
 * model.onnx (ALS), content.onnx and hybrid weights (purchase logs), segments.onnx, manifest.json,
 * catalog.json, golden.json (parity cases), profiles.jsonl. The version is content-addressed.
 */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToBase64 } from "../../core/base64";
import type { Catalog } from "../../core/catalog";
import { type CalibrationBins, calibrationBins } from "../../core/drift";
import { CONTENT_USER_VECTOR_V1 } from "../../core/feature-spec";
import { type ItemTable, itemGram } from "../../core/fold-in";
import type { Golden, GoldenCase } from "../../core/golden";
import { type HybridWeights, hybridScores, type OwnItem } from "../../core/hybrid";
import { type QuantizedItems, quantizeItems, scoreInt8, topK } from "../../core/int8-kernel";
import type { ModelManifest } from "../../core/manifest";
import type { Profile } from "../../core/profile";

export type { Golden, GoldenCase } from "../../core/golden";

import { DEFAULT_TYPE_WEIGHTS } from "../data/interaction-log";
import { rowIndices } from "../data/sparse";
import { dataset, PROPENSITY_FEATURES, propensityValidation } from "../engagement/propensity";
import { fitSendTime } from "../engagement/send-time";
import { invoiceHours, tuneSendTime } from "../engagement/send-time-tuning";
import { evaluateVariant, K } from "../eval/evaluate-recommender";
import { baseManifest, sha256Hex } from "../export/manifest";
import { buildScoringGraph } from "../export/onnx-graph";
import { buildSegmentGraph } from "../export/segment-graph";
import { buildProfile, purchaseSummaries } from "../profiles/build-profiles";
import { customerFeatures } from "../segments/rfm";
import { fitSegments } from "../segments/segmenter";
import { ALS_BASE, ALS_GRID, type AlsOptions, ImplicitAls } from "./als";
import { fitCalibration } from "./calibration";
import { ContentLsa } from "./content";
import { trainingDriftReference } from "./drift-reference";
import { HybridRecommender, UNTUNED_WEIGHTS } from "./hybrid";
import { fitLogistic, predictLogit, sigmoid } from "./logistic";
import { Popularity } from "./popularity";
import { recommend } from "./recommender";
import { loadTrainingSet, type TrainingSetOptions, type Window } from "./training-set";

const DAY = 86400;

export interface TrainOptions extends TrainingSetOptions {
  out: string;
  /** ALS options; with `tune` the grid's alpha/regularization override these */
  als?: Partial<AlsOptions>;
  /** tune on the validation split (default true) */
  tune?: boolean;
  goldenUsers?: number;
  log?: (msg: string) => void;
}

export interface TrainResult {
  dir: string;
  manifest: ModelManifest;
  profiles: number;
}

export async function trainAndExport(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const ts = await loadTrainingSet(opts);
  const full = ts.full;
  log(
    `${ts.source} log: ${full.userIds.length} users, ${full.itemIds.length} items, ${full.data.matrix.indices.length} user-item pairs`,
  );
  const withHybrid = ts.source === "purchases";
  const metrics: Record<string, number> = {};

  // 1. tune on validation
  let alsOptions: Partial<AlsOptions> = { ...ALS_BASE, ...opts.als };
  let weights: HybridWeights = UNTUNED_WEIGHTS;
  const calibration: NonNullable<ModelManifest["calibration"]> = {};
  const val = ts.validation;
  if (val && opts.tune !== false) {
    let best = { score: Number.NEGATIVE_INFINITY, options: alsOptions, model: null as ImplicitAls | null };
    for (const g of ALS_GRID) {
      const options = { ...alsOptions, ...g };
      const m = new ImplicitAls(options);
      m.fit(val.data);
      const score = (ndcg(val, m, "all") + ndcg(val, m, "novel")) / 2;
      if (score > best.score) best = { score, options, model: m };
    }
    alsOptions = best.options;
    log(`ALS tuned on validation: alpha ${alsOptions.alpha}, regularization ${alsOptions.regularization}`);
    const pop = new Popularity();
    pop.fit(val.data);
    metrics.validation_users = val.relevantAll.size;
    metrics.validation_als_ndcg_at_10 = ndcg(val, best.model as ImplicitAls, "all");
    metrics.validation_als_novel_ndcg_at_10 = ndcg(val, best.model as ImplicitAls, "novel");
    metrics.validation_popularity_ndcg_at_10 = ndcg(val, pop, "all");
    if (withHybrid) {
      const valContent = new ContentLsa();
      valContent.fit(val.data);
      const tuner = new HybridRecommender(alsOptions, {}, val.end);
      tuner.fitWith(val.data, best.model as ImplicitAls, valContent);
      weights = tuner.tune(val.relevantAll, val.relevantNovel);
      metrics.validation_hybrid_ndcg_at_10 = ndcg(val, tuner, "all");
      tuner.mode = "novel";
      metrics.validation_hybrid_novel_ndcg_at_10 = ndcg(val, tuner, "novel");
      tuner.mode = "all";
      calibrate("hybrid", tuner);
    }
    calibrate("als", best.model as ImplicitAls);
  }

  /** 1b. the top score as a probability, per scorer (scripts/train/calibration.ts), fitted on validation */
  function calibrate(scorer: "als" | "hybrid", model: { scores(u: number): ArrayLike<number> }): void {
    if (!val) return;
    const fit = fitCalibration(model, val.data, val.relevantAll, val.end);
    if (!fit) {
      log(`calibration (${scorer}): too few validation purchases of the top item, none published`);
      return;
    }
    calibration[scorer] = fit.calibration;
    // fold-in vectors live in the same space as the ALS ones
    if (scorer === "als") calibration["als-foldin"] = fit.calibration;
    metrics[`validation_${scorer}_top1_buy_rate`] = fit.calibration.positives / fit.calibration.n;
    metrics[`validation_${scorer}_calibration_ece`] = fit.ece;
    log(
      `calibration (${scorer}): ${fit.calibration.positives}/${fit.calibration.n} bought their top item; ECE ${fit.ece.toFixed(4)} on held-out readers`,
    );
  }

  // 2. refit on the whole window, quantize, build graphs
  const als = new ImplicitAls(alsOptions);
  als.fit(full.data);
  const n = full.itemIds.length;
  const f = als.options.factors;
  const alsItems = quantizeItems(als.itemFactors, n, f);
  let content: ContentLsa | null = null;
  let contentItems: QuantizedItems | null = null;
  if (withHybrid) {
    content = new ContentLsa();
    content.fit(full.data);
    contentItems = quantizeItems(content.itemVectors, n, content.dims);
  }
  const hybrid = new HybridRecommender(alsOptions, {}, full.end);
  if (content) {
    hybrid.fitWith(full.data, als, content);
    hybrid.weights = weights;
  }
  const version = `als-${createHash("sha256")
    .update(buildScoringGraph(alsItems, "pending"))
    .update(contentItems ? buildScoringGraph(contentItems, "pending") : new Uint8Array())
    .digest("hex")
    .slice(0, 12)}`;
  const alsOnnx = buildScoringGraph(alsItems, version);
  const contentOnnx = contentItems ? buildScoringGraph(contentItems, version, "opentime_content_int8") : null;
  log(`trained ALS${content ? ", content and hybrid" : ""}: version ${version}`);

  // 3. engagement models from purchases: segments, send time, propensity
  const plog = ts.purchases;
  const end = full.end + 1;
  const customers = plog.rows > 0 ? customerFeatures(plog, end) : [];
  const segFit = customers.length >= 30 ? fitSegments(customers) : null;
  const segmentOf = new Map(segFit ? customers.map((c, i) => [c.customer, segFit.labels[i] as number]) : []);
  const segmentOnnx = segFit ? buildSegmentGraph(segFit.model) : null;
  const hoursByCustomer = invoiceHours(plog, Number.NEGATIVE_INFINITY, end);
  const sendTimeModel = segFit
    ? fitSendTime(
        hoursByCustomer,
        (c) => segmentOf.get(c) ?? -1,
        segFit.model.centroids.length,
        tuneSendTime(plog, end, 30),
      )
    : null;
  const propensity = new Map<number, number>();
  let propensityCalibration: CalibrationBins | undefined;
  if (customers.length >= 30) {
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
  if (segFit) log(`segments: k=${segFit.model.centroids.length}, silhouette ${segFit.silhouette.toFixed(3)}`);

  // 4. profiles
  const summaries = purchaseSummaries(plog);
  const customerIndex = new Map(plog.customerIds.map((id, i) => [id, i]));
  const userRow = new Map(full.userIds.map((id, i) => [id, i]));
  const allUsers = [...new Set([...full.userIds, ...plog.customerIds])];
  const profiles = allUsers.map((userId) => {
    const row = userRow.get(userId);
    const c = customerIndex.get(userId);
    const seg = c === undefined ? undefined : segmentOf.get(c);
    return buildProfile(userId, {
      model: version,
      factors: row === undefined ? undefined : als.userVector(row),
      content: row === undefined || !content ? undefined : content.userVector(row),
      purchases: c === undefined ? [] : summaries.get(c),
      segment: seg === undefined || !segFit ? undefined : { id: seg, name: segFit.model.segments[seg]?.name ?? "" },
      sendTime:
        c === undefined || !sendTimeModel ? undefined : sendTimeModel.customer(hoursByCustomer.get(c) ?? [], seg ?? -1),
      propensity: c === undefined ? undefined : propensity.get(c),
    });
  });

  // 4b. the readers' feature distributions now, for the drift job (every event lies before `end`)
  const reference = trainingDriftReference(profiles, alsItems, Math.ceil(end), propensityCalibration);

  // 5. golden cases
  const golden = goldenCases(
    full,
    als,
    alsItems,
    content,
    contentItems,
    content ? hybrid : null,
    profiles,
    opts.goldenUsers ?? 24,
  );

  const catalog: Catalog = { items: ts.catalog, popular: popularOrder(full).slice(0, 200) };
  const manifest: ModelManifest = {
    ...baseManifest(version, full.itemIds, f, alsOnnx),
    content:
      contentOnnx && content
        ? {
            featureSpec: CONTENT_USER_VECTOR_V1,
            dims: content.dims,
            onnxSha256: sha256Hex(contentOnnx),
            onnxBytes: contentOnnx.length,
          }
        : undefined,
    hybrid:
      content && hybrid.parts
        ? {
            features: [...weights.features],
            all: weights.all,
            novel: weights.novel,
            itemStats: {
              logBuyers: Array.from(hybrid.parts.stats.logBuyers),
              repeatRate: Array.from(hybrid.parts.stats.repeatRate),
              logRecentBuyers: Array.from(hybrid.parts.stats.logRecentBuyers),
            },
          }
        : undefined,
    segments:
      segFit && segmentOnnx
        ? {
            names: segFit.model.segments.map((s) => s.name),
            descriptions: segFit.model.segments.map((s) => s.description),
            onnxSha256: sha256Hex(segmentOnnx),
            onnxBytes: segmentOnnx.length,
          }
        : undefined,
    foldIn: {
      alpha: als.options.alpha,
      regularization: als.options.regularization,
      weights: ts.source === "purchases" ? "invoices" : { ...DEFAULT_TYPE_WEIGHTS },
      windowEnd: full.end,
    },
    sendTime: sendTimeModel
      ? { shop: Array.from(sendTimeModel.shop), segments: sendTimeModel.segments.map((s) => Array.from(s)) }
      : undefined,
    ...(Object.keys(calibration).length > 0 && { calibration }),
    reference,
    hyperparameters: als.hyperparameters(),
    metrics,
    training: {
      users: full.userIds.length,
      items: n,
      interactions: full.data.matrix.indices.length,
      seconds: +((performance.now() - started) / 1000).toFixed(2),
    },
  };
  const dir = join(opts.out, version);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), alsOnnx);
  await writeFile(join(dir, "item-table.json"), JSON.stringify(itemTable(alsItems)));
  if (contentOnnx) await writeFile(join(dir, "content.onnx"), contentOnnx);
  if (segmentOnnx && segFit) {
    await writeFile(join(dir, "segments.onnx"), segmentOnnx);
    await writeFile(join(dir, "segments.json"), `${JSON.stringify(segFit.model, null, 2)}\n`);
  }
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, "catalog.json"), JSON.stringify(catalog));
  await writeFile(join(dir, "golden.json"), JSON.stringify(golden));
  await writeFile(join(dir, "profiles.jsonl"), `${profiles.map((p) => JSON.stringify(p)).join("\n")}\n`);
  await writeFile(join(opts.out, "latest.json"), `${JSON.stringify({ version, dir }, null, 2)}\n`);
  log(
    `exported ${version} (${(alsOnnx.length / 1024).toFixed(0)} KiB ALS ONNX, ${profiles.length} profiles) to ${dir}`,
  );
  return { dir, manifest, profiles: profiles.length };
}

function ndcg(
  w: Window & { relevantAll: Map<number, Set<number>>; relevantNovel: Map<number, Set<number>> },
  m: { scores(u: number): ArrayLike<number> } & Parameters<typeof recommend>[0],
  variant: "all" | "novel",
): number {
  const split = { train: w.data.matrix, testAll: w.relevantAll, testNovel: w.relevantNovel } as Parameters<
    typeof evaluateVariant
  >[0];
  return evaluateVariant(split, variant, (u, ex) => recommend(m, u, K, ex)).ndcg_at_10;
}

/** The ALS graph's int8 item table and Gram matrix, for fold-in at the edge. */
function itemTable(items: QuantizedItems): ItemTable {
  const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return {
    n: items.n,
    d: items.d,
    q: b64(items.q),
    scales: b64(items.scales),
    gram: b64(Float32Array.from(itemGram(items))),
  };
}

function bothClasses(y: Uint8Array): boolean {
  return y.includes(1) && y.includes(0);
}

function popularOrder(w: Window): number[] {
  const pop = new Popularity();
  pop.fit(w.data);
  return pop.ranking();
}

function goldenCases(
  full: Window,
  als: ImplicitAls,
  alsItems: QuantizedItems,
  content: ContentLsa | null,
  contentItems: QuantizedItems | null,
  hybrid: HybridRecommender | null,
  profiles: Profile[],
  count: number,
): Golden {
  const golden: Golden = { als: [], content: [], hybrid: [] };
  const users = full.userIds.length;
  const step = Math.max(1, Math.floor(users / count));
  const profileOf = new Map(profiles.map((p) => [p.userId, p]));
  const itemIndex = new Map(full.itemIds.map((id, i) => [id, i]));
  const dot = (
    vector: Float32Array,
    items: QuantizedItems,
    floatScores: ArrayLike<number>,
    user: string,
  ): GoldenCase => {
    const ref = topK(scoreInt8(items, vector), 10);
    return {
      user,
      vector: Array.from(vector),
      k: 10,
      expectedIndices: ref.indices,
      expectedScores: ref.scores,
      floatTop10: topK(floatScores, 10).indices,
    };
  };
  for (let u = 0; u < users && golden.als.length < count; u += step) {
    const user = full.userIds[u] as string;
    golden.als.push(dot(als.userVector(u), alsItems, als.scores(u), user));
    if (content && contentItems && rowIndices(full.data.matrix, u).length > 0) {
      golden.content.push(dot(content.userVector(u), contentItems, content.scores(u), user));
    }
    const profile = profileOf.get(user);
    if (hybrid?.parts && content && contentItems && profile) {
      const own: OwnItem[] = profile.purchases.flatMap((p) => {
        const item = itemIndex.get(p.item);
        return item === undefined ? [] : [{ item, invoices: p.invoices, lastTs: p.lastTs }];
      });
      const alsScores = scoreInt8(alsItems, als.userVector(u));
      const contentScores = scoreInt8(contentItems, content.userVector(u));
      for (const mode of ["all", "novel"] as const) {
        const s = hybridScores(hybrid.weights[mode], own, full.end, alsScores, contentScores, hybrid.parts.stats);
        const ownSet = new Set(own.map((o) => o.item));
        const expected = topK(s, 10, mode === "novel" ? (j) => ownSet.has(j) : undefined).indices;
        golden.hybrid.push({ user, mode, now: full.end, profile, expectedIndices: expected });
      }
    }
  }
  return golden;
}
