/**
 * Benchmark data sets as KV entries: the demo model (trained by `npm start` / `npm run train`) and a
 * synthetic catalog of any size (random 64-factor items, quantized and exported like a real model).
 */
import { base64ToFloat32, bytesToBase64 } from "../../core/base64";
import type { Catalog } from "../../core/catalog";
import { CONTENT_USER_VECTOR_V1 } from "../../core/feature-spec";
import { HYBRID_FEATURES, type HybridWeights } from "../../core/hybrid";
import { quantizeItems } from "../../core/int8-kernel";
import { kvKeys } from "../../core/kv-keys";
import { type ModelManifest, RankerManifestSchema } from "../../core/manifest";
import { decodeNeighbours, encodeNeighbours } from "../../core/neighbour-table";
import type { Profile } from "../../core/profile";
import { RANKER_FEATURES } from "../../core/ranker";
import type { Ranking } from "../../core/reasons";
import type { TreeEnsemble } from "../../core/tree-ensemble";
import { baseManifest, sha256Hex } from "../export/manifest";
import { buildScoringGraph } from "../export/onnx-graph";
import { readScoringGraph } from "../export/read-scoring-graph";
import { Rng } from "../lib/rng";
import { buildProfile } from "../profiles/build-profiles";
import {
  featureEntries,
  type KvEntry,
  modelEntries,
  profileEntries,
  readModelArtifacts,
  readProfiles,
} from "../seed/kv-entries";
import { DEFAULT_CONTENT_OPTIONS } from "../train/content";
import { DEFAULT_EASE_OPTIONS } from "../train/ease";
import { UNTUNED_WEIGHTS } from "../train/hybrid";
import { NEIGHBOURS_K, RANKER_GBDT } from "../train/ranker";
import { type PoolModel, profilePools } from "../train/steps/reader-pools";
import { CDN_ORIGIN } from "./jpeg-cdn";

export interface Scenario {
  name: string;
  items: number;
  dims: number;
  entries: KvEntry[];
  users: string[];
  /** written over `entries` for a second image run: the same catalog with photo-like pictures */
  photoPictures?: KvEntry[];
  /** and for a third: JPEG photos from a CDN (`jpeg-cdn.ts`), sized by the URL */
  jpegPictures?: KvEntry[];
  /** only amp-list latency is measured (images and campaigns are the other scenarios' subject) */
  recsOnly?: boolean;
  /** the scorer every personalized answer must name (X-Opentime-Scorer) */
  scorer?: string;
  /** and where its ranking must come from (X-Opentime-Ranking): the figures are of that path */
  ranking?: Ranking;
}

const BENCH_USERS = 256;

function benchEntries(q: Int8Array, scales: Float32Array, users: Float32Array, n: number, d: number): KvEntry[] {
  const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return [
    { key: "bench:q", value: b64(q), base64: true },
    { key: "bench:scales", value: b64(scales), base64: true },
    { key: "bench:users", value: b64(users), base64: true },
    { key: "bench:meta", value: JSON.stringify({ n, d }) },
  ];
}

function profile(userId: string, model: string, vector: Float32Array): Profile {
  return buildProfile(userId, { model, factors: vector });
}

export async function demoScenario(modelDir: string): Promise<Scenario> {
  const a = await readModelArtifacts(modelDir);
  const d = a.manifest.dims;
  const profiles = (await readProfiles(modelDir)).filter((p) => p.factors).slice(0, BENCH_USERS);
  const factors = new Float32Array(profiles.length * d);
  profiles.forEach((p, i) => {
    factors.set(base64ToFloat32(p.factors?.vector as string), i * d);
  });
  const items = readScoringGraph(a.onnx);
  return {
    name: `demo (${a.manifest.itemCount} items)`,
    items: a.manifest.itemCount,
    dims: d,
    users: profiles.map((p) => p.userId),
    entries: [
      ...modelEntries(a, true),
      ...profileEntries(profiles),
      ...benchEntries(items.q, items.scales, factors, items.n, d),
    ],
  };
}

