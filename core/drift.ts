/**
 * Drift between the readers a model was trained on and the readers it serves now: quantile histograms and the
 * population stability index (PSI) per reader feature, and calibration bins (mean prediction against the observed
 * rate). The training pipeline stores a reference (DriftReferenceSchema, in the model manifest); the Worker's
 * drift job computes the same features of today's readers and compares them with it. Pure.
 */
import { z } from "zod";

/**
 * PSI above this (not at it: isDriftAlert) raises a drift alert, unless DRIFT_PSI_ALERT sets another. The usual
 * reading: below 0.1 stable, 0.1 to 0.25 a moderate shift (worth watching), above 0.25 a significant one (the model
 * sees readers unlike those it was trained on).
 */
export const PSI_ALERT_THRESHOLD = 0.25;
/** Shares are floored at this before the PSI's logarithm, so an empty bin gives a large term, not infinity. */
export const PSI_EPSILON = 1e-4;
/** Quantile bins per feature in a reference. */
export const DRIFT_BINS = 10;
/**
 * Readers with a value a feature needs before its PSI is judged: 10 a bin. Below it the PSI is mostly noise
 * (about (bins - 1) / n from sampling alone): samples drawn from the reference itself crossed 0.25 in 86% of
 * runs at 20 readers and 27% at 50 (floored, as before smoothing; 65% and 14% smoothed). At 100, smoothed,
 * 0.44% of 5,000 seeded runs (test/node/drift.test.ts).
 */
export const DRIFT_MIN_READERS = 10 * DRIFT_BINS;
/**
 * Readers with a propensity the calibration error (ECE over ten equal-width bins) needs before it is judged: it
 * reads high on small samples even for a perfectly calibrated model. Drawn from one (p uniform), ECE crossed 0.1
 * in 5.2% of 20,000 seeded runs at 200 readers, 1.5% at 250, 0.33% at 300 (test/node/drift.test.ts bounds it at
 * 1%). Below it the figure is shown, not judged, nor kept as the model's. The drift job samples at most 400
 * readers (DRIFT_SAMPLE): three in four of them need a propensity.
 */
export const CALIBRATION_MIN_READERS = 300;
/**
 * Why a feature's PSI, or the calibration, was stored but not judged (no alert, whatever its value), a closed
 * list: `too-few-readers`, fewer than DRIFT_MIN_READERS had a value (CALIBRATION_MIN_READERS for the calibration).
 */
export const DRIFT_NOT_JUDGED = ["too-few-readers"] as const;
export type DriftNotJudged = (typeof DRIFT_NOT_JUDGED)[number];
/**
 * Prior weight, in readers, of today's shares' smoothing toward the reference (featureDrift): half a reader a
 * bin at DRIFT_BINS equal bins (add-0.5, Jeffreys).
 */
export const PSI_PRIOR_READERS = DRIFT_BINS / 2;

/**
 * Inner bin edges at the reference sample's quantiles k / bins (k = 1 .. bins - 1; linear interpolation between
 * order statistics, numpy's default), deduplicated: ties give fewer bins. Non-finite values are ignored; no
 * values give no edges (one bin).
 */
export function quantileEdges(values: readonly number[], bins = DRIFT_BINS): number[] {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  const edges: number[] = [];
  if (sorted.length === 0) return edges;
  for (let k = 1; k < bins; k++) {
    const h = (sorted.length - 1) * (k / bins);
    const lo = Math.floor(h);
    const below = sorted[lo] as number;
    const above = sorted[Math.min(lo + 1, sorted.length - 1)] as number;
    const edge = below + (h - lo) * (above - below);
    if (edges.length === 0 || edge > (edges[edges.length - 1] as number)) edges.push(edge);
  }
  return edges;
}

/**
 * Share of `values` in each bin (-inf, e0], (e0, e1], ..., (e_last, inf): edges.length + 1 shares summing to 1
 * (all 0 when there are no finite values). `edges` ascending, as quantileEdges gives them.
 */
export function histogramShares(values: readonly number[], edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    // the bin is the number of edges strictly below v
    let lo = 0;
    let hi = edges.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((edges[mid] as number) < v) lo = mid + 1;
      else hi = mid;
    }
    counts[lo] = (counts[lo] as number) + 1;
    n++;
  }
  return counts.map((c) => (n > 0 ? c / n : 0));
}

/**
 * Population stability index of `actual` against `expected` (shares over the same bins):
 * sum (a - e) * ln(a / e), each share floored at `epsilon`. Zero for identical shares, never negative.
 */
export function psi(expected: readonly number[], actual: readonly number[], epsilon = PSI_EPSILON): number {
  if (expected.length !== actual.length)
    throw new Error(`PSI over different bins: ${expected.length} expected, ${actual.length} actual`);
  let sum = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.max(epsilon, expected[i] as number);
    const a = Math.max(epsilon, actual[i] as number);
    sum += (a - e) * Math.log(a / e);
  }
  return sum;
}

