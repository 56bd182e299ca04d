/**
 * The learned ranker's parts: gradient-boosted trees (fit, exact export, both objectives), the ensemble's
 * shape check, and core/ranker.ts's candidates and feature rows.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  HYBRID_FEATURES_BEFORE_NEIGHBOURS,
  type HybridWeights,
  hybridFeatureRow,
  hybridScores,
  itemPriors,
} from "../../core/hybrid";
import { topK } from "../../core/int8-kernel";
import { decodeNeighbours, encodeNeighbours, ownNeighbourSums } from "../../core/neighbour-table";
import { CANDIDATES, RANKER_FEATURES, type RankerFeature, rankCandidates, rankerCandidates } from "../../core/ranker";
import {
  compileEnsemble,
  isWellFormed,
  MAX_LAYOUT_LEAVES,
  MAX_TREE_DEPTH,
  scoreRows,
  type Tree,
  type TreeEnsemble,
  treeEnsembleScore,
} from "../../core/tree-ensemble";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { temporalSplit, trainData } from "../../scripts/data/temporal-split";
import { rocAuc as aucOf } from "../../scripts/engagement/classification-metrics";
import { fitGbdt, type GbdtData, predictRows } from "../../scripts/learn/gbdt";
import { fitLogistic } from "../../scripts/learn/logistic";
import { Rng } from "../../scripts/lib/rng";
import { ImplicitAls } from "../../scripts/train/als";
import { ContentLsa } from "../../scripts/train/content";
import { HybridRecommender, itemStats } from "../../scripts/train/hybrid";
import {
  addCurves,
  atForward,
  BLENDS,
  CandidateRanker,
  chooseRanker,
  chooseServed,
  type EarlierWindow,
  earlierWindow,
  isHeldOut,
  meanEnsemble,
  pickBlend,
  pickTrees,
  RANKER_GBDT,
} from "../../scripts/train/ranker";
import { chainTree } from "../shared/chain-tree";
import { syntheticRetail, writeRetailCsv } from "./support/retail-csv";

/** y = 1 when exactly one of x0 > 0.5, x1 > 0.5 (XOR: no linear model separates it), x2 is noise. */
function xorData(n: number, seed: number): GbdtData {
  const rng = new Rng(seed);
  const x = new Float64Array(n * 3);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = rng.next();
    const b = rng.next();
    x.set([a, b, rng.next()], i * 3);
    y[i] = a > 0.5 !== b > 0.5 ? 1 : 0;
  }
  return { x, y, features: ["a", "b", "noise"], groups: Int32Array.from([0, n]) };
}

/**
 * For a one-tree logloss model: the gradient and hessian sums of the rows each leaf receives when the rows are
 * routed by the exported thresholds (`x < threshold` goes left), from the model's base probability.
 */
function leafSums(model: TreeEnsemble, x: Float64Array, width: number, y: Uint8Array) {
  const tree = model.trees[0] as Tree;
  const p = 1 / (1 + Math.exp(-model.base));
  const sums = new Map<number, { g: number; h: number }>();
  for (let i = 0; i < y.length; i++) {
    let node = 0;
    while ((tree.feature[node] as number) >= 0) {
      const f = tree.feature[node] as number;
      const left = (x[i * width + f] as number) < (tree.threshold[node] as number);
      node = left ? (tree.left[node] as number) : (tree.right[node] as number);
    }
    const s = sums.get(node) ?? { g: 0, h: 0 };
    s.g += p - (y[i] as number);
    s.h += p * (1 - p);
    sums.set(node, s);
  }
  return sums;
}

