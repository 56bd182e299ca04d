/**
 * A reader's pool: every item the learned ranker's generators (core/ranker.ts) can propose for one reader, in
 * either mode and at any time, with its ALS and content score exactly as the model's int8 graphs give it. The
 * trainer makes it beside the reader's features (scripts/train/steps/reader-pools.ts) and it is stored with them
 * (`features:<user>:<version>`); an open whose reader has one ranks from it alone instead of scoring the whole
 * catalog in two graphs, which at 100k items is most of a ranking's time.
 *
 * Why ranking from the pool gives the catalog's answer to the bit: each generator proposes the best k items by a
 * score that, for an item the reader has not bought, never changes while the model serves (ALS, content, EASE
 * neighbour sums over their items, popularity, and the hybrid's logit, whose time terms touch only their own items
 * and whose neighbour sums, like the generator's, depend only on which items they bought). The pool holds every own item and, per generator (the hybrid once per mode's weights), the
 * best k of the other items, chosen as topK chooses (ties by lower index). So at any time and in either mode each
 * generator's best k lie inside it, and since pool items keep their catalog order, ties break alike. Every feature
 * reads only the candidates' own values, which the pool holds or derives with the same arithmetic. Their own
 * items matter beyond which they are (the last basket's neighbours are a generator, and which items form it
 * depends on when each was bought), so the pool records a fingerprint of the reader's own history as it was
 * made from it (items, order counts, times, in order): a reader whose history differs in any way does not use it.
 */
import { base64ToBytes, bytesToBase64 } from "./base64";
import { fnv1a32 } from "./fnv";
import { hybridScores, type ItemStats, type LinearWeights, type OwnItem } from "./hybrid";
import { topK } from "./int8-kernel";
import { type NeighbourTable, ownNeighbourSums } from "./neighbour-table";
import {
  CANDIDATES,
  type CandidateRows,
  type RankerInputs,
  type RankerItemStats,
  type RankerMode,
  rankerCandidates,
} from "./ranker";

export interface ReaderPool {
  /** ownHistory() of the reader's own items the pool was made from */
  history: number;
  /** how many items the model has (a pool holding all of them knows every order whole) */
  itemCount: number;
  /** model item indices, ascending */
  items: Uint32Array;
  /** each item's ALS score (the int8 graph's) */
  als: Float32Array;
  /** each item's content score (the int8 graph's) */
  content: Float32Array;
  /** 1 where the item was the reader's own when the pool was made */
  own: Uint8Array;
}

/** What a pool is made from: a reader's every-item scores, as the trainer has them. */
export interface PoolInputs {
  own: readonly OwnItem[];
  als: ArrayLike<number>;
  content: ArrayLike<number>;
  neighbours: NeighbourTable | null;
  /** the neighbour sums over `own` the hybrid's logits were scored with, when the caller has them (RankerInputs) */
  sums?: ReadonlyMap<number, number>;
  stats: RankerItemStats;
  /** the hybrid's logits over every item, one array per mode's weights, at any time */
  hybrid: { all: ArrayLike<number>; novel: ArrayLike<number> };
}

/** The reader's pool: their own items, every generator's best of the rest (novel mode's lists), the hybrid's too. */
export function makePool(inp: PoolInputs): ReaderPool {
  const n = inp.als.length;
  const own = new Set(inp.own.filter((o) => o.item >= 0 && o.item < n).map((o) => o.item));
  const items = new Set(own);
  // novel mode's candidates are exactly each generator's best k of the items the reader has not bought
  const inputs: RankerInputs = { ...inp, now: 0, hybrid: inp.hybrid.novel };
  for (const j of rankerCandidates(inputs, "novel").items) items.add(j);
  for (const j of topK(inp.hybrid.all, CANDIDATES.hybrid, (j) => own.has(j)).indices) items.add(j);
  const sorted = Uint32Array.from(items).sort();
  if (sorted.length > MAX_POOL_ITEMS)
    throw new Error(`reader pool: ${sorted.length} items (at most ${MAX_POOL_ITEMS})`);
  return {
    history: ownHistory(inp.own),
    itemCount: n,
    items: sorted,
    als: Float32Array.from(sorted, (j) => inp.als[j] as number),
    content: Float32Array.from(sorted, (j) => inp.content[j] as number),
    own: Uint8Array.from(sorted, (j) => (own.has(j) ? 1 : 0)),
  };
}

/**
 * A fingerprint of the reader's own history as the ranker reads it (FNV-1a over each own item's index, order
 * count and last purchase, in the profile's order): equal histories, equal fingerprints.
 */
