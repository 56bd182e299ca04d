/**
 * EASE as the edge keeps it: a user's score for an item is the sum of its weights in the neighbour lists of
 * the user's items, each list cut to the item's K strongest (core/ranker.ts's NeighbourTable). Evaluated beside
 * the full EASE, it says what cutting to K costs.
 */
import type { NeighbourTable } from "../../core/neighbour-table";
import { type Csr, rowIndices } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender";

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
    const k = this.table.k;
    for (const i of rowIndices(m, user)) {
      const row = this.table.rowOf[i] as number;
      if (row < 0) continue;
      for (let p = row * k; p < (row + 1) * k; p++) {
        const j = this.table.index[p] as number;
        if (j < 0) break;
        out[j] = (out[j] as number) + (this.table.weight[p] as number);
      }
    }
    return out;
  }

  hyperparameters() {
    return { neighbours: this.table.k };
  }
}
