/**
 * RP3beta: its sparse row-by-row table equals the walk computed densely from its definition (random matrices and
 * settings), a hand-worked case, the planted blocks found, and settings it cannot use refused.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { csrFromCoo, rowIndices } from "../../scripts/data/sparse";
import { recommend } from "../../scripts/ranking/recommender-contract";
import { Popularity } from "../../scripts/train/popularity";
import { Rp3Beta, type Rp3BetaOptions } from "../../scripts/train/rp3beta";
import { plantedBlocks } from "./support/planted";

/** users x items 0/1 (counts above 1 must not matter: the walk is on the binarized graph) */
function csr(cells: number[][]) {
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  cells.forEach((row, u) => {
    row.forEach((x, j) => {
      if (x <= 0) return;
      r.push(u);
      c.push(j);
      v.push(x);
    });
  });
  return csrFromCoo(cells.length, cells[0]?.length ?? 0, r, c, v);
}

/**
 * The definition, densely: P_iu = |U_i|^-alpha on i's buyers, P_ui = |I_u|^-alpha on u's items, W = P_iu P_ui with
 * column j divided by |U_j|^beta, diagonal 0; each row's K largest (ties: lower item), normalized to sum 1. Row i's
 * own factor |U_i|^-alpha is left out: the normalization cancels it, and multiplied in it could round two
 * different weights of the row to one float (fast-check found such a case), which would make a tie no exact
 * arithmetic has.
 */
function reference(cells: number[][], { alpha, beta, k }: Rp3BetaOptions) {
  const users = cells.length;
  const items = cells[0]?.length ?? 0;
  const has = (u: number, j: number) => ((cells[u] as number[])[j] as number) > 0;
  const itemsOf = (u: number) => (cells[u] as number[]).filter((x) => x > 0).length;
  const buyersOf = (j: number) => cells.filter((row) => (row[j] as number) > 0).length;
  const rows = new Map<number, { j: number; w: number }[]>();
  for (let i = 0; i < items; i++) {
    if (buyersOf(i) === 0) continue;
    const row: { j: number; w: number }[] = [];
    for (let j = 0; j < items; j++) {
      if (j === i) continue;
      let w = 0;
      for (let u = 0; u < users; u++) if (has(u, i) && has(u, j)) w += itemsOf(u) ** -alpha;
      if (w > 0) row.push({ j, w: w * buyersOf(j) ** -beta });
    }
    row.sort((a, b) => b.w - a.w || a.j - b.j);
    const top = row.slice(0, k);
    const sum = top.reduce((s, x) => s + x.w, 0);
    rows.set(
      i,
      top.map((x) => ({ j: x.j, w: x.w / sum })),
    );
  }
  return rows;
}

function fitted(cells: number[][], options: Rp3BetaOptions) {
  const m = new Rp3Beta(options);
  m.fit({ matrix: csr(cells) });
  const t = m.table;
  if (!t) throw new Error("no table");
  const rows = new Map<number, { j: number; w: number }[]>();
  t.rowOf.forEach((r, i) => {
    if (r < 0) return;
    const row: { j: number; w: number }[] = [];
    for (let p = 0; p < t.k; p++) {
      const j = t.index[r * t.k + p] as number;
      if (j >= 0) row.push({ j, w: t.weight[r * t.k + p] as number });
    }
    rows.set(i, row);
  });
  return { model: m, rows };
}

describe("RP3beta", () => {
  it("keeps, per item, the walk's K strongest ends, as the dense definition computes them", () => {
    const matrix = fc.tuple(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 6 })).chain(([users, items]) =>
      fc.array(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: items, maxLength: items }), {
        minLength: users,
        maxLength: users,
      }),
    );
    const options = fc.record({
      alpha: fc.constantFrom(0, 0.5, 1, 1.5),
      beta: fc.constantFrom(0, 0.3, 0.7),
      k: fc.integer({ min: 1, max: 6 }),
    });
    fc.assert(
      fc.property(matrix, options, (cells, o) => {
        const want = reference(cells, o);
        const got = fitted(cells, o).rows;
        expect([...got.keys()]).toEqual([...want.keys()]);
        for (const [i, row] of want) {
          const mine = got.get(i) ?? [];
          expect(mine.map((x) => x.j)).toEqual(row.map((x) => x.j));
          mine.forEach((x, p) => {
            expect(x.w).toBeCloseTo((row[p] as { w: number }).w, 6);
          });
        }
      }),
      { numRuns: 300 },
    );
  });

  it("works a small case by hand: two shared buyers, the rarer end lifted by beta", () => {
    // user 0 bought items 0 and 1; user 1 bought 0, 1 and 2
    const cells = [
      [1, 1, 0],
      [1, 1, 1],
    ];
    // from item 0: to item 1 via both users, 1/2 + 1/3 = 5/6; to item 2 via user 1 only, 1/3
    const plain = fitted(cells, { alpha: 1, beta: 0, k: 2 }).rows.get(0);
    expect(plain?.map((x) => x.j)).toEqual([1, 2]);
    expect(plain?.[0]?.w).toBeCloseTo(5 / 7, 6);
    expect(plain?.[1]?.w).toBeCloseTo(2 / 7, 6);
    // beta 1 divides by the end's buyers (item 1: 2, item 2: 1): 5/12 and 4/12
    const lifted = fitted(cells, { alpha: 1, beta: 1, k: 2 });
    expect(lifted.rows.get(0)?.[0]?.w).toBeCloseTo(5 / 9, 6);
    expect(lifted.rows.get(0)?.[1]?.w).toBeCloseTo(4 / 9, 6);
    // a user's score sums the rows of their items: user 0 (items 0, 1) scores item 2 from both rows
    const row1 = lifted.rows.get(1) ?? [];
    const toTwo = (row: { j: number; w: number }[]) => row.find((x) => x.j === 2)?.w ?? 0;
    expect(lifted.model.scores(0)[2]).toBeCloseTo(4 / 9 + toTwo(row1), 6);
  });

  it("recovers the planted blocks far better than popularity", () => {
    const data = plantedBlocks();
    const rp3 = new Rp3Beta();
    rp3.fit(data.data);
    const pop = new Popularity();
    pop.fit(data.data);
    const share = (m: Rp3Beta | Popularity) => {
      let inBlock = 0;
      let hits = 0;
      for (let u = 0; u < data.train.rows; u++) {
        const recs = recommend(m, u, 10, new Set(rowIndices(data.train, u)));
        inBlock += recs.filter((j) => data.groupOfItem[j] === data.groupOfUser[u]).length;
        hits += recs.filter((j) => data.heldOut.get(u)?.has(j)).length;
      }
      return { inBlock: inBlock / (10 * data.train.rows), hits };
    };
    const r = share(rp3);
    expect(r.inBlock).toBeGreaterThan(0.9);
    expect(r.hits).toBeGreaterThan(3 * share(pop).hits);
  });

  it("refuses settings it cannot use", () => {
    expect(() => new Rp3Beta({ alpha: -1 })).toThrow(/alpha/);
    expect(() => new Rp3Beta({ beta: Number.NaN })).toThrow(/beta/);
    expect(() => new Rp3Beta({ k: 0 })).toThrow(/k a positive integer/);
    expect(() => new Rp3Beta({ k: 2.5 })).toThrow(/k a positive integer/);
  });
});