export function ownHistory(own: readonly OwnItem[]): number {
  return fnv1a32(own.map((o) => `${o.item}:${o.invoices}:${o.lastTs}`).join(","));
}

/** Bytes before the items: the count m, the history fingerprint. */
const HEADER = 8;

/**
 * The stored form, base64 of little-endian: uint32 count m, uint32 history fingerprint, m uint32 items, m float32
 * ALS, m float32 content, m own flags (13 bytes an item).
 */
export function encodePool(pool: ReaderPool): string {
  const m = pool.items.length;
  const out = new Uint8Array(HEADER + m * 13);
  const view = new DataView(out.buffer);
  view.setUint32(0, m, true);
  view.setUint32(4, pool.history, true);
  for (let i = 0; i < m; i++) {
    view.setUint32(HEADER + i * 4, pool.items[i] as number, true);
    view.setFloat32(HEADER + m * 4 + i * 4, pool.als[i] as number, true);
    view.setFloat32(HEADER + m * 8 + i * 4, pool.content[i] as number, true);
    out[HEADER + m * 12 + i] = pool.own[i] as number;
  }
  return bytesToBase64(out);
}

/** The most items a stored pool may hold (a reader's 200 purchases and every generator's list, with room). */
export const MAX_POOL_ITEMS = 1024;
/** The longest stored pool, in base64 characters. */
export const MAX_STORED_POOL = Math.ceil((8 + MAX_POOL_ITEMS * 13) / 3) * 4;

/** A stored pool back, or null when it is not one for a model of `itemCount` items (any doubt: not used). */
export function decodePool(stored: string, itemCount: number): ReaderPool | null {
  if (stored.length > MAX_STORED_POOL) return null;
  let bytes: Uint8Array;
  try {
    bytes = base64ToBytes(stored);
  } catch {
    return null;
  }
  if (bytes.byteLength < HEADER) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const m = view.getUint32(0, true);
  if (m > MAX_POOL_ITEMS || bytes.byteLength !== HEADER + m * 13) return null;
  const pool: ReaderPool = {
    history: view.getUint32(4, true),
    itemCount,
    items: new Uint32Array(m),
    als: new Float32Array(m),
    content: new Float32Array(m),
    own: new Uint8Array(m),
  };
  for (let i = 0; i < m; i++) {
    const j = view.getUint32(HEADER + i * 4, true);
    if (j >= itemCount || (i > 0 && j <= (pool.items[i - 1] as number))) return null;
    pool.items[i] = j;
    pool.als[i] = view.getFloat32(HEADER + m * 4 + i * 4, true);
    pool.content[i] = view.getFloat32(HEADER + m * 8 + i * 4, true);
    const flag = bytes[HEADER + m * 12 + i] as number;
    if (flag > 1 || !Number.isFinite(pool.als[i] as number) || !Number.isFinite(pool.content[i] as number)) return null;
    pool.own[i] = flag;
  }
  return pool;
}

/** What an open adds to a pool for the hybrid: the reader's own items now, the time, the model's parts. */
export interface PoolHybrid {
  own: readonly OwnItem[];
  /** unix seconds */
  now: number;
  /** the model's neighbour table (the hybrid's neighbour sums and the ranker read it), or null */
  neighbours: NeighbourTable | null;
  stats: ItemStats;
  /** the hybrid's weights for this mode */
  weights: LinearWeights;
}

/** And for the ranker: its item statistics. */
export interface PoolRanking extends PoolHybrid {
  stats: RankerItemStats;
}

/**
 * The reader in the pool's indices (item i of the pool is i): their own items, the neighbour table's rows of them,
 * the item statistics, the logits.
 */
interface PoolReader<S extends ItemStats> {
  own: OwnItem[];
  neighbours: NeighbourTable | null;
  /** the neighbour sums over `own` on the local table (ownNeighbourSums) */
  sums: Map<number, number>;
  stats: S;
  hybrid: Float64Array;
}

