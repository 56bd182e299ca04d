/**
 * Implicit-feedback ALS (Hu, Koren and Volinsky 2008, "Collaborative Filtering for Implicit Feedback
 * Datasets"), solved with a few conjugate-gradient steps per row, warm-started (Takács, Pilászy and
 * Tikk 2011), as `implicit` does. Preference p_ui = 1 if r_ui > 0; confidence c_ui = 1 + alpha * r_ui.
 * Minimises sum_ui c_ui (p_ui - x_u . y_i)^2 + regularization * (|x_u|^2 + |y_i|^2).
 */

import { type Csr, transpose } from "../data/sparse";
import type { TrainData } from "../data/train-data";
import { dot, dotEachRow } from "../lib/dot";
import { Rng } from "../lib/rng";
import { inWorker } from "../lib/worker-pool";
import type { Recommender } from "../ranking/recommender-contract";

export interface AlsOptions {
  /** latent dimensions of user and item factors */
  factors: number;
  /** L2 penalty on every factor vector (lambda in the paper) */
  regularization: number;
  /** confidence slope: c_ui = 1 + alpha * r_ui, with r_ui the summed interaction strength */
  alpha: number;
  /** full passes (users then items) */
  iterations: number;
  /** conjugate-gradient steps per row per pass (3 is enough when warm-started) */
  cgSteps: number;
  /** seed of the random initialisation */
  seed: number;
  /** standard deviation of the initial factors */
  initScale: number;
}

/**
 * The defaults (`--no-tune`): a point of ALS_GRID, the grid training and the evaluation tune over on a
 * validation split.
 */
export const DEFAULT_ALS_OPTIONS: AlsOptions = {
  factors: 64,
  regularization: 20,
  alpha: 2,
  iterations: 15,
  cgSteps: 3,
  seed: 42,
  initScale: 0.01,
};

/** Confidence weight alpha and regularization tried on validation (the other options as ALS_BASE). */
export const ALS_GRID: Partial<AlsOptions>[] = [
  { alpha: 0.5, regularization: 5 },
  { alpha: 1, regularization: 5 },
  { alpha: 1, regularization: 20 },
  { alpha: 2, regularization: 20 },
  { alpha: 2, regularization: 50 },
  { alpha: 4, regularization: 50 },
];
/** What tuning holds fixed. */
export const ALS_BASE: Partial<AlsOptions> = { factors: 64, iterations: 15, seed: 42 };

export class ImplicitAls implements Recommender {
  readonly name = "als";
  readonly options: AlsOptions;
  /** users x factors, row-major */
  userFactors = new Float32Array(0);
  /** items x factors, row-major */
  itemFactors = new Float32Array(0);
  /**
   * training loss after each iteration, when `recordLoss` is set before the fit (for diagnostics and tests; it
   * costs a pass over the data per iteration, about 9 s of an evaluation origin's CPU, so fits leave it off)
   */
  readonly lossHistory: number[] = [];
  recordLoss = false;

  constructor(options: Partial<AlsOptions> = {}) {
    this.options = { ...DEFAULT_ALS_OPTIONS, ...options };
  }

  fit({ matrix }: TrainData): void {
    const { factors: f, iterations, seed, initScale } = this.options;
    const rng = new Rng(seed);
    const users = new Float64Array(matrix.rows * f).map(() => rng.normal() * initScale);
    const items = new Float64Array(matrix.cols * f).map(() => rng.normal() * initScale);
    const byItem = transpose(matrix);
    this.lossHistory.length = 0;
    for (let it = 0; it < iterations; it++) {
      this.solveSide(matrix, users, items);
      this.solveSide(byItem, items, users);
      if (this.recordLoss) this.lossHistory.push(this.loss(matrix, users, items));
    }
    this.userFactors = Float32Array.from(users);
    this.itemFactors = Float32Array.from(items);
  }

