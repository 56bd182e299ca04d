/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form linear item-item
 * model. With X the binarized users x items matrix, P = (X'X + lambda I)^-1 and B = I - P diag(1/diag(P)), so
 * diag(B) = 0; a user's scores are x_u B. One hyperparameter, lambda, tuned on validation (EASE_LAMBDAS).
 * Dense: an items x items solve (about n^3 flops, a few seconds per thousand items cubed); items past `maxItems`
 * (the least bought) get no score.
 */
import { type Csr, rowIndices, transpose } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender";

export interface EaseOptions {
  lambda: number;
  /** items modelled, the most bought first (the solve is dense: memory n^2, time n^3) */
  maxItems: number;
}

export const DEFAULT_EASE_OPTIONS: EaseOptions = { lambda: 100, maxItems: 5000 };
/** The lambdas tried on validation: from light to heavy shrinkage of item-item weights. */
export const EASE_LAMBDAS: readonly number[] = [10, 50, 200, 1000];

export class Ease implements Recommender {
  readonly name = "ease";
  readonly options: EaseOptions;
  /** B restricted to the modelled items, row-major (m x m) */
  private weights = new Float32Array(0);
  /** item index -> its position among the modelled items, or -1 */
  private position = new Int32Array(0);
  private modelled = new Int32Array(0);
  private matrix: Csr | null = null;

  constructor(options: Partial<EaseOptions> = {}) {
    this.options = { ...DEFAULT_EASE_OPTIONS, ...options };
  }

  fit({ matrix }: TrainData): void {
    const n = matrix.cols;
    const byItem = transpose(matrix);
    const buyers = Array.from({ length: n }, (_, j) => (byItem.indptr[j + 1] as number) - (byItem.indptr[j] as number));
    // the most bought items, ties by index; items nobody bought are left out (their rows would be all zero)
    const order = Array.from({ length: n }, (_, j) => j)
      .filter((j) => (buyers[j] as number) > 0)
      .sort((a, b) => (buyers[b] as number) - (buyers[a] as number) || a - b)
      .slice(0, this.options.maxItems);
    this.modelled = Int32Array.from(order);
    this.position = new Int32Array(n).fill(-1);
    order.forEach((j, p) => {
      this.position[j] = p;
    });
    const m = order.length;
    // G = X'X + lambda I on the modelled items (binarized)
    const g = new Float64Array(m * m);
    for (let u = 0; u < matrix.rows; u++) {
      const items: number[] = [];
      for (const j of rowIndices(matrix, u)) {
        const p = this.position[j] as number;
        if (p >= 0) items.push(p);
      }
      for (const a of items) for (const b of items) g[a * m + b] = (g[a * m + b] as number) + 1;
    }
    for (let i = 0; i < m; i++) g[i * m + i] = (g[i * m + i] as number) + this.options.lambda;
    const p = inverseSpd(g, m);
    const w = new Float32Array(m * m);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < m; j++) {
        // B[i][j] = -P[i][j] / P[j][j], diagonal 0
        if (i !== j) w[i * m + j] = -(p[i * m + j] as number) / (p[j * m + j] as number);
      }
    }
    this.weights = w;
    this.matrix = matrix;
  }

  scores(user: number): Float64Array {
    const matrix = this.matrix;
    if (!matrix) throw new Error("not fitted");
    const m = this.modelled.length;
    const row = new Float64Array(m);
    for (const j of rowIndices(matrix, user)) {
      const p = this.position[j] as number;
      if (p < 0) continue;
      const b = this.weights.subarray(p * m, (p + 1) * m);
      for (let k = 0; k < m; k++) row[k] = (row[k] as number) + (b[k] as number);
    }
    // items not modelled rank after every modelled one
    const out = new Float64Array(matrix.cols).fill(-1e30);
    for (let k = 0; k < m; k++) out[this.modelled[k] as number] = row[k] as number;
    return out;
  }

  hyperparameters() {
    return { lambda: this.options.lambda, max_items: this.options.maxItems, input: "binarized" };
  }
}

/**
 * The inverse of a symmetric positive definite matrix (n x n, row-major; overwritten): Cholesky A = L L',
 * then U = L^-1 (kept transposed, so every inner loop reads contiguous rows), then A^-1 = U' U.
 */
export function inverseSpd(a: Float64Array, n: number): Float64Array {
  // Cholesky in place: the lower triangle of `a` becomes L
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      let s = a[ri + j] as number;
      for (let k = 0; k < j; k++) s -= (a[ri + k] as number) * (a[rj + k] as number);
      a[ri + j] = i === j ? Math.sqrt(Math.max(s, 1e-12)) : s / (a[rj + j] as number);
    }
  }
  // t = (L^-1)' : row j of t holds column j of L^-1 (zero before j)
  const t = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    t[rj + j] = 1 / (a[rj + j] as number);
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s += (a[ri + k] as number) * (t[rj + k] as number);
      t[rj + i] = -s / (a[ri + i] as number);
    }
  }
  // A^-1[x][y] = sum over k >= max(x, y) of L^-1[k][x] L^-1[k][y] = t row x . t row y from max(x, y)
  for (let x = 0; x < n; x++) {
    const rx = x * n;
    for (let y = x; y < n; y++) {
      const ry = y * n;
      let s = 0;
      for (let k = y; k < n; k++) s += (t[rx + k] as number) * (t[ry + k] as number);
      a[rx + y] = s;
      a[ry + x] = s;
    }
  }
  return a;
}
