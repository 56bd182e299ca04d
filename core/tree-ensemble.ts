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
  /**
   * linear terms added after the trees (`weight * row[feature]`): the served blend of the trees with the hybrid
   * logit (scripts/train/ranker.ts). None: the trees alone.
   */
  linear: z.array(z.object({ feature: z.number().int().nonnegative(), weight: z.number() })).optional(),
});
export type TreeEnsemble = z.infer<typeof TreeEnsembleSchema>;

/** The ensemble's score of one row (`row[offset + f]` is feature f). */
export function treeEnsembleScore(model: TreeEnsemble, row: ArrayLike<number>, offset = 0): number {
  let s = model.base;
  for (const t of model.trees) s += treeScore(t, row, offset);
  for (const l of model.linear ?? []) s += l.weight * (row[offset + l.feature] as number);
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

/**
 * Whether every node's children and features are in range, every path ends, none is deeper than MAX_TREE_DEPTH
 * and the layout compileEnsemble makes stays within MAX_LAYOUT_LEAVES (the Worker checks before serving).
 */
export function isWellFormed(model: TreeEnsemble): boolean {
  const width = model.features.length;
  let deepest = 0;
  for (const t of model.trees) {
    const n = t.feature.length;
    if (![t.threshold, t.left, t.right, t.value].every((a) => a.length === n) || n === 0) return false;
    // children point forward only, so every walk ends
    const inRange = t.feature.every((f, i) =>
      f < 0
        ? true
        : f < width &&
          (t.left[i] as number) > i &&
          (t.right[i] as number) > i &&
          (t.left[i] as number) < n &&
          (t.right[i] as number) < n,
    );
    if (!inRange) return false;
    const depth = treeDepth(t);
    if (depth > MAX_TREE_DEPTH) return false;
    deepest = Math.max(deepest, depth);
  }
  if (!(model.linear ?? []).every((l) => l.feature < width && Number.isFinite(l.weight))) return false;
  return layoutRefusal(model.trees.length, deepest) === null;
}

/**
 * The most leaves compileEnsemble lays out (trees x 2^depth of the deepest): 2^18, about 5 MB of arrays. The
 * trainer's 400 trees of depth 4 take 6,400; a few deep trees among many shallow ones cannot blow it up.
 */
export const MAX_LAYOUT_LEAVES = 2 ** 18;

/** The deepest tree's depth: every tree is laid out to it. */
function ensembleDepth(model: TreeEnsemble): number {
  return model.trees.reduce((d, t) => Math.max(d, treeDepth(t)), 0);
}

/** Why `trees` trees of depth `depth` cannot be laid out (over MAX_LAYOUT_LEAVES), or null when they can. */
export function layoutRefusal(trees: number, depth: number): string | null {
  return trees * 2 ** depth > MAX_LAYOUT_LEAVES
    ? `${trees} trees of depth ${depth} lay out over ${MAX_LAYOUT_LEAVES} leaves`
    : null;
}

/** The deepest tree a ranker may hold: the trainer grows depth 4 by default; the Worker refuses deeper (isWellFormed). */
export const MAX_TREE_DEPTH = 10;

/** Edges on a tree's longest path from the root (0: a lone leaf); children point forward, so one backward pass. */
export function treeDepth(t: Tree): number {
  const depth = new Array<number>(t.feature.length).fill(0);
  for (let i = t.feature.length - 1; i >= 0; i--) {
    if ((t.feature[i] as number) >= 0)
      depth[i] = 1 + Math.max(depth[t.left[i] as number] as number, depth[t.right[i] as number] as number);
  }
  return depth[0] ?? 0;
}

/**
 * An ensemble laid out for scoring many rows: every tree padded to the same depth D in heap order (node p's
 * children at 2p+1 and 2p+2; 2^D - 1 inner nodes and 2^D leaves per tree; a leaf above depth D copies its value to
 * every leaf below it, so what the padding routes by does not matter). A walk is then D steps of arithmetic with
 * no branch to mispredict, and four rows walk each tree together. `scoreRows` adds the trees in their order to
 * each row's base, so it returns exactly `treeEnsembleScore` of each row (a NaN goes right in both).
 */
export interface CompiledEnsemble {
  base: number;
  trees: number;
  depth: number;
  /** trees x (2^depth - 1) */
  feature: Int32Array;
  threshold: Float64Array;
  /** trees x 2^depth */
  leaf: Float64Array;
  /** linear terms added after the trees */
  linear: readonly { feature: number; weight: number }[];
}

export function compileEnsemble(model: TreeEnsemble): CompiledEnsemble {
  const depth = ensembleDepth(model);
  // (a NaN depth: children out of range, never checked)
  if (!(depth <= MAX_TREE_DEPTH)) throw new Error(`trees ${depth} deep, over ${MAX_TREE_DEPTH}`);
  const refused = layoutRefusal(model.trees.length, depth);
  if (refused) throw new Error(refused);
  const inner = 2 ** depth - 1;
  const leaves = 2 ** depth;
  const trees = model.trees.length;
  const c: CompiledEnsemble = {
    base: model.base,
    trees,
    depth,
    feature: new Int32Array(trees * inner),
    threshold: new Float64Array(trees * inner),
    leaf: new Float64Array(trees * leaves),
    linear: model.linear ?? [],
  };
  model.trees.forEach((t, i) => {
    const place = (node: number, pos: number, level: number): void => {
      const f = t.feature[node] as number;
      if (f < 0) {
        const span = 2 ** (depth - level);
        const first = (pos + 1) * span - 1 - inner;
        c.leaf.fill(t.value[node] as number, i * leaves + first, i * leaves + first + span);
        return;
      }
      c.feature[i * inner + pos] = f;
      c.threshold[i * inner + pos] = t.threshold[node] as number;
      place(t.left[node] as number, 2 * pos + 1, level + 1);
      place(t.right[node] as number, 2 * pos + 2, level + 1);
    };
    place(0, 0, 0);
  });
  return c;
}

/** Scores of `count` rows of `width` features each (row-major `rows`). */
export function scoreRows(c: CompiledEnsemble, rows: ArrayLike<number>, width: number, count: number): Float64Array {
  const out = new Float64Array(count).fill(c.base);
  const { feature: fe, threshold: th, leaf, depth } = c;
  const inner = 2 ** depth - 1;
  for (let t = 0; t < c.trees; t++) {
    const b = t * inner;
    const lb = t * (inner + 1) - inner;
    let r = 0;
    // four independent walks at once: the CPU overlaps their loads
    for (; r + 3 < count; r += 4) {
      const a0 = r * width;
      const a1 = a0 + width;
      const a2 = a1 + width;
      const a3 = a2 + width;
      let n0 = 0;
      let n1 = 0;
      let n2 = 0;
      let n3 = 0;
      for (let d = 0; d < depth; d++) {
        n0 = 2 * n0 + 2 - Number((rows[a0 + (fe[b + n0] as number)] as number) < (th[b + n0] as number));
        n1 = 2 * n1 + 2 - Number((rows[a1 + (fe[b + n1] as number)] as number) < (th[b + n1] as number));
        n2 = 2 * n2 + 2 - Number((rows[a2 + (fe[b + n2] as number)] as number) < (th[b + n2] as number));
        n3 = 2 * n3 + 2 - Number((rows[a3 + (fe[b + n3] as number)] as number) < (th[b + n3] as number));
      }
      out[r] = (out[r] as number) + (leaf[lb + n0] as number);
      out[r + 1] = (out[r + 1] as number) + (leaf[lb + n1] as number);
      out[r + 2] = (out[r + 2] as number) + (leaf[lb + n2] as number);
      out[r + 3] = (out[r + 3] as number) + (leaf[lb + n3] as number);
    }
    for (; r < count; r++) {
      const a = r * width;
      let n = 0;
      for (let d = 0; d < depth; d++)
        n = 2 * n + 2 - Number((rows[a + (fe[b + n] as number)] as number) < (th[b + n] as number));
      out[r] = (out[r] as number) + (leaf[lb + n] as number);
    }
  }
  for (const { feature, weight } of c.linear)
    for (let r = 0; r < count; r++) out[r] = (out[r] as number) + weight * (rows[r * width + feature] as number);
  return out;
}