describe("gradient-boosted trees", () => {
  it("learn an interaction a logistic model cannot, and score it the same after a JSON round trip", () => {
    const train = xorData(4000, 1);
    const test = xorData(2000, 2);
    const model = fitGbdt(train, { objective: "logloss", trees: 40, depth: 3 });
    expect(isWellFormed(model)).toBe(true);
    const treeAuc = aucOf(predictRows(model, test.x, 3), test.y);
    const lin = fitLogistic(train.x, train.y, 3);
    const linScores = Array.from({ length: 2000 }, (_, i) =>
      lin.weights.reduce((s, w, f) => s + w * (test.x[i * 3 + f] as number), lin.intercept),
    );
    expect(treeAuc).toBeGreaterThan(0.97);
    expect(aucOf(Float64Array.from(linScores), test.y)).toBeLessThan(0.6);
    // the exported form (what the Worker reads) scores exactly what the trainer scored
    const copy = JSON.parse(JSON.stringify(model));
    for (let i = 0; i < 50; i++)
      expect(treeEnsembleScore(copy, test.x, i * 3)).toBe(treeEnsembleScore(model, test.x, i * 3));
    // laid out for the edge (flat arrays, tree by tree over the rows): the same sums, bit for bit
    const flat = scoreRows(compileEnsemble(copy), test.x, 3, 2000);
    for (let i = 0; i < 2000; i++) expect(flat[i]).toBe(treeEnsembleScore(model, test.x, i * 3));
  });

  it("holds for every row, tree after tree, the score the exported trees give it, rows left out of a tree's sample too", () => {
    const data = xorData(3000, 4);
    let checked = 0;
    fitGbdt(data, { objective: "logloss", trees: 12, depth: 4, subsample: 0.5 }, (model, _, scores) => {
      for (let i = 0; i < 3000; i++) expect(scores[i]).toBe(treeEnsembleScore(model, data.x, i * 3));
      checked++;
      return undefined;
    });
    expect(checked).toBe(12);
  });

  it("each exported leaf holds the Newton step of exactly the rows its thresholds send there", () => {
    const data = xorData(3000, 3);
    const o = { objective: "logloss" as const, trees: 1, depth: 4, learningRate: 0.3, l2: 2, subsample: 1 };
    const model = fitGbdt(data, o);
    const sums = leafSums(model, data.x, 3, data.y);
    expect(sums.size).toBeGreaterThan(4);
    const tree = model.trees[0] as Tree;
    for (const [leaf, { g, h }] of sums) expect(tree.value[leaf]).toBeCloseTo((-g / (h + o.l2)) * o.learningRate, 9);
  });

  it("keeps codes and thresholds in step when a value that is not the smallest holds most rows (64 and 256 bins)", () => {
    const rng = new Rng(11);
    const n = 4000;
    const x = new Float64Array(n * 2);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      // 60% exactly 0.5, the rest spread below and above it
      x[i * 2] = rng.next() < 0.6 ? 0.5 : rng.next();
      x[i * 2 + 1] = rng.next();
      y[i] = rng.next() < (x[i * 2] as number) ? 1 : 0;
    }
    for (const bins of [64, 256]) {
      const o = { objective: "logloss" as const, trees: 1, depth: 3, learningRate: 1, l2: 1, subsample: 1, bins };
      const model = fitGbdt({ x, y, features: ["mode", "noise"], groups: Int32Array.from([0, n]) }, o);
      const tree = model.trees[0] as Tree;
      for (const [leaf, { g, h }] of leafSums(model, x, 2, y)) expect(tree.value[leaf]).toBeCloseTo(-g / (h + o.l2), 9);
    }
  });

  it("splits on a rare value that decides the label (1 row in 100)", () => {
    const rng = new Rng(9);
    const n = 5000;
    const x = new Float64Array(n * 2);
    const y = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const rare = i % 100 === 0 ? 1 : 0;
      x[i * 2] = rare;
      x[i * 2 + 1] = rng.next();
      y[i] = rare;
    }
    const model = fitGbdt(
      { x, y, features: ["rare", "noise"], groups: Int32Array.from([0, n]) },
      // the rare side holds 50 rows of hessian ~0.01 each
      { objective: "logloss", trees: 5, depth: 2, minHessian: 0.1 },
    );
    expect(model.trees[0]?.feature[0]).toBe(0);
    const scores = predictRows(model, x, 2);
    expect(aucOf(scores, y)).toBe(1);
  });

  it("refuses values the exported trees could not route as they were trained (NaN, infinities)", () => {
    const data = xorData(100, 4);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      data.x[5] = bad;
      expect(() => fitGbdt(data, { trees: 1 })).toThrow(/non-finite/);
    }
  });

  it("lambdarank learns from each group's order, where a pointwise fit learns from the rows alone", () => {
    const rng = new Rng(11);
    const groups = [0];
    const xs: number[] = [];
    const ys: number[] = [];
    const mixed: number[] = [];
    const group = (bs: number[], relevant: (b: number) => boolean) => {
      for (const b of bs) {
        xs.push(b, rng.next());
        ys.push(relevant(b) ? 1 : 0);
      }
      groups.push(ys.length);
    };
    // 300 groups of 20 rows whose one relevant row is the one with the lowest b; and 1,200 groups that are all
    // relevant (b high) or all not (b low): they order nothing, so lambdarank draws no gradient from them, but
    // row by row they say "high b is relevant", which is what a pointwise fit learns
    for (let g = 0; g < 300; g++) {
      const bs = Array.from({ length: 20 }, () => rng.next());
      const lowest = Math.min(...bs);
      mixed.push(groups.length - 1);
      group(bs, (b) => b === lowest);
    }
    for (let g = 0; g < 600; g++)
      group(
        Array.from({ length: 20 }, () => 0.5 + rng.next() / 2),
        () => true,
      );
    for (let g = 0; g < 600; g++)
      group(
        Array.from({ length: 20 }, () => rng.next() / 2),
        () => false,
      );
    const data: GbdtData = {
      x: Float64Array.from(xs),
      y: Uint8Array.from(ys),
      features: ["b", "noise"],
      groups: Int32Array.from(groups),
    };
    /** share of the mixed groups whose best-scored row is their relevant one */
    const firstRelevant = (objective: "lambdarank" | "logloss") => {
      const scores = predictRows(fitGbdt(data, { objective, trees: 60, depth: 3 }), data.x, 2);
      let hits = 0;
      for (const g of mixed) {
        const rows = Array.from({ length: 20 }, (_, r) => (groups[g] as number) + r);
        const top = rows.reduce((a, b) => ((scores[b] as number) > (scores[a] as number) ? b : a));
        if (ys[top] === 1) hits++;
      }
      return hits / mixed.length;
    };
    expect(firstRelevant("lambdarank")).toBeGreaterThan(0.9);
    expect(firstRelevant("logloss")).toBeLessThan(0.1);
  });

  it("laid out for the edge, scores any well-formed trees exactly as the walk does (ragged shapes, ties, NaN)", () => {
    // a tree of random shape grown to at most `depth`, its nodes in preorder (children after their parent)
    const tree = (rng: Rng, depth: number, width: number): Tree => {
      const t: Tree = { feature: [], threshold: [], left: [], right: [], value: [] };
      const grow = (level: number): number => {
        const at = t.feature.length;
        const leaf = level === depth || rng.next() < 0.3;
        t.feature.push(leaf ? -1 : rng.int(width));
        t.threshold.push(leaf ? 0 : ([0, 0.5, 1][rng.int(3)] as number));
        t.left.push(0);
        t.right.push(0);
        t.value.push(leaf ? rng.next() - 0.5 : 0);
        if (!leaf) {
          t.left[at] = grow(level + 1);
          // now and then both children are one subtree (a DAG: the export format allows it)
          t.right[at] = rng.next() < 0.15 ? (t.left[at] as number) : grow(level + 1);
        }
        return at;
      };
      grow(0);
      // and nodes no walk reaches, after the tree
      t.feature.push(0, -1);
      t.threshold.push(0.5, 0);
      t.left.push(t.feature.length - 1, 0);
      t.right.push(t.feature.length - 1, 0);
      t.value.push(0, 99);
      return t;
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1e9 }),
        fc.integer({ min: 0, max: MAX_TREE_DEPTH }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 13 }),
        (seed, depth, trees, count) => {
          const rng = new Rng(seed);
          const width = 3;
          const model: TreeEnsemble = {
            features: ["a", "b", "c"],
            base: rng.next(),
            trees: Array.from({ length: trees }, () => tree(rng, depth, width)),
            // now and then a linear term after the trees (the served blend with the hybrid logit)
            ...(rng.next() < 0.5 ? { linear: [{ feature: rng.int(width), weight: rng.next() - 0.25 }] } : {}),
          };
          expect(isWellFormed(model)).toBe(true);
          // values on the thresholds (ties go right), between them, and NaN (goes right)
          const rows = Float64Array.from({ length: count * width }, () =>
            rng.next() < 0.1 ? Number.NaN : ([0, 0.5, 1, 0.25, 0.75][rng.int(5)] as number),
          );
          const flat = scoreRows(compileEnsemble(model), rows, width, count);
          for (let r = 0; r < count; r++) expect(flat[r]).toBe(treeEnsembleScore(model, rows, r * width));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("refuses trees deeper than the edge lays out, and the trainer never grows them", () => {
    const ok = { features: ["a"], base: 0, trees: [chainTree(MAX_TREE_DEPTH)] };
    const deep = { features: ["a"], base: 0, trees: [chainTree(MAX_TREE_DEPTH + 1)] };
    expect(isWellFormed(ok)).toBe(true);
    expect(scoreRows(compileEnsemble(ok), Float64Array.of(4.5), 1, 1)[0]).toBe(5);
    expect(isWellFormed(deep)).toBe(false);
    expect(() => compileEnsemble(deep)).toThrow(/deep/);
    expect(() => fitGbdt(xorData(100, 1), { depth: MAX_TREE_DEPTH + 1, trees: 1 })).toThrow(/depth/);
    // each tree allowed, but too many of them to lay out: 2^18 leaves hold 256 trees of depth 10, not 257
    const many = (count: number) => ({ features: ["a"], base: 0, trees: Array(count).fill(chainTree(MAX_TREE_DEPTH)) });
    expect(isWellFormed(many(MAX_LAYOUT_LEAVES / 2 ** MAX_TREE_DEPTH))).toBe(true);
    expect(isWellFormed(many(MAX_LAYOUT_LEAVES / 2 ** MAX_TREE_DEPTH + 1))).toBe(false);
    expect(() => compileEnsemble(many(MAX_LAYOUT_LEAVES / 2 ** MAX_TREE_DEPTH + 1))).toThrow(/lay out/);
    // the trainer refuses to grow them from its options, before fitting a tree
    const trees = MAX_LAYOUT_LEAVES / 2 ** MAX_TREE_DEPTH + 1;
    let grown = 0;
    expect(() => fitGbdt(xorData(100, 1), { depth: MAX_TREE_DEPTH, trees }, () => void grown++)).toThrow(/lay out/);
    expect(grown).toBe(0);
    expect(() => fitGbdt(xorData(100, 1), { trees: Number.NaN })).toThrow(/trees/);
  });

  it("adds its linear terms after the trees, and refuses one on a feature a row does not have", () => {
    const tree: Tree = {
      feature: [0, -1, -1],
      threshold: [0.5, 0, 0],
      left: [1, 0, 0],
      right: [2, 0, 0],
      value: [0, -1, 1],
    };
    const model = { features: ["a", "b"], base: 0.5, trees: [tree], linear: [{ feature: 1, weight: 0.25 }] };
    expect(isWellFormed(model)).toBe(true);
    // row (1, 2): 0.5 + 1 + 0.25 * 2; row (0, -4): 0.5 - 1 - 1
    const rows = Float64Array.of(1, 2, 0, -4);
    expect([...scoreRows(compileEnsemble(model), rows, 2, 2)]).toEqual([2, -1.5]);
    expect([treeEnsembleScore(model, rows, 0), treeEnsembleScore(model, rows, 2)]).toEqual([2, -1.5]);
    expect(isWellFormed({ ...model, linear: [{ feature: 2, weight: 1 }] })).toBe(false);
    expect(isWellFormed({ ...model, linear: [{ feature: 0, weight: Number.NaN }] })).toBe(false);
  });

  it("rejects an ensemble whose children point backwards (a walk that would never end)", () => {
    const loop = { feature: [0, -1], threshold: [0.5, 0], left: [0, 0], right: [1, 0], value: [0, 1] };
    expect(isWellFormed({ features: ["a"], base: 0, trees: [loop] })).toBe(false);
    const outOfRange = {
      feature: [3, -1, -1],
      threshold: [0.5, 0, 0],
      left: [1, 0, 0],
      right: [2, 0, 0],
      value: [0, 1, 2],
    };
    expect(isWellFormed({ features: ["a"], base: 0, trees: [outOfRange] })).toBe(false);
  });
});

