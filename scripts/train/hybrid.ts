/**
 * The hybrid recommender: implicit ALS + content (LSA) + repeat-awareness + item statistics, combined by
 * logistic regression whose weights are tuned on the validation split (never on test). Scoring is
 * core/hybrid.ts, the same code the Worker runs.
 */

import {
  HYBRID_FEATURES,
  type HybridMode,
  type HybridWeights,
  hybridFeatureRow,
  hybridScores,
  type LinearWeights,
  type OwnItem,
} from "../../core/hybrid";
import { type QuantizedItems, quantizeItems, scoreInt8, topK } from "../../core/int8-kernel";
import { type NeighbourTable, ownNeighbourSums } from "../../core/neighbour-table";
import { MAX_PURCHASE_HISTORY, newestFirst } from "../../core/profile";
import { type RankerItemStats, topSparse } from "../../core/ranker";
import { type Csr, rowData, rowIndices } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import { fitLogistic } from "../learn/logistic";
import type { Recommender } from "../ranking/recommender-contract";
import { type AlsOptions, ImplicitAls } from "./als";
import { ContentLsa, type ContentOptions } from "./content";

const DAY = 86400;

/** Used until `tune` has run: re-buys first, then ALS, content and popularity (hand-set, documented). */
export const UNTUNED_WEIGHTS: HybridWeights = {
  features: HYBRID_FEATURES,
  all: { weights: [3, 1, 1, 0.5, 1, 20, 2, 0.3, 1, 0.2, 0], intercept: -6 },
  novel: { weights: [0, 0, 0, 0, 0, 20, 2, 0.3, 0, 0.2, 0], intercept: -6 },
};

export interface HybridParts {
  als: ImplicitAls;
  content: ContentLsa;
  /** the hybrid's item statistics, and the learned ranker's (core/ranker.ts) beside them */
  stats: RankerItemStats;
  /** "now" for recency features: the end of the training window */
  now: number;
  /** EASE's neighbour table (the ranker's), whose sums over the reader's own items are a feature; null: none */
  neighbours: NeighbourTable | null;
}

export function itemStats(matrix: Csr, lastTime: Float64Array | undefined, now: number): RankerItemStats {
  const n = matrix.cols;
  const buyers = new Float64Array(n);
  const repeat = new Float64Array(n);
  // distinct buyers whose last purchase of the item falls within 30, 14 and 7 days of `now`
  const recent = new Float64Array(n);
  const fortnight = new Int32Array(n);
  const week = new Int32Array(n);
  for (let k = 0; k < matrix.indices.length; k++) {
    const j = matrix.indices[k] as number;
    buyers[j] = (buyers[j] as number) + 1;
    if ((matrix.data[k] as number) > 1) repeat[j] = (repeat[j] as number) + 1;
    const t = lastTime?.[k] ?? Number.NEGATIVE_INFINITY;
    if (t >= now - 30 * DAY) recent[j] = (recent[j] as number) + 1;
    if (t >= now - 14 * DAY) fortnight[j] = (fortnight[j] as number) + 1;
    if (t >= now - 7 * DAY) week[j] = (week[j] as number) + 1;
  }
  return {
    logBuyers: Float32Array.from(buyers, (b) => Math.log1p(b)),
    repeatRate: Float32Array.from(buyers, (b, j) => (b > 0 ? (repeat[j] as number) / b : 0)),
    logRecentBuyers: Float32Array.from(recent, (r) => Math.log1p(r)),
    fortnightBuyers: fortnight,
    weekBuyers: week,
  };
}

/**
 * A reader's own items in a training window (the counts and last times its matrix holds), as the Worker reads them
 * from the profile `train` writes: at most MAX_PURCHASE_HISTORY, the newest, in the profile's order (core/profile.ts
 * newestFirst), so the features the hybrid and the ranker learn from are those they are served, to the last bit
 * (the neighbour sums add their rows in this order).
 */
function windowOwnItems(data: TrainData, user: number): OwnItem[] {
  const items = rowIndices(data.matrix, user);
  const counts = rowData(data.matrix, user);
  const start = data.matrix.indptr[user] as number;
  const ids = data.itemIds;
  // without ids (a matrix built in a test), ties by model index
  const id = (j: number) => ids?.[j] ?? String(j).padStart(12, "0");
  return Array.from(items, (item, k) => ({
    item,
    invoices: counts[k] as number,
    lastTs: (data.lastTime?.[start + k] as number | undefined) ?? 0,
  }))
    .map((o) => ({ o, order: { item: id(o.item), lastTs: o.lastTs } }))
    .sort((a, b) => newestFirst(a.order, b.order))
    .slice(0, MAX_PURCHASE_HISTORY)
    .map(({ o }) => o);
}

function lastTimeOf(data: TrainData): number {
  let t = 0;
  for (const x of data.lastTime ?? []) t = Math.max(t, x);
  return t;
}

export class HybridRecommender implements Recommender {
  readonly name = "hybrid";
  mode: HybridMode = "all";
  weights: HybridWeights = UNTUNED_WEIGHTS;
  parts: HybridParts | null = null;
  private data: TrainData | null = null;

  constructor(
    readonly alsOptions: Partial<AlsOptions> = {},
    readonly contentOptions: Partial<ContentOptions> = {},
    /** the training window's end (recency features are measured from it); defaults to the last purchase */
    private readonly windowEnd?: number,
  ) {}

  fit(data: TrainData): void {
    const als = new ImplicitAls(this.alsOptions);
    als.fit(data);
    const content = new ContentLsa(this.contentOptions);
    if (data.itemText) content.fit(data);
    this.fitWith(data, als, content);
  }

