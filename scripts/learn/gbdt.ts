/**
 * Gradient-boosted regression trees (Friedman 2001) grown level by level on histograms of quantile-binned
 * features (as LightGBM and XGBoost's `hist` do), with Newton leaf values and L2 on them. Two objectives:
 * `logloss` (binary labels) and `lambdarank` (LambdaMART, Burges 2010: pairwise gradients weighted by the
 * change in NDCG, per query group). Exports core/tree-ensemble.ts's exact form: a split sends a row left when
 * `x < threshold`, thresholds are bin edges, so the edge scores what the trainer scored.
 */
import type { Tree, TreeEnsemble } from "../../core/tree-ensemble";
import { layoutRefusal, MAX_TREE_DEPTH, treeEnsembleScore } from "../../core/tree-ensemble";
import { Rng } from "../lib/rng";

export interface GbdtOptions {
  objective: "logloss" | "lambdarank";
  trees: number;
  /** levels below the root (a tree has at most 2^depth leaves) */
  depth: number;
  learningRate: number;
  /** a child needs at least this much hessian (the "min child weight") */
  minHessian: number;
  /** L2 penalty on leaf values */
  l2: number;
  /** histogram bins per feature (at most 256) */
  bins: number;
  /** share of rows (logloss) or query groups (lambdarank) each tree sees */
  subsample: number;
  seed: number;
}

export const DEFAULT_GBDT_OPTIONS: GbdtOptions = {
  objective: "lambdarank",
  trees: 150,
  depth: 5,
  learningRate: 0.08,
  minHessian: 1,
  l2: 1,
  bins: 64,
  subsample: 0.8,
  seed: 7,
};

export interface GbdtData {
  /** rows x features, row-major */
  x: Float64Array;
  features: readonly string[];
  /** 1 relevant, 0 not */
  y: Uint8Array;
  /** query groups as [start, end) row ranges, consecutive: group g is rows groups[g] .. groups[g + 1] */
  groups: Int32Array;
}

/**
 * Fits an ensemble; `onTree` sees the model after each tree, with the scores the fit holds for the data's rows
 * (the model's score of each, read-only), and stops the fit by returning false.
 */
export function fitGbdt(
  data: GbdtData,
  options: Partial<GbdtOptions> = {},
  onTree?: (model: TreeEnsemble, trees: number, scores: Readonly<Float64Array>) => boolean | undefined,
): TreeEnsemble {
  const o = { ...DEFAULT_GBDT_OPTIONS, ...options };
  const f = data.features.length;
  const n = data.y.length;
  if (data.x.length !== n * f) throw new Error("x must be rows x features");
  // codes are bytes
  if (o.bins < 2 || o.bins > 256) throw new Error("bins must be 2..256");
  // what the Worker serves (core/tree-ensemble.ts lays trees out to their depth)
  if (!Number.isInteger(o.depth) || o.depth < 1 || o.depth > MAX_TREE_DEPTH)
    throw new Error(`depth must be 1..${MAX_TREE_DEPTH}`);
  if (!Number.isInteger(o.trees) || o.trees < 1) throw new Error("trees must be a whole number, at least 1");
  // refused before any fitting: as many trees as asked, this deep, the Worker could not lay out
  const refused = layoutRefusal(o.trees, o.depth);
  if (refused) throw new Error(refused);
  // a non-finite value would be binned where the exported `x < threshold` does not send it
  if (!data.x.every(Number.isFinite)) throw new Error("x holds a non-finite value");
  const { codes, edges } = binFeatures(data.x, n, f, o.bins);
  const base = o.objective === "logloss" ? logit(mean(data.y)) : 0;
  const model: TreeEnsemble = { features: [...data.features], base, trees: [] };
  const score = new Float64Array(n).fill(base);
  const grad = new Float64Array(n);
  const hess = new Float64Array(n);
  const rng = new Rng(o.seed);
  const groupCount = data.groups.length - 1;
  // per row: the leaf it reached in the tree it last grew in (`grown`: that tree's number, 1-based)
  const leafOf = new Int32Array(n);
  const grown = new Int32Array(n);
  const scratch: Scratch = { a: new Int32Array(n), b: new Int32Array(n), right: new Int32Array(n), leafOf };
  for (let t = 0; t < o.trees; t++) {
    let rows: Int32Array;
    if (o.objective === "logloss") {
      loglossGradients(data.y, score, grad, hess);
      rows = sampleRows(n, o.subsample, rng);
    } else {
      const chosen: number[] = [];
      for (let g = 0; g < groupCount; g++) if (rng.next() < o.subsample) chosen.push(g);
      rows = lambdaGradients(data, chosen, score, grad, hess);
    }
    const { tree, bins } = growTree(rows, codes, edges, f, grad, hess, o, scratch);
    model.trees.push(tree);
    // the rows the tree grew on already know their leaf; the others walk it on their codes (a row's code is at
    // most a split's bin exactly when its value is below the threshold, so they reach the leaf `x` would reach,
    // reading a byte a feature instead of eight)
    const value = tree.value;
    for (const i of rows) grown[i] = t + 1;
    for (let i = 0; i < n; i++)
      score[i] =
        (score[i] as number) +
        (value[(grown[i] === t + 1 ? leafOf[i] : leafByCodes(tree, bins, codes, i * f)) as number] as number);
    if (onTree?.(model, t + 1, score) === false) break;
  }
  return model;
}