describe("the neighbour table as stored", () => {
  const table = {
    k: 2,
    rowOf: Int32Array.from([-1, 0, -1, 1, -1]),
    index: Int32Array.from([3, 4, 1, -1]),
    weight: Float32Array.from([0.5, 0.25, 0.75, 0]),
  };

  it("round-trips, holding only the rows it has", () => {
    const bytes = encodeNeighbours(table);
    expect(bytes.byteLength).toBe(4 + 2 * 4 + 2 * 2 * 8);
    const back = decodeNeighbours(bytes, 5, 2);
    expect(Array.from(back.rowOf)).toEqual(Array.from(table.rowOf));
    expect(Array.from(back.index)).toEqual(Array.from(table.index));
    expect(Array.from(back.weight)).toEqual(Array.from(table.weight));
  });

  it("refuses a table of another size, an item out of range, or a repeated row", () => {
    const bytes = encodeNeighbours(table);
    expect(() => decodeNeighbours(bytes.subarray(0, bytes.length - 4), 5, 2)).toThrow(/do not hold/);
    expect(() => decodeNeighbours(bytes, 4, 2)).toThrow(/out of range/);
    const rowItem = bytes.slice();
    new DataView(rowItem.buffer).setInt32(4, 7, true);
    expect(() => decodeNeighbours(rowItem, 5, 2)).toThrow(/row item 7/);
    const repeated = bytes.slice();
    new DataView(repeated.buffer).setInt32(8, 1, true);
    expect(() => decodeNeighbours(repeated, 5, 2)).toThrow(/repeated/);
    expect(() => decodeNeighbours(new Uint8Array(2), 5, 2)).toThrow(/header/);
  });
});

describe("item statistics", () => {
  it("count each item's buyers overall, repeating, and whose last purchase fell in the last 30, 14 and 7 days", () => {
    const now = 1_700_000_000;
    const day = 86400;
    // readers x items: item 0 bought by three readers (6, 10 and 40 days ago; one on two invoices), item 1 by one
    // exactly 7 days ago (inside the week: the window is closed at its start), item 2 by nobody
    const matrix = {
      rows: 3,
      cols: 3,
      indptr: Int32Array.from([0, 2, 3, 4]),
      indices: Int32Array.from([0, 1, 0, 0]),
      data: Float32Array.from([2, 1, 1, 1]),
    };
    const last = Float64Array.from([now - 6 * day, now - 7 * day, now - 10 * day, now - 40 * day]);
    const s = itemStats(matrix, last, now);
    expect(Array.from(s.logBuyers)).toEqual([Math.fround(Math.log1p(3)), Math.fround(Math.log1p(1)), 0]);
    expect(Array.from(s.repeatRate)).toEqual([Math.fround(1 / 3), 0, 0]);
    expect(Array.from(s.logRecentBuyers)).toEqual([Math.fround(Math.log1p(2)), Math.fround(Math.log1p(1)), 0]);
    expect(Array.from(s.fortnightBuyers)).toEqual([2, 1, 0]);
    expect(Array.from(s.weekBuyers)).toEqual([1, 1, 0]);
    // without purchase times nothing is recent
    expect(Array.from(itemStats(matrix, undefined, now).weekBuyers)).toEqual([0, 0, 0]);
  });
});

describe("hybrid logits", () => {
  it("are the linear model's logits, the same to the last bit with the model's priors made once or on every call", () => {
    const rng = new Rng(9);
    const n = 500;
    const stats = {
      logBuyers: Float32Array.from({ length: n }, () => rng.next() * 5),
      repeatRate: Float32Array.from({ length: n }, () => rng.next()),
      logRecentBuyers: Float32Array.from({ length: n }, () => rng.next() * 3),
    };
    const w = { weights: Array.from({ length: 11 }, () => rng.normal()), intercept: rng.normal() };
    const own = [
      { item: 3, invoices: 2, lastTs: 1_700_000_000 - 86400 },
      { item: 7, invoices: 1, lastTs: 1_700_000_000 - 9 * 86400 },
    ];
    // items 3 and 7 have neighbours; 250 is a neighbour of both, 0 of 7 alone, 3 of 7 (an own item's sum counts too)
    const rowOf = new Int32Array(n).fill(-1);
    rowOf[3] = 0;
    rowOf[7] = 1;
    const neighbours = {
      k: 3,
      rowOf,
      index: Int32Array.from([250, 12, -1, 0, 250, 3]),
      weight: Float32Array.from([0.5, 0.25, 0, 0.125, 0.375, 0.0625]),
    };
    const sums: Record<number, number> = { 250: 0.5 + 0.375, 12: 0.25, 0: 0.125, 3: 0.0625 };
    const als = Float32Array.from({ length: n }, () => rng.normal());
    const content = Float32Array.from({ length: n }, () => rng.normal());
    const table = ownNeighbourSums(neighbours, own);
    expect(Object.fromEntries(table)).toEqual(sums);
    const fresh = hybridScores(w, own, 1_700_000_000, als, content, table, stats);
    const kept = hybridScores(w, own, 1_700_000_000, als, content, table, stats, itemPriors(w, stats));
    expect(Array.from(kept)).toEqual(Array.from(fresh));
    // against the linear model read directly: intercept + weights . feature row, item by item
    for (const j of [0, 3, 7, 12, 250, n - 1]) {
      const row = hybridFeatureRow(
        j,
        own.find((o) => o.item === j),
        2,
        1_700_000_000,
        als[j] as number,
        content[j] as number,
        sums[j] ?? 0,
        stats,
      );
      const logit = row.reduce((sum, x, f) => sum + (w.weights[f] as number) * x, w.intercept);
      expect(fresh[j]).toBeCloseTo(logit, 9);
    }
    // without a table (or from a model whose weights end before the neighbour sum) the sum counts 0
    const bare = hybridScores(w, own, 1_700_000_000, als, content, ownNeighbourSums(null, own), stats);
    const before = { weights: w.weights.slice(0, HYBRID_FEATURES_BEFORE_NEIGHBOURS), intercept: w.intercept };
    expect(Array.from(hybridScores(before, own, 1_700_000_000, als, content, table, stats))).toEqual(Array.from(bare));
    expect((fresh[250] as number) - (bare[250] as number)).toBeCloseTo((w.weights[10] as number) * 0.875, 6);
    expect(() => hybridScores(w, own, 1_700_000_000, als, content, table, stats, new Float64Array(n - 1))).toThrow(
      /priors/,
    );
  });
});

