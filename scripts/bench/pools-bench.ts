/**
 * `npm run bench -- --only pools`: what the trainer's pools step (scripts/train/steps/reader-pools.ts) costs per
 * reader on a synthetic catalog (64 ALS and 32 content dimensions, 2,500 neighbour rows of 20, 30 purchases a
 * reader): made one reader at a time (the reference kernel, as the step ran before it batched), eight at a time
 * here, and eight at a time in a worker thread per core (what `train` runs). The three must store the same pools.
 */
import { quantizeItems } from "../../core/int8-kernel";
import { Rng } from "../lib/rng";
import { workerCount } from "../lib/worker-pool";
import { buildProfile } from "../profiles/build-profiles";
import { type PoolModel, poolsSideBySide, profilePools } from "../train/steps/reader-pools";
import { BENCH_WEIGHTS } from "./scenarios";

export interface PoolsResult {
  items: number;
  readers: number;
  workers: number;
  ms_per_reader: { one_at_a_time: number; eight_at_a_time: number; eight_at_a_time_in_workers: number };
  identical: boolean;
}

/** The shape of a synthetic catalog's pool model (its values are drawn from `r`). */
export interface PoolModelShape {
  version: string;
  items: number;
  dims: number;
  contentDims: number;
  /** neighbours kept per row */
  k: number;
  /** items with a neighbour row (the first ones) */
  rows: number;
}

/** A pool model over a synthetic catalog `p0`..: random int8 graphs, neighbour rows and item statistics. */
export function syntheticPoolModel(r: Rng, shape: PoolModelShape): PoolModel {
  const { version, items, dims, contentDims, k, rows } = shape;
  const ids = Array.from({ length: items }, (_, j) => `p${j}`);
  const vectors = (d: number) =>
    quantizeItems(
      Float32Array.from({ length: items * d }, () => r.normal() * 0.3),
      items,
      d,
    );
  return {
    version,
    itemIndex: new Map(ids.map((id, j) => [id, j])),
    als: vectors(dims),
    content: vectors(contentDims),
    neighbours: {
      k,
      rowOf: Int32Array.from({ length: items }, (_, j) => (j < rows ? j : -1)),
      index: Int32Array.from({ length: rows * k }, () => r.int(items)),
      weight: Float32Array.from({ length: rows * k }, () => r.next() * 0.2),
    },
    stats: {
      logBuyers: Float32Array.from({ length: items }, (_, j) => Math.log1p(items / (j + 1))),
      repeatRate: Float32Array.from({ length: items }, () => r.next() * 0.5),
      logRecentBuyers: Float32Array.from({ length: items }, () => Math.log1p(r.int(50))),
      weekBuyers: Int32Array.from({ length: items }, () => r.int(5)),
      fortnightBuyers: Int32Array.from({ length: items }, () => r.int(10)),
    },
    weights: BENCH_WEIGHTS,
  };
}

export async function benchPools(items: number, readers: number): Promise<PoolsResult> {
  const r = new Rng(11);
  const [d, cd] = [64, 32];
  const model = syntheticPoolModel(r, {
    version: "bench",
    items,
    dims: d,
    contentDims: cd,
    k: 20,
    rows: Math.min(2500, items),
  });
  const ids = [...model.itemIndex.keys()];
  const profiles = Array.from({ length: readers }, (_, u) =>
    buildProfile(`u${u}`, {
      model: model.version,
      factors: Float32Array.from({ length: d }, () => r.normal() * 0.3),
      content: Float32Array.from({ length: cd }, () => r.normal() * 0.3),
      purchases: Array.from({ length: 30 }, (_, i) => ({
        item: ids[r.int(items)] as string,
        invoices: 1 + r.int(4),
        lastTs: 1_700_000_000 - i * 5 * 86400,
      })),
    }),
  );
  const timed = async (make: () => Map<string, string> | Promise<Map<string, string>>) => {
    const t0 = performance.now();
    const pools = await make();
    return { pools, ms: (performance.now() - t0) / readers };
  };
  const one = await timed(() => profilePools(model, profiles, 1));
  const eight = await timed(() => profilePools(model, profiles));
  const side = await timed(() => poolsSideBySide(model, profiles, 0));
  const stored = (m: Map<string, string>) => JSON.stringify([...m]);
  const round = (v: number) => Math.round(v * 100) / 100;
  return {
    items,
    readers,
    workers: workerCount(),
    ms_per_reader: {
      one_at_a_time: round(one.ms),
      eight_at_a_time: round(eight.ms),
      eight_at_a_time_in_workers: round(side.ms),
    },
    identical: stored(one.pools) === stored(eight.pools) && stored(one.pools) === stored(side.pools),
  };
}
