/**
 * Train -> evaluate on a temporal holdout -> refit on everything -> quantize -> export ONNX, manifest,
 * catalog, golden cases and user factors into `<out>/<version>/`. The version is content-addressed
 * (hash of the ONNX bytes), so the same data and options give the same version.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Catalog, type CatalogItem, CatalogItemSchema } from "../../core/catalog";
import { ALS_USER_VECTOR_V1 } from "../../core/feature-spec";
import { quantizeItems, scoreInt8, topK } from "../../core/int8-kernel";
import { MANIFEST_SCHEMA_VERSION, type ModelManifest } from "../../core/manifest";
import { type InteractionLog, interactionMatrix, type ReadOptions, readInteractionLog } from "../data/interaction-log";
import { rowIndices } from "../data/sparse";
import { evaluateRankings } from "../eval/ranking-metrics";
import { buildScoringGraph, ONNX_OPSET } from "../export/onnx-graph";
import { type AlsOptions, ImplicitAls } from "./als";
import { Popularity } from "./popularity";
import { recommend } from "./recommender";

const DAY = 86400;

export interface TrainOptions extends ReadOptions {
  data: string;
  /** JSON array of catalog items (id, title, category, price, currency, image, url) */
  catalog?: string;
  out: string;
  als?: Partial<AlsOptions>;
  /** days at the end of the log held out to measure the model before the final refit */
  holdoutDays?: number;
  goldenUsers?: number;
  log?: (msg: string) => void;
}

export interface GoldenCase {
  user: string;
  /** float32 user factors */
  vector: number[];
  k: number;
  /** int8 reference (core/int8-kernel) top-k: model indices and scores, as the ONNX graph must return */
  expectedIndices: number[];
  expectedScores: number[];
  /** unquantized float top-10 (to measure what quantization costs) */
  floatTop10: number[];
}

export interface TrainResult {
  dir: string;
  manifest: ModelManifest;
}

export async function trainAndExport(opts: TrainOptions): Promise<TrainResult> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const events = await readInteractionLog(opts.data, opts);
  log(`read ${events.rows} interactions: ${events.userIds.length} users, ${events.itemIds.length} items`);
  if (events.rows === 0) throw new Error(`no usable interactions in ${opts.data}`);

  const metrics = holdoutMetrics(events, opts.holdoutDays ?? 14, opts.als);
  log(
    `holdout ndcg@10: als ${metrics.als_ndcg_at_10?.toFixed(4)}, popularity ${metrics.popularity_ndcg_at_10?.toFixed(4)}`,
  );

  const matrix = interactionMatrix(events);
  const als = new ImplicitAls(opts.als);
  als.fit({ matrix });
  const popularity = new Popularity();
  popularity.fit({ matrix });
  const f = als.options.factors;
  const n = events.itemIds.length;

  const catalog = await buildCatalog(events.itemIds, popularity.ranking(), opts.catalog);
  const items = quantizeItems(als.itemFactors, n, f);
  const provisional = buildScoringGraph(items, "pending");
  const version = `als-${createHash("sha256").update(provisional).digest("hex").slice(0, 12)}`;
  const onnx = buildScoringGraph(items, version);
  const golden = goldenCases(events, als, items, opts.goldenUsers ?? 24);

  const manifest: ModelManifest = {
    schema: MANIFEST_SCHEMA_VERSION,
    version,
    kind: "als",
    featureSpec: ALS_USER_VECTOR_V1,
    createdAt: new Date().toISOString(),
    dims: f,
    itemCount: n,
    itemIds: events.itemIds,
    quantization: { scheme: "int8-per-item-symmetric+uint8-dynamic-user", opset: ONNX_OPSET },
    onnxSha256: createHash("sha256").update(onnx).digest("hex"),
    onnxBytes: onnx.length,
    hyperparameters: als.hyperparameters(),
    metrics,
    training: {
      users: events.userIds.length,
      items: n,
      interactions: matrix.indices.length,
      seconds: +((performance.now() - started) / 1000).toFixed(2),
    },
  };
  const dir = join(opts.out, version);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "model.onnx"), onnx);
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, "catalog.json"), JSON.stringify(catalog));
  await writeFile(join(dir, "golden.json"), JSON.stringify(golden));
  await writeFile(join(dir, "user-ids.json"), JSON.stringify(events.userIds));
  await writeFile(join(dir, "user-factors.f32"), new Uint8Array(als.userFactors.buffer));
  await writeFile(join(opts.out, "latest.json"), `${JSON.stringify({ version, dir }, null, 2)}\n`);
  log(`exported ${version} (${(onnx.length / 1024).toFixed(0)} KiB ONNX) to ${dir}`);
  return { dir, manifest };
}

