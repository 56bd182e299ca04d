/**
 * Customer segmentation on standardized log-RFM: K-Means with k chosen by silhouette over a range
 * (seeded), or DBSCAN; each segment described in words from its centroid.
 */
import type { SegmentModel } from "../../core/segments";
import { clusterCount, dbscan, kmeans, silhouette } from "./clustering";
import { type CustomerFeatures, logRfm, RFM_FEATURES } from "./rfm";

export interface SegmentOptions {
  method: "kmeans" | "dbscan";
  kMin: number;
  kMax: number;
  seed: number;
  /** DBSCAN radius in standardized units */
  eps: number;
  /** DBSCAN core-point neighbourhood size */
  minPoints: number;
}

export const DEFAULT_SEGMENT_OPTIONS: SegmentOptions = {
  method: "kmeans",
  kMin: 3,
  kMax: 10,
  seed: 7,
  eps: 0.35,
  minPoints: 15,
};

/** A log-RFM column's spread below this is rounding, not customers differing (log values are at most ~30). */
const MIN_SPREAD = 1e-9;

export interface SegmentFit {
  model: SegmentModel;
  labels: Int32Array;
  silhouette: number;
  silhouetteByK: Record<string, number>;
  /** standardized points, for charts */
  points: Float64Array;
}

/**
 * The fewest customers `fitSegments` segments: k-means tries k from kMin up to n - 1 (n clusters of one have no
 * silhouette), so it needs kMin + 1; DBSCAN needs kMin.
 */
export function fewestToSegment(options: Partial<SegmentOptions> = {}): number {
  const opts = { ...DEFAULT_SEGMENT_OPTIONS, ...options };
  return opts.method === "kmeans" ? opts.kMin + 1 : opts.kMin;
}

export function fitSegments(customers: readonly CustomerFeatures[], options: Partial<SegmentOptions> = {}): SegmentFit {
  const opts = { ...DEFAULT_SEGMENT_OPTIONS, ...options };
  const n = customers.length;
  const d = RFM_FEATURES.length;
  if (n < fewestToSegment(opts)) throw new Error(`${n} customers are too few to segment`);
  // the customers in an order of their own values, not the log's: k-means++ draws its seeds by position and the
  // silhouette its sample, so an export's row order chose the segments (ties are equal points, interchangeable)
  const logged = customers.map(logRfm);
  const order = [...logged.keys()].sort((a, b) => byValues(logged[a] as number[], logged[b] as number[]));
  const raw = order.map((i) => logged[i] as number[]);
  const mean = Array.from({ length: d }, (_, t) => raw.reduce((a, r) => a + (r[t] as number), 0) / n);
  // a column every customer shares (one order each, one price) has no spread but its mean's rounding (1e-16), which
  // would make its z-scores millions and every segment "frequent" or "high spend": it is scaled by 1, as a 0 is
  const sd = Array.from({ length: d }, (_, t) => {
    const s = Math.sqrt(raw.reduce((a, r) => a + ((r[t] as number) - (mean[t] as number)) ** 2, 0) / n);
    return s > MIN_SPREAD ? s : 1;
  });
  const x = new Float64Array(n * d);
  raw.forEach((r, i) => {
    for (let t = 0; t < d; t++)
      x[i * d + t] = Math.fround((Math.fround(r[t] as number) - (mean[t] as number)) / (sd[t] as number));
  });
  let labels: Int32Array;
  let centroids: number[][];
  const silhouetteByK: Record<string, number> = {};
  if (opts.method === "dbscan") {
    labels = dbscan(x, n, d, opts.eps, opts.minPoints);
    const k = clusterCount(labels);
    centroids = Array.from({ length: k }, (_, j) => {
      const members = [...labels.keys()].filter((i) => labels[i] === j);
      return Array.from(
        { length: d },
        (_, t) => members.reduce((a, i) => a + (x[i * d + t] as number), 0) / members.length,
      );
    });
  } else {
    let best: { k: number; s: number; labels: Int32Array; centroids: Float64Array } | null = null;
    for (let k = opts.kMin; k <= Math.min(opts.kMax, n - 1); k++) {
      const r = kmeans(x, n, d, k, opts.seed);
      const s = silhouette(x, n, d, r.labels);
      silhouetteByK[k] = s;
      if (!best || s > best.s) best = { k, s, labels: r.labels, centroids: r.centroids };
    }
    const b = best as NonNullable<typeof best>;
    // a centroid no customer is nearest (k-means on fewer distinct customers than k) is no segment: left out, so
    // no campaign can target a name no reader has, and the others renumbered
    const used = [...new Set(b.labels)].sort((p, q) => p - q);
    const renumber = new Map(used.map((j, k) => [j, k]));
    labels = b.labels.map((l) => renumber.get(l) as number);
    centroids = used.map((j) => Array.from(b.centroids.subarray(j * d, (j + 1) * d)));
  }
  const silhouetteOfFit = silhouette(x, n, d, labels);
  // back to the customers' order
  const ordered = new Int32Array(n);
  const points = new Float64Array(n * d);
  order.forEach((i, r) => {
    ordered[i] = labels[r] as number;
    points.set(x.subarray(r * d, (r + 1) * d), i * d);
  });
  const sizes = centroids.map((_, j) => labels.filter((l) => l === j).length);
  const seen = new Map<string, number>();
  const model: SegmentModel = {
    features: RFM_FEATURES,
    mean,
    sd,
    centroids,
    segments: centroids.map((c, j) => {
      const raw = c.map((z, t) => Math.expm1(z * (sd[t] as number) + (mean[t] as number)));
      const { name: base, description } = describeSegment(c, raw);
      // two centroids can read alike: keep names unique (the descriptions say how they differ)
      const count = (seen.get(base) ?? 0) + 1;
      seen.set(base, count);
      const name = count === 1 ? base : `${base} (${String.fromCharCode(64 + count)})`;
      return { id: j, name, description, size: sizes[j] as number, share: (sizes[j] as number) / n };
    }),
  };
  return { model, labels: ordered, silhouette: silhouetteOfFit, silhouetteByK, points };
}