describe("ranker candidates", () => {
  const n = 200;
  const stats = {
    logBuyers: Float32Array.from({ length: n }, (_, j) => Math.log1p(n - j)),
    repeatRate: new Float32Array(n).fill(0.2),
    logRecentBuyers: Float32Array.from({ length: n }, (_, j) => (j === 150 ? 9 : 0)),
    weekBuyers: Int32Array.from({ length: n }, (_, j) => (j === 150 ? 30 : 0)),
    fortnightBuyers: Int32Array.from({ length: n }, (_, j) => (j === 150 ? 45 : j === 120 ? 2 : 0)),
  };
  const now = 1_700_000_000;
  // rows for items 10 and 11 only: item 10's neighbours are 120 (strong) and 121, item 11's 130
  const rowOf = new Int32Array(n).fill(-1);
  rowOf[10] = 0;
  rowOf[11] = 1;
  const neighbours = {
    k: 2,
    rowOf,
    index: Int32Array.from([120, 121, 130, -1]),
    weight: Float32Array.from([0.9, 0.1, 0.5, 0]),
  };
  const inputs = {
    own: [
      { item: 10, invoices: 4, lastTs: now - 86400 },
      { item: 11, invoices: 1, lastTs: now - 90 * 86400 },
    ],
    now,
    als: Float32Array.from({ length: n }, (_, j) => (j === 77 ? 1 : 0)),
    content: null,
    neighbours,
    stats,
    hybrid: Float32Array.from({ length: n }, (_, j) => -j),
  };
  const f = RANKER_FEATURES.length;
  const col = (name: RankerFeature) => RANKER_FEATURES.indexOf(name);

  it("proposes own items, each generator's best and the last basket's neighbours, with their features", () => {
    const { items, rows } = rankerCandidates(inputs, "all");
    for (const j of [10, 11, 77, 120, 121, 130, 150, 0]) expect(items).toContain(j);
    // every column written (an unwritten one stays NaN)
    expect(rows.length).toBe(items.length * f);
    expect(rows.every(Number.isFinite)).toBe(true);
    const at = (j: number, name: RankerFeature) => rows[items.indexOf(j) * f + col(name)];
    expect(at(10, "own")).toBe(1);
    expect(at(10, "log_invoices")).toBeCloseTo(Math.log1p(4), 12);
    expect(at(11, "own_age_days")).toBeCloseTo(90, 9);
    expect(at(120, "own")).toBe(0);
    expect(at(120, "neighbours")).toBeCloseTo(0.9, 6);
    // the last basket is item 10 only (item 11 was bought 89 days before it): 130 is a neighbour, not a basket one
    expect(at(120, "basket")).toBeCloseTo(0.9, 6);
    expect(at(130, "basket")).toBe(0);
    expect(at(130, "neighbours")).toBeCloseTo(0.5, 6);
    expect(at(77, "als_rank")).toBe(0);
    expect(at(150, "trend")).toBeCloseTo(9 - Math.log1p(50), 6);
    // momentum: the last week's and fortnight's buyers, and the week against the 30 days
    expect(at(150, "log_week_buyers")).toBeCloseTo(Math.log1p(30), 12);
    expect(at(150, "log_fortnight_buyers")).toBeCloseTo(Math.log1p(45), 12);
    expect(at(150, "week_trend")).toBeCloseTo(Math.log1p(30) - 9, 6);
    expect(at(120, "log_week_buyers")).toBe(0);
    expect(at(120, "log_fortnight_buyers")).toBeCloseTo(Math.log1p(2), 12);
    // the reader's own columns, the same on every row: two items, the latest a day ago, at most 4 orders of one,
    // one of the two bought more than once
    for (const j of [10, 11, 120]) {
      expect(at(j, "reader_log_items")).toBeCloseTo(Math.log1p(2), 12);
      expect(at(j, "reader_age_days")).toBeCloseTo(1, 9);
      expect(at(j, "reader_log_max_invoices")).toBeCloseTo(Math.log1p(4), 12);
      expect(at(j, "reader_repeat_share")).toBe(0.5);
    }
    // each item's place in that history: its share of the most orders, in the last basket, days before the latest
    expect(at(10, "invoice_share")).toBe(1);
    expect(at(11, "invoice_share")).toBe(0.25);
    expect(at(120, "invoice_share")).toBe(0);
    expect(at(10, "own_in_last_basket")).toBe(1);
    expect(at(11, "own_in_last_basket")).toBe(0);
    expect(at(10, "own_gap_days")).toBe(0);
    expect(at(11, "own_gap_days")).toBeCloseTo(89, 9);
    expect(at(120, "own_gap_days")).toBe(10_000);
    expect(at(120, "own_age_days")).toBe(10_000);
    expect(at(0, "hybrid_rank")).toBe(0);
  });

  it("reads the neighbour sums it is given, which are those it would make, duplicates and unknown items and all", () => {
    // an own item twice (its row counts once), one past the catalog and one the table has no row for
    const own = [
      ...inputs.own,
      { item: 10, invoices: 1, lastTs: now - 30 * 86400 },
      { item: n + 5, invoices: 2, lastTs: now },
    ];
    const reader = { ...inputs, own: [...own, { item: 40, invoices: 1, lastTs: now - 2 * 86400 }] };
    const sums = ownNeighbourSums(neighbours, reader.own);
    expect(Object.fromEntries(sums)).toEqual({ 120: expect.closeTo(0.9, 6), 121: expect.closeTo(0.1, 6), 130: 0.5 });
    const made = rankerCandidates(reader, "all");
    const given = rankerCandidates({ ...reader, sums }, "all");
    expect(given.items).toEqual(made.items);
    expect(Array.from(given.rows)).toEqual(Array.from(made.rows));
    // the map given is the one read (the Worker gives the hybrid's): another map, other neighbour features
    const other = rankerCandidates({ ...reader, sums: new Map([[120, 0.1]]) }, "all");
    const at = (c: typeof made, j: number) => c.rows[c.items.indexOf(j) * f + col("neighbours")];
    expect(at(made, 120)).toBeCloseTo(0.9, 6);
    expect(at(other, 120)).toBeCloseTo(0.1, 6);
  });

  it("takes each generator's own items: every list proposes something no other does", () => {
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);
    // each generator's best where no other reaches: hybrid 150..199, ALS 77 and 150..198, popular 20..39,
    // trending 150 and 100..118, content 60..79, neighbours 120, 121, 130 (the last basket's 120, 121), own 10 and 11
    const apart = {
      ...inputs,
      hybrid: Float32Array.from({ length: n }, (_, j) => (j >= 150 ? j : -1)),
      als: Float32Array.from({ length: n }, (_, j) => (j === 77 ? 1 : j >= 150 ? 0.5 : 0)),
      content: Float32Array.from({ length: n }, (_, j) => (j >= 60 && j < 80 ? 1 : 0)),
      stats: {
        ...stats,
        logBuyers: Float32Array.from({ length: n }, (_, j) => (j >= 20 && j < 40 ? 5 : 0)),
        logRecentBuyers: Float32Array.from({ length: n }, (_, j) => (j === 150 ? 9 : j >= 100 ? 1 : 0)),
      },
    };
    const expected = [
      ...new Set([
        10,
        11,
        ...range(150, 200),
        77,
        ...range(20, 40),
        ...range(100, 119),
        ...range(60, 80),
        120,
        121,
        130,
      ]),
    ].sort((a, b) => a - b);
    expect(rankerCandidates(apart, "all").items).toEqual(expected);
    // novel mode: the same but the reader's own items
    expect(rankerCandidates(apart, "novel").items).toEqual(expected.filter((j) => j !== 10 && j !== 11));
  });

  it("proposes the last basket's neighbours that the neighbours of everything bought crowd out", () => {
    // item 20 (bought long ago) has 60 strong neighbours, 100..159; item 21 one weak one, 190
    const k = 60;
    const rows = new Int32Array(n).fill(-1);
    rows[20] = 0;
    rows[21] = 1;
    const table = {
      k,
      rowOf: rows,
      index: Int32Array.from({ length: 2 * k }, (_, p) => (p < k ? 100 + p : p === k ? 190 : -1)),
      weight: Float32Array.from({ length: 2 * k }, (_, p) => (p < k ? 1 : p === k ? 0.1 : 0)),
    };
    const reader = (basket: number, old: number) => ({
      ...inputs,
      neighbours: table,
      als: new Float32Array(n),
      own: [
        { item: basket, invoices: 1, lastTs: now - 86400 },
        { item: old, invoices: 1, lastTs: now - 90 * 86400 },
      ],
    });
    // 21 in the last basket: 190 comes in, from the basket alone (the neighbours of both stop at 50 of the 60)
    const withBasket = rankerCandidates(reader(21, 20), "all");
    expect(withBasket.items).toContain(190);
    const at = (name: RankerFeature) => withBasket.rows[withBasket.items.indexOf(190) * f + col(name)];
    expect(at("basket")).toBeCloseTo(0.1, 6);
    expect(at("neighbours")).toBeCloseTo(0.1, 6);
    // (150 is trending too)
    expect(withBasket.items.filter((j) => j >= 100 && j < 160 && j !== 150)).toHaveLength(CANDIDATES.neighbours);
    // 20 in the last basket instead: its own neighbours fill the basket's list, and 190 is proposed by none
    expect(rankerCandidates(reader(20, 21), "all").items).not.toContain(190);
  });

  it("tops the ranked candidates up from the fill only when too few survive the skip, and only then asks for it", () => {
    // no trees: every candidate scores the base, so ties keep the lower item first
    const flat = compileEnsemble({ features: [...RANKER_FEATURES], base: 0, trees: [] });
    // out of order on purpose: the ranking, not the candidates' order, puts the lower item first
    const c = { items: [7, 5, 3], rows: new Float64Array(3 * RANKER_FEATURES.length) };
    const skip = (j: number) => j === 5;
    let asked = 0;
    const fill = () => {
      asked++;
      return [5, 9, 3, 2, 8];
    };
    expect(rankCandidates(flat, c, 2, fill, skip).indices).toEqual([3, 7]);
    expect(asked).toBe(0);
    // three candidates, but one skipped: too few for three
    expect(rankCandidates(flat, c, 3, fill, skip).indices).toEqual([3, 7, 9, 2, 8]);
    expect(asked).toBe(1);
    const topped = rankCandidates(flat, c, 4, fill, skip);
    expect(topped.indices).toEqual([3, 7, 9, 2, 8]);
    expect(topped.scores.slice(2)).toEqual([
      Number.NEGATIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ]);
    expect(asked).toBe(2);
  });

  it("breaks ties of the trees' score by the hybrid logit, then by the lower item", () => {
    const f = RANKER_FEATURES.length;
    const h = RANKER_FEATURES.indexOf("hybrid");
    // one tree on the own-item flag: items 4 and 6 (own) tie above 2 and 8 (not own), which tie below
    const ownColumn = RANKER_FEATURES.indexOf("own");
    const tree: Tree = {
      feature: [ownColumn, -1, -1],
      threshold: [0.5, 0, 0],
      left: [1, 0, 0],
      right: [2, 0, 0],
      value: [0, -1, 1],
    };
    const model = compileEnsemble({ features: [...RANKER_FEATURES], base: 0, trees: [tree] });
    const rows = new Float64Array(5 * f);
    const set = (r: number, own: number, hybrid: number) => {
      rows[r * f + ownColumn] = own;
      rows[r * f + h] = hybrid;
    };
    const items = [2, 4, 6, 8, 9];
    set(0, 0, 3); // 2: not own, the best hybrid logit of all
    set(1, 1, -1); // 4: own
    set(2, 1, 0.5); // 6: own, a higher logit than 4
    set(3, 0, 3); // 8: not own, the same logit as 2
    set(4, 0, 1); // 9: not own
    const ranked = rankCandidates(model, { items, rows }, 5, () => []);
    expect(ranked.indices).toEqual([6, 4, 2, 8, 9]);
    expect(ranked.scores).toEqual([1, 1, -1, -1, -1]);
  });

  it("reads the ALS and content candidates off a known ranking exactly as its own pass finds them", () => {
    const rng = new Rng(5);
    // ties on purpose: scores on a coarse grid, so the lower index must come first
    const grid = () => Float32Array.from({ length: n }, () => rng.int(20) / 20);
    const wide = { ...inputs, als: grid(), content: grid() };
    // the own items lead both rankings: novel mode must skip them in the known ranking too
    for (const j of [10, 11]) {
      wide.als[j] = 2;
      wide.content[j] = 2;
    }
    const ranking = (scores: Float32Array, k: number) => topK(scores, k).indices;
    for (const mode of ["all", "novel"] as const) {
      const own = wide.own.length;
      const plain = rankerCandidates(wide, mode);
      const known = {
        ...wide,
        tops: {
          als: ranking(wide.als, CANDIDATES.als + own),
          content: ranking(wide.content, CANDIDATES.content + own),
        },
      };
      expect(rankerCandidates(known, mode)).toEqual(plain);
      // a ranking too short to skip the own items: the pass is made after all
      const short = { ...wide, tops: { als: ranking(wide.als, 3), content: ranking(wide.content, 3) } };
      expect(rankerCandidates(short, mode)).toEqual(plain);
    }
    // the known ranking is read, not found again: a ranking of other scores brings its own best in
    const other = Float32Array.from({ length: n }, (_, j) => (j >= 120 && j < 180 ? 1 : 0));
    const told = { ...wide, tops: { als: ranking(other, CANDIDATES.als + 2), content: ranking(wide.content, 22) } };
    const items = rankerCandidates(told, "all").items;
    for (const j of ranking(other, CANDIDATES.als)) expect(items).toContain(j);
  });

  it("leaves the reader's own items out in novel mode", () => {
    const { items } = rankerCandidates(inputs, "novel");
    expect(items).not.toContain(10);
    expect(items).not.toContain(11);
    expect(items).toContain(120);
  });
});

