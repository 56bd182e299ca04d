/**
 * EASE as the edge keeps it: a user's score for an item is the sum of its weights in the neighbour lists of
 * the user's items, each list cut to the item's K strongest (core/neighbour-table.ts, the same sums the ranker's
 * features read at the edge). Evaluated beside the full EASE, it says what cutting to K costs.
 */
import { type NeighbourTable, neighbourSums } from "../../core/neighbour-table";
import { type Csr, rowIndices } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";

export class NeighbourSum implements Recommender {
  readonly name: string;
  private matrix: Csr | null = null;

  constructor(private readonly table: NeighbourTable) {
    this.name = `ease_k${table.k}`;
  }

  fit({ matrix }: TrainData): void {
    this.matrix = matrix;
  }

  scores(user: number): Float64Array {
    const m = this.matrix;
    if (!m) throw new Error("not fitted");
    const out = new Float64Array(m.cols);
    for (const [j, s] of neighbourSums(this.table, rowIndices(m, user))) out[j] = s;
    return out;
  }

  hyperparameters() {
    return { neighbours: this.table.k };
  }
}
