/**
 * Training step 4b: every reader's pool (core/reader-pool.ts), stored with their features: the items the learned
 * ranker can propose for them, with the int8 graphs' scores, made from their profile's vectors and items exactly as
 * the Worker reads them. Only for a version with a ranker, and readers with both vectors. Each pool costs a pass
 * over the catalog in plain TypeScript (the int8 reference kernel): about 4 ms a reader at 3,659 items, 60 ms at
 * 100,000; `npm run train -- --no-pools` leaves them out (every open then scores the catalog).
 */
import { base64ToFloat32 } from "../../../core/base64";
import { type HybridWeights, hybridScores, itemPriors, ownItems } from "../../../core/hybrid";
import { type QuantizedItems, scoreInt8 } from "../../../core/int8-kernel";
import { decodeNeighbours, type NeighbourTable } from "../../../core/neighbour-table";
import type { Profile } from "../../../core/profile";
import type { RankerItemStats } from "../../../core/ranker";
import { encodePool, makePool } from "../../../core/reader-pool";
import type { Recommenders } from "./fit-recommenders";

/** What a version's pools are made from: its int8 item tables and the ranker's parts, as the Worker loads them. */
export interface PoolModel {
  version: string;
  itemIndex: ReadonlyMap<string, number>;
  als: QuantizedItems;
  content: QuantizedItems;
  neighbours: NeighbourTable;
  stats: RankerItemStats;
  weights: HybridWeights;
}

/** The stored pool of each reader who can have one, by user id. */
export function readerPools(recs: Recommenders, itemIds: readonly string[], profiles: Profile[]): Map<string, string> {
  const { alsItems, contentItems, ranker } = recs;
  const parts = recs.hybrid.parts;
  if (!ranker || !contentItems || !parts) return new Map();
  const model: PoolModel = {
    version: recs.version,
    itemIndex: new Map(itemIds.map((id, i) => [id, i])),
    als: alsItems,
    content: contentItems,
    neighbours: decodeNeighbours(ranker.neighbours, itemIds.length, ranker.k),
    stats: parts.stats,
    weights: recs.hybrid.weights,
  };
  return profilePools(model, profiles);
}

/** The stored pool of each profile with both of the version's vectors, by user id. */
export function profilePools(model: PoolModel, profiles: readonly Profile[]): Map<string, string> {
  const pools = new Map<string, string>();
  // what of each logit does not depend on the reader, once for all of them
  const priors = {
    all: itemPriors(model.weights.all, model.stats),
    novel: itemPriors(model.weights.novel, model.stats),
  };
  for (const p of profiles) {
    if (p.factors?.model !== model.version || p.contentVector?.model !== model.version) continue;
    // the reader as the Worker sees them: their stored vectors and their purchases the model knows
    const own = ownItems(p.purchases, model.itemIndex);
    const als = scoreInt8(model.als, base64ToFloat32(p.factors.vector));
    const content = scoreInt8(model.content, base64ToFloat32(p.contentVector.vector));
    // any time will do: the pool holds what does not depend on it
    const hybrid = {
      all: hybridScores(model.weights.all, own, 0, als, content, model.stats, priors.all),
      novel: hybridScores(model.weights.novel, own, 0, als, content, model.stats, priors.novel),
    };
    const { neighbours, stats } = model;
    pools.set(p.userId, encodePool(makePool({ own, als, content, neighbours, stats, hybrid })));
  }
  return pools;
}