export function syntheticScenario(n: number, d = 64, seed = 1): Scenario {
  const rng = new Rng(seed);
  const factors = Float32Array.from({ length: n * d }, () => rng.normal() * 0.3);
  const items = quantizeItems(factors, n, d);
  const version = `synthetic-${n}`;
  const onnx = buildScoringGraph(items, version);
  const catalog: Catalog = {
    items: Array.from({ length: n }, (_, j) => ({
      id: `s${String(j).padStart(6, "0")}`,
      title: `Synthetic product ${j}`,
      category: `Category ${j % 40}`,
      price: 5 + (j % 200),
      currency: "GBP",
      // drawn by the Worker's demo routes (in-process), as the demo shop's pictures are
      image: `/demo/img/s${String(j).padStart(6, "0")}.png?w={width}&h={height}`,
      url: `https://shop.example/p/s${j}`,
    })),
    popular: Array.from({ length: 200 }, (_, j) => j),
  };
  const manifest: ModelManifest = baseManifest(
    version,
    catalog.items.map((i) => i.id),
    d,
    onnx,
  );
  const users = Float32Array.from({ length: BENCH_USERS * d }, () => rng.normal() * 0.3);
  const ids = Array.from({ length: BENCH_USERS }, (_, i) => `bench-user-${i}`);
  const profiles = ids.map((id, i) => profile(id, version, users.subarray(i * d, (i + 1) * d)));
  return {
    name: `synthetic (${n.toLocaleString("en")} items)`,
    items: n,
    dims: d,
    users: ids,
    entries: [
      ...modelEntries({ dir: "", manifest, catalog, onnx }, true),
      ...profileEntries(profiles),
      ...benchEntries(items.q, items.scales, users, n, d),
    ],
    // photo-like grain: noise is the hard case for PNG decoding and encoding (flat pictures are the easy one)
    photoPictures: [
      {
        key: kvKeys.catalog(version),
        value: JSON.stringify({
          ...catalog,
          items: catalog.items.map((it) => ({ ...it, image: `${it.image}&grain=16` })),
        }),
      },
    ],
    jpegPictures: [
      {
        key: kvKeys.catalog(version),
        value: JSON.stringify({
          ...catalog,
          items: catalog.items.map((it) => ({ ...it, image: `${CDN_ORIGIN}/p/${it.id}.jpg?w={width}&h={height}` })),
        }),
      },
    ],
  };
}

/** The hand-set weights, the EASE neighbour sum weighed too (as a tuned hybrid weighs it), so the bench pays for it. */
export const BENCH_WEIGHTS: HybridWeights = {
  features: UNTUNED_WEIGHTS.features,
  all: { ...UNTUNED_WEIGHTS.all, weights: withNeighbours(UNTUNED_WEIGHTS.all.weights) },
  novel: { ...UNTUNED_WEIGHTS.novel, weights: withNeighbours(UNTUNED_WEIGHTS.novel.weights) },
};

function withNeighbours(weights: readonly number[]): number[] {
  return weights.map((w, f) => (HYBRID_FEATURES[f] === "neighbours" ? 1 : w));
}

/**
 * The synthetic catalog served as a purchase-log model ships: ALS and content graphs (int8), the hybrid's
 * weights and item statistics, and the learned ranker (trees of the trainer's depth and count, a neighbour table
 * of NEIGHBOURS_K for each of the 2,500 most bought items, as EASE exports it) serving both modes; readers with
 * factor vectors (`d` dims), content vectors (as many dims as the trainer's LSA) and 30 purchases.
 */
