/**
 * ALS fold-in: a user's factor vector from their interactions and the (fixed) item factors, by the exact
 * least-squares step of implicit ALS (Hu, Koren and Volinsky 2008):
 *   (YtY + lambda I + Yu' (Cu - I) Yu) x = Yu' Cu p,   c = 1 + alpha * r
 * so behaviour newer than the model shows up in the next recommendation without retraining.
 */
import { base64ToBytes, base64ToFloat32 } from "./base64";
import type { QuantizedItems } from "./int8-kernel";
import { solveSymmetric } from "./linalg";
import type { Profile } from "./profile";

export interface FoldInParams {
  alpha: number;
  regularization: number;
  /** interaction strength per event type (event-log models), or "invoices" (purchase-log models) */
  weights: Record<string, number> | "invoices";
  /** the model's training window end (unix s): events after it are news to the model */
  windowEnd: number;
}

/** What the exporter stores beside the graph: the Gram matrix of the dequantized item factors. */
export interface FoldInTables {
  items: QuantizedItems;
  /** YtY, d x d row-major */
  gram: Float64Array;
}

/** The stored form (`model:<version>:item-table`), base64 little-endian. */
export interface ItemTable {
  n: number;
  d: number;
  /** int8 item-major factors */
  q: string;
  /** float32 per-item scales */
  scales: string;
  /** float32 d x d Gram matrix of the dequantized factors */
  gram: string;
}

/**
 * The stored table back; throws when a part does not hold n x d (a short scale or Gram row folds in NaN), or holds a
 * value that is not finite.
 */
export function decodeItemTable(t: ItemTable): FoldInTables {
  const bytes = base64ToBytes(t.q);
  if (bytes.length !== t.n * t.d) throw new Error("item table size does not match n x d");
  const scales = base64ToFloat32(t.scales);
  if (scales.length !== t.n) throw new Error("item table scales do not match n");
  const gram = Float64Array.from(base64ToFloat32(t.gram));
  if (gram.length !== t.d * t.d) throw new Error("item table Gram matrix does not match d x d");
  // a NaN or an Infinity in either (a training run gone wrong, a damaged write) makes every folded vector NaN
  if (!scales.every(Number.isFinite) || !gram.every(Number.isFinite))
    throw new Error("item table holds a scale or Gram entry that is not finite");
  return {
    items: {
      n: t.n,
      d: t.d,
      q: new Int8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      scales,
      bias: new Float32Array(t.n),
    },
    gram,
  };
}

/** Gram matrix of the dequantized item factors. */
export function itemGram(items: QuantizedItems): Float64Array {
  const { n, d, q, scales } = items;
  const g = new Float64Array(d * d);
  const row = new Float64Array(d);
  for (let j = 0; j < n; j++) {
    const s = scales[j] as number;
    for (let k = 0; k < d; k++) row[k] = (q[j * d + k] as number) * s;
    for (let a = 0; a < d; a++) {
      const ra = row[a] as number;
      if (ra === 0) continue;
      for (let b = a; b < d; b++) g[a * d + b] = (g[a * d + b] as number) + ra * (row[b] as number);
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) g[a * d + b] = g[b * d + a] as number;
  return g;
}

/** Interaction strengths per model item from a profile, defined as the model was trained. */
export function profileInteractions(
  profile: Profile,
  itemIndex: ReadonlyMap<string, number>,
  params: FoldInParams,
): Map<number, number> {
  const r = new Map<number, number>();
  const add = (id: string, w: number) => {
    const j = itemIndex.get(id);
    if (j !== undefined && w > 0) r.set(j, (r.get(j) ?? 0) + w);
  };
  if (params.weights === "invoices") {
    for (const p of profile.purchases) add(p.item, p.invoices);
  } else {
    const w = params.weights;
    for (const p of profile.purchases) add(p.item, (w.purchase ?? 0) * p.invoices);
    for (const e of profile.recentItems) if (e.type !== "purchase") add(e.item, w[e.type] ?? 0);
  }
  return r;
}

/**
 * Whether the profile holds behaviour after the model's window that fold-in reads (profileInteractions): a purchase
 * of an item the model knows, or, for event-log models, an event of a type the model weighs on such an item. Email
 * opens, impressions, and (purchase-log models) views or carts change nothing the model would see: the trained
 * vector stands for the reader, and with it the hybrid and the learned ranker.
 */
export function hasNews(profile: Profile, itemIndex: ReadonlyMap<string, number>, params: FoldInParams): boolean {
  const end = params.windowEnd;
  const known = (id: string) => itemIndex.has(id);
  const purchaseWeight = params.weights === "invoices" ? 1 : (params.weights.purchase ?? 0);
  if (purchaseWeight > 0 && profile.purchases.some((p) => p.lastTs > end && known(p.item))) return true;
  if (params.weights === "invoices") return false;
  const w = params.weights;
  return profile.recentItems.some((e) => e.type !== "purchase" && e.ts > end && (w[e.type] ?? 0) > 0 && known(e.item));
}

/** The user's factor vector (float32), or null when they have no interaction the model knows. */
export function foldIn(
  tables: FoldInTables,
  params: FoldInParams,
  interactions: ReadonlyMap<number, number>,
): Float32Array | null {
  if (interactions.size === 0) return null;
  const { items, gram } = tables;
  const d = items.d;
  const a = Float64Array.from(gram);
  for (let k = 0; k < d; k++) a[k * d + k] = (a[k * d + k] as number) + params.regularization;
  const b = new Float64Array(d);
  const y = new Float64Array(d);
  for (const [j, r] of interactions) {
    const s = items.scales[j] as number;
    for (let k = 0; k < d; k++) y[k] = (items.q[j * d + k] as number) * s;
    const c = 1 + params.alpha * r;
    for (let p = 0; p < d; p++) {
      const yp = y[p] as number;
      b[p] = (b[p] as number) + c * yp;
      for (let q = 0; q < d; q++) a[p * d + q] = (a[p * d + q] as number) + (c - 1) * yp * (y[q] as number);
    }
  }
  return Float32Array.from(solveSymmetric(a, b, d));
}
