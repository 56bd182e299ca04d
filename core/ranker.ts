/**
 * The learned ranker's candidates and features, shared by the trainer and the Worker: several generators
 * propose items (the reader's own items, ALS, content, item-item neighbours of everything they bought and of
 * their last basket, popular and trending items); each candidate gets one feature row (RANKER_FEATURES) that
 * gradient-boosted trees (core/tree-ensemble.ts) score. Candidates and features depend only on what the edge
 * has: the profile's purchases, the ALS and content scores, the neighbour table and item statistics.
 */
import type { ItemStats, OwnItem } from "./hybrid";
import { topK } from "./int8-kernel";
import { type NeighbourTable, ownNeighbourSums } from "./neighbour-table";
import { type CompiledEnsemble, scoreRows } from "./tree-ensemble";

export const RANKER_FEATURES = [
  "hybrid",
  "hybrid_rank",
  "own",
  "log_invoices",
  "own_age_days",
  "invoice_share",
  "als",
  "als_gap",
  "als_rank",
  "content",
  "content_rank",
  "neighbours",
  "neighbours_rank",
  "basket",
  "log_buyers",
  "repeat_rate",
  "log_recent_buyers",
  "trend",
  "log_week_buyers",
  "log_fortnight_buyers",
  "week_trend",
  "reader_log_items",
  "reader_age_days",
  "reader_log_max_invoices",
  "reader_repeat_share",
  "own_in_last_basket",
  "own_gap_days",
] as const;

export type RankerFeature = (typeof RANKER_FEATURES)[number];
/** Each feature's column in a row. */
const COLUMN = Object.fromEntries(RANKER_FEATURES.map((name, i) => [name, i])) as Record<RankerFeature, number>;

/** How many candidates each generator proposes (before duplicates merge). */
export const CANDIDATES = {
  hybrid: 50,
  als: 50,
  content: 20,
  neighbours: 50,
  basket: 30,
  popular: 20,
  trending: 20,
} as const;

export type RankerMode = "all" | "novel";

/** The item statistics the ranker reads: the hybrid's, and how many bought each item lately (its momentum). */
export interface RankerItemStats extends ItemStats {
  /** distinct buyers in the last 7 days of the window */
  weekBuyers: ArrayLike<number>;
  /** distinct buyers in the last 14 days of the window */
  fortnightBuyers: ArrayLike<number>;
}

export interface RankerInputs {
  own: readonly OwnItem[];
  /** unix seconds the recencies are measured at */
  now: number;
  als: ArrayLike<number>;
  content: ArrayLike<number> | null;
  neighbours: NeighbourTable | null;
  /**
   * the neighbour sums over the own items (ownNeighbourSums over `neighbours`) when the caller has them: those the
   * hybrid's logits were scored with. Absent: made here; the candidates are the same either way.
   */
  sums?: ReadonlyMap<number, number>;
  stats: RankerItemStats;
  /** the linear re-ranker's logit per item (core/hybrid.ts) for this mode */
  hybrid: ArrayLike<number>;
  /**
   * the catalog's best items by `als` / `content` when already known (the Worker's graphs give them in the same
   * run): best first, ties by lower index, at least the generator's count plus the reader's own items long (or the
   * whole catalog). Absent: a pass over the scores finds them; the candidates are the same either way.
   */
  tops?: { als?: readonly number[]; content?: readonly number[] };
}

export interface CandidateRows {
  items: number[];
  /** items x RANKER_FEATURES, row-major */
  rows: Float64Array;
}

const DAY = 86400;
/** what "never" reads as in an age feature */
const NEVER_DAYS = 10_000;
/** purchases within this many seconds of the reader's latest form their last basket */
const BASKET_SECONDS = 3600;