/** Scores of rows (row-major x) under a model. */
export function predictRows(model: TreeEnsemble, x: Float64Array, features: number): Float64Array {
  const n = x.length / features;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = treeEnsembleScore(model, x, i * features);
  return out;
}

const mean = (y: Uint8Array) => y.reduce((a, b) => a + b, 0) / Math.max(1, y.length);
const logit = (p: number) =>
  Math.log(Math.min(1 - 1e-6, Math.max(1e-6, p)) / (1 - Math.min(1 - 1e-6, Math.max(1e-6, p))));

function loglossGradients(y: Uint8Array, score: Float64Array, grad: Float64Array, hess: Float64Array): void {
  for (let i = 0; i < y.length; i++) {
    const p = 1 / (1 + Math.exp(-(score[i] as number)));
    grad[i] = p - (y[i] as number);
    hess[i] = Math.max(p * (1 - p), 1e-6);
  }
}

/**
 * LambdaMART gradients of the chosen groups (groups without a relevant row, or with only relevant rows, give
 * none and are left out): for each (relevant i, irrelevant j) pair, rho = 1 / (1 + e^(s_i - s_j)) times
 * |delta NDCG| of swapping them in the current ranking. Returns the rows that carry gradients.
 */
function lambdaGradients(
  data: GbdtData,
  chosen: readonly number[],
  score: Float64Array,
  grad: Float64Array,
  hess: Float64Array,
): Int32Array {
  const rows: number[] = [];
  for (const g of chosen) {
    const start = data.groups[g] as number;
    const end = data.groups[g + 1] as number;
    let relevant = 0;
    for (let i = start; i < end; i++) relevant += data.y[i] as number;
    if (relevant === 0 || relevant === end - start) continue;
    const order = Array.from({ length: end - start }, (_, k) => start + k).sort(
      (a, b) => (score[b] as number) - (score[a] as number) || a - b,
    );
    const discount = new Float64Array(end - start);
    order.forEach((row, rank) => {
      discount[row - start] = 1 / Math.log2(rank + 2);
    });
    let ideal = 0;
    for (let r = 0; r < relevant; r++) ideal += 1 / Math.log2(r + 2);
    for (let i = start; i < end; i++) {
      grad[i] = 0;
      hess[i] = 0;
      rows.push(i);
    }
    for (let i = start; i < end; i++) {
      if (data.y[i] !== 1) continue;
      for (let j = start; j < end; j++) {
        if (data.y[j] !== 0) continue;
        const delta = Math.abs((discount[i - start] as number) - (discount[j - start] as number)) / ideal;
        const rho = 1 / (1 + Math.exp((score[i] as number) - (score[j] as number)));
        const l = rho * delta;
        const h = Math.max(rho * (1 - rho) * delta, 1e-9);
        grad[i] = (grad[i] as number) - l;
        grad[j] = (grad[j] as number) + l;
        hess[i] = (hess[i] as number) + h;
        hess[j] = (hess[j] as number) + h;
      }
    }
  }
  return Int32Array.from(rows);
}

function sampleRows(n: number, share: number, rng: Rng): Int32Array {
  if (share >= 1) return Int32Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (rng.next() < share) out.push(i);
  return Int32Array.from(out);
}

/**
 * Bins per feature: a feature with at most `bins` distinct values gets an edge at each (so a rare value can be
 * split on); otherwise up to `bins - 1` quantile edges of a sample (when the most common value holds most rows:
 * `bins - 3` quantile edges and two around that value), the quantiles taken among the values other
 * than the most common one when that one holds most rows (a mostly-zero feature keeps its tail's resolution).
 * A value's code is the number of edges at or below it, so code <= b exactly when value < edges[b].
 */