describe("learning from an earlier window", () => {
  let shared: ReturnType<typeof fitWindows> | undefined;
  // both tests read the same two windows (the choice leaves every weight as it found it); fitted once
  const windows = () => {
    shared ??= fitWindows();
    return shared;
  };
  const fitWindows = async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-ranker-windows-"));
    writeRetailCsv(join(dir, "shop.csv"), syntheticRetail(3), "ii");
    const log = await readPurchaseLog(join(dir, "shop.csv"));
    const test = temporalSplit(log, 30);
    const val = temporalSplit(log, 30, test.cutoff);
    const earlier = temporalSplit(log, 30, val.cutoff);
    const components = (split: typeof val) => {
      const data = trainData(split, log);
      const als = new ImplicitAls({ factors: 8, iterations: 3, seed: 1 });
      als.fit(data);
      const content = new ContentLsa({ dims: 8 });
      content.fit(data);
      return { data, als, content };
    };
    const own = components(val);
    const hybrid = new HybridRecommender(own.als.options, {}, val.cutoff);
    hybrid.fitWith(own.data, own.als, own.content);
    const ranker = new CandidateRanker({ ...RANKER_GBDT, trees: 25 });
    ranker.fitWith(hybrid);
    const v = { ranker, hybrid };
    expect(earlier.testAll.size).toBeGreaterThan(5);
    // the earlier window as the evaluation and training set it up; its hybrid is given weights of its own, which
    // nothing may read (the validation hybrid's are)
    const windowOf = (split: typeof val) =>
      earlierWindow({
        ...components(split),
        end: split.cutoff,
        neighbours: null,
        relevant: { all: split.testAll, novel: split.testNovel },
        userIds: split.userIds,
      });
    const e = windowOf(earlier);
    const unread = structuredClone(hybrid.weights);
    unread.all.weights = unread.all.weights.map((w) => -w);
    e.hybrid.weights = unread;
    v.ranker.earlier = [e];
    // the window before the earlier one, for the forward check alone (set by the tests that read it)
    const older = temporalSplit(log, 30, earlier.cutoff);
    expect(older.testAll.size).toBeGreaterThan(5);
    const o = windowOf(older);
    return { val, earlier, v, e, older, o };
  };

  /** the earlier window's rows as its ranker makes them with `weights` for its hybrid */
  const earlierRows = (
    e: EarlierWindow,
    relevant: ReadonlyMap<number, ReadonlySet<number>>,
    weights: HybridWeights,
    users?: readonly number[],
  ) => {
    const mine = e.hybrid.weights;
    e.hybrid.weights = weights;
    try {
      return e.ranker.trainingSet(relevant, "all", users);
    } finally {
      e.hybrid.weights = mine;
    }
  };

  it("appends the earlier window's readers as their own query groups, less the ids held out", async () => {
    const { val, earlier, v, e } = await windows();
    const own = v.ranker.trainingSet(val.testAll, "all");
    // scored with the validation hybrid's weights, not the window's own
    const theirs = earlierRows(e, earlier.testAll, v.hybrid.weights);
    const both = v.ranker.learningSet(val.testAll, "all");
    expect(Array.from(e.ranker.trainingSet(earlier.testAll, "all").x)).not.toEqual(Array.from(theirs.x));
    expect(both.y.length).toBe(own.y.length + theirs.y.length);
    expect(Array.from(both.y.subarray(own.y.length))).toEqual(Array.from(theirs.y));
    expect(Array.from(both.x.subarray(own.x.length))).toEqual(Array.from(theirs.x));
    // the earlier groups start where this window's rows end
    expect(Array.from(both.groups)).toEqual([
      ...Array.from(own.groups),
      ...Array.from(theirs.groups.subarray(1), (g) => g + own.y.length),
    ]);
    // readers held out by id leave the earlier window's rows (this window's are chosen by `users`)
    const held = [...earlier.testAll.keys()].slice(0, 3);
    const less = v.ranker.learningSet(
      val.testAll,
      "all",
      undefined,
      new Set(held.map((u) => earlier.userIds[u] as string)),
    );
    expect(less.groups.length).toBe(both.groups.length - 3);
    const kept = earlierRows(
      e,
      earlier.testAll,
      v.hybrid.weights,
      [...earlier.testAll.keys()].filter((u) => !held.includes(u)),
    );
    expect(less.y.length).toBe(own.y.length + kept.y.length);
  });

  it("chooses without the held-out validation customers in either window, and puts every weight back", async () => {
    const { val, earlier, v, e } = await windows();
    const before = { tuner: v.hybrid.weights, earlier: e.hybrid.weights };
    const seen: { users: readonly number[]; except: ReadonlySet<string>; weights: unknown }[] = [];
    const learn = v.ranker.learningSet.bind(v.ranker);
    v.ranker.learningSet = (relevant, mode, users, except) => {
      // the weights every window's hybrid features are scored with as it learns
      seen.push({ users: users ?? [], except: except ?? new Set(), weights: v.hybrid.weights });
      return learn(relevant, mode, users, except);
    };
    let choice: Awaited<ReturnType<typeof chooseRanker>>;
    try {
      choice = await chooseRanker(v.ranker, val, v.hybrid);
    } finally {
      v.ranker.learningSet = learn;
    }
    expect(seen).toHaveLength(2);
    const [all, novel] = seen as [(typeof seen)[number], (typeof seen)[number]];
    // validation's held-out readers, by their customer ids: some of them bought in the earlier window too
    const heldAll = [...val.testAll.keys()].filter(isHeldOut);
    expect([...all.except].sort()).toEqual(heldAll.map((u) => val.userIds[u] as string).sort());
    expect(heldAll.some((u) => earlier.userIds.includes(val.userIds[u] as string))).toBe(true);
    for (const u of all.users) expect(isHeldOut(u)).toBe(false);
    expect([...novel.except].sort()).toEqual(
      [...val.testNovel.keys()]
        .filter(isHeldOut)
        .map((u) => val.userIds[u] as string)
        .sort(),
    );
    // the earlier window's hybrid features came from the weights fitted without the held-out readers
    for (const s of seen) expect(s.weights).toBe(choice.heldOutWeights);
    expect(choice.heldOutWeights).not.toBe(before.tuner);
    expect(v.hybrid.weights).toBe(before.tuner);
    expect(e.hybrid.weights).toBe(before.earlier);
    // every held-out reader is counted (both halves pick and judge)
    expect(choice.holdout.all.users).toBe(heldAll.length);
    // the hybrid serves only past the margin of the held-out readers' paired differences (forward: reported only)
    for (const mode of ["all", "novel"] as const) {
      const h = choice.holdout[mode];
      expect(h.margin).toBeGreaterThan(0);
      expect(choice.chosen[mode]).toBe(h.hybrid - h.ranker > h.margin ? "hybrid" : "ranker");
    }
  });

  it("judges the ranker forward in time too: trees and hybrid weights from the earlier window alone, on every validation reader", async () => {
    const { val, earlier, v, e } = await windows();
    const before = { tuner: v.hybrid.weights, earlier: e.hybrid.weights };
    const taught: { relevant: ReadonlyMap<number, ReadonlySet<number>>; weights: HybridWeights }[] = [];
    const own = e.ranker.trainingSet.bind(e.ranker);
    e.ranker.trainingSet = (relevant, mode, users) => {
      taught.push({ relevant, weights: e.hybrid.weights });
      return own(relevant, mode, users);
    };
    const learnt: unknown[] = [];
    const learn = v.ranker.learningSet.bind(v.ranker);
    v.ranker.learningSet = (...args) => {
      learnt.push(args[0]);
      return learn(...args);
    };
    try {
      const choice = await chooseRanker(v.ranker, val, v.hybrid);
      // the forward trees learnt from the earlier window's readers alone (the held-out trees from both windows)
      expect(taught.map((t) => t.relevant)).toEqual([earlier.testAll, earlier.testNovel]);
      expect(taught[0]?.relevant).toBe(earlier.testAll);
      expect(learnt).toHaveLength(2);
      // with weights fitted on that window: neither the validation hybrid's nor the ones it held before
      const weights = taught[0]?.weights;
      expect(taught[1]?.weights).toBe(weights);
      expect(weights).not.toBe(before.tuner);
      expect(weights).not.toBe(before.earlier);
      expect(weights).not.toBe(choice.heldOutWeights);
      // every validation reader is judged, none of whom the forward trees or weights saw
      expect(choice.forward?.all.users).toBe(val.testAll.size);
      expect(choice.forward?.novel.users).toBe(val.testNovel.size);
      for (const mode of ["all", "novel"] as const) {
        const f = choice.forward?.[mode];
        // with no older window, the count is picked over the validation readers alone
        expect(f?.pickedOver).toBe(f?.users);
        expect(f?.margin).toBeGreaterThan(0);
        expect(f?.trees).toBeGreaterThan(0);
      }
      expect(v.hybrid.weights).toBe(before.tuner);
      expect(e.hybrid.weights).toBe(before.earlier);
    } finally {
      e.ranker.trainingSet = own;
      v.ranker.learningSet = learn;
    }
  });

  it("checks forward from the window before the earlier one too: its own trees and weights on the earlier window's readers, the count picked over both", async () => {
    const { val, earlier, v, e, older, o } = await windows();
    const before = { tuner: v.hybrid.weights, earlier: e.hybrid.weights, older: o.hybrid.weights };
    const taught: { relevant: ReadonlyMap<number, ReadonlySet<number>>; weights: HybridWeights }[] = [];
    const own = o.ranker.trainingSet.bind(o.ranker);
    o.ranker.trainingSet = (relevant, mode, users) => {
      taught.push({ relevant, weights: o.hybrid.weights });
      return own(relevant, mode, users);
    };
    // the earlier window's readers, as the older window's trees are judged on them
    const judged: { user: number; weights: HybridWeights | undefined }[] = [];
    const inputs = e.ranker.inputs.bind(e.ranker);
    e.ranker.inputs = (user, mode, weights) => {
      judged.push({ user, weights });
      return inputs(user, mode, weights);
    };
    v.ranker.older = o;
    try {
      const choice = await chooseRanker(v.ranker, val, v.hybrid);
      // the older window's trees learnt from its readers alone, one fit per mode (the modes run side by side, so in
      // either order), over weights fitted on that window
      expect(taught).toHaveLength(2);
      expect(new Set(taught.map((t) => t.relevant))).toEqual(new Set([older.testAll, older.testNovel]));
      const weights = taught[0]?.weights;
      expect(taught[1]?.weights).toBe(weights);
      expect(weights).not.toBe(before.older);
      expect(weights).not.toBe(before.tuner);
      // every reader of the earlier window (both modes) was scored with those weights
      const seen = judged.filter((j) => j.weights === weights).map((j) => j.user);
      expect(new Set(seen)).toEqual(new Set([...earlier.testAll.keys(), ...earlier.testNovel.keys()]));
      // the figures are the validation readers'; the count and blend were picked over both windows' readers
      expect(choice.forward?.all.users).toBe(val.testAll.size);
      expect(choice.forward?.all.pickedOver).toBe(val.testAll.size + earlier.testAll.size);
      expect(choice.forward?.novel.pickedOver).toBe(val.testNovel.size + earlier.testNovel.size);
      expect(choice.holdout.all.trees).toBe(choice.forward?.all.trees);
      // every weight put back
      expect(v.hybrid.weights).toBe(before.tuner);
      expect(e.hybrid.weights).toBe(before.earlier);
      expect(o.hybrid.weights).toBe(before.older);
    } finally {
      o.ranker.trainingSet = own;
      e.ranker.inputs = inputs;
      v.ranker.older = null;
    }
  });

  it("serves the tree count where the forward curve peaks, and fits the held-out trees that calibrate it to that count", async () => {
    const { val, v, e } = await windows();
    // four checkpoints to choose from
    const ranker = new CandidateRanker({ ...RANKER_GBDT, trees: 100 });
    ranker.fitWith(v.hybrid);
    ranker.earlier = [e];
    const choice = await chooseRanker(ranker, val, v.hybrid);
    for (const mode of ["all", "novel"] as const) {
      const forward = choice.forward?.[mode];
      if (!forward) throw new Error("an earlier window, so a forward comparison");
      expect([25, 50, 75, 100]).toContain(forward.trees);
      // the count that serves (train fits holdout[mode].trees) and the held-out trees that calibrate it
      expect(choice.holdout[mode].trees).toBe(forward.trees);
      expect(choice.heldOut[mode].trees).toHaveLength(forward.trees);
      // and the hybrid logit's weight beside them, chosen there too
      expect(BLENDS).toContain(forward.blend);
      expect(choice.holdout[mode].blend).toBe(forward.blend);
      expect(choice.heldOut[mode].linear ?? []).toEqual(
        forward.blend ? [{ feature: RANKER_FEATURES.indexOf("hybrid"), weight: forward.blend }] : [],
      );
    }
  });

  it("has no forward comparison without an earlier window", async () => {
    const { val, v } = await windows();
    const earlierOnes = v.ranker.earlier;
    v.ranker.earlier = [];
    try {
      const choice = await chooseRanker(v.ranker, val, v.hybrid);
      expect(choice.forward).toBeNull();
      for (const mode of ["all", "novel"] as const) {
        const h = choice.holdout[mode];
        expect(choice.chosen[mode]).toBe(h.hybrid - h.ranker > h.margin ? "hybrid" : "ranker");
      }
    } finally {
      v.ranker.earlier = earlierOnes;
    }
  });

  it("fits the final trees at the count the held-out readers picked for each mode, else at the settings' count", async () => {
    const { val, v } = await windows();
    const picked = (trees: number, blend: number) => ({ hybrid: 0, ranker: 0, trees, blend, users: 1, margin: 0 });
    const chosen = await v.ranker.train(val.testAll, val.testNovel, {
      holdout: { all: picked(20, 0.5), novel: picked(10, 0) },
    });
    // with an earlier window, two fits of that count each (every window's readers, the validation window's alone)
    expect([chosen.all.trees.length, chosen.novel.trees.length]).toEqual([40, 20]);
    // the blend chosen beside the count: the hybrid logit's weight after the trees (none at 0)
    expect(chosen.all.linear).toEqual([{ feature: RANKER_FEATURES.indexOf("hybrid"), weight: 0.5 }]);
    expect(chosen.novel.linear).toBeUndefined();
    const plain = await v.ranker.train(val.testAll, val.testNovel);
    expect([plain.all.trees.length, plain.novel.trees.length]).toEqual([50, 50]);
    // without one, a single fit
    const earlierOnes = v.ranker.earlier;
    v.ranker.earlier = [];
    try {
      const alone = await v.ranker.train(val.testAll, val.testNovel);
      expect([alone.all.trees.length, alone.novel.trees.length]).toEqual([25, 25]);
    } finally {
      v.ranker.earlier = earlierOnes;
    }
  });

  it("serves the mean of the fit on every window and the fit on the validation window alone", async () => {
    const { val, v, e } = await windows();
    const earlierOnes = v.ranker.earlier;
    v.ranker.earlier = [e];
    try {
      await servesTheMean(val, v);
    } finally {
      v.ranker.earlier = earlierOnes;
    }
  });

  const servesTheMean = async (
    val: Awaited<ReturnType<typeof windows>>["val"],
    v: Awaited<ReturnType<typeof windows>>["v"],
  ) => {
    const options = { ...v.ranker.gbdt, trees: 15 };
    const every = fitGbdt(v.ranker.learningSet(val.testAll, "all"), options);
    const alone = fitGbdt(v.ranker.trainingSet(val.testAll, "all"), options);
    // the two learn from different readers: their own rows differ in number
    expect(v.ranker.learningSet(val.testAll, "all").y.length).toBeGreaterThan(
      v.ranker.trainingSet(val.testAll, "all").y.length,
    );
    const picked = { hybrid: 0, ranker: 0, trees: 15, blend: 0, users: 1, margin: 0 };
    const served = await v.ranker.train(val.testAll, val.testNovel, { holdout: { all: picked, novel: picked } });
    const data = v.ranker.learningSet(val.testAll, "all");
    const n = data.y.length;
    const width = RANKER_FEATURES.length;
    const mean = scoreRows(compileEnsemble(served.all), data.x, width, n);
    const a = scoreRows(compileEnsemble(every), data.x, width, n);
    const b = scoreRows(compileEnsemble(alone), data.x, width, n);
    for (let r = 0; r < n; r++) expect(mean[r]).toBeCloseTo(((a[r] as number) + (b[r] as number)) / 2, 12);
    expect(meanEnsemble(every, alone).trees).toHaveLength(30);
  };
});

