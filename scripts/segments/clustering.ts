/**
 * K-Means (k-means++ seeding, Lloyd iterations, best of several seeded restarts), silhouette, and
 * DBSCAN, on small dense data (rows x dims, row-major).
 */
import { Rng } from "../lib/rng";

export interface KMeansResult {
  k: number;
  centroids: Float64Array;
  labels: Int32Array;
  inertia: number;
}

function dist2(x: Float64Array, i: number, c: Float64Array, j: number, d: number): number {
  let s = 0;
  for (let t = 0; t < d; t++) s += ((x[i * d + t] as number) - (c[j * d + t] as number)) ** 2;
  return s;
}

export function kmeans(
  x: Float64Array,
  n: number,
  d: number,
  k: number,
  seed = 7,
  restarts = 4,
  maxIter = 100,
): KMeansResult {
  let best: KMeansResult | null = null;
  const rng = new Rng(seed);
  for (let r = 0; r < restarts; r++) {
    const c = new Float64Array(k * d);
    const first = rng.int(n);
    for (let t = 0; t < d; t++) c[t] = x[first * d + t] as number;
    const closest = Float64Array.from({ length: n }, (_, i) => dist2(x, i, c, 0, d));
    for (let j = 1; j < k; j++) {
      const total = closest.reduce((a, b) => a + b, 0);
      let target = rng.next() * total;
      let pick = n - 1;
      for (let i = 0; i < n; i++) {
        target -= closest[i] as number;
        if (target <= 0) {
          pick = i;
          break;
        }
      }
      for (let t = 0; t < d; t++) c[j * d + t] = x[pick * d + t] as number;
      for (let i = 0; i < n; i++) closest[i] = Math.min(closest[i] as number, dist2(x, i, c, j, d));
    }
    const labels = new Int32Array(n);
    let inertia = 0;
    for (let it = 0; it < maxIter; it++) {
      let changed = 0;
      inertia = 0;
      for (let i = 0; i < n; i++) {
        let bj = 0;
        let bd = Number.POSITIVE_INFINITY;
        for (let j = 0; j < k; j++) {
          const dd = dist2(x, i, c, j, d);
          if (dd < bd) {
            bd = dd;
            bj = j;
          }
        }
        if (labels[i] !== bj || it === 0) changed++;
        labels[i] = bj;
        inertia += bd;
      }
      const sums = new Float64Array(k * d);
      const counts = new Float64Array(k);
      for (let i = 0; i < n; i++) {
        const j = labels[i] as number;
        counts[j] = (counts[j] as number) + 1;
        for (let t = 0; t < d; t++) sums[j * d + t] = (sums[j * d + t] as number) + (x[i * d + t] as number);
      }
      for (let j = 0; j < k; j++) {
        if (counts[j] === 0) continue; // keep an empty cluster's centroid where it is
        for (let t = 0; t < d; t++) c[j * d + t] = (sums[j * d + t] as number) / (counts[j] as number);
      }
      if (changed === 0 && it > 0) break;
    }
    if (!best || inertia < best.inertia) best = { k, centroids: c, labels, inertia };
  }
  return best as KMeansResult;
}

/** The clusters labelled (largest label + 1), by a loop: a shop's labels spread into Math.max overflow the stack. */
export function clusterCount(labels: Int32Array): number {
  let max = -1;
  for (const l of labels) if (l > max) max = l;
  return max + 1;
}

/** Mean silhouette over (a seeded sample of at most `sample`) points; noise labels (< 0) are skipped. */
export function silhouette(x: Float64Array, n: number, d: number, labels: Int32Array, sample = 3000, seed = 3): number {
  const k = clusterCount(labels);
  if (k < 2) return 0;
  const rng = new Rng(seed);
  const idx = Array.from({ length: n }, (_, i) => i).filter((i) => (labels[i] as number) >= 0);
  const chosen =
    idx.length <= sample
      ? idx
      : idx
          .map((i) => [rng.next(), i] as const)
          .sort((a, b) => a[0] - b[0])
          .slice(0, sample)
          .map(([, i]) => i);
  let total = 0;
  let counted = 0;
  const sums = new Float64Array(k);
  const counts = new Float64Array(k);
  for (const i of chosen) {
    sums.fill(0);
    counts.fill(0);
    for (const j of chosen) {
      if (i === j) continue;
      const l = labels[j] as number;
      sums[l] = (sums[l] as number) + Math.sqrt(dist2(x, i, x, j, d));
      counts[l] = (counts[l] as number) + 1;
    }
    const own = labels[i] as number;
    if ((counts[own] as number) === 0) continue;
    const a = (sums[own] as number) / (counts[own] as number);
    let b = Number.POSITIVE_INFINITY;
    for (let l = 0; l < k; l++)
      if (l !== own && (counts[l] as number) > 0) b = Math.min(b, (sums[l] as number) / (counts[l] as number));
    if (!Number.isFinite(b)) continue;
    total += (b - a) / Math.max(a, b);
    counted++;
  }
  return counted ? total / counted : 0;
}

/** DBSCAN: label -1 is noise. O(n^2) neighbour search, fine for tens of thousands of customers. */
export function dbscan(x: Float64Array, n: number, d: number, eps: number, minPoints: number): Int32Array {
  const labels = new Int32Array(n).fill(-2); // -2 unvisited
  const eps2 = eps * eps;
  const neighbours = (i: number) => {
    const out: number[] = [];
    for (let j = 0; j < n; j++) if (dist2(x, i, x, j, d) <= eps2) out.push(j);
    return out;
  };
  let cluster = 0;
  for (let i = 0; i < n; i++) {
    if (labels[i] !== -2) continue;
    const nb = neighbours(i);
    if (nb.length < minPoints) {
      labels[i] = -1;
      continue;
    }
    labels[i] = cluster;
    const queue = [...nb];
    while (queue.length) {
      const j = queue.pop() as number;
      if (labels[j] === -1) labels[j] = cluster;
      if (labels[j] !== -2) continue;
      labels[j] = cluster;
      const nj = neighbours(j);
      if (nj.length >= minPoints) queue.push(...nj);
    }
    cluster++;
  }
  return labels;
}
