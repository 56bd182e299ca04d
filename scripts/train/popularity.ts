/** Popularity baseline: items ranked by number of distinct users (ties: lower index); the same list for everyone. */
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";

export class Popularity implements Recommender {
  readonly name = "popularity";
  private counts = new Float32Array(0);

  fit({ matrix }: TrainData): void {
    const counts = new Float32Array(matrix.cols);
    for (let k = 0; k < matrix.indices.length; k++) {
      const j = matrix.indices[k] as number;
      counts[j] = (counts[j] as number) + 1;
    }
    this.counts = counts;
  }

  scores(_user: number): Float32Array {
    return this.counts.slice();
  }

  /** Item indices by popularity, most popular first (ties: lower index first). */
  ranking(): number[] {
    return Array.from(this.counts.keys()).sort(
      (a, b) => (this.counts[b] as number) - (this.counts[a] as number) || a - b,
    );
  }

  hyperparameters() {
    return {};
  }
}