/** ALS (float and int8) against popularity on the last `days` of the log; relevant = items touched then. */
export function holdoutMetrics(
  events: InteractionLog,
  days: number,
  alsOptions?: Partial<AlsOptions>,
): Record<string, number> {
  let maxT = 0;
  for (let i = 0; i < events.rows; i++) maxT = Math.max(maxT, events.time[i] as number);
  const cutoff = maxT - days * DAY;
  const train = interactionMatrix(events, Number.NEGATIVE_INFINITY, cutoff);
  const test = interactionMatrix(events, cutoff);
  const relevant = new Map<number, Set<number>>();
  for (let u = 0; u < test.rows; u++) {
    if (rowIndices(train, u).length === 0) continue;
    const rel = rowIndices(test, u);
    if (rel.length) relevant.set(u, new Set(rel));
  }
  if (relevant.size === 0) return {};
  const als = new ImplicitAls(alsOptions);
  als.fit({ matrix: train });
  const pop = new Popularity();
  pop.fit({ matrix: train });
  const f = als.options.factors;
  const int8 = quantizeItems(als.itemFactors, train.cols, f);
  const k = 10;
  const rank = (fn: (u: number) => number[]) => new Map([...relevant.keys()].map((u) => [u, fn(u)]));
  const out: Record<string, number> = { holdout_days: days, holdout_users: relevant.size };
  const candidates = train.cols;
  for (const [name, ranking] of [
    ["als", rank((u) => recommend(als, u, k))],
    ["als_int8", rank((u) => topK(scoreInt8(int8, als.userVector(u)), k).indices)],
    ["popularity", rank((u) => recommend(pop, u, k))],
  ] as const) {
    const m = evaluateRankings(ranking, relevant, k, candidates);
    out[`${name}_ndcg_at_10`] = m.ndcg_at_k;
    out[`${name}_precision_at_10`] = m.precision_at_k;
    out[`${name}_recall_at_10`] = m.recall_at_k;
    out[`${name}_map_at_10`] = m.map_at_k;
  }
  return out;
}

async function buildCatalog(itemIds: string[], popularOrder: number[], catalogPath?: string): Promise<Catalog> {
  const known = new Map<string, CatalogItem>();
  if (catalogPath) {
    const raw = JSON.parse(await readFile(catalogPath, "utf8")) as unknown[];
    for (const entry of raw) {
      const item = CatalogItemSchema.parse(entry);
      known.set(item.id, item);
    }
  }
  const items = itemIds.map(
    (id) => known.get(id) ?? { id, title: id, category: "", price: 0, currency: "GBP", image: "", url: "" },
  );
  return { items, popular: popularOrder.slice(0, 200) };
}

function goldenCases(events: InteractionLog, als: ImplicitAls, items: ReturnType<typeof quantizeItems>, count: number) {
  const cases: GoldenCase[] = [];
  const nUsers = events.userIds.length;
  const step = Math.max(1, Math.floor(nUsers / count));
  for (let u = 0; u < nUsers && cases.length < count; u += step) {
    const vector = als.userVector(u);
    const ref = topK(scoreInt8(items, vector), 10);
    cases.push({
      user: events.userIds[u] as string,
      vector: Array.from(vector),
      k: 10,
      expectedIndices: ref.indices,
      expectedScores: ref.scores,
      floatTop10: recommend(als, u, 10),
    });
  }
  return cases;
}
