/**
 * The shared contract every recommender trainer passes (one suite, every entry of RECOMMENDERS), plus
 * the answer ALS must find on planted structure: far better than popularity.
 */
import { describe, expect, it } from "vitest";
import { HYBRID_FEATURES } from "../../core/hybrid";
import { rowIndices } from "../../scripts/data/sparse";
import { dotEachRow, dots4x2 } from "../../scripts/lib/dot";
import { type Recommender, recommend } from "../../scripts/ranking/recommender-contract";
import { ImplicitAls } from "../../scripts/train/als";
import { ContentLsa, tokenize } from "../../scripts/train/content";
import { Ease, inverseSpd } from "../../scripts/train/ease";
import { HybridRecommender } from "../../scripts/train/hybrid";
import { OwnThen } from "../../scripts/train/own-then";
import { Popularity } from "../../scripts/train/popularity";
import { RECOMMENDERS } from "../../scripts/train/recommenders";
import { RepeatPurchases } from "../../scripts/train/repeat";
import { plantedBlocks } from "./support/planted";

const data = plantedBlocks();

describe.each(Object.entries(RECOMMENDERS))("recommender contract: %s", (_name, make) => {
  const model = make(1);
  model.fit(data.data);

  it("scores every item with a finite number", () => {
    const s = model.scores(0);
    expect(s.length).toBe(data.train.cols);
    expect(Array.from(s).every(Number.isFinite)).toBe(true);
  });

  it("recommends n distinct items and never an excluded one", () => {
    const exclude = new Set(rowIndices(data.train, 3));
    const recs = recommend(model, 3, 10, exclude);
    expect(recs).toHaveLength(10);
    expect(new Set(recs).size).toBe(10);
    expect(recs.some((j) => exclude.has(j))).toBe(false);
  });

  it("is deterministic for a seed", () => {
    const again = make(1);
    again.fit(data.data);
    expect(recommend(again, 7, 10)).toEqual(recommend(model, 7, 10));
  });
});

function blockShareAndHits(model: Recommender) {
  let inBlock = 0;
  let hits = 0;
  let total = 0;
  for (let u = 0; u < data.train.rows; u++) {
    const recs = recommend(model, u, 10, new Set(rowIndices(data.train, u)));
    const g = data.groupOfUser[u];
    inBlock += recs.filter((j) => data.groupOfItem[j] === g).length;
    hits += recs.filter((j) => data.heldOut.get(u)?.has(j)).length;
    total += recs.length;
  }
  return { blockShare: inBlock / total, hitsPerUser: hits / data.train.rows };
}

describe("planted structure: what each model must find", () => {
  it("content recovers the blocks from item text alone, far better than popularity", () => {
    const content = new ContentLsa({ dims: 16 });
    content.fit(data.data);
    const pop = new Popularity();
    pop.fit(data.data);
    expect(blockShareAndHits(content).blockShare).toBeGreaterThan(0.9);
    expect(blockShareAndHits(content).hitsPerUser).toBeGreaterThan(3 * blockShareAndHits(pop).hitsPerUser);
  });

  it("content reads words in any script, accents and all, as it reads English ones", () => {
    expect(tokenize("ÉCHARPE Crème brûlée, GRÖSSE 12 ١٢ ６０")).toEqual(["écharpe", "crème", "brûlée", "grösse"]);
    // a combining accent (text written decomposed) is part of its word
    expect(tokenize("cre\u0300me")).toEqual(["crème"]);
    // the planted blocks' words in Russian: before, every item's text read as no word, and every vector as 0
    const words = new Map(
      [
        ...["lamp", "rug", "mug", "fern", "towel", "puzzle", "candle", "vase", "quilt", "kettle"],
        ...["classic", "modern", "oak", "linen", "small", "large", "blue", "green"],
      ].map((w, i) => [w, `слово${"абвгдежзийклмнопрстуф"[i]}`]),
    );
    const russian = (data.data.itemText ?? []).map((t) =>
      t.replace(/[a-z]+/g, (w) => words.get(w) ?? words.get(w.slice(0, -1)) + "ы"),
    );
    expect(russian[0]).not.toMatch(/[a-z]/);
    const content = new ContentLsa({ dims: 16 });
    content.fit({ ...data.data, itemText: russian });
    expect(blockShareAndHits(content).blockShare).toBeGreaterThan(0.9);
  });

  it("repeat ranks the user's own items first: most invoices, then most recent", () => {
    const repeat = new RepeatPurchases();
    repeat.fit(data.data);
    const u = 11;
    const own = Array.from(rowIndices(data.train, u));
    const start = data.train.indptr[u] as number;
    const expected = own
      .map((item, k) => ({
        item,
        n: data.train.data[start + k] as number,
        t: data.data.lastTime?.[start + k] as number,
      }))
      .sort((a, b) => b.n - a.n || b.t - a.t)
      .map((x) => x.item);
    expect(recommend(repeat, u, own.length)).toEqual(expected);
    // then popularity (index) order
    expect(recommend(repeat, u, own.length + 1).at(-1)).toBe(
      [...Array(data.train.cols).keys()].find((j) => !own.includes(j)),
    );
  });

  it("the hybrid, tuned on held-out relevance, weighs ALS positively and keeps ALS's accuracy", () => {
    const hybrid = new HybridRecommender({ factors: 16, iterations: 10, seed: 1 }, { dims: 16 });
    hybrid.fit(data.data);
    const relevant = new Map([...data.heldOut].map(([u, s]) => [u, s as ReadonlySet<number>]));
    const w = hybrid.tune(relevant, relevant);
    expect(w.novel.weights[HYBRID_FEATURES.indexOf("als")]).toBeGreaterThan(0);
    hybrid.mode = "novel";
    const pop = new Popularity();
    pop.fit(data.data);
    const alsAlone = blockShareAndHits(hybrid.parts?.als as ImplicitAls).hitsPerUser;
    const tuned = blockShareAndHits(hybrid).hitsPerUser;
    expect(tuned).toBeGreaterThanOrEqual(0.95 * alsAlone);
    expect(tuned).toBeGreaterThan(3 * blockShareAndHits(pop).hitsPerUser);
  });
});