function binFeatures(x: Float64Array, n: number, f: number, bins: number) {
  const edges: Float64Array[] = [];
  const codes = new Uint8Array(n * f);
  const step = Math.max(1, Math.floor(n / 20000));
  for (let c = 0; c < f; c++) {
    const sample: number[] = [];
    for (let i = 0; i < n; i += step) sample.push(x[i * f + c] as number);
    sample.sort((a, b) => a - b);
    const distinct = [...new Set(sample)];
    let e: number[];
    if (distinct.length <= bins) e = distinct.slice(1);
    else {
      const mode = mostCommon(sample);
      const rest = mode.count > sample.length / 2 ? sample.filter((v) => v !== mode.value) : sample;
      e = [];
      // without the mode: bins - 3 quantiles of the rest and two edges around the mode (at most bins - 1 in all)
      const q = rest === sample ? bins - 1 : bins - 2;
      for (let b = 1; b < q; b++) e.push(rest[Math.floor((b * rest.length) / q)] as number);
      if (rest !== sample) e.push(mode.value, nextAbove(sample, mode.value));
      e = [...new Set(e.filter((v) => v > (sample[0] as number) && Number.isFinite(v)))].sort((a, b) => a - b);
    }
    // a code must fit the feature's histogram (bins slots) and a byte
    if (e.length > bins - 1) throw new Error(`feature ${c}: ${e.length} edges for ${bins} bins`);
    edges.push(Float64Array.from(e));
    for (let i = 0; i < n; i++) codes[i * f + c] = codeOf(e, x[i * f + c] as number);
  }
  return { codes, edges };
}

function mostCommon(sorted: readonly number[]): { value: number; count: number } {
  let best = { value: sorted[0] as number, count: 0 };
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j < sorted.length && sorted[j] === sorted[i]) j++;
    if (j - i > best.count) best = { value: sorted[i] as number, count: j - i };
    i = j;
  }
  return best;
}

/** The smallest sample value above `v` (or Infinity). */
function nextAbove(sorted: readonly number[], v: number): number {
  for (const x of sorted) if (x > v) return x;
  return Number.POSITIVE_INFINITY;
}

