/**
 * Calibration of ranking scores: the top item's score mapped to the probability that the reader buys it
 * (Platt scaling, `p = 1 / (1 + exp(-(a * score + b)))`), fitted by the training pipeline on the validation
 * split (scripts/train/calibration.ts) and applied by the Worker, so a condition `topProbability >= 0.7`
 * means 70%. Pure.
 */
import { z } from "zod";

export const CalibrationSchema = z.object({
  a: z.number(),
  b: z.number(),
  /** validation readers the fit saw, and how many of them bought their top item */
  n: z.number().int().nonnegative(),
  positives: z.number().int().nonnegative(),
});
export type Calibration = z.infer<typeof CalibrationSchema>;

export function calibrated(c: Calibration, score: number): number {
  const z = c.a * score + c.b;
  return z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
}
