/**
 * core/reader-pool.ts: a reader's pool gives the learned ranker exactly the candidates and feature rows that
 * scoring the whole catalog gives, in both modes and at any later time; a pool made from other own items, or
 * stored wrong, is not used.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type HybridWeights, hybridScores, type OwnItem } from "../../core/hybrid";
import { topK } from "../../core/int8-kernel";
import { type NeighbourTable, ownNeighbourSums } from "../../core/neighbour-table";
import { emptyProfile, featuresOf, UserFeaturesSchema } from "../../core/profile";
import { type RankerItemStats, type RankerMode, rankerCandidates } from "../../core/ranker";
import {
  decodePool,
  encodePool,
  MAX_POOL_ITEMS,
  MAX_STORED_POOL,
  makePool,
  poolCandidates,
  poolHybridTop,
  type ReaderPool,
} from "../../core/reader-pool";
import { Rng } from "../../scripts/lib/rng";

const DAY = 86400;
const T0 = 1_700_000_000;

interface World {
  n: number;
  als: Float32Array;
  content: Float32Array;
  stats: RankerItemStats;
  neighbours: NeighbourTable;
  weights: HybridWeights;
  own: OwnItem[];
}

/** A random catalog and reader; scores on a coarse grid, so ties are common and must break by lower index. */
function world(seed: number, n: number, owned: number, recency?: number): World {
  const rng = new Rng(seed);
  const grid = (steps: number) => Float32Array.from({ length: n }, () => rng.int(steps) / steps);
  const k = 8;
  const rowOf = Int32Array.from({ length: n }, (_, j) => (j % 3 === 0 ? j / 3 : -1));
  const rows = Math.ceil(n / 3);
  // rows end early (-1) now and then, as EASE's do when an item has fewer positive weights than k
  const index = Int32Array.from({ length: rows * k }, (_, p) => (p % k > 5 && rng.next() < 0.5 ? -1 : rng.int(n)));
  for (let r = 0; r < rows; r++) {
    let ended = false;
    for (let p = r * k; p < (r + 1) * k; p++) {
      if (ended) index[p] = -1;
      ended ||= index[p] === -1;
    }
  }
  const weight = Float32Array.from({ length: rows * k }, () => rng.int(10) / 10);
  const linear = () => ({
    // with `recency`: own items weigh only by how lately they were bought, that much
    weights: Array.from({ length: 11 }, (_, f) =>
      recency === undefined || f >= 5 ? rng.normal() : f === 2 || f === 3 ? recency : 0,
    ),
    intercept: rng.normal(),
  });
  const items = new Set<number>();
  while (items.size < owned) items.add(rng.int(n));
  return {
    n,
    als: grid(8),
    content: grid(8),
    stats: {
      logBuyers: grid(6),
      repeatRate: grid(4),
      logRecentBuyers: grid(6),
      weekBuyers: Int32Array.from({ length: n }, () => rng.int(4)),
      fortnightBuyers: Int32Array.from({ length: n }, () => rng.int(6)),
    },
    neighbours: { k, rowOf, index, weight },
    weights: { features: [], all: linear(), novel: linear() },
    own: [...items].map((item, i) => ({
      item,
      invoices: 1 + rng.int(5),
      lastTs: T0 - i * 7 * DAY - rng.int(3) * 3600,
    })),
  };
}

/** The reader's neighbour sums, which the hybrid's logits are scored with. */
const sumsOf = (w: World) => ownNeighbourSums(w.neighbours, w.own);

/** The pool as the trainer makes and stores it, read back as the Worker reads it. */
function storedPool(w: World): ReaderPool {
  const hybrid = {
    all: hybridScores(w.weights.all, w.own, 0, w.als, w.content, sumsOf(w), w.stats),
    novel: hybridScores(w.weights.novel, w.own, 0, w.als, w.content, sumsOf(w), w.stats),
  };
  const pool = decodePool(encodePool(makePool({ ...w, hybrid })), w.n);
  if (!pool) throw new Error("the pool did not read back");
  return pool;
}

/** What ranking over every item gives at `now`. */
function whole(w: World, mode: RankerMode, now: number) {
  const hybrid = hybridScores(w.weights[mode], w.own, now, w.als, w.content, sumsOf(w), w.stats);
  return rankerCandidates({ ...w, now, hybrid }, mode);
}

function fromPool(w: World, pool: ReaderPool, mode: RankerMode, now: number) {
  return poolCandidates(pool, { ...w, now, weights: w.weights[mode] }, mode);
}

