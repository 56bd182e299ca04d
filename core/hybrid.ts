/**
 * The hybrid recommender's scoring, shared by the trainer and the Worker: a logistic-regression
 * re-ranker over repeat-awareness (the reader's own purchases: invoices, recency), the ALS score, the
 * content score, item statistics and the EASE neighbour sum of the reader's own items (the learned ranker's
 * neighbour table, core/neighbour-table.ts). Linear, so every item is scored in O(items + own items x K).
 * Two weight sets: `all` (re-buys allowed) and `novel` (discovery; own items are excluded by the caller).
 */

export const HYBRID_FEATURES = [
  "own",
  "log_invoices",
  "recency_30d",
  "recency_180d",
  "invoice_share",
  "als",
  "content",
  "log_buyers",
  "repeat_rate",
  "log_recent_buyers",
  "neighbours",
] as const;

/**
 * The features of a model from before `neighbours` was one: its weights are the first this many, and it weighs the
 * neighbour sum 0 (the manifest still loads them).
 */
export const HYBRID_FEATURES_BEFORE_NEIGHBOURS = HYBRID_FEATURES.length - 1;
const NEIGHBOURS = HYBRID_FEATURES.indexOf("neighbours");

/** The weight a weight set gives the neighbour sum (0 for a model from before it was a feature). */
export function neighboursWeight(w: LinearWeights): number {
  return w.weights[NEIGHBOURS] ?? 0;
}

export type HybridMode = "all" | "novel";

export interface LinearWeights {
  /** one weight per HYBRID_FEATURES entry, in order */
  weights: number[];
  intercept: number;
}

export interface HybridWeights {
  features: readonly string[];
  all: LinearWeights;
  novel: LinearWeights;
}

/** Per-item statistics of the training window (exported with the model). */
export interface ItemStats {
  /** log(1 + distinct buyers) */
  logBuyers: ArrayLike<number>;
  /** share of buyers who bought the item on more than one invoice */
  repeatRate: ArrayLike<number>;
  /** log(1 + distinct buyers in the last 30 days of the window) */
  logRecentBuyers: ArrayLike<number>;
}

export interface OwnItem {
  /** model item index */
  item: number;
  /** distinct invoices with the item */
  invoices: number;
  /** last purchase, unix seconds */
  lastTs: number;
}

const DAY = 86400;

/**
 * A reader's purchase summaries as the model's own items (those it knows, in the profile's order): what the
 * Worker ranks with and the trainer's golden cases and pools are made from, so all three read a reader alike.
 */
export function ownItems(
  purchases: readonly { item: string; invoices: number; lastTs: number }[],
  itemIndex: ReadonlyMap<string, number>,
): OwnItem[] {
  return purchases.flatMap((p) => {
    const item = itemIndex.get(p.item);
    return item === undefined ? [] : [{ item, invoices: p.invoices, lastTs: p.lastTs }];
  });
}

/** Feature row of one item (what the linear model sees); `neighbours` is its EASE neighbour sum (0 when none). */
export function hybridFeatureRow(
  item: number,
  own: OwnItem | undefined,
  maxInvoices: number,
  now: number,
  als: number,
  content: number,
  neighbours: number,
  stats: ItemStats,
): number[] {
  const c = own?.invoices ?? 0;
  const age = own ? Math.max(0, now - own.lastTs) / DAY : Number.POSITIVE_INFINITY;
  return [
    own ? 1 : 0,
    Math.log1p(c),
    own ? Math.exp(-age / 30) : 0,
    own ? Math.exp(-age / 180) : 0,
    c / Math.max(1, maxInvoices),
    als,
    content,
    stats.logBuyers[item] as number,
    stats.repeatRate[item] as number,
    stats.logRecentBuyers[item] as number,
    neighbours,
  ];
}

/**
 * What of an item's logit does not depend on the reader: the intercept and the item statistics' terms. A model's
 * priors never change while it serves, so the Worker makes them once per model (hybridScores makes them when not
 * given; either way the same sums, so the same logits to the last bit).
 */
export function itemPriors(w: LinearWeights, stats: ItemStats): Float64Array {
  const n = stats.logBuyers.length;
  const out = new Float64Array(n);
  const [, , , , , , , wBuyers, wRepeat, wRecent] = w.weights as number[];
  for (let j = 0; j < n; j++) {
    out[j] =
      w.intercept +
      (wBuyers as number) * (stats.logBuyers[j] as number) +
      (wRepeat as number) * (stats.repeatRate[j] as number) +
      (wRecent as number) * (stats.logRecentBuyers[j] as number);
  }
  return out;
}

/**
 * Hybrid logits for every item; `als` and `content` are that user's per-item scores, `sums` their neighbour sums
 * (core/neighbour-table.ts ownNeighbourSums: empty without a table, and the sum counts 0), `priors` the model's
 * itemPriors(w, stats) when the caller keeps them.
 */
export function hybridScores(
  w: LinearWeights,
  ownItems: readonly OwnItem[],
  now: number,
  als: ArrayLike<number>,
  content: ArrayLike<number>,
  sums: ReadonlyMap<number, number>,
  stats: ItemStats,
  priors: Float64Array = itemPriors(w, stats),
): Float64Array {
  const n = als.length;
  if (priors.length !== n) throw new Error(`hybridScores: ${priors.length} priors for ${n} items`);
  const out = new Float64Array(n);
  const wAls = w.weights[5] as number;
  const wContent = w.weights[6] as number;
  for (let j = 0; j < n; j++) {
    out[j] = (priors[j] as number) + wAls * (als[j] as number) + wContent * (content[j] as number);
  }
  const wNeighbours = neighboursWeight(w);
  if (wNeighbours !== 0) {
    for (const [j, v] of sums) if (j >= 0 && j < n) out[j] = (out[j] as number) + wNeighbours * v;
  }
  let maxInvoices = 0;
  for (const o of ownItems) maxInvoices = Math.max(maxInvoices, o.invoices);
  for (const o of ownItems) {
    if (o.item < 0 || o.item >= n) continue;
    const row = hybridFeatureRow(o.item, o, maxInvoices, now, 0, 0, 0, stats);
    for (let f = 0; f < 5; f++) out[o.item] = (out[o.item] as number) + (w.weights[f] as number) * (row[f] as number);
  }
  return out;
}