/** Candidate items and their feature rows for one reader. In `novel` mode the reader's own items are left out. */
export function rankerCandidates(inp: RankerInputs, mode: RankerMode): CandidateRows {
  const n = inp.als.length;
  const ownMap = new Map<number, OwnItem>();
  for (const o of inp.own) if (o.item >= 0 && o.item < n) ownMap.set(o.item, o);
  const skip = mode === "novel" ? (j: number) => ownMap.has(j) : undefined;
  let last = 0;
  let maxInvoices = 0;
  for (const o of ownMap.values()) {
    last = Math.max(last, o.lastTs);
    maxInvoices = Math.max(maxInvoices, o.invoices);
  }
  const nb = inp.sums ?? ownNeighbourSums(inp.neighbours, inp.own);
  const lastBasket = [...ownMap.values()].filter((o) => o.lastTs >= last - BASKET_SECONDS);
  const basket = ownNeighbourSums(inp.neighbours, lastBasket);
  const cands = new Set<number>(mode === "novel" ? [] : ownMap.keys());
  for (const j of topK(inp.hybrid, CANDIDATES.hybrid, skip).indices) cands.add(j);
  for (const j of bestOf(inp.als, CANDIDATES.als, inp.tops?.als, skip)) cands.add(j);
  if (inp.content) for (const j of bestOf(inp.content, CANDIDATES.content, inp.tops?.content, skip)) cands.add(j);
  for (const j of topSparse(nb, CANDIDATES.neighbours, skip)) cands.add(j);
  for (const j of topSparse(basket, CANDIDATES.basket, skip)) cands.add(j);
  for (const j of staticTop(inp.stats.logBuyers, CANDIDATES.popular, skip)) cands.add(j);
  for (const j of staticTop(inp.stats.logRecentBuyers, CANDIDATES.trending, skip)) cands.add(j);
  const items = [...cands].sort((a, b) => a - b);
  const m = items.length;
  const f = RANKER_FEATURES.length;
  // a column never written stays NaN, which the trainer refuses (scripts/learn/gbdt.ts): no feature ships unset
  const rows = new Float64Array(m * f).fill(Number.NaN);
  const alsOf = items.map((j) => inp.als[j] as number);
  const contentOf = items.map((j) => (inp.content ? (inp.content[j] as number) : 0));
  const nbOf = items.map((j) => nb.get(j) ?? 0);
  const hybridOf = items.map((j) => inp.hybrid[j] as number);
  const hybridRank = ranks(hybridOf);
  const alsRank = ranks(alsOf);
  const contentRank = ranks(contentOf);
  const nbRank = ranks(nbOf);
  const alsMax = Math.max(...alsOf);
  const readerItems = Math.log1p(ownMap.size);
  const readerAge = ownMap.size ? Math.max(0, inp.now - last) / DAY : NEVER_DAYS;
  const readerMax = Math.log1p(maxInvoices);
  let repeated = 0;
  for (const o of ownMap.values()) if (o.invoices > 1) repeated++;
  const repeatShare = ownMap.size ? repeated / ownMap.size : 0;
  const C = COLUMN;
  for (let r = 0; r < m; r++) {
    const j = items[r] as number;
    const o = ownMap.get(j);
    const buyers = inp.stats.logBuyers[j] as number;
    const recent = inp.stats.logRecentBuyers[j] as number;
    const at = r * f;
    rows[at + C.hybrid] = hybridOf[r] as number;
    rows[at + C.hybrid_rank] = hybridRank[r] as number;
    rows[at + C.own] = o ? 1 : 0;
    rows[at + C.log_invoices] = Math.log1p(o?.invoices ?? 0);
    rows[at + C.own_age_days] = o ? Math.max(0, inp.now - o.lastTs) / DAY : NEVER_DAYS;
    rows[at + C.invoice_share] = (o?.invoices ?? 0) / Math.max(1, maxInvoices);
    rows[at + C.als] = alsOf[r] as number;
    rows[at + C.als_gap] = (alsOf[r] as number) - alsMax;
    rows[at + C.als_rank] = alsRank[r] as number;
    rows[at + C.content] = contentOf[r] as number;
    rows[at + C.content_rank] = contentRank[r] as number;
    rows[at + C.neighbours] = nbOf[r] as number;
    rows[at + C.neighbours_rank] = nbRank[r] as number;
    rows[at + C.basket] = basket.get(j) ?? 0;
    rows[at + C.log_buyers] = buyers;
    rows[at + C.repeat_rate] = inp.stats.repeatRate[j] as number;
    rows[at + C.log_recent_buyers] = recent;
    rows[at + C.trend] = recent - buyers;
    const week = Math.log1p(inp.stats.weekBuyers[j] as number);
    rows[at + C.log_week_buyers] = week;
    rows[at + C.log_fortnight_buyers] = Math.log1p(inp.stats.fortnightBuyers[j] as number);
    rows[at + C.week_trend] = week - recent;
    rows[at + C.reader_log_items] = readerItems;
    rows[at + C.reader_age_days] = readerAge;
    rows[at + C.reader_log_max_invoices] = readerMax;
    rows[at + C.reader_repeat_share] = repeatShare;
    rows[at + C.own_in_last_basket] = o && o.lastTs >= last - BASKET_SECONDS ? 1 : 0;
    // days between the reader's latest order and this item's: 0 for what they just bought again
    rows[at + C.own_gap_days] = o ? Math.max(0, last - o.lastTs) / DAY : NEVER_DAYS;
  }
  return { items, rows };
}