/** A catalog and reader drawn by seed, of 60-600 items, up to 70 own items, opened up to 800 days on. */
const anyReader = fc.record({
  seed: fc.integer({ min: 0, max: 1_000_000 }),
  n: fc.integer({ min: 60, max: 600 }),
  owned: fc.integer({ min: 0, max: 70 }),
  days: fc.integer({ min: 0, max: 800 }),
});

describe("a reader's pool", () => {
  it("gives the whole catalog's candidates and feature rows, to the bit, in both modes and at any later time", () => {
    fc.assert(
      fc.property(anyReader, ({ seed, n, owned, days }) => {
        const w = world(seed, n, Math.min(owned, n - 1));
        const pool = storedPool(w);
        for (const mode of ["all", "novel"] as const) {
          const now = T0 + days * DAY;
          const got = fromPool(w, pool, mode, now);
          const want = whole(w, mode, now);
          expect(got?.items).toEqual(want.items);
          expect(Array.from(got?.rows ?? [])).toEqual(Array.from(want.rows));
        }
      }),
      { numRuns: 100, examples: [[{ seed: 0, n: 60, owned: 55, days: 0 }]] },
    );
  });

  it("gives the hybrid's best items not skipped as over every item, or says it cannot", () => {
    fc.assert(
      fc.property(
        anyReader,
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 0, max: 40 }),
        ({ seed, n, owned, days }, k, skips) => {
          const w = world(seed, n, Math.min(owned, n - 1));
          const pool = storedPool(w);
          const rng = new Rng(seed + 1);
          const skipped = new Set(Array.from({ length: skips }, () => rng.int(n)));
          const mine = new Set(w.own.map((o) => o.item));
          for (const mode of ["all", "novel"] as const) {
            const now = T0 + days * DAY;
            // as the Worker skips: what it excludes, and in novel mode everything the reader bought
            const skip = (j: number) => skipped.has(j) || (mode === "novel" && mine.has(j));
            const got = poolHybridTop(pool, { ...w, now, weights: w.weights[mode] }, k, skip);
            const want = topK(hybridScores(w.weights[mode], w.own, now, w.als, w.content, sumsOf(w), w.stats), k, skip);
            if (got) expect(got).toEqual(want);
            // ten items with a few skips lie well inside what the pool knows of the order
            else expect(k > 10 || skips > 5).toBe(true);
          }
        },
      ),
      // and a catalog of 60 items of which the reader bought 55: fewer left than asked for
      {
        numRuns: 150,
        examples: [
          [{ seed: 0, n: 589, owned: 66, days: 232 }, 56, 0],
          [{ seed: 0, n: 60, owned: 55, days: 0 }, 6, 0],
        ],
      },
    );
  });

  it("holds the items the hybrid ranks next once the reader's own fall out of its best with time", () => {
    // own items weigh so much that, bought lately, 60 of them fill the hybrid's best 50; years on they weigh nothing
    const bought = world(7, 2000, 60, 20);
    const w = { ...bought, own: bought.own.map((o, i) => ({ ...o, lastTs: T0 - i * 3600 })) };
    const pool = storedPool(w);
    // a small share of the catalog: the pool is not the catalog under another name
    expect(pool.items.length).toBeLessThan(500);
    for (const days of [0, 30, 365, 2000]) {
      const got = fromPool(w, pool, "all", T0 + days * DAY);
      expect(got?.items).toEqual(whole(w, "all", T0 + days * DAY).items);
    }
    // the hybrid's best 50 at first holds no other item, later it does: the pool had to hold those in advance
    const best = (days: number) => {
      const h = hybridScores(w.weights.all, w.own, T0 + days * DAY, w.als, w.content, sumsOf(w), w.stats);
      const mine = new Set(w.own.map((o) => o.item));
      return [...h.keys()]
        .sort((a, b) => (h[b] as number) - (h[a] as number) || a - b)
        .slice(0, 50)
        .filter((j) => !mine.has(j));
    };
    expect(best(0)).toHaveLength(0);
    expect(best(2000).length).toBeGreaterThan(0);
  });

  it("is not used by a reader whose own history is not the one it was made from", () => {
    const w = world(3, 300, 12);
    const pool = storedPool(w);
    expect(fromPool(w, pool, "all", T0)).not.toBeNull();
    const outside = [...Array(300).keys()].find((j) => !pool.items.includes(j)) as number;
    const inside = pool.items[pool.own.indexOf(0)] as number;
    const [first, ...rest] = w.own as [OwnItem, ...OwnItem[]];
    for (const own of [
      // bought one more: outside the pool, or inside it but not theirs when it was made
      [...w.own, { item: outside, invoices: 1, lastTs: T0 }],
      [...w.own, { item: inside, invoices: 1, lastTs: T0 }],
      // one fewer
      rest,
      // the same items, one bought again since (its order count and time), or listed in another order
      [{ ...first, invoices: first.invoices + 1, lastTs: T0 + DAY }, ...rest],
      [...rest, first],
    ]) {
      expect(fromPool({ ...w, own }, pool, "all", T0)).toBeNull();
      expect(poolHybridTop(pool, { ...w, own, now: T0, weights: w.weights.all }, 10)).toBeNull();
    }
  });

  it("is refused where the same items bought at other times change the candidates (the last basket moves)", () => {
    // bought A long ago and B lately; then A again: the last basket is now A, whose neighbours the pool need not hold
    const w = world(5, 400, 2);
    const [a, b] = [7, 8];
    const rowOf = new Int32Array(400).fill(-1);
    rowOf[a] = 0;
    rowOf[b] = 1;
    const k = 60;
    const neighbours: NeighbourTable = {
      k,
      rowOf,
      // A's neighbours 100..159 (weak), B's 200..259 (strong): A's place in the sums of both only as the basket
      index: Int32Array.from({ length: 2 * k }, (_, p) => (p < k ? 100 + p : 200 + p - k)),
      weight: Float32Array.from({ length: 2 * k }, (_, p) => (p < k ? 0.1 : 0.9)),
    };
    const before = {
      ...w,
      neighbours,
      own: [
        { item: b, invoices: 1, lastTs: T0 },
        { item: a, invoices: 1, lastTs: T0 - 100 * DAY },
      ],
    };
    const pool = storedPool(before);
    const after = {
      ...before,
      own: [
        { item: a, invoices: 2, lastTs: T0 + DAY },
        { item: b, invoices: 1, lastTs: T0 },
      ],
    };
    // over every item the basket brings A's neighbours in; the pool never held all of them
    const want = whole(after, "all", T0 + DAY).items;
    expect(want.filter((j) => j >= 100 && j < 160).some((j) => !pool.items.includes(j))).toBe(true);
    expect(fromPool(after, pool, "all", T0 + DAY)).toBeNull();
  });

  it("reads back only a pool stored right for the model", () => {
    const w = world(11, 300, 5);
    const pool = storedPool(w);
    const stored = encodePool(pool);
    expect(decodePool(stored, 300)).toEqual(pool);
    const bytes = Buffer.from(stored, "base64");
    const m = pool.items.length;
    const edited = (edit: (b: Buffer, view: DataView) => void) => {
      const b = Buffer.from(bytes);
      edit(b, new DataView(b.buffer, b.byteOffset, b.byteLength));
      return b.toString("base64");
    };
    for (const bad of [
      // cut short, or one more byte
      bytes.subarray(0, bytes.length - 1).toString("base64"),
      Buffer.concat([bytes, Buffer.from([0])]).toString("base64"),
      // items out of order, repeated, past the catalog
      edited((_, v) => v.setUint32(12, v.getUint32(8, true), true)),
      edited((_, v) => v.setUint32(8 + (m - 1) * 4, 300, true)),
      // a score that is not a number; an own flag that is not 0 or 1
      edited((_, v) => v.setFloat32(8 + m * 4, Number.NaN, true)),
      edited((_, v) => v.setFloat32(8 + m * 8, Number.POSITIVE_INFINITY, true)),
      edited((b) => {
        b[8 + m * 12] = 2;
      }),
      "not base64 at all!",
      "",
    ]) {
      expect(decodePool(bad, 300)).toBeNull();
    }
    // a model of fewer items than the pool reaches
    expect(decodePool(stored, pool.items[m - 1] as number)).toBeNull();
    // longer than any pool may be: refused before it is decoded
    const huge = new Uint8Array(8 + (MAX_POOL_ITEMS + 1) * 13);
    new DataView(huge.buffer).setUint32(0, MAX_POOL_ITEMS + 1, true);
    expect(decodePool(Buffer.from(huge).toString("base64"), 1 << 30)).toBeNull();
    // stored longer than any pool may be, in a reader's features: the pool is dropped, the rest of them read
    const reader = { ...emptyProfile("r1", "2026-01-01T00:00:00Z"), propensity: 0.25 };
    const features = { ...featuresOf(reader, "v1"), pool: "A".repeat(MAX_STORED_POOL + 4) };
    expect(UserFeaturesSchema.parse(JSON.parse(JSON.stringify(features)))).toEqual({ ...features, pool: null });
    const { pool: _, ...older } = features;
    expect(UserFeaturesSchema.parse(older).pool).toBeNull();
  });
});
