/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form linear item-item
 * model. With X the binarized users x items matrix, P = (X'X + lambda I)^-1 and B = I - P diag(1/diag(P)), so
 * diag(B) = 0; a user's scores are x_u B. One hyperparameter, lambda, tuned on validation (EASE_LAMBDAS).
 * Dense: an items x items solve (about n^3 flops, a few seconds per thousand items cubed); items past `maxItems`
 * (the least bought) get no score.
 */
import { topK } from "../../core/int8-kernel";
import type { NeighbourTable } from "../../core/neighbour-table";
import { type Csr, rowIndices, transpose } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import { dot } from "../lib/dot";
import { inWorker } from "../lib/worker-pool";
import type { Recommender } from "../ranking/recommender";

export interface EaseOptions {
  lambda: number;
  /** items modelled, the most bought first (the solve is dense: memory n^2, time n^3) */
  maxItems: number;
}

/**
 * 2,500 items: the solve is n^3 (about 13 s at 2,500 on one core, 36 s at Online Retail's 3,619), and the least
 * bought items barely move NDCG (Online Retail test, lambda 200: 0.2651 / 0.1009 all / novel at 2,500 against
 * 0.2654 / 0.1006 with every item).
 */
export const DEFAULT_EASE_OPTIONS: EaseOptions = { lambda: 100, maxItems: 2500 };
/** The lambdas tried on validation: from light to heavy shrinkage of item-item weights. */
export const EASE_LAMBDAS: readonly number[] = [50, 200, 1000];

export class Ease implements Recommender {
  readonly name = "ease";
  readonly options: EaseOptions;
  /** B restricted to the modelled items, row-major (m x m) */
  private weights: Float32Array = new Float32Array(0);
  /** item index -> its position among the modelled items, or -1 */
  private position: Int32Array = new Int32Array(0);
  private modelled: Int32Array = new Int32Array(0);
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

  /** What the fit learned (restore puts it back). */
  state(): EaseState {
    return { weights: this.weights, position: this.position, modelled: this.modelled };
  }

  /** A fit's state over the matrix it was fitted on. */
  restore(state: EaseState, matrix: Csr): void {
    this.weights = state.weights;
    this.position = state.position;
    this.modelled = state.modelled;
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

  /** Each modelled item's `k` strongest positive weights (its row of B), for the ranker and the edge (core/ranker.ts). */
  neighbours(k: number): NeighbourTable {
    const m = this.modelled.length;
    const rowOf = this.position.slice();
    const index = new Int32Array(m * k).fill(-1);
    const weight = new Float32Array(m * k);
    for (let p = 0; p < m; p++) {
      const top = topK(this.weights.subarray(p * m, (p + 1) * m), k);
      let q = 0;
      top.indices.forEach((c, r) => {
        if ((top.scores[r] as number) <= 0) return;
        index[p * k + q] = this.modelled[c] as number;
        weight[p * k + q] = top.scores[r] as number;
        q++;
      });
    }
    return { k, rowOf, index, weight };
  }

  hyperparameters() {
    return { lambda: this.options.lambda, max_items: this.options.maxItems, input: "binarized" };
  }
}

/** What an EASE fit learns: B on the modelled items and which items they are. */
export interface EaseState {
  weights: Float32Array;
  position: Int32Array;
  modelled: Int32Array;
}

/** A fit as a plain function, for a worker thread (fitEaseInWorker). */
export function fitEaseState(options: Partial<EaseOptions>, data: TrainData): EaseState {
  const m = new Ease(options);
  m.fit(data);
  return m.state();
}

/** EASE fitted in a worker thread (scripts/lib/worker-pool.ts): the weights `fit` gives here, to the bit. */
export async function fitEaseInWorker(options: Partial<EaseOptions>, data: TrainData): Promise<Ease> {
  const state = await inWorker<EaseState>(new URL("./ease.ts", import.meta.url), "fitEaseState", [
    options,
    { matrix: data.matrix },
  ]);
  const m = new Ease(options);
  m.restore(state, data.matrix);
  return m;
}

/**
 * The inverse of a symmetric positive definite matrix (n x n, row-major; overwritten): Cholesky A = L L',
 * then U = L^-1 (kept transposed, so every inner loop reads contiguous rows), then A^-1 = U' U. Every inner
 * loop is a dot product of contiguous runs (`dot`, eight accumulators: about three times a plain loop's speed).
 */
export function inverseSpd(a: Float64Array, n: number): Float64Array {
  // Cholesky in place: the lower triangle of `a` becomes L
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let j = 0; j <= i; j++) {
      const rj = j * n;
      const s = (a[ri + j] as number) - dot(a, ri, a, rj, j);
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
      t[rj + i] = -dot(a, ri + j, t, rj + j, i - j) / (a[ri + i] as number);
    }
  }
  // A^-1[x][y] = sum over k >= max(x, y) of L^-1[k][x] L^-1[k][y] = t row x . t row y from max(x, y)
  for (let x = 0; x < n; x++) {
    const rx = x * n;
    for (let y = x; y < n; y++) {
      const ry = y * n;
      const s = dot(t, rx + y, t, ry + y, n - y);
      a[rx + y] = s;
      a[ry + x] = s;
    }
  }
  return a;
}
