/**
 * The learned ranker's parts: gradient-boosted trees (fit, exact export, both objectives), the ensemble's
 * shape check, and core/ranker.ts's candidates and feature rows.
 */
import { describe, expect, it } from "vitest";
import { RANKER_FEATURES, rankerCandidates } from "../../core/ranker";
import { isWellFormed, treeEnsembleScore } from "../../core/tree-ensemble";
import { rocAuc as aucOf } from "../../scripts/engagement/classification-metrics";
import { fitGbdt, type GbdtData, predictRows } from "../../scripts/learn/gbdt";
import { fitLogistic } from "../../scripts/learn/logistic";
import { Rng } from "../../scripts/lib/rng";

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
  });

  it("lambdarank orders each group's relevant rows first", () => {
    const rng = new Rng(5);
    const groups = [0];
    const xs: number[] = [];
    const ys: number[] = [];
    // per group: 20 rows, relevant when a hidden score (0.8 x0 - x1 over a group-specific offset) is high
    for (let g = 0; g < 300; g++) {
      const offset = rng.next() * 2;
      for (let r = 0; r < 20; r++) {
        const a = rng.next() * 2;
        const b = rng.next();
        xs.push(a + offset, b);
        ys.push(0.8 * a - b > 0.9 ? 1 : 0);
      }
      groups.push(ys.length);
    }
    const data: GbdtData = {
      x: Float64Array.from(xs),
      y: Uint8Array.from(ys),
      features: ["a_shifted", "b"],
      groups: Int32Array.from(groups),
    };
    const model = fitGbdt(data, { objective: "lambdarank", trees: 60, depth: 3 });
    const scores = predictRows(model, data.x, 2);
    let firstRelevant = 0;
    let withRelevant = 0;
    for (let g = 0; g + 1 < groups.length; g++) {
      const rows = Array.from({ length: 20 }, (_, r) => (groups[g] as number) + r);
      if (!rows.some((i) => ys[i] === 1)) continue;
      withRelevant++;
      const top = rows.reduce((a, b) => ((scores[b] as number) > (scores[a] as number) ? b : a));
      if (ys[top] === 1) firstRelevant++;
    }
    expect(firstRelevant / withRelevant).toBeGreaterThan(0.9);
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

describe("ranker candidates", () => {
  const n = 200;
  const stats = {
    logBuyers: Float32Array.from({ length: n }, (_, j) => Math.log1p(n - j)),
    repeatRate: new Float32Array(n).fill(0.2),
    logRecentBuyers: Float32Array.from({ length: n }, (_, j) => (j === 150 ? 9 : 0)),
  };
  const now = 1_700_000_000;
  const neighbours = { k: 2, index: new Int32Array(n * 2).fill(-1), weight: new Float32Array(n * 2) };
  // item 10's neighbours: 120 (strong), 121; item 11's: 130
  neighbours.index.set([120, 121], 20);
  neighbours.weight.set([0.9, 0.1], 20);
  neighbours.index.set([130], 22);
  neighbours.weight.set([0.5], 22);
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
  const col = (name: (typeof RANKER_FEATURES)[number]) => RANKER_FEATURES.indexOf(name);

  it("proposes own items, each generator's best and the last basket's neighbours, with their features", () => {
    const { items, rows } = rankerCandidates(inputs, "all");
    for (const j of [10, 11, 77, 120, 121, 130, 150, 0]) expect(items).toContain(j);
    const at = (j: number, name: (typeof RANKER_FEATURES)[number]) => rows[items.indexOf(j) * f + col(name)];
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
    expect(at(0, "hybrid_rank")).toBe(0);
  });

  it("leaves the reader's own items out in novel mode", () => {
    const { items } = rankerCandidates(inputs, "novel");
    expect(items).not.toContain(10);
    expect(items).not.toContain(11);
    expect(items).toContain(120);
  });
});
