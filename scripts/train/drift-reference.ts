/**
 * The drift reference a training run publishes in its manifest (core/drift.ts): the drift features of the
 * exported readers, computed from their profiles exactly as the Worker reads them (propensity, purchase
 * summaries, factors decoded from the profile), over an even sample of at most DRIFT_SAMPLE_MAX readers.
 */
import { base64ToFloat32 } from "../../core/base64";
import {
  type CalibrationBins,
  type DriftReference,
  driftReference,
  type ReaderDriftFeatures,
  readerDriftFeatures,
} from "../../core/drift";
import { type QuantizedItems, scoreInt8, topK } from "../../core/int8-kernel";
import type { Profile } from "../../core/profile";

/** Readers the reference is computed over at most (the top score costs one int8 scoring of every item each). */
export const DRIFT_SAMPLE_MAX = 5000;

/** At most `max` of `xs`, evenly spaced (deterministic: the same input gives the same sample). */
export function evenSample<T>(xs: readonly T[], max: number): T[] {
  if (xs.length <= max) return [...xs];
  return Array.from({ length: max }, (_, i) => xs[Math.floor((i * xs.length) / max)] as T);
}

/** The best int8 ALS score over every item for a profile's factors, as the exported graph computes it. */
export function topScoreOf(profile: Pick<Profile, "factors">, items: QuantizedItems): number | null {
  if (!profile.factors) return null;
  return topK(scoreInt8(items, base64ToFloat32(profile.factors.vector)), 1).scores[0] ?? null;
}

/** The reference over the exported profiles at `asOf` (the training cutoff), with the propensity calibration. */
export function trainingDriftReference(
  profiles: readonly Profile[],
  alsItems: QuantizedItems,
  asOf: number,
  calibration?: CalibrationBins,
): DriftReference {
  const readers: ReaderDriftFeatures[] = evenSample(profiles, DRIFT_SAMPLE_MAX).map((p) =>
    readerDriftFeatures(p, topScoreOf(p, alsItems), asOf),
  );
  return driftReference(readers, asOf, calibration);
}