describe("choosing the tree count on held-out readers", () => {
  // each half's summed NDCG after 25, 50, 75 trees: the odd half peaks at 25, the even half at 75, both at 50
  const curve = [
    { trees: 25, odd: 10, even: 4 },
    { trees: 50, odd: 9, even: 8 },
    { trees: 75, odd: 5, even: 9 },
  ];

  it("takes the count where both halves together peak, and judges each half at the other's pick", () => {
    // the best of many looks would be 10 + 9 = 19 and the peak of the sum 17: cross-fitted, odd at 75 + even at 25
    expect(pickTrees(curve, 3, 3, 75)).toEqual({ trees: 50, sum: 5 + 4, at: { odd: 75, even: 25 } });
  });

  it("lets a lone half judge its own pick, and keeps every tree when no checkpoint was reached", () => {
    const oddOnly = curve.map((p) => ({ ...p, even: 0 }));
    expect(pickTrees(oddOnly, 3, 0, 75)).toEqual({ trees: 25, sum: 10, at: { odd: 25, even: 25 } });
    expect(pickTrees([], 3, 3, 12)).toEqual({ trees: 12, sum: 0, at: { odd: 12, even: 12 } });
  });

  it("reads every figure off a checkpoint, for a half that scores nothing anywhere; ties take the fewest trees", () => {
    // the even half finds nothing at any count: the odd half is judged at the first checkpoint, not at none
    const blank = [
      { trees: 25, odd: 3, even: 0 },
      { trees: 50, odd: 4, even: 0 },
    ];
    expect(pickTrees(blank, 2, 2, 50)).toEqual({ trees: 50, sum: 3, at: { odd: 25, even: 50 } });
    const flat = [
      { trees: 25, odd: 2, even: 2 },
      { trees: 50, odd: 2, even: 2 },
    ];
    expect(pickTrees(flat, 2, 2, 50)).toEqual({ trees: 25, sum: 4, at: { odd: 25, even: 25 } });
  });

  it("serves the blend whose cross-fitted sum is highest, at that blend's own count; ties take the smaller blend", () => {
    // the trees alone: cross-fitted 9 (above); with half the hybrid logit beside them the halves agree at 50: 16
    const blended = [
      { trees: 25, odd: 8, even: 6 },
      { trees: 50, odd: 9, even: 7 },
      { trees: 75, odd: 6, even: 5 },
    ];
    const curves = [
      { blend: 0.5, curve: blended },
      { blend: 0, curve },
    ];
    // 0.5 serves, but its figure is cross-fitted over the blend too: each half peaks on the trees alone (the even
    // half at 75 trees, the odd at 25), so odd readers are judged at (0, 75) and even ones at (0, 25): 5 + 4, not 16
    expect(pickBlend(curves, 3, 3, 75)).toEqual({
      blend: 0.5,
      trees: 50,
      sum: 5 + 4,
      at: { odd: 75, even: 25 },
      atBlend: { odd: 0, even: 0 },
    });
    // where both halves peak on a blend, each is judged there
    const peaked = [{ trees: 25, odd: 11, even: 10 }, ...blended.slice(1)];
    expect(
      pickBlend(
        [
          { blend: 0.5, curve: peaked },
          { blend: 0, curve },
        ],
        3,
        3,
        75,
      ),
    ).toEqual({
      blend: 0.5,
      trees: 25,
      sum: 11 + 10,
      at: { odd: 25, even: 25 },
      atBlend: { odd: 0.5, even: 0.5 },
    });
    // the best single peak (10 + 9 above, at two counts) is no cross-fitted sum: 9 loses to 16 whatever its peaks
    expect(pickBlend([{ blend: 0, curve }], 3, 3, 75).blend).toBe(0);
    // the same sum from another blend: the smaller one, in whatever order they come
    expect(
      pickBlend(
        [
          { blend: 1, curve },
          { blend: 0.25, curve },
        ],
        3,
        3,
        75,
      ).blend,
    ).toBe(0.25);
  });
});

