/**
 * Golden cases: [input, expected] pairs the exporter writes for every model (golden.json), run in Node
 * against the trainer and in workerd against the ONNX sessions and the Worker's hybrid and ranker scoring.
 */
import type { Profile } from "./profile";

/** A dot-product graph (ALS, content): a user vector and the top-k the int8 graph must return. */
export interface GoldenCase {
  user: string;
  /** float32 user vector */
  vector: number[];
  k: number;
  /** int8 reference top-k (core/int8-kernel): model indices and float32 scores */
  expectedIndices: number[];
  expectedScores: number[];
  /** unquantized top-10 (what quantization costs) */
  floatTop10: number[];
}

/** The hybrid re-ranker: a stored profile, a time and a mode, and the top-10 the Worker must serve. */
export interface HybridGoldenCase {
  user: string;
  mode: "all" | "novel";
  /** unix seconds the recency features are measured at */
  now: number;
  profile: Profile;
  /** top-10 model indices from ORT-equal int8 scores and core/hybrid.ts, no exclusion window */
  expectedIndices: number[];
  /** ranker cases: the reader's stored pool (core/reader-pool.ts), which their features carry; none: not made */
  pool?: string | null;
}

export interface Golden {
  als: GoldenCase[];
  content: GoldenCase[];
  hybrid: HybridGoldenCase[];
  /** the learned ranker, same inputs as the hybrid's (core/ranker.ts candidates and trees over them) */
  ranker: HybridGoldenCase[];
}
