/**
 * The one contract every recommender trainer implements (after benfred/implicit): fit on a users x items
 * implicit-feedback matrix, then score or recommend for a user index. One shared test suite
 * (test/node/recommender-contract.test.ts) runs against every implementation listed in `recommenders.ts`.
 */
import { topK } from "../../core/int8-kernel";
import type { Csr } from "../data/sparse";

export interface Recommender {
  readonly name: string;
  /** Learns from `matrix` (rows = users, cols = items, values = interaction strength > 0). */
  fit(matrix: Csr): void;
  /** A score for every item for user `user` (row index of the fitted matrix); higher ranks first. */
  scores(user: number): Float32Array;
  /** Hyperparameters as recorded in model manifests. */
  hyperparameters(): Record<string, number | string | boolean>;
}

/** Top-n item indices for a user, skipping `exclude`d items; ties keep the lower index first. */
export function recommend(model: Recommender, user: number, n: number, exclude?: ReadonlySet<number>): number[] {
  const s = model.scores(user);
  return topK(s, n, exclude ? (j) => exclude.has(j) : undefined).indices;
}
