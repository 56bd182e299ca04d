/**
 * Item-based k-NN with the full neighbourhood: cosine similarity of items on the binarized user x item
 * matrix (self-similarity 0); a user's score for an item is the sum of its similarities to the user's items.
 */
import { type Csr, rowIndices, transpose } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";

export class ItemKnn implements Recommender {
  readonly name = "item_knn";
  /** dense item x item cosine similarities, row-major */
  similarity = new Float32Array(0);
  private matrix: Csr | null = null;

  fit({ matrix }: TrainData): void {
    const n = matrix.cols;
    const byItem = transpose(matrix);
    const norm = new Float64Array(n);
    for (let j = 0; j < n; j++) norm[j] = Math.sqrt((byItem.indptr[j + 1] as number) - (byItem.indptr[j] as number));
    const co = new Float64Array(n * n);
    for (let u = 0; u < matrix.rows; u++) {
      const items = rowIndices(matrix, u);
      for (let a = 0; a < items.length; a++) {
        const ia = (items[a] as number) * n;
        for (let b = a + 1; b < items.length; b++) {
          co[ia + (items[b] as number)] = (co[ia + (items[b] as number)] as number) + 1;
        }
      }
    }
    const sim = new Float32Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const c = co[i * n + j] as number;
        if (c === 0) continue;
        const s = c / ((norm[i] as number) * (norm[j] as number));
        sim[i * n + j] = s;
        sim[j * n + i] = s;
      }
    }
    this.similarity = sim;
    this.matrix = matrix;
  }

  scores(user: number): Float64Array {
    const m = this.matrix;
    if (!m) throw new Error("not fitted");
    const n = m.cols;
    const out = new Float64Array(n);
    for (const i of rowIndices(m, user)) {
      const row = this.similarity.subarray(i * n, (i + 1) * n);
      for (let j = 0; j < n; j++) out[j] = (out[j] as number) + (row[j] as number);
    }
    return out;
  }

  hyperparameters() {
    return { neighbourhood: "full", similarity: "cosine (binarized)" };
  }
}
