/**
 * Fits the calibration of the top item's score (core/calibration.ts) on the validation split: for every
 * validation reader, the model's top item (what they bought within EXCLUDE_DAYS of the split left out, as the
 * Worker leaves it out) and whether they bought it in the validation window; Platt scaling (a one-feature
 * logistic regression) maps the score to that probability. Half the readers fit and the other half measure
 * the expected calibration error (ECE, 10 bins); the published fit uses all of them.
 */
import type { Calibration } from "../../core/calibration";
import { calibrated } from "../../core/calibration";
import { calibrationBins } from "../../core/drift";
import { topK } from "../../core/int8-kernel";
import type { TrainData } from "../data/train-data";
import { fitLogistic } from "../learn/logistic";

/** The Worker's default exclusion of recent purchases (EXCLUDE_PURCHASED_DAYS). */
export const EXCLUDE_DAYS = 30;
const DAY = 86400;
/** Fewer positives than this and a fit says nothing: no calibration is published. */
const MIN_POSITIVES = 5;
const BINS = 10;

export interface CalibrationFit {
  calibration: Calibration;
  /** expected calibration error on the held-out half (absolute, in probability) */
  ece: number;
}

/** Each reader's top score and whether they bought that item in the validation window. */
export function topItemOutcomes(
  model: { scores(user: number): ArrayLike<number> },
  data: TrainData,
  relevant: ReadonlyMap<number, ReadonlySet<number>>,
  end: number,
  only?: (user: number) => boolean,
): { score: Float64Array; bought: Uint8Array } {
  const { indptr, indices } = data.matrix;
  const users = Array.from({ length: indptr.length - 1 }, (_, u) => u).filter((u) => only?.(u) ?? true);
  const score = new Float64Array(users.length);
  const bought = new Uint8Array(users.length);
  const since = end - EXCLUDE_DAYS * DAY;
  for (const [i, u] of users.entries()) {
    const recent = new Set<number>();
    for (let k = indptr[u] as number; k < (indptr[u + 1] as number); k++) {
      if ((data.lastTime?.[k] ?? 0) >= since) recent.add(indices[k] as number);
    }
    const top = topK(model.scores(u), 1, recent.size > 0 ? (j) => recent.has(j) : undefined);
    const item = top.indices[0];
    score[i] = top.scores[0] ?? 0;
    bought[i] = item !== undefined && relevant.get(u)?.has(item) ? 1 : 0;
  }
  return { score, bought };
}

function platt(score: Float64Array, bought: Uint8Array): Calibration {
  const m = fitLogistic(score, bought, 1, { l2: 1e-3 });
  const positives = bought.reduce((a, b) => a + b, 0);
  return { a: m.weights[0] as number, b: m.intercept, n: bought.length, positives };
}

/** Expected calibration error of the calibrated scores (core/drift.ts calibrationBins, BINS equal-width bins). */
export function expectedCalibrationError(fit: Calibration, score: Float64Array, bought: Uint8Array): number {
  const pairs = Array.from(score, (s, i) => ({ p: calibrated(fit, s), y: bought[i] ? (1 as const) : (0 as const) }));
  return calibrationBins(pairs, BINS).ece;
}

/** The calibration of `model`'s top scores, or null when the validation window has too few purchases of it. */
export function fitCalibration(
  model: { scores(user: number): ArrayLike<number> },
  data: TrainData,
  relevant: ReadonlyMap<number, ReadonlySet<number>>,
  end: number,
  /** the readers to calibrate on (default: every row of `data`) */
  only?: (user: number) => boolean,
): CalibrationFit | null {
  const { score, bought } = topItemOutcomes(model, data, relevant, end, only);
  const half = (parity: number) => {
    const idx = [...score.keys()].filter((i) => i % 2 === parity);
    return {
      score: Float64Array.from(idx, (i) => score[i] as number),
      bought: Uint8Array.from(idx, (i) => bought[i] as number),
    };
  };
  const [fitHalf, testHalf] = [half(0), half(1)];
  const positives = (b: Uint8Array) => b.reduce((a, v) => a + v, 0);
  if (positives(fitHalf.bought) < MIN_POSITIVES || positives(testHalf.bought) < MIN_POSITIVES) return null;
  const ece = expectedCalibrationError(platt(fitHalf.score, fitHalf.bought), testHalf.score, testHalf.bought);
  return { calibration: platt(score, bought), ece };
}
