/**
 * Repeat-purchase baseline: the user's own items by number of distinct invoices, then most recent
 * purchase; everything else after them in index (popularity) order.
 */
import { rowData, rowIndices } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";

export class RepeatPurchases implements Recommender {
  readonly name = "repeat";
  private data: TrainData | null = null;

  fit(data: TrainData): void {
    if (!data.lastTime) throw new Error("repeat needs last purchase times (TrainData.lastTime)");
    this.data = data;
  }

  scores(user: number): Float64Array {
    const d = this.data;
    if (!d?.lastTime) throw new Error("not fitted");
    const out = new Float64Array(d.matrix.cols);
    const items = rowIndices(d.matrix, user);
    const counts = rowData(d.matrix, user);
    const start = d.matrix.indptr[user] as number;
    // own items above everything else: invoices first, then recency (seconds < 1e10)
    for (let k = 0; k < items.length; k++) {
      out[items[k] as number] = 1 + (counts[k] as number) * 1e10 + (d.lastTime[start + k] as number);
    }
    return out;
  }

  hyperparameters() {
    return {};
  }
}
