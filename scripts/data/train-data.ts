/**
 * What every recommender is fitted on (scripts/ranking/recommender-contract.ts): a users x items implicit-feedback
 * matrix, with the last interaction times and the items' text where a log has them.
 */
import type { Csr } from "./sparse";

export interface TrainData {
  /** rows = users, cols = items, values = interaction strength > 0 (e.g. distinct invoices) */
  matrix: Csr;
  /** per stored value of `matrix`: the user's last interaction time with the item (unix s) */
  lastTime?: Float64Array;
  /** per item: text for content models (title, description, category) */
  itemText?: readonly string[];
  /** per item: its id (purchase logs), by which a reader's own items beyond a profile's bound are told apart */
  itemIds?: readonly string[];
}
