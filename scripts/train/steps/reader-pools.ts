/**
 * Training step 4b: every reader's pool (core/reader-pool.ts), stored with their features: the items the learned
 * ranker can propose for them, with the int8 graphs' scores, made from their profile's vectors and items exactly as
 * the Worker reads them. Only for a version with a ranker, and readers with both vectors. Each pool costs a pass
 * over the catalog in plain TypeScript: the int8 graphs scored eight readers at a time (scoreInt8Many, the reference
 * kernel's bits), in a worker thread per core. `npm run train -- --no-pools` leaves them out (every open then scores
 * the catalog).
 */
import { base64ToFloat32 } from "../../../core/base64";
import { type HybridWeights, hybridScores, itemPriors, ownItems } from "../../../core/hybrid";
import { type QuantizedItems, scoreInt8Many } from "../../../core/int8-kernel";
import { decodeNeighbours, type NeighbourTable, ownNeighbourSums } from "../../../core/neighbour-table";
import type { Profile } from "../../../core/profile";
import type { RankerItemStats } from "../../../core/ranker";
import { encodePool, makePool } from "../../../core/reader-pool";
import { inWorker, workerCount } from "../../lib/worker-pool";
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

/**
 * Below this much work (readers x items) the pools are made here: a worker thread takes about a second to start.
 * Online Retail (4,334 readers x 3,659 items, 16M): 11.9 s here, 7.2 s in two workers.
 */
const WORTH_A_WORKER = 5_000_000;
/**
 * The most work (readers x items) one worker call is given, about two minutes at 100,000 items: the readers it is
 * sent are copied into it, so a large base goes over in slices of a few thousand, not in halves.
 */
const WORK_PER_CALL = 500_000_000;
/** readers scored per pass over the catalog (scoreInt8Many reads each item's row once for eight) */
const BATCH = 8;

/** The stored pool of each reader who can have one, by user id. */
export async function readerPools(
  recs: Recommenders,
  itemIds: readonly string[],
  profiles: Profile[],
): Promise<Map<string, string>> {
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
  return poolsSideBySide(model, profiles);
}

/**
 * profilePools with the readers in slices made in worker threads, one per core at a time: the same pools in the
 * same order. Made here when there is one core or less work than `minWork` (readers x items).
 */
export async function poolsSideBySide(
  model: PoolModel,
  profiles: readonly Profile[],
  minWork = WORTH_A_WORKER,
  workPerCall = WORK_PER_CALL,
): Promise<Map<string, string>> {
  const readers = profiles.filter((p) => hasVectors(p, model.version));
  const slots = workerCount();
  if (slots === 1 || readers.length * model.als.n < minWork) return profilePools(model, readers);
  const size = Math.max(1, Math.min(Math.ceil(readers.length / slots), Math.floor(workPerCall / model.als.n)));
  const slices = Array.from({ length: Math.ceil(readers.length / size) }, (_, i) =>
    readers.slice(i * size, (i + 1) * size),
  );
  const made = await Promise.all(
    slices.map((slice) => inWorker<Map<string, string>>(new URL(import.meta.url), "profilePools", [model, slice])),
  );
  return new Map(made.flatMap((m) => [...m]));
}

const hasVectors = (p: Profile, version: string) => p.factors?.model === version && p.contentVector?.model === version;

/**
 * The stored pool of each profile with both of the version's vectors, by user id; `batch` readers scored per pass
 * over the catalog (1: one at a time, as the step did before; the same pools whatever it is).
 */
export function profilePools(model: PoolModel, profiles: readonly Profile[], batch = BATCH): Map<string, string> {
  const pools = new Map<string, string>();
  // what of each logit does not depend on the reader, once for all of them
  const priors = {
    all: itemPriors(model.weights.all, model.stats),
    novel: itemPriors(model.weights.novel, model.stats),
  };
  const readers = profiles.filter((p) => hasVectors(p, model.version));
  for (let at = 0; at < readers.length; at += batch) {
    const some = readers.slice(at, at + batch);
    const als = scoreInt8Many(
      model.als,
      some.map((p) => base64ToFloat32(p.factors?.vector ?? "")),
    );
    const content = scoreInt8Many(
      model.content,
      some.map((p) => base64ToFloat32(p.contentVector?.vector ?? "")),
    );
    some.forEach((p, b) => {
      // the reader as the Worker sees them: their stored vectors and their purchases the model knows
      const own = ownItems(p.purchases, model.itemIndex);
      const a = als[b] as Float32Array;
      const c = content[b] as Float32Array;
      const { neighbours, stats } = model;
      const sums = ownNeighbourSums(neighbours, own);
      // any time will do: the pool holds what does not depend on it
      const hybrid = {
        all: hybridScores(model.weights.all, own, 0, a, c, sums, stats, priors.all),
        novel: hybridScores(model.weights.novel, own, 0, a, c, sums, stats, priors.novel),
      };
      pools.set(p.userId, encodePool(makePool({ own, als: a, content: c, neighbours, sums, stats, hybrid })));
    });
  }
  return pools;
}