  /** Uses component models already fitted on `data` (saves refitting them). */
  fitWith(data: TrainData, als: ImplicitAls, content: ContentLsa, neighbours: NeighbourTable | null = null): void {
    const now = this.windowEnd ?? lastTimeOf(data);
    this.parts = { als, content, stats: itemStats(data.matrix, data.lastTime, now), now, neighbours };
    this.data = data;
  }

  /** When set, ALS and content scores come from their int8 tables, exactly as the exported ONNX graphs score. */
  quantized: { als: QuantizedItems; content: QuantizedItems | null } | null = null;

  quantize(): void {
    const p = this.parts as HybridParts;
    const f = p.als.options.factors;
    this.quantized = {
      als: quantizeItems(p.als.itemFactors, p.als.itemFactors.length / f, f),
      content:
        p.content.dims > 0
          ? quantizeItems(p.content.itemVectors, p.content.itemVectors.length / p.content.dims, p.content.dims)
          : null,
    };
  }

  private componentScores(user: number): { als: ArrayLike<number>; content: ArrayLike<number> } {
    const p = this.parts as HybridParts;
    const q = this.quantized;
    const als = q ? scoreInt8(q.als, p.als.userVector(user)) : p.als.scores(user);
    let content: ArrayLike<number> = new Float32Array(als.length);
    if (p.content.dims > 0)
      content = q?.content ? scoreInt8(q.content, p.content.userVector(user)) : p.content.scores(user);
    return { als, content };
  }

  scores(user: number): Float64Array {
    return this.scoresFor(this.mode, this.components(user));
  }

  /** What the hybrid and the learned ranker (core/ranker.ts) start from for one user. */
  components(user: number): {
    own: OwnItem[];
    now: number;
    als: ArrayLike<number>;
    content: ArrayLike<number> | null;
    stats: RankerItemStats;
    neighbours: NeighbourTable | null;
    /** the neighbour sums over `own`, which the hybrid's logits and the ranker's candidates both read */
    sums: Map<number, number>;
  } {
    const p = this.parts;
    if (!p || !this.data) throw new Error("not fitted");
    const { als, content } = this.componentScores(user);
    const own = windowOwnItems(this.data, user);
    return {
      own,
      now: p.now,
      als,
      content: p.content.dims > 0 ? content : null,
      stats: p.stats,
      neighbours: p.neighbours,
      sums: ownNeighbourSums(p.neighbours, own),
    };
  }

  /** The logits of one mode's weights over given components. */
  scoresFor(
    mode: HybridMode,
    c: ReturnType<HybridRecommender["components"]>,
    weights: HybridWeights = this.weights,
  ): Float64Array {
    return hybridScores(
      weights[mode],
      c.own,
      c.now,
      c.als,
      c.content ?? new Float32Array(c.als.length),
      c.sums,
      c.stats,
    );
  }

  /**
   * Training rows for the re-ranker: per user, own items + ALS top-100 + content top-50 + 30 most popular + the 50
   * highest EASE neighbour sums of their own items.
   */
  candidateRows(user: number, mode: HybridMode): { items: number[]; rows: number[][] } {
    const p = this.parts as HybridParts;
    const data = this.data as TrainData;
    const own = windowOwnItems(data, user);
    const ownMap = new Map(own.map((o) => [o.item, o]));
    const { als, content } = this.componentScores(user);
    const skip = mode === "novel" ? (j: number) => ownMap.has(j) : undefined;
    const cands = new Set<number>(mode === "novel" ? [] : own.map((o) => o.item));
    for (const j of topK(als, 100, skip).indices) cands.add(j);
    for (const j of topK(content, 50, skip).indices) cands.add(j);
    for (const j of topK(p.stats.logBuyers, 30, skip).indices) cands.add(j);
    const nb = ownNeighbourSums(p.neighbours, own);
    for (const j of topSparse(nb, 50, skip)) cands.add(j);
    const maxInvoices = Math.max(0, ...own.map((o) => o.invoices));
    const items = [...cands];
    return {
      items,
      rows: items.map((j) =>
        hybridFeatureRow(
          j,
          ownMap.get(j),
          maxInvoices,
          p.now,
          als[j] as number,
          content[j] as number,
          nb.get(j) ?? 0,
          p.stats,
        ),
      ),
    };
  }

  /** Fits both weight sets by logistic regression on a validation split's relevance (`all`, `novel`). */
  tune(
    relevantAll: ReadonlyMap<number, ReadonlySet<number>>,
    relevantNovel: ReadonlyMap<number, ReadonlySet<number>>,
  ): HybridWeights {
    const fitMode = (mode: HybridMode, relevant: ReadonlyMap<number, ReadonlySet<number>>): LinearWeights => {
      const x: number[] = [];
      const y: number[] = [];
      for (const [u, rel] of relevant) {
        const { items, rows } = this.candidateRows(u, mode);
        items.forEach((j, i) => {
          x.push(...(rows[i] as number[]));
          y.push(rel.has(j) ? 1 : 0);
        });
      }
      const m = fitLogistic(Float64Array.from(x), Uint8Array.from(y), HYBRID_FEATURES.length, { l2: 1 });
      return { weights: m.weights, intercept: m.intercept };
    };
    this.weights = {
      features: HYBRID_FEATURES,
      all: fitMode("all", relevantAll),
      novel: fitMode("novel", relevantNovel),
    };
    return this.weights;
  }

  hyperparameters() {
    return {
      als: JSON.stringify(this.parts?.als.options ?? this.alsOptions),
      content: JSON.stringify(this.contentOptions),
    };
  }
}