/**
 * Candidates ordered by the ensemble's score (the trees', plus the hybrid logit's share when the model blends it in:
 * core/tree-ensemble.ts `linear`), skipping `skip`ped items; ties (few trees of few leaves give many
 * candidates the very same sum) go to the higher hybrid logit, then to the lower item. When fewer than `n`
 * remain, `fill()` (the hybrid's order, asked for only then: it is a pass over every item) tops them up, scored
 * -Infinity.
 */
export function rankCandidates(
  model: CompiledEnsemble,
  c: CandidateRows,
  n: number,
  fill: () => readonly number[],
  skip?: (item: number) => boolean,
): { indices: number[]; scores: number[] } {
  const all = scoreRows(model, c.rows, RANKER_FEATURES.length, c.items.length);
  const f = RANKER_FEATURES.length;
  // [item, trees' score, hybrid logit]
  const scored: [number, number, number][] = [];
  c.items.forEach((j, r) => {
    if (!skip?.(j)) scored.push([j, all[r] as number, c.rows[r * f + COLUMN.hybrid] as number]);
  });
  scored.sort((a, b) => b[1] - a[1] || b[2] - a[2] || a[0] - b[0]);
  const indices = scored.map((x) => x[0]);
  const scores = scored.map((x) => x[1]);
  if (indices.length >= n) return { indices, scores };
  const seen = new Set(c.items);
  for (const j of fill()) {
    if (seen.has(j) || skip?.(j)) continue;
    indices.push(j);
    scores.push(Number.NEGATIVE_INFINITY);
  }
  return { indices, scores };
}

/** `topK(scores, k, skip)`, read off a known ranking (best first) when it reaches far enough. */
function bestOf(
  scores: ArrayLike<number>,
  k: number,
  known: readonly number[] | undefined,
  skip?: (j: number) => boolean,
): number[] {
  if (known) {
    const out: number[] = [];
    for (const j of known) {
      if (out.length === k) break;
      if (!skip?.(j)) out.push(j);
    }
    if (out.length === Math.min(k, scores.length) || known.length >= scores.length) return out;
  }
  return topK(scores, k, skip).indices;
}

/** Item statistics do not change while a model serves: their top lists are made once per array. */
const staticTops = new WeakMap<object, { k: number; list: number[] }>();
/** how far past `k` a static list reaches, for the skipped (own) items */
const STATIC_SPARE = 256;

/** The `k` best of a model's static array, skipping `skip`: from a list made once (exactly `topK`'s answer). */
function staticTop(values: ArrayLike<number>, k: number, skip?: (j: number) => boolean): number[] {
  let cached = staticTops.get(values as object);
  if (cached?.k !== k) {
    cached = { k, list: topK(values, k + STATIC_SPARE).indices };
    staticTops.set(values as object, cached);
  }
  // more skipped items than the spare: the full pass
  return bestOf(values, k, cached.list, skip);
}

/** The `k` best positive entries of a sparse score map, ties by lower index. */
export function topSparse(scores: ReadonlyMap<number, number>, k: number, skip?: (j: number) => boolean): number[] {
  return [...scores]
    .filter(([j, s]) => s > 0 && !skip?.(j))
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .slice(0, k)
    .map(([j]) => j);
}

/** 0-based rank of each value among the list, highest first (ties share the better rank). */
function ranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0]);
  const out = new Array<number>(values.length);
  let rank = 0;
  order.forEach(([v, i], pos) => {
    if (pos > 0 && v !== (order[pos - 1] as readonly [number, number])[0]) rank = pos;
    out[i] = rank;
  });
  return out;
}