/** The reader over the pool's items, or null when the pool was not made from this very own history. */
function poolReader<S extends ItemStats>(pool: ReaderPool, r: PoolHybrid & { stats: S }): PoolReader<S> | null {
  if (ownHistory(r.own) !== pool.history) return null;
  const m = pool.items.length;
  const local = new Map<number, number>();
  for (let i = 0; i < m; i++) local.set(pool.items[i] as number, i);
  // and, whatever the fingerprint says, the pool's own items must be the reader's, every one (duplicates count once)
  const own: OwnItem[] = [];
  const seen = new Set<number>();
  for (const o of r.own) {
    const i = local.get(o.item);
    if (i === undefined || pool.own[i] !== 1) return null;
    seen.add(i);
    own.push({ ...o, item: i });
  }
  let owned = 0;
  for (let i = 0; i < m; i++) owned += pool.own[i] as number;
  if (seen.size !== owned) return null;
  // every per-item statistic, at the pool's items
  const stats = Object.fromEntries(
    Object.entries(r.stats).map(([name, values]: [string, ArrayLike<number>]) => [
      name,
      Float64Array.from(pool.items, (j) => values[j] as number),
    ]),
  ) as unknown as S;
  const neighbours = r.neighbours && localNeighbours(r.neighbours, own, pool.items, local);
  const sums = ownNeighbourSums(neighbours, own);
  const hybrid = hybridScores(r.weights, own, r.now, pool.als, pool.content, sums, stats);
  return { own, neighbours, sums, stats, hybrid };
}

/**
 * The ranker's candidates and feature rows from the pool alone (model item indices, as rankerCandidates over the
 * whole catalog gives them), or null when the pool was not made from this own history.
 */
export function poolCandidates(pool: ReaderPool, r: PoolRanking, mode: RankerMode): CandidateRows | null {
  const reader = poolReader(pool, r);
  if (!reader) return null;
  const { own, neighbours, sums, stats, hybrid } = reader;
  const c = rankerCandidates(
    { own, now: r.now, als: pool.als, content: pool.content, neighbours, sums, stats, hybrid },
    mode,
  );
  return { items: c.items.map((i) => pool.items[i] as number), rows: c.rows };
}

/**
 * The hybrid's best `n` items not skipped (model indices and logits, as topK over every item's logit gives them),
 * or null when the pool cannot tell them: it was made from another own history, or the skips reach past the other
 * items it holds in the hybrid's order for sure (the first CANDIDATES.hybrid of them, the rest of the catalog
 * ranking below those). Fewer than `n` only where the catalog has no more.
 */
export function poolHybridTop(
  pool: ReaderPool,
  r: PoolHybrid,
  n: number,
  skip?: (item: number) => boolean,
): { indices: number[]; scores: number[] } | null {
  const reader = poolReader(pool, r);
  if (!reader) return null;
  const h = reader.hybrid;
  const order = Array.from(h.keys()).sort((a, b) => (h[b] as number) - (h[a] as number) || a - b);
  const indices: number[] = [];
  const scores: number[] = [];
  // a pool of every item knows the whole order (a catalog with fewer other items than the hybrid proposes)
  const whole = pool.items.length === pool.itemCount;
  let others = 0;
  for (const i of order) {
    if (indices.length === n) break;
    // past the pool's sure part of the order (up to its CANDIDATES.hybrid-th other item), an item outside it
    // could rank ahead of any item, the reader's own too
    if (others === CANDIDATES.hybrid && !whole) return null;
    if (pool.own[i] === 0) others++;
    const j = pool.items[i] as number;
    if (skip?.(j)) continue;
    indices.push(j);
    scores.push(h[i] as number);
  }
  return indices.length === n || whole ? { indices, scores } : null;
}

/**
 * The neighbour table's rows of the reader's own items in pool indices, each row's neighbours outside the pool
 * left out (none of them can be a candidate) and the rest in their order, so every sum adds the same weights in
 * the same order.
 */
function localNeighbours(
  table: NeighbourTable,
  own: readonly OwnItem[],
  items: Uint32Array,
  local: ReadonlyMap<number, number>,
): NeighbourTable {
  const k = table.k;
  const rowOf = new Int32Array(items.length).fill(-1);
  const rows: number[] = [];
  for (const o of own) {
    const row = table.rowOf[items[o.item] as number] ?? -1;
    if (row >= 0 && rowOf[o.item] === -1) {
      rowOf[o.item] = rows.length;
      rows.push(row);
    }
  }
  const index = new Int32Array(rows.length * k).fill(-1);
  const weight = new Float32Array(rows.length * k);
  rows.forEach((row, r) => {
    let at = r * k;
    for (let p = row * k; p < (row + 1) * k; p++) {
      const j = table.index[p] as number;
      if (j < 0) break;
      const i = local.get(j);
      if (i === undefined) continue;
      index[at] = i;
      weight[at] = table.weight[p] as number;
      at++;
    }
  });
  return { k, rowOf, index, weight };
}