export const CalibrationBinSchema = z.object({
  lo: z.number(),
  hi: z.number(),
  n: z.number().int().nonnegative(),
  /** mean predicted probability in the bin, null when it is empty */
  predicted: z.number().nullable(),
  /** observed rate of positives in the bin, null when it is empty */
  observed: z.number().nullable(),
});
export type CalibrationBin = z.infer<typeof CalibrationBinSchema>;

export const CalibrationBinsSchema = z.object({
  bins: z.array(CalibrationBinSchema),
  /** expected calibration error: |predicted - observed| per bin, weighted by the bin's share of pairs */
  ece: z.number().nonnegative(),
  n: z.number().int().nonnegative(),
});
export type CalibrationBins = z.infer<typeof CalibrationBinsSchema>;

/**
 * Equal-width bins of predicted probability over [0, 1] (bin b holds [b / bins, (b + 1) / bins), the last one
 * closed), every bin listed (empty ones with null means), and the expected calibration error; 0 for no pairs.
 */
export function calibrationBins(pairs: readonly { p: number; y: 0 | 1 }[], bins = 10): CalibrationBins {
  if (!Number.isInteger(bins) || bins < 1) throw new Error(`bins must be a positive integer, got ${bins}`);
  const sumP = new Float64Array(bins);
  const sumY = new Float64Array(bins);
  const count = new Float64Array(bins);
  for (const { p, y } of pairs) {
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    sumP[b] = (sumP[b] as number) + p;
    sumY[b] = (sumY[b] as number) + y;
    count[b] = (count[b] as number) + 1;
  }
  let ece = 0;
  const out: CalibrationBin[] = [];
  for (let b = 0; b < bins; b++) {
    const n = count[b] as number;
    if (n > 0) ece += Math.abs((sumP[b] as number) - (sumY[b] as number)) / pairs.length;
    out.push({
      lo: b / bins,
      hi: (b + 1) / bins,
      n,
      predicted: n > 0 ? (sumP[b] as number) / n : null,
      observed: n > 0 ? (sumY[b] as number) / n : null,
    });
  }
  return { bins: out, ece, n: pairs.length };
}

/** The propensity's horizon: it is the probability of a purchase within 30 days of the training cutoff. */
export const PROPENSITY_HORIZON_S = 30 * 86400;
/**
 * How much of the propensity's horizon a calibration figure saw, a closed list: `partial` (measured before
 * asOf + 30 days: purchases still to come count as none, so it is biased and never alerts) or `complete`.
 */
export const CALIBRATION_WINDOWS = ["partial", "complete"] as const;
export type CalibrationWindow = (typeof CALIBRATION_WINDOWS)[number];

export function calibrationWindow(asOf: number, nowSec: number): CalibrationWindow {
  return nowSec >= asOf + PROPENSITY_HORIZON_S ? "complete" : "partial";
}

/**
 * The calibration label: whether a reader bought within the horizon after `asOf`, from their purchase
 * summaries (Profile.purchases). A summary keeps only an item's latest time, so a reader who bought in the
 * window and the same items again after it reads as not having bought. Exact up to asOf + 30 days (nothing
 * after the window has happened yet); the drift job measures it once, at its first run past the window, and
 * keeps that figure (worker/drift/drift-store.ts) rather than let the label decay as the model ages.
 */
export function boughtWithinHorizon(purchases: readonly { lastTs: number }[], asOf: number): boolean {
  return purchases.some((p) => p.lastTs > asOf && p.lastTs <= asOf + PROPENSITY_HORIZON_S);
}

/** The reader features the drift job compares, a closed list. */
export const DRIFT_FEATURES = ["propensity", "daysSinceLastPurchase", "itemsBought", "topScore"] as const;
export type DriftFeature = (typeof DRIFT_FEATURES)[number];
export type ReaderDriftFeatures = Record<DriftFeature, number | null>;

const DAY_SECONDS = 86400;

/** What the drift features of one reader are computed from: the few fields both sides can read at any time. */
export interface DriftReader {
  /** the 30-day purchase propensity of the model's features for the reader (UserFeatures.propensity) */
  propensity: number | null;
  /** the profile's purchase summaries (Profile.purchases, bounded by MAX_PURCHASE_HISTORY); only lastTs is read */
  purchases: readonly { lastTs: number }[];
}

/**
 * One reader's drift features at `nowSec` (unix seconds): propensity (null when the reader has none), days since
 * the newest purchase (fractional, never negative; null without purchases), distinct items bought (the purchase
 * summaries' count) and `topScore`, the reader's top-1 score: the int8 ALS graph's best score over every item
 * for the reader's factors, exported bias included, nothing excluded (null when the reader has no factors).
 */