function codeOf(edges: ArrayLike<number>, v: number): number {
  let lo = 0;
  let hi = edges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (v >= (edges[mid] as number)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface Node {
  /** its rows are `rows[start .. end)` of the level's buffer */
  start: number;
  end: number;
  /** index in the tree's arrays */
  at: number;
  g: number;
  h: number;
  /** per feature, per bin: gradient and hessian sums (f * bins * 2) */
  hist: Float64Array;
}

/** Buffers a fit reuses for every tree: two levels of row lists, a partition's right side, each row's leaf. */
interface Scratch {
  a: Int32Array;
  b: Int32Array;
  right: Int32Array;
  leafOf: Int32Array;
}

/**
 * One tree, level by level. A level's nodes hold consecutive runs of one buffer; a split writes its children's
 * runs to the other buffer, each in the parent's row order (so every sum is taken in the same order as a list
 * per node would take it). Every row of `rows` ends with its leaf in `scratch.leafOf`.
 */
function growTree(
  rows: Int32Array,
  codes: Uint8Array,
  edges: Float64Array[],
  f: number,
  grad: Float64Array,
  hess: Float64Array,
  o: GbdtOptions,
  scratch: Scratch,
): { tree: Tree; bins: number[] } {
  const tree: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
  // per node, the bin its split sends left at and below (the code form of its threshold)
  const splitBins: number[] = [];
  const add = () => {
    splitBins.push(0);
    tree.feature.push(-1);
    tree.threshold.push(0);
    tree.left.push(0);
    tree.right.push(0);
    tree.value.push(0);
    return tree.feature.length - 1;
  };
  const leafValue = (g: number, h: number) => (-g / (h + o.l2)) * o.learningRate;
  const bins = o.bins;
  let cur = scratch.a;
  let nxt = scratch.b;
  cur.set(rows);
  const leaf = (node: Node, buf: Int32Array) => {
    tree.value[node.at] = leafValue(node.g, node.h);
    for (let k = node.start; k < node.end; k++) scratch.leafOf[buf[k] as number] = node.at;
  };
  let level: Node[] = [withHistogram(cur, 0, rows.length, add(), codes, f, bins, grad, hess)];
  for (let d = 0; d < o.depth && level.length > 0; d++) {
    const next: Node[] = [];
    let out = 0;
    for (const node of level) {
      const split = bestSplit(node, f, bins, edges, o);
      if (!split) {
        leaf(node, cur);
        continue;
      }
      // stable partition into nxt[out ..]: the left rows, then the right ones
      const start = out;
      let nr = 0;
      for (let k = node.start; k < node.end; k++) {
        const i = cur[k] as number;
        if ((codes[i * f + split.feature] as number) <= split.bin) nxt[out++] = i;
        else scratch.right[nr++] = i;
      }
      const mid = out;
      nxt.set(scratch.right.subarray(0, nr), mid);
      out += nr;
      const l = add();
      const r = add();
      tree.feature[node.at] = split.feature;
      tree.threshold[node.at] = edges[split.feature]?.[split.bin] as number;
      splitBins[node.at] = split.bin;
      tree.left[node.at] = l;
      tree.right[node.at] = r;
      // histogram of the smaller child; the larger one's is the parent's minus it. Children of the last level are
      // leaves: they need their sums, not histograms (the same sums, taken in the same order)
      const leaves = d === o.depth - 1;
      const leftSmaller = mid - start <= out - mid;
      const small = leftSmaller
        ? withHistogram(nxt, start, mid, l, codes, f, leaves ? 0 : bins, grad, hess)
        : withHistogram(nxt, mid, out, r, codes, f, leaves ? 0 : bins, grad, hess);
      const bigHist = new Float64Array(small.hist.length);
      for (let k = 0; k < bigHist.length; k++) bigHist[k] = (node.hist[k] as number) - (small.hist[k] as number);
      const big: Node = {
        start: leftSmaller ? mid : start,
        end: leftSmaller ? out : mid,
        at: leftSmaller ? r : l,
        g: node.g - small.g,
        h: node.h - small.h,
        hist: bigHist,
      };
      next.push(small, big);
    }
    level = next;
    [cur, nxt] = [nxt, cur];
  }
  for (const node of level) leaf(node, cur);
  return { tree, bins: splitBins };
}

/** The leaf a row reaches, walked on its codes (`base`: its first code) with each split's bin. */
function leafByCodes(tree: Tree, bins: readonly number[], codes: Uint8Array, base: number): number {
  let node = 0;
  let f = tree.feature[0] as number;
  while (f >= 0) {
    node =
      (codes[base + f] as number) <= (bins[node] as number)
        ? (tree.left[node] as number)
        : (tree.right[node] as number);
    f = tree.feature[node] as number;
  }
  return node;
}

/** A node over rows[start .. end): its gradient and hessian sums and, with `bins` > 0, their histogram. */
function withHistogram(
  rows: Int32Array,
  start: number,
  end: number,
  at: number,
  codes: Uint8Array,
  f: number,
  bins: number,
  grad: Float64Array,
  hess: Float64Array,
): Node {
  const hist = new Float64Array(f * bins * 2);
  let g = 0;
  let h = 0;
  if (bins === 0) {
    for (let k = start; k < end; k++) {
      const i = rows[k] as number;
      g += grad[i] as number;
      h += hess[i] as number;
    }
    return { start, end, at, g, h, hist };
  }
  for (let k = start; k < end; k++) {
    const i = rows[k] as number;
    const gi = grad[i] as number;
    const hi = hess[i] as number;
    g += gi;
    h += hi;
    const base = i * f;
    for (let c = 0; c < f; c++) {
      const k = (c * bins + (codes[base + c] as number)) * 2;
      hist[k] = (hist[k] as number) + gi;
      hist[k + 1] = (hist[k + 1] as number) + hi;
    }
  }
  return { start, end, at, g, h, hist };
}

function bestSplit(node: Node, f: number, bins: number, edges: Float64Array[], o: GbdtOptions) {
  const gain = (g: number, h: number) => (g * g) / (h + o.l2);
  const parent = gain(node.g, node.h);
  let best: { feature: number; bin: number; gain: number } | null = null;
  for (let c = 0; c < f; c++) {
    const usable = (edges[c] as Float64Array).length;
    let gl = 0;
    let hl = 0;
    for (let b = 0; b < usable; b++) {
      const k = (c * bins + b) * 2;
      gl += node.hist[k] as number;
      hl += node.hist[k + 1] as number;
      const hr = node.h - hl;
      if (hl < o.minHessian || hr < o.minHessian) continue;
      const g = gain(gl, hl) + gain(node.g - gl, hr) - parent;
      if (g > 1e-12 && (!best || g > best.gain)) best = { feature: c, bin: b, gain: g };
    }
  }
  return best;
}