export function syntheticRankerScenario(n: number, d = 64, seed = 2): Scenario {
  const base = syntheticScenario(n, d, seed);
  const rng = new Rng(seed + 1);
  const version = `synthetic-ranker-${n}`;
  const alsItems = quantizeItems(
    Float32Array.from({ length: n * d }, () => rng.normal() * 0.3),
    n,
    d,
  );
  // content vectors as wide as the trainer makes them (LSA dims)
  const cd = DEFAULT_CONTENT_OPTIONS.dims;
  const contentItems = quantizeItems(
    Float32Array.from({ length: n * cd }, () => rng.normal() * 0.3),
    n,
    cd,
  );
  const onnx = buildScoringGraph(alsItems, version);
  const contentOnnx = buildScoringGraph(contentItems, version, "opentime_content_int8");
  const k = NEIGHBOURS_K;
  // as EASE exports it: rows for the most bought items only (DEFAULT_EASE_OPTIONS.maxItems)
  const rows = Math.min(n, DEFAULT_EASE_OPTIONS.maxItems);
  const rowOf = Int32Array.from({ length: n }, (_, j) => (j < rows ? j : -1));
  const index = Int32Array.from({ length: rows * k }, () => rng.int(n));
  const weight = Float32Array.from({ length: rows * k }, () => rng.next() * 0.2);
  const neighbours = encodeNeighbours({ k, rowOf, index, weight });
  // the most a served mode holds: two fits at the settings' count (the mean of both windows' fit and the nearest
  // window's: scripts/train/ranker.ts CandidateRanker.train)
  const trees = (): TreeEnsemble => randomTrees(rng, 2 * (RANKER_GBDT.trees ?? 400), RANKER_GBDT.depth ?? 4);
  const catalog = JSON.parse(base.entries.find((e) => e.key === kvKeys.catalog(`synthetic-${n}`))?.value ?? "{}");
  // the momentum counts: a week's buyers are some of the fortnight's
  const fortnight = Array.from({ length: n }, () => rng.int(25));
  const manifest: ModelManifest = {
    ...baseManifest(
      version,
      catalog.items.map((i: { id: string }) => i.id),
      d,
      onnx,
    ),
    content: {
      featureSpec: CONTENT_USER_VECTOR_V1,
      dims: cd,
      onnxSha256: sha256Hex(contentOnnx),
      onnxBytes: contentOnnx.length,
    },
    hybrid: {
      features: [...BENCH_WEIGHTS.features],
      all: BENCH_WEIGHTS.all,
      novel: BENCH_WEIGHTS.novel,
      itemStats: {
        logBuyers: Array.from({ length: n }, (_, j) => Math.log1p(n / (j + 1))),
        repeatRate: Array.from({ length: n }, () => rng.next() * 0.5),
        logRecentBuyers: Array.from({ length: n }, () => Math.log1p(rng.int(50))),
      },
    },
    ranker: {
      chosen: { all: "ranker", novel: "ranker" },
      all: trees(),
      novel: trees(),
      neighbours: { k, sha256: sha256Hex(neighbours), bytes: neighbours.length },
      itemStats: {
        weekBuyers: fortnight.map((b) => rng.int(b + 1)),
        fortnightBuyers: fortnight,
      },
    },
  };
  const now = Math.floor(Date.now() / 1000);
  const ids: string[] = catalog.items.map((i: { id: string }) => i.id);
  const profiles = base.users.map((id) =>
    buildProfile(id, {
      model: version,
      factors: Float32Array.from({ length: d }, () => rng.normal() * 0.3),
      content: Float32Array.from({ length: cd }, () => rng.normal() * 0.3),
      // 30 distinct items, as a profile holds them (one summary per item)
      purchases: distinct(30, () => rng.int(n)).map((j, i) => ({
        item: catalog.items[j].id as string,
        invoices: 1 + rng.int(4),
        lastTs: now - i * 5 * 86400,
      })),
    }),
  );
  const hybrid = manifest.hybrid as NonNullable<ModelManifest["hybrid"]>;
  const poolModel: PoolModel = {
    version,
    itemIndex: new Map(ids.map((id, j) => [id, j])),
    als: alsItems,
    content: contentItems,
    neighbours: decodeNeighbours(neighbours, n, k),
    stats: { ...hybrid.itemStats, ...RankerManifestSchema.parse(manifest.ranker).itemStats },
    weights: BENCH_WEIGHTS,
  };
  return {
    name: `synthetic, learned ranker (${n.toLocaleString("en")} items)`,
    items: n,
    dims: d,
    users: base.users,
    entries: [
      ...modelEntries({ dir: "", manifest, catalog: { ...catalog }, onnx, contentOnnx, neighbours }, true),
      ...profileEntries(profiles),
      // each reader's pool, as the trainer stores it with their features
      ...featureEntries(profiles, version, profilePools(poolModel, profiles)),
      ...benchEntries(
        alsItems.q,
        alsItems.scales,
        Float32Array.from({ length: base.users.length * d }, () => rng.normal() * 0.3),
        n,
        d,
      ),
    ],
    recsOnly: true,
    scorer: "ranker",
    ranking: "pool",
  };
}

/** `count` distinct values drawn from `draw`. */
function distinct(count: number, draw: () => number): number[] {
  const out = new Set<number>();
  while (out.size < count) out.add(draw());
  return [...out];
}

/** Full trees of a given depth over the ranker's features, thresholds drawn in each feature's usual range. */
function randomTrees(rng: Rng, count: number, depth: number): TreeEnsemble {
  const f = RANKER_FEATURES.length;
  const trees = Array.from({ length: count }, () => {
    const t = {
      feature: [] as number[],
      threshold: [] as number[],
      left: [] as number[],
      right: [] as number[],
      value: [] as number[],
    };
    const inner = 2 ** depth - 1;
    for (let i = 0; i < 2 ** (depth + 1) - 1; i++) {
      const leaf = i >= inner;
      t.feature.push(leaf ? -1 : rng.int(f));
      t.threshold.push(leaf ? 0 : rng.next() * 2 - 0.5);
      t.left.push(leaf ? 0 : 2 * i + 1);
      t.right.push(leaf ? 0 : 2 * i + 2);
      t.value.push(leaf ? (rng.next() - 0.5) * 0.1 : 0);
    }
    return t;
  });
  return { features: [...RANKER_FEATURES], base: 0, trees };
}
