/**
 * The concatenation baselines: the reader's own items first (by distinct invoices, then the latest purchase:
 * the repeat baseline), then everything else in another recommender's order ("own items, then ALS"). Strong
 * where readers rebuy: it is what a learned ranker has to beat on the `all` variant.
 */
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";
import { RepeatPurchases } from "./repeat";

export class OwnThen implements Recommender {
  readonly name: string;
  private readonly own = new RepeatPurchases();

  /** `then` is fitted by fit() unless `fitted` says it already is (on the same data) */
  constructor(
    private readonly then: Recommender,
    private readonly fitted = false,
  ) {
    this.name = `own_then_${then.name}`;
  }

  fit(data: TrainData): void {
    this.own.fit(data);
    if (!this.fitted) this.then.fit(data);
  }

  scores(user: number): Float64Array {
    const own = this.own.scores(user);
    const next = this.then.scores(user);
    const n = own.length;
    // the other items by `then`'s order, as ranks mapped into (0, 1): below every own item (whose scores are > 1)
    const order = Array.from({ length: n }, (_, j) => j).sort(
      (a, b) => (next[b] as number) - (next[a] as number) || a - b,
    );
    const out = new Float64Array(n);
    order.forEach((j, rank) => {
      out[j] = (own[j] as number) > 0 ? (own[j] as number) : 1 - (rank + 1) / (n + 1);
    });
    return out;
  }

  hyperparameters() {
    return { first: "own items (repeat)", after: this.then.name, ...this.then.hyperparameters() };
  }
}
