/**
 * EASE (Steck 2019, "Embarrassingly Shallow Autoencoders for Sparse Data"): a closed-form linear item-item
 * model. With X the binarized users x items matrix, P = (X'X + lambda I)^-1 and B = I - P diag(1/diag(P)), so
 * diag(B) = 0; a user's scores are x_u B. One hyperparameter, lambda, tuned on validation (EASE_LAMBDAS).
 * Dense: an items x items solve (about n^3 / 2 multiply-adds, seconds at 2,500 items); items past `maxItems`
 * (the least bought) get no score.
 */
import { topK } from "../../core/int8-kernel";
import type { NeighbourTable } from "../../core/neighbour-table";
import { type Csr, rowIndices, transpose } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import { dot, dots4x2 } from "../lib/dot";
import { inWorker } from "../lib/worker-pool";
import type { Recommender } from "../ranking/recommender-contract";

export interface EaseOptions {
  lambda: number;
  /** items modelled, the most bought first (the solve is dense: memory n^2, time n^3) */
  maxItems: number;
}

/**
 * 2,500 items: the solve is about n^3 / 2 multiply-adds (5-7.6 s at 2,500 on one core, 22 s at Online Retail's
 * 3,619), and the least bought items barely move NDCG (Online Retail test, lambda 200: 0.2651 / 0.1009 all /
 * novel at 2,500 against 0.2654 / 0.1006 with every item).
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
 * then U = L^-1 (kept transposed, so every inner loop reads contiguous rows), then A^-1 = U' U. Each step
 * works on four rows at a time (`dots4x2`: four rows against two, every long row streamed once per four);
 * the small triangles where a block's rows depend on each other, an odd last column and a last block of fewer
 * than four rows take one `dot` per element. About n^3 / 2 multiply-adds: 5-7.6 s at 2,500 items on one core
 * here (18-21 s with one `dot` per element, the same hours), 22 s at 3,619.
 */
export function inverseSpd(a: Float64Array, n: number): Float64Array {
  const s = new Float64Array(8);
  // 1. Cholesky in place, four rows of L at a time: the lower triangle of `a` becomes L, where
  //    L[i][j] = (A[i][j] - L_i[..j] . L_j[..j]) / L[j][j] and L[i][i] = sqrt(A[i][i] - |L_i[..i]|^2)
  for (let i0 = 0; i0 < n; i0 += 4) {
    const rows = Math.min(4, n - i0);
    let j = 0;
    if (rows === 4) {
      const r0 = i0 * n;
      // columns j and j + 1 of the four rows; L[i][j + 1] takes L[i][j]'s term last
      for (; j + 1 < i0; j += 2) {
        const rj = j * n;
        const rk = rj + n;
        dots4x2(a, r0, r0 + n, r0 + 2 * n, r0 + 3 * n, a, rj, rk, j, s);
        const lkj = a[rk + j] as number;
        for (let q = 0; q < 4; q++) {
          const rq = r0 + q * n;
          const x = ((a[rq + j] as number) - (s[2 * q] as number)) / (a[rj + j] as number);
          a[rq + j] = x;
          a[rq + j + 1] = ((a[rq + j + 1] as number) - (s[2 * q + 1] as number) - x * lkj) / (a[rk + j + 1] as number);
        }
      }
    }
    for (let i = i0; i < i0 + rows; i++) {
      const ri = i * n;
      for (let c = j; c <= i; c++) {
        const rc = c * n;
        const v = (a[ri + c] as number) - dot(a, ri, a, rc, c);
        a[ri + c] = i === c ? Math.sqrt(Math.max(v, 1e-12)) : v / (a[rc + c] as number);
      }
    }
  }
  // 2. t = (L^-1)': row j of t holds column j of L^-1 (zero before j), four rows of t at a time, where
  //    t[j][j] = 1 / L[j][j] and t[j][i] = -(L_i[j..i] . t_j[j..i]) / L[i][i] for i > j
  const t = new Float64Array(n * n);
  for (let j0 = 0; j0 < n; j0 += 4) {
    const rows = Math.min(4, n - j0);
    const head = Math.min(n, j0 + 4);
    for (let j = j0; j < j0 + rows; j++) {
      const rj = j * n;
      t[rj + j] = 1 / (a[rj + j] as number);
      for (let i = j + 1; i < head; i++) t[rj + i] = -dot(a, i * n + j, t, rj + j, i - j) / (a[i * n + i] as number);
    }
    let i = head;
    if (rows === 4) {
      // from column j0 on (t_j is zero before j): columns i and i + 1, t[j][i + 1] takes t[j][i]'s term last
      const r0 = j0 * n + j0;
      for (; i + 1 < n; i += 2) {
        const ri = i * n;
        const rk = ri + n;
        dots4x2(t, r0, r0 + n, r0 + 2 * n, r0 + 3 * n, a, ri + j0, rk + j0, i - j0, s);
        const lki = a[rk + i] as number;
        for (let q = 0; q < 4; q++) {
          const rq = (j0 + q) * n;
          const x = -(s[2 * q] as number) / (a[ri + i] as number);
          t[rq + i] = x;
          t[rq + i + 1] = -((s[2 * q + 1] as number) + lki * x) / (a[rk + i + 1] as number);
        }
      }
    }
    for (; i < n; i++) {
      const ri = i * n;
      for (let j = j0; j < j0 + rows; j++)
        t[j * n + i] = -dot(a, ri + j0, t, j * n + j0, i - j0) / (a[ri + i] as number);
    }
  }
  // 3. A^-1[x][y] = sum over k >= max(x, y) of L^-1[k][x] L^-1[k][y] = t_x[k..] . t_y[k..], four rows x at a time
  for (let x0 = 0; x0 < n; x0 += 4) {
    const rows = Math.min(4, n - x0);
    const head = Math.min(n, x0 + 4);
    for (let x = x0; x < x0 + rows; x++) {
      for (let y = x; y < head; y++) setBoth(a, n, x, y, dot(t, x * n + y, t, y * n + y, n - y));
    }
    let y = head;
    if (rows === 4) {
      const r0 = x0 * n;
      // from column y on (t_{y+1} is zero at y)
      for (; y + 1 < n; y += 2) {
        const ry = y * n + y;
        dots4x2(t, r0 + y, r0 + n + y, r0 + 2 * n + y, r0 + 3 * n + y, t, ry, ry + n, n - y, s);
        for (let q = 0; q < 4; q++) {
          setBoth(a, n, x0 + q, y, s[2 * q] as number);
          setBoth(a, n, x0 + q, y + 1, s[2 * q + 1] as number);
        }
      }
    }
    for (; y < n; y++) {
      for (let x = x0; x < x0 + rows; x++) setBoth(a, n, x, y, dot(t, x * n + y, t, y * n + y, n - y));
    }
  }
  return a;
}

function setBoth(a: Float64Array, n: number, x: number, y: number, v: number): void {
  a[x * n + y] = v;
  a[y * n + x] = v;
}