describe("implicit ALS on planted structure", () => {
  it("recovers the planted blocks far better than popularity", () => {
    const als = new ImplicitAls({ factors: 16, iterations: 10, seed: 1 });
    als.fit(data.data);
    const pop = new Popularity();
    pop.fit(data.data);
    const a = blockShareAndHits(als);
    const p = blockShareAndHits(pop);
    expect(a.blockShare).toBeGreaterThan(0.9);
    expect(p.blockShare).toBeLessThan(0.3);
    expect(a.hitsPerUser).toBeGreaterThan(3 * p.hitsPerUser);
  });

  it("decreases its training loss", () => {
    const als = new ImplicitAls({ factors: 16, iterations: 6, seed: 2 });
    als.recordLoss = true;
    als.fit(data.data);
    const h = als.lossHistory;
    expect(h).toHaveLength(6);
    expect(h[h.length - 1]).toBeLessThan(h[0] as number);
    // unasked, a fit spends no pass on it
    const quiet = new ImplicitAls({ factors: 16, iterations: 6, seed: 2 });
    quiet.fit(data.data);
    expect(quiet.lossHistory).toHaveLength(0);
    expect(quiet.userFactors).toEqual(als.userFactors);
  });

  it("scores each item with the same bits as its own dot product, for every catalog size mod 4", () => {
    const als = new ImplicitAls({ factors: 8, iterations: 2, seed: 3 });
    als.fit(data.data);
    const all = als.itemFactors;
    // the first catalog sizes of each remainder past four items at a time (and fewer than four)
    for (const n of [1, 2, 3, 4, 5, 6, 7, data.train.cols]) {
      als.itemFactors = all.slice(0, n * 8);
      for (const user of [0, 1, data.train.rows - 1]) {
        const want = new Float32Array(n);
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let a = 0; a < 8; a++) s += (als.userFactors[user * 8 + a] as number) * (all[j * 8 + a] as number);
          want[j] = s;
        }
        expect(als.scores(user)).toEqual(want);
      }
    }
  });

  it("fits factors of the configured shape", () => {
    const als = new ImplicitAls({ factors: 8, iterations: 2 });
    als.fit(data.data);
    expect(als.userFactors.length).toBe(data.train.rows * 8);
    expect(als.itemFactors.length).toBe(data.train.cols * 8);
  });
});