  /** Updates `x` (one row per row of `m`) holding `y` fixed, by CG on the normal equations. */
  private solveSide(m: Csr, x: Float64Array, y: Float64Array): void {
    const { factors: f, regularization, alpha, cgSteps } = this.options;
    const yty = gram(y, f, y.length / f);
    for (let i = 0; i < f; i++) yty[i * f + i] = (yty[i * f + i] as number) + regularization;
    const r = new Float64Array(f);
    const p = new Float64Array(f);
    const ap = new Float64Array(f);
    for (let u = 0; u < m.rows; u++) {
      const start = m.indptr[u] as number;
      const end = m.indptr[u + 1] as number;
      const xo = u * f;
      // r = b - A x, with A = YtY + reg I + Yt (C - I) Y and b = Yt C p
      for (let a = 0; a < f; a++) r[a] = -dot(yty, a * f, x, xo, f);
      for (let k = start; k < end; k++) {
        const yo = (m.indices[k] as number) * f;
        const conf = 1 + alpha * (m.data[k] as number);
        const coef = conf - (conf - 1) * dot(y, yo, x, xo, f);
        for (let a = 0; a < f; a++) r[a] = (r[a] as number) + coef * (y[yo + a] as number);
      }
      p.set(r);
      let rsOld = dot(r, 0, r, 0, f);
      if (rsOld < 1e-20) continue;
      for (let step = 0; step < cgSteps; step++) {
        for (let a = 0; a < f; a++) ap[a] = dot(yty, a * f, p, 0, f);
        for (let k = start; k < end; k++) {
          const yo = (m.indices[k] as number) * f;
          const conf = 1 + alpha * (m.data[k] as number);
          const coef = (conf - 1) * dot(y, yo, p, 0, f);
          for (let a = 0; a < f; a++) ap[a] = (ap[a] as number) + coef * (y[yo + a] as number);
        }
        const step_ = rsOld / dot(p, 0, ap, 0, f);
        for (let a = 0; a < f; a++) {
          x[xo + a] = (x[xo + a] as number) + step_ * (p[a] as number);
          r[a] = (r[a] as number) - step_ * (ap[a] as number);
        }
        const rsNew = dot(r, 0, r, 0, f);
        if (rsNew < 1e-20) break;
        const beta = rsNew / rsOld;
        for (let a = 0; a < f; a++) p[a] = (r[a] as number) + beta * (p[a] as number);
        rsOld = rsNew;
      }
    }
  }

  /** The objective, with the unobserved entries' term computed through the Gram matrix. */
  private loss(m: Csr, x: Float64Array, y: Float64Array): number {
    const { factors: f, regularization, alpha } = this.options;
    const yty = gram(y, f, y.length / f);
    let total = 0;
    for (let u = 0; u < m.rows; u++) {
      const xo = u * f;
      // sum over all items of (x.y)^2 = x' YtY x
      for (let a = 0; a < f; a++) total += dot(yty, a * f, x, xo, f) * (x[xo + a] as number);
      for (let k = m.indptr[u] as number; k < (m.indptr[u + 1] as number); k++) {
        const yo = (m.indices[k] as number) * f;
        const conf = 1 + alpha * (m.data[k] as number);
        const d = dot(y, yo, x, xo, f);
        total += conf * (1 - d) ** 2 - d * d;
      }
    }
    let norms = 0;
    for (let i = 0; i < x.length; i++) norms += (x[i] as number) ** 2;
    for (let i = 0; i < y.length; i++) norms += (y[i] as number) ** 2;
    return (total + regularization * norms) / Math.max(1, m.indices.length);
  }

  /** The user's dot product with every item (scripts/lib/dot.ts `dotEachRow`). */
  scores(user: number): Float32Array {
    const f = this.options.factors;
    const out = new Float32Array(this.itemFactors.length / f);
    dotEachRow(this.userFactors, user * f, this.itemFactors, f, out);
    return out;
  }

  userVector(user: number): Float32Array {
    const f = this.options.factors;
    return this.userFactors.slice(user * f, (user + 1) * f);
  }

  hyperparameters() {
    return { ...this.options };
  }
}

function gram(y: Float64Array, f: number, n: number): Float64Array {
  const g = new Float64Array(f * f);
  for (let j = 0; j < n; j++) {
    const o = j * f;
    for (let a = 0; a < f; a++) {
      const ya = y[o + a] as number;
      if (ya === 0) continue;
      for (let b = a; b < f; b++) g[a * f + b] = (g[a * f + b] as number) + ya * (y[o + b] as number);
    }
  }
  for (let a = 0; a < f; a++) for (let b = 0; b < a; b++) g[a * f + b] = g[b * f + a] as number;
  return g;
}

/** What an ALS fit learns: the factors. */
export interface AlsState {
  userFactors: Float32Array<ArrayBuffer>;
  itemFactors: Float32Array<ArrayBuffer>;
}

/** A fit as a plain function, for a worker thread (fitAlsInWorker). */
export function fitAlsState(options: Partial<AlsOptions>, data: TrainData): AlsState {
  const m = new ImplicitAls(options);
  m.fit(data);
  return { userFactors: m.userFactors, itemFactors: m.itemFactors };
}

/** ALS fitted in a worker thread (scripts/lib/worker-pool.ts): the factors `fit` gives here, to the bit. */
export async function fitAlsInWorker(options: Partial<AlsOptions>, data: TrainData): Promise<ImplicitAls> {
  const state = await inWorker<AlsState>(new URL("./als.ts", import.meta.url), "fitAlsState", [
    options,
    { matrix: data.matrix },
  ]);
  const m = new ImplicitAls(options);
  m.userFactors = state.userFactors;
  m.itemFactors = state.itemFactors;
  return m;
}