/** Lexicographic order of two points. */
function byValues(a: readonly number[], b: readonly number[]): number {
  for (let t = 0; t < a.length; t++) if (a[t] !== b[t]) return (a[t] as number) - (b[t] as number);
  return 0;
}

/**
 * Days without a purchase before a segment may be called lapsed, whatever its z-score: on a short log (a few weeks,
 * or a day) the readers who bought least recently did so days ago, and a win-back campaign aimed at "Lapsed big
 * spenders" would reach people who bought this week.
 */
export const LAPSED_MIN_DAYS = 30;

/** Words for a centroid: z-scores say how it compares, raw values say how much. */
export function describeSegment(z: readonly number[], raw: readonly number[]): { name: string; description: string } {
  const [zr, zf, zm] = z as [number, number, number];
  const [r, f, m] = raw as [number, number, number];
  const active = zr < -0.4;
  const lapsed = zr > 0.6 && r >= LAPSED_MIN_DAYS;
  const frequent = zf > 0.5;
  const rare = zf < -0.5;
  const big = zm > 0.5;
  const small = zm < -0.5;
  let name: string;
  if (active && frequent && big) name = "Champions";
  else if (lapsed && big) name = "Lapsed big spenders";
  else if (lapsed && rare) name = "Lapsed one-off buyers";
  else if (lapsed) name = "Drifting away";
  else if (active && rare) name = "New or occasional buyers";
  else if (frequent || big) name = "Loyal regulars";
  else if (active) name = "Recent developing buyers";
  else if (small) name = "Small-basket shoppers";
  else name = "Steady middle";
  const description =
    `${active ? "bought recently" : lapsed ? "have not bought for a long time" : zr > 0.6 ? "bought less recently than most" : "bought a while ago"} ` +
    `(typically ${Math.round(r)} days ago), ${frequent ? "frequent" : rare ? "rare" : "average"} buyers ` +
    `(~${f.toFixed(f < 10 ? 1 : 0)} orders), ${big ? "high" : small ? "low" : "average"} spend (~${Math.round(m).toLocaleString("en")})`;
  return { name, description };
}