describe("EASE and the concatenation baselines", () => {
  // sizes around the inverse's blocks of four rows (and its column pairs), small and past a few blocks
  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 40, 41, 42, 43])(
    "inverts a symmetric positive definite matrix of %i rows: A times its inverse is the identity",
    (n) => {
      // A = M'M + I from a fixed pseudo-random M: symmetric positive definite
      const m = Float64Array.from({ length: n * n }, (_, i) => Math.sin(i * 12.9898) * 0.5);
      const a = new Float64Array(n * n);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = i === j ? 1 : 0;
          for (let k = 0; k < n; k++) s += (m[k * n + i] as number) * (m[k * n + j] as number);
          a[i * n + j] = s;
        }
      const inv = inverseSpd(Float64Array.from(a), n);
      let worst = 0;
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += (a[i * n + k] as number) * (inv[k * n + j] as number);
          worst = Math.max(worst, Math.abs(s - (i === j ? 1 : 0)));
        }
      expect(worst).toBeLessThan(1e-9);
    },
  );

  it("EASE recovers the planted blocks far better than popularity, and never scores an item by itself", () => {
    const ease = new Ease({ lambda: 10 });
    ease.fit(data.data);
    const pop = new Popularity();
    pop.fit(data.data);
    const e = blockShareAndHits(ease);
    expect(e.blockShare).toBeGreaterThan(0.9);
    expect(e.hitsPerUser).toBeGreaterThan(3 * blockShareAndHits(pop).hitsPerUser);
    // diag(B) = 0: a reader of one item gets no score for that item from it
    const one = new Ease({ lambda: 10 });
    one.fit({
      matrix: {
        rows: 2,
        cols: 3,
        indptr: Int32Array.from([0, 2, 3]),
        indices: Int32Array.from([0, 1, 2]),
        data: Float32Array.from([1, 1, 1]),
      },
    });
    expect(one.scores(1)[2]).toBe(0);
    expect(one.scores(0)[1]).not.toBe(0);
  });

  it("EASE keeps only the most bought items when told to: the rest rank last", () => {
    const ease = new Ease({ lambda: 10, maxItems: 20 });
    ease.fit(data.data);
    const s = ease.scores(0);
    const scored = Array.from(s).filter((x) => x > -1e29).length;
    expect(scored).toBe(20);
  });

  it("own items then X: the reader's own items as repeat ranks them, then X's order", () => {
    const als = new ImplicitAls({ factors: 16, iterations: 10, seed: 1 });
    const concat = new OwnThen(als);
    concat.fit(data.data);
    const repeat = new RepeatPurchases();
    repeat.fit(data.data);
    const u = 11;
    const own = rowIndices(data.train, u).length;
    const top = recommend(concat, u, own + 10);
    expect(top.slice(0, own)).toEqual(recommend(repeat, u, own));
    expect(top.slice(own)).toEqual(recommend(als, u, 10, new Set(rowIndices(data.train, u))));
  });
});

describe("the trainers' dense kernels (scripts/lib/dot.ts)", () => {
  it("dotEachRow sums each row in column order, from the vector's offset, for any row count", () => {
    // each row [1e20, j + 1, -1e20, 0.5] sums to 0.5 only in column order: j + 1 vanishes into 1e20, the large
    // terms cancel, 0.5 is added last (backwards or in pairs: 0; the large terms first: j + 1.5)
    const v = Float32Array.from([9, 1, 1, 1, 1]);
    for (const rows of [0, 1, 3, 4, 5, 8, 9]) {
      const m = new Float32Array(rows * 4);
      for (let j = 0; j < rows; j++) m.set([1e20, j + 1, -1e20, 0.5], j * 4);
      const out = new Float32Array(rows).fill(Number.NaN);
      dotEachRow(v, 1, m, 4, out);
      expect(out).toEqual(new Float32Array(rows).fill(0.5));
    }
    const none = Float32Array.from([Number.NaN, Number.NaN]);
    dotEachRow(v, 0, new Float32Array(0), 0, none);
    expect(none).toEqual(new Float32Array(2));
  });

  it("dots4x2 gives the eight dot products of four runs with two", () => {
    const a = Float64Array.from({ length: 60 }, (_, i) => Math.sin(i) * 3);
    const b = Float64Array.from({ length: 40 }, (_, i) => Math.cos(i * 0.7));
    const out = new Float64Array(8);
    const as = [0, 13, 20, 41];
    const bs = [5, 22];
    dots4x2(a, as[0] as number, as[1] as number, as[2] as number, as[3] as number, b, 5, 22, 17, out);
    as.forEach((ao, q) => {
      bs.forEach((bo, p) => {
        let s = 0;
        for (let k = 0; k < 17; k++) s += (a[ao + k] as number) * (b[bo + k] as number);
        // the same products added in the same order: the same bits
        expect(out[2 * q + p]).toBe(s);
      });
    });
  });
});
