/**
 * The trainer's pools step (scripts/train/steps/reader-pools.ts): readers scored four at a time, and the readers split
 * over worker threads, store exactly the pools made one reader at a time with the reference kernel.
 */
import { describe, expect, it } from "vitest";
import { base64ToFloat32 } from "../../core/base64";
import { hybridScores, ownItems } from "../../core/hybrid";
import { scoreInt8 } from "../../core/int8-kernel";
import { ownNeighbourSums } from "../../core/neighbour-table";
import type { Profile } from "../../core/profile";
import { encodePool, makePool } from "../../core/reader-pool";
import { syntheticPoolModel } from "../../scripts/bench/pools-bench";
import { Rng } from "../../scripts/lib/rng";
import { workerCount } from "../../scripts/lib/worker-pool";
import { buildProfile } from "../../scripts/profiles/build-profiles";
import { type PoolModel, poolsSideBySide, profilePools } from "../../scripts/train/steps/reader-pools";

const T0 = 1_700_000_000;

function shop(seed: number): { model: PoolModel; profiles: Profile[] } {
  const r = new Rng(seed);
  const [n, d, cd] = [700, 24, 12];
  const model = syntheticPoolModel(r, { version: "v1", items: n, dims: d, contentDims: cd, k: 6, rows: 200 });
  const ids = [...model.itemIndex.keys()];
  // 23 readers: not a multiple of four; some without vectors or with another version's, who get no pool
  const profiles = Array.from({ length: 23 }, (_, u) =>
    buildProfile(`u${u}`, {
      model: u % 7 === 3 ? "v0" : "v1",
      factors: u % 5 === 4 ? undefined : Float32Array.from({ length: d }, () => r.normal()),
      content: Float32Array.from({ length: cd }, () => r.normal()),
      purchases: Array.from({ length: r.int(12) }, (_, i) => ({
        item: ids[r.int(n)] as string,
        invoices: 1 + r.int(3),
        lastTs: T0 - i * 86400,
      })),
    }),
  );
  return { model, profiles };
}

/** One reader at a time with the reference kernel: the pools as the step made them before it batched. */
function oneByOne(model: PoolModel, profiles: readonly Profile[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of profiles) {
    if (p.factors?.model !== model.version || p.contentVector?.model !== model.version) continue;
    const own = ownItems(p.purchases, model.itemIndex);
    const als = scoreInt8(model.als, base64ToFloat32(p.factors.vector));
    const content = scoreInt8(model.content, base64ToFloat32(p.contentVector.vector));
    const sums = ownNeighbourSums(model.neighbours, own);
    const hybrid = {
      all: hybridScores(model.weights.all, own, 0, als, content, sums, model.stats),
      novel: hybridScores(model.weights.novel, own, 0, als, content, sums, model.stats),
    };
    out.set(
      p.userId,
      encodePool(makePool({ own, als, content, neighbours: model.neighbours, stats: model.stats, hybrid })),
    );
  }
  return out;
}

describe("the trainer's pools step", () => {
  it("stores, four readers at a time, the pools made one at a time, for exactly the readers with both vectors", () => {
    const { model, profiles } = shop(1);
    const expected = oneByOne(model, profiles);
    expect(expected.size).toBe(16);
    expect([...profilePools(model, profiles)]).toEqual([...expected]);
    // one a pass (the bench's "before"), and a batch that leaves a remainder
    expect([...profilePools(model, profiles, 1)]).toEqual([...expected]);
    expect([...profilePools(model, profiles, 3)]).toEqual([...expected]);
  });

  it("stores the same pools, in the same order, when the readers are sliced over worker threads", async () => {
    expect(workerCount()).toBeGreaterThan(1);
    const { model, profiles } = shop(2);
    const expected = [...oneByOne(model, profiles)];
    expect([...(await poolsSideBySide(model, profiles, 0))]).toEqual(expected);
    // in slices of at most two readers (700 items each): more slices than workers, each waiting for a free one
    expect([...(await poolsSideBySide(model, profiles, 0, 1_400))]).toEqual(expected);
  });
});