export function readerDriftFeatures(reader: DriftReader, topScore: number | null, nowSec: number): ReaderDriftFeatures {
  let last: number | null = null;
  for (const p of reader.purchases) if (last === null || p.lastTs > last) last = p.lastTs;
  return {
    propensity: reader.propensity,
    daysSinceLastPurchase: last === null ? null : Math.max(0, nowSec - last) / DAY_SECONDS,
    itemsBought: reader.purchases.length,
    topScore,
  };
}

export const FeatureHistogramSchema = z
  .object({
    /** inner bin edges (quantileEdges of the reference sample), ascending */
    edges: z.array(z.number()),
    /** share of the reference sample per bin (histogramShares): edges.length + 1 of them */
    shares: z.array(z.number().min(0).max(1)),
    /** readers in the sample with a value for the feature */
    n: z.number().int().positive(),
  })
  .refine((h) => h.shares.length === h.edges.length + 1, "shares need one entry more than edges")
  .refine((h) => h.edges.every((e, i) => i === 0 || e > (h.edges[i - 1] as number)), "edges must ascend");
export type FeatureHistogram = z.infer<typeof FeatureHistogramSchema>;

/** The training-time reference a model's drift is measured against. */
export const DriftReferenceSchema = z.object({
  /** unix seconds the features describe (the training cutoff): daysSinceLastPurchase is relative to it */
  asOf: z.number().int(),
  /** per feature; a feature no reader in the sample has is absent */
  features: z.partialRecord(z.enum(DRIFT_FEATURES), FeatureHistogramSchema),
  /** the propensity model's calibration on its validation split, when it could be measured */
  calibration: CalibrationBinsSchema.optional(),
});
export type DriftReference = z.infer<typeof DriftReferenceSchema>;

function valuesOf(readers: readonly ReaderDriftFeatures[], feature: DriftFeature): number[] {
  return readers.flatMap((r) => {
    const v = r[feature];
    return v === null || !Number.isFinite(v) ? [] : [v];
  });
}

/** The reference over a sample of readers' features (readerDriftFeatures at `asOf`). */
export function driftReference(
  readers: readonly ReaderDriftFeatures[],
  asOf: number,
  calibration?: CalibrationBins,
  bins = DRIFT_BINS,
): DriftReference {
  const features: DriftReference["features"] = {};
  for (const feature of DRIFT_FEATURES) {
    const values = valuesOf(readers, feature);
    if (values.length === 0) continue;
    const edges = quantileEdges(values, bins);
    features[feature] = { edges, shares: histogramShares(values, edges), n: values.length };
  }
  return { asOf, features, ...(calibration && { calibration }) };
}

/** One feature's drift: its PSI over `n` readers; `notJudged` when it may not raise an alert, and why. */
export interface FeatureDrift {
  psi: number;
  n: number;
  notJudged?: DriftNotJudged;
}

/**
 * Today's readers against the reference: PSI and sample size per feature both have values for, marked
 * `too-few-readers` under DRIFT_MIN_READERS.
 *
 * Today's shares are smoothed toward the reference's before the PSI, as if PSI_PRIOR_READERS more readers had
 * been spread as the reference is: (count + prior x referenceShare) / (n + prior). Without it an empty bin is
 * floored at PSI_EPSILON and adds about 0.69 on its own, a figure set by the floor and not by the evidence:
 * no reader in a bin of 10% tells little at 20 readers and much at 400. The floored estimate also sits well
 * above the population's PSI on small samples (a shift of PSI 0.265: 0.44 on average at 100 readers floored,
 * 0.33 smoothed, 0.29 and 0.28 at 400). The prior follows the reference's shares, not add-0.5 everywhere: a
 * bin the reference leaves empty by ties (integer features) gets no phantom readers, and identical shares
 * still give 0.
 */
export function featureDrift(
  reference: DriftReference,
  readers: readonly ReaderDriftFeatures[],
): Partial<Record<DriftFeature, FeatureDrift>> {
  const out: Partial<Record<DriftFeature, FeatureDrift>> = {};
  for (const feature of DRIFT_FEATURES) {
    const ref = reference.features[feature];
    const values = valuesOf(readers, feature);
    if (!ref || values.length === 0) continue;
    const n = values.length;
    const weight = n / (n + PSI_PRIOR_READERS);
    const smoothed = histogramShares(values, ref.edges).map((a, i) => {
      const e = ref.shares[i] as number;
      return e + weight * (a - e);
    });
    out[feature] = {
      psi: psi(ref.shares, smoothed),
      n,
      ...(n < DRIFT_MIN_READERS && { notJudged: "too-few-readers" as const }),
    };
  }
  return out;
}

/** Whether a feature's drift raises an alert at `threshold`: judged, and its PSI above it. */
export function isDriftAlert(drift: FeatureDrift, threshold: number): boolean {
  return drift.notJudged === undefined && drift.psi > threshold;
}
