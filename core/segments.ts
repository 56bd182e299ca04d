/**
 * Customer segments: nearest centroid in standardized log-RFM space. The reference for the exported
 * ONNX graph (Add 1 -> Log -> Sub mean -> Div sd -> squared distance to each centroid -> ArgMin).
 */

export interface SegmentModel {
  /** feature order: recency_days, frequency, monetary */
  features: readonly string[];
  mean: number[];
  sd: number[];
  /** k rows of standardized centroids */
  centroids: number[][];
  segments: { id: number; name: string; description: string; size: number; share: number }[];
}

/** Standardized log-RFM of raw values. */
export function standardizeRfm(model: SegmentModel, raw: readonly number[]): number[] {
  return raw.map((v, i) => {
    const f = Math.fround;
    const logged = f(Math.log(f(f(Math.max(0, v)) + 1)));
    return f(f(logged - f(model.mean[i] as number)) / f(model.sd[i] as number));
  });
}

/** Index of the nearest centroid (ties: the lower index, as ONNX ArgMin). */
export function assignSegment(model: SegmentModel, raw: readonly number[]): number {
  const z = standardizeRfm(model, raw);
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  model.centroids.forEach((c, j) => {
    let d = 0;
    for (let t = 0; t < c.length; t++)
      d = Math.fround(d + Math.fround(Math.fround((z[t] as number) - Math.fround(c[t] as number)) ** 2));
    if (d < bestD) {
      bestD = d;
      best = j;
    }
  });
  return best;
}