describe("judging held-out readers at a count chosen forward in time", () => {
  // each held-out half's summed NDCG after 25, 50, 75 trees
  const curve = [
    { trees: 25, odd: 10, even: 4 },
    { trees: 50, odd: 9, even: 8 },
    { trees: 75, odd: 5, even: 9 },
  ];

  it("serves the forward peak and judges each held-out half at the other forward half's pick", () => {
    // forward, the even half peaked at 75 (odd readers are judged there) and the odd half at 25
    expect(atForward(curve, 50, { odd: 75, even: 25 })).toEqual({ trees: 50, sum: 5 + 4, at: { odd: 75, even: 25 } });
    // where the forward halves agree, the held-out halves' own curve does not move the count
    expect(atForward(curve, 25, { odd: 25, even: 25 })).toEqual({ trees: 25, sum: 14, at: { odd: 25, even: 25 } });
  });

  it("takes the last checkpoint below a pick between checkpoints, and gives 0 with no checkpoint", () => {
    expect(atForward(curve, 60, { odd: 60, even: 400 })).toEqual({ trees: 60, sum: 9 + 9, at: { odd: 50, even: 75 } });
    expect(atForward([], 10, { odd: 10, even: 10 })).toEqual({ trees: 10, sum: 0, at: { odd: 10, even: 10 } });
  });
});

