/**
 * L2-regularised logistic regression fitted by Newton's method (IRLS) on standardized features.
 * Small and exact: a few features, up to millions of rows. Used by the hybrid re-ranker and propensity.
 */
import { solveSymmetric } from "../../core/linalg";

export interface LogisticOptions {
  /** L2 penalty on the standardized weights (not on the intercept) */
  l2: number;
  /** Newton iterations (converges in < 10 on well-posed data) */
  iterations: number;
}

export interface LogisticModel {
  /** weights on raw (unstandardized) features */
  weights: number[];
  intercept: number;
  features: number;
}

export function fitLogistic(
  x: Float64Array,
  y: Uint8Array,
  features: number,
  opts: Partial<LogisticOptions> = {},
): LogisticModel {
  const { l2 = 1, iterations = 25 } = opts;
  const n = y.length;
  if (x.length !== n * features) throw new Error("x must be rows x features");
  const mean = new Float64Array(features);
  const sd = new Float64Array(features);
  for (let i = 0; i < n; i++)
    for (let f = 0; f < features; f++) mean[f] = (mean[f] as number) + (x[i * features + f] as number) / n;
  for (let i = 0; i < n; i++) {
    for (let f = 0; f < features; f++)
      sd[f] = (sd[f] as number) + ((x[i * features + f] as number) - (mean[f] as number)) ** 2 / n;
  }
  for (let f = 0; f < features; f++) sd[f] = Math.sqrt(sd[f] as number) || 1;
  const p = features + 1; // intercept last
  const w = new Float64Array(p);
  const row = new Float64Array(p);
  for (let it = 0; it < iterations; it++) {
    const grad = new Float64Array(p);
    const hess = new Float64Array(p * p);
    for (let i = 0; i < n; i++) {
      for (let f = 0; f < features; f++)
        row[f] = ((x[i * features + f] as number) - (mean[f] as number)) / (sd[f] as number);
      row[features] = 1;
      let z = 0;
      for (let f = 0; f < p; f++) z += (w[f] as number) * (row[f] as number);
      const mu = 1 / (1 + Math.exp(-z));
      const r = mu - (y[i] as number);
      const s = Math.max(mu * (1 - mu), 1e-10);
      for (let a = 0; a < p; a++) {
        grad[a] = (grad[a] as number) + r * (row[a] as number);
        const sa = s * (row[a] as number);
        for (let b = a; b < p; b++) hess[a * p + b] = (hess[a * p + b] as number) + sa * (row[b] as number);
      }
    }
    for (let a = 0; a < features; a++) {
      grad[a] = (grad[a] as number) + l2 * (w[a] as number);
      hess[a * p + a] = (hess[a * p + a] as number) + l2;
    }
    for (let a = 0; a < p; a++) for (let b = 0; b < a; b++) hess[a * p + b] = hess[b * p + a] as number;
    const step = solveSymmetric(hess, grad, p);
    let change = 0;
    for (let a = 0; a < p; a++) {
      w[a] = (w[a] as number) - (step[a] as number);
      change = Math.max(change, Math.abs(step[a] as number));
    }
    if (change < 1e-8) break;
  }
  const weights = Array.from({ length: features }, (_, f) => (w[f] as number) / (sd[f] as number));
  const intercept = (w[features] as number) - weights.reduce((acc, wf, f) => acc + wf * (mean[f] as number), 0);
  return { weights, intercept, features };
}

export function predictLogit(model: LogisticModel, row: ArrayLike<number>): number {
  let z = model.intercept;
  for (let f = 0; f < model.features; f++) z += (model.weights[f] as number) * (row[f] as number);
  return z;
}

export function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}
