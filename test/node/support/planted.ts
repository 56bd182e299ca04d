/**
 * Synthetic implicit feedback with a known answer: users in G groups, items in G blocks; each user
 * interacts with part of their own block (plus a little noise) and holds out more of it for testing.
 * Items carry text whose words are specific to their block, and every interaction a time.
 */
import { type Csr, csrFromCoo } from "../../../scripts/data/sparse";
import type { TrainData } from "../../../scripts/data/train-data";
import { Rng } from "../../../scripts/lib/rng";

export interface Planted {
  train: Csr;
  data: TrainData;
  /** held-out items per user (all in the user's block) */
  heldOut: Map<number, Set<number>>;
  groupOfUser: number[];
  groupOfItem: number[];
}

const BLOCK_WORDS = ["lamp", "rug", "mug", "fern", "towel", "puzzle", "candle", "vase", "quilt", "kettle"];
const SHARED_WORDS = ["classic", "modern", "oak", "linen", "small", "large", "blue", "green"];

export function plantedBlocks(seed = 5, groups = 8, usersPerGroup = 50, itemsPerBlock = 30): Planted {
  const rng = new Rng(seed);
  const nUsers = groups * usersPerGroup;
  const nItems = groups * itemsPerBlock;
  const groupOfUser = Array.from({ length: nUsers }, (_, u) => u % groups);
  const groupOfItem = Array.from({ length: nItems }, (_, i) => Math.floor(i / itemsPerBlock));
  const r: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  const heldOut = new Map<number, Set<number>>();
  for (let u = 0; u < nUsers; u++) {
    const g = groupOfUser[u] as number;
    const block = Array.from({ length: itemsPerBlock }, (_, k) => g * itemsPerBlock + k).sort(() => rng.next() - 0.5);
    for (const item of block.slice(0, 12)) {
      r.push(u);
      c.push(item);
      v.push(1 + rng.int(3));
    }
    heldOut.set(u, new Set(block.slice(12, 16)));
    r.push(u);
    c.push(rng.int(nItems));
    v.push(1);
  }
  const train = csrFromCoo(nUsers, nItems, r, c, v);
  const lastTime = Float64Array.from(train.indices, () => 1_700_000_000 + rng.int(300 * 86400));
  const itemText = groupOfItem.map(
    (g) =>
      `${rng.pick(SHARED_WORDS)} ${rng.pick(SHARED_WORDS)} ${BLOCK_WORDS[g % BLOCK_WORDS.length]} ${BLOCK_WORDS[g % BLOCK_WORDS.length]}s`,
  );
  return { train, data: { matrix: train, lastTime, itemText }, heldOut, groupOfUser, groupOfItem };
}