describe("adding two forward checks' curves", () => {
  // one blend's curve from [trees, odd half's sum, even half's sum] points
  const curveOf = (points: [number, number, number][]) => [
    { blend: 0, curve: points.map(([trees, odd, even]) => ({ trees, odd, even })) },
  ];
  // the validation readers' curve peaks at 25 trees, the earlier window's readers' at 75: pooled, at 75
  const next = curveOf([
    [25, 10, 9],
    [50, 9, 9],
    [75, 9, 8],
  ]);
  const back = curveOf([
    [25, 10, 10],
    [50, 11, 11],
    [75, 12, 12],
  ]);

  it("adds each half's sums checkpoint by checkpoint, so the pick is over both windows' readers", () => {
    const both = addCurves(next, back);
    expect(both).toEqual(
      curveOf([
        [25, 20, 19],
        [50, 20, 20],
        [75, 21, 20],
      ]),
    );
    expect(pickBlend(next, 5, 5, 75).trees).toBe(25);
    expect(pickBlend(both, 10, 10, 75).trees).toBe(75);
  });

  it("keeps the checkpoints both reached, and refuses curves that do not line up", () => {
    const short = curveOf([
      [25, 10, 10],
      [50, 11, 11],
    ]);
    expect(addCurves(next, short)[0]?.curve.map((p) => p.trees)).toEqual([25, 50]);
    expect(() => addCurves(next, [{ blend: 1, curve: [] }])).toThrow("no curve of blend 0");
    const shifted = curveOf([[20, 1, 1]]);
    expect(() => addCurves(next, shifted)).toThrow("checkpoints 25 and 20");
  });
});

describe("choosing what serves from held-out readers' paired figures", () => {
  it("keeps the ranker when the hybrid's lead is inside the readers' noise", () => {
    // the hybrid leads by 0.02 on average; the paired differences spread 0.1 around it over 40 readers
    const ranker = Array.from({ length: 40 }, (_, i) => 0.3 + (i % 2 ? 0.2 : -0.2));
    const hybrid = ranker.map((r, i) => r + 0.02 + (i % 4 < 2 ? 0.1 : -0.1));
    const { chosen, margin } = chooseServed(ranker, hybrid);
    expect(chosen).toBe("ranker");
    // Student's t at 95% with 39 degrees of freedom (1.6849) x sd / sqrt(40): sd = 0.1 x sqrt(40 / 39)
    expect(margin).toBeCloseTo((1.6849 * 0.1 * Math.sqrt(40 / 39)) / Math.sqrt(40), 4);
    // the plain means would have served the hybrid
    expect(hybrid.reduce((a, b) => a + b) > ranker.reduce((a, b) => a + b)).toBe(true);
  });

  it("serves the hybrid when it leads the ranker past the margin", () => {
    const ranker = Array.from({ length: 40 }, (_, i) => 0.2 + (i % 3) * 0.05);
    const hybrid = ranker.map((r, i) => r + 0.1 + (i % 2 ? 0.05 : -0.05));
    expect(chooseServed(ranker, hybrid).chosen).toBe("hybrid");
  });

  it("keeps the ranker when it leads or ties, and reads one reader's difference plainly", () => {
    expect(chooseServed([0.5, 0.4, 0.3], [0.4, 0.3, 0.2]).chosen).toBe("ranker");
    expect(chooseServed([0.5, 0.4], [0.5, 0.4])).toEqual({ chosen: "ranker", margin: 0 });
    expect(chooseServed([0.2], [0.3])).toEqual({ chosen: "hybrid", margin: 0 });
    expect(() => chooseServed([0.2], [0.3, 0.1])).toThrow(/unequal/);
  });
});
