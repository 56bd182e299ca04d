/**
 * The learned ranker's item-item neighbour table (EASE's strongest weights per modelled item) and its stored
 * form, KV `model:<v>:neighbours`: written by the trainer, read and checked by the Worker when a version loads.
 */

/**
 * Per item, its K strongest positive item-item weights (EASE's rows). Only modelled items have a row (EASE
 * models the most bought few thousand), so a 100k-item catalog's table stays a few hundred KB.
 */
export interface NeighbourTable {
  k: number;
  /** item -> its row, or -1 */
  rowOf: Int32Array;
  /** rows x k neighbour item indices, -1 padded */
  index: Int32Array;
  /** rows x k weights */
  weight: Float32Array;
}

/**
 * The table as stored (KV `model:<v>:neighbours`), little-endian: uint32 rows, then rows x int32 item ids, rows x k
 * int32 neighbour indices, rows x k float32 weights.
 */
export function encodeNeighbours(table: NeighbourTable): Uint8Array {
  const k = table.k;
  const items: number[] = [];
  table.rowOf.forEach((r, j) => {
    if (r >= 0) items[r] = j;
  });
  const m = items.length;
  const out = new Uint8Array(4 + m * 4 + m * k * 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, m, true);
  items.forEach((j, r) => {
    view.setInt32(4 + r * 4, j, true);
  });
  const at = 4 + m * 4;
  for (let p = 0; p < m * k; p++) {
    view.setInt32(at + p * 4, table.index[p] as number, true);
    view.setFloat32(at + m * k * 4 + p * 4, table.weight[p] as number, true);
  }
  return out;
}

/** The stored table back, checked: its size must match its row count, every item and neighbour must be in range. */
export function decodeNeighbours(bytes: ArrayBuffer | Uint8Array, items: number, k: number): NeighbourTable {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (!Number.isInteger(k) || k < 1 || b.byteLength < 4) throw new Error("neighbour table: no header");
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const m = view.getUint32(0, true);
  if (m > items || b.byteLength !== 4 + m * 4 + m * k * 8)
    throw new Error(`neighbour table: ${b.byteLength} bytes do not hold ${m} rows of ${k}`);
  const rowOf = new Int32Array(items).fill(-1);
  for (let r = 0; r < m; r++) {
    const j = view.getInt32(4 + r * 4, true);
    if (j < 0 || j >= items || rowOf[j] !== -1)
      throw new Error(`neighbour table: row item ${j} out of range or repeated`);
    rowOf[j] = r;
  }
  const at = 4 + m * 4;
  const index = new Int32Array(m * k);
  const weight = new Float32Array(m * k);
  for (let p = 0; p < m * k; p++) {
    const j = view.getInt32(at + p * 4, true);
    if (j < -1 || j >= items) throw new Error(`neighbour table: index ${j} out of range`);
    index[p] = j;
    weight[p] = view.getFloat32(at + m * k * 4 + p * 4, true);
  }
  return { k, rowOf, index, weight };
}

/**
 * A reader's neighbour sums: neighbourSums over their own items, each once, in the order of its first appearance
 * (an empty map without a table). The hybrid's `neighbours` feature and the ranker's neighbour generator read the
 * same map, which the Worker, a reader's pool and the trainer make once per reader and give to both, so both add
 * the same weights in the same order.
 */
export function ownNeighbourSums(
  table: NeighbourTable | null,
  own: readonly { readonly item: number }[],
): Map<number, number> {
  return table ? neighbourSums(table, new Set(own.map((o) => o.item))) : new Map();
}

/**
 * Sum of neighbour weights from the given items (EASE's x_u B, kept to each row's K strongest), by neighbour: what
 * the ranker's neighbour features read at the edge, and what the trainer's cost of the cut to K measures.
 */
export function neighbourSums(table: NeighbourTable, from: Iterable<number>): Map<number, number> {
  const out = new Map<number, number>();
  const k = table.k;
  for (const i of from) {
    const row = table.rowOf[i] ?? -1;
    if (row < 0) continue;
    for (let p = row * k; p < (row + 1) * k; p++) {
      const j = table.index[p] as number;
      if (j < 0) break;
      out.set(j, (out.get(j) ?? 0) + (table.weight[p] as number));
    }
  }
  return out;
}
