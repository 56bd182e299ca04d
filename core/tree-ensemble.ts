/**
 * Gradient-boosted trees as the trainer exports them and the Worker scores them: the exact form of the
 * learned ranker (scripts/learn/gbdt.ts fits it). A tree is flat arrays; node 0 is the root; an inner node
 * sends a row left when `row[feature] < threshold`, a leaf has feature -1 and holds its value. The score is
 * `base` plus every tree's leaf value. Both sides call this one function, so trainer and edge agree exactly
 * on the same feature values.
 */
import { z } from "zod";

export const TreeSchema = z.object({
  feature: z.array(z.number().int().min(-1)),
  threshold: z.array(z.number()),
  left: z.array(z.number().int().nonnegative()),
  right: z.array(z.number().int().nonnegative()),
  value: z.array(z.number()),
});
export type Tree = z.infer<typeof TreeSchema>;

export const TreeEnsembleSchema = z.object({
  /** the features, in the order of a row */
  features: z.array(z.string()),
  base: z.number(),
  trees: z.array(TreeSchema),
});
export type TreeEnsemble = z.infer<typeof TreeEnsembleSchema>;

/** The ensemble's score of one row (`row[offset + f]` is feature f). */
export function treeEnsembleScore(model: TreeEnsemble, row: ArrayLike<number>, offset = 0): number {
  let s = model.base;
  for (const t of model.trees) s += treeScore(t, row, offset);
  return s;
}

/** One tree's leaf value for a row. */
export function treeScore(t: Tree, row: ArrayLike<number>, offset = 0): number {
  let node = 0;
  let f = t.feature[0] as number;
  while (f >= 0) {
    node =
      (row[offset + f] as number) < (t.threshold[node] as number)
        ? (t.left[node] as number)
        : (t.right[node] as number);
    f = t.feature[node] as number;
  }
  return t.value[node] as number;
}

/** Whether every node's children and features are in range and every path ends (the Worker checks before serving). */
export function isWellFormed(model: TreeEnsemble): boolean {
  const width = model.features.length;
  return model.trees.every((t) => {
    const n = t.feature.length;
    if (![t.threshold, t.left, t.right, t.value].every((a) => a.length === n) || n === 0) return false;
    // children point forward only, so every walk ends
    return t.feature.every((f, i) =>
      f < 0
        ? true
        : f < width &&
          (t.left[i] as number) > i &&
          (t.right[i] as number) > i &&
          (t.left[i] as number) < n &&
          (t.right[i] as number) < n,
    );
  });
}

/**
 * An ensemble laid out for scoring many rows: every tree's nodes in flat typed arrays (children as absolute
 * positions). `scoreRows` adds the trees in their order to each row's base, so it returns exactly
 * `treeEnsembleScore` of each row; it walks tree by tree (one tree's nodes stay in cache across the rows).
 */
export interface CompiledEnsemble {
  base: number;
  roots: Int32Array;
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
}

export function compileEnsemble(model: TreeEnsemble): CompiledEnsemble {
  const total = model.trees.reduce((a, t) => a + t.feature.length, 0);
  const c: CompiledEnsemble = {
    base: model.base,
    roots: new Int32Array(model.trees.length),
    feature: new Int32Array(total),
    threshold: new Float64Array(total),
    left: new Int32Array(total),
    right: new Int32Array(total),
    value: new Float64Array(total),
  };
  let at = 0;
  model.trees.forEach((t, i) => {
    c.roots[i] = at;
    for (let k = 0; k < t.feature.length; k++) {
      c.feature[at + k] = t.feature[k] as number;
      c.threshold[at + k] = t.threshold[k] as number;
      c.left[at + k] = at + (t.left[k] as number);
      c.right[at + k] = at + (t.right[k] as number);
      c.value[at + k] = t.value[k] as number;
    }
    at += t.feature.length;
  });
  return c;
}

/** Scores of `count` rows of `width` features each (row-major `rows`). */
export function scoreRows(c: CompiledEnsemble, rows: ArrayLike<number>, width: number, count: number): Float64Array {
  const out = new Float64Array(count).fill(c.base);
  const { feature, threshold, left, right, value } = c;
  for (let t = 0; t < c.roots.length; t++) {
    const root = c.roots[t] as number;
    for (let r = 0; r < count; r++) {
      const at = r * width;
      let node = root;
      let f = feature[node] as number;
      while (f >= 0) {
        node =
          (rows[at + f] as number) < (threshold[node] as number) ? (left[node] as number) : (right[node] as number);
        f = feature[node] as number;
      }
      out[r] = (out[r] as number) + (value[node] as number);
    }
  }
  return out;
}
