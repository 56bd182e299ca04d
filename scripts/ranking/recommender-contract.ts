/**
 * The one contract every recommender trainer implements (after benfred/implicit): fit on a users x items
 * implicit-feedback matrix (plus optional recency and item text), then score a user's items. One shared
 * test suite (test/node/recommender-contract.test.ts) runs against every entry of `scripts/train/recommenders.ts`.
 *
 * Ties: `recommend` keeps the lower item index first. Callers that index items in popularity order
 * (as the evaluation does) therefore break every tie by popularity. A recommender whose order is more than its
 * scores (the learned ranker: its ties go to the hybrid, as at the edge) ranks itself (`rank`).
 */
import { topK } from "../../core/int8-kernel";
import type { TrainData } from "../data/train-data";

export interface Recommender {
  readonly name: string;
  fit(data: TrainData): void;
  /** A score for every item for user `user` (row of the fitted matrix); higher ranks first. */
  scores(user: number): ArrayLike<number>;
  /** Its own top-n for user `user`, skipping `exclude`d items, when its order is more than `scores`' (ties). */
  rank?(user: number, n: number, exclude?: ReadonlySet<number>): number[];
  /** Hyperparameters as recorded in model manifests and reports. */
  hyperparameters(): Record<string, number | string | boolean>;
}

/** Top-n item indices for a user, skipping `exclude`d items; ties keep the lower index first (or `rank`'s order). */
export function recommend(model: Recommender, user: number, n: number, exclude?: ReadonlySet<number>): number[] {
  if (model.rank) return model.rank(user, n, exclude);
  return topK(model.scores(user), n, exclude ? (j) => exclude.has(j) : undefined).indices;
}
