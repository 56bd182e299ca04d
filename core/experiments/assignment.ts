/**
 * Which arm of an experiment a reader is in, from hashes of the experiment's seed and the reader id alone (no
 * state, the same at every edge): the global holdout first, then coverage, then the experiment's holdout, then
 * the variant by weight. Each step has its own hash (`<seed>:<step>:<reader>`; seeds have no `:`), so raising
 * coverage only adds readers (nobody's variant moves), and a holdout share or weights changed move only readers
 * whose own hash crosses the new boundary: the exposure a reader got first is kept with their profile and wins
 * over the hash (sticky), so nobody already exposed moves. The hash is GrowthBook's (FNV-1a of the FNV-1a, to 4
 * decimals), its input our own. Pure.
 */
import { fnv1a32 } from "../fnv";
import { type Experiment, GLOBAL_HOLDOUT_ARMS, type GlobalHoldout, HOLDOUT_ARM } from "./experiment";

/** A uniform number in [0, 1) from the seed, a step's name and the reader (GrowthBook's hash, version 2). */
export function bucket(seed: string, step: string, reader: string): number {
  return (fnv1a32(String(fnv1a32(`${seed}:${step}:${reader}`))) % 10_000) / 10_000;
}

/**
 * Whether the global holdout holds the reader: the arm their first open recorded (sticky), else the hash. Off
 * (no holdout, or a share of 0): never.
 */
export function inGlobalHoldout(global: GlobalHoldout | null, reader: string, recorded: string | null = null): boolean {
  if (!global || global.share <= 0) return false;
  if (recorded !== null) return recorded === GLOBAL_HOLDOUT_ARMS.held;
  return bucket(global.seed, "global", reader) < global.share;
}

export type Arm =
  /** outside the experiment (coverage): the campaign as it is, not counted */
  | { kind: "excluded" }
  /** kept from personalization: popular items, counted (the experiment's holdout, or the global one) */
  | { kind: "holdout"; global: boolean }
  | { kind: "variant"; variant: string };

/**
 * The arm of `reader`; `exposed` is the variant (or `holdout`) they were first shown, which wins over the
 * experiment's coverage, holdout and weights. The global holdout comes first and is a hash alone: it holds a
 * reader out of every campaign, so turning it on (or raising it) moves readers already exposed, and is best set
 * before experiments start. A stopped experiment covers nobody.
 */
export function assign(
  experiment: Experiment,
  reader: string,
  exposed: string | null = null,
  global: GlobalHoldout | null = null,
): Arm {
  if (inGlobalHoldout(global, reader)) return { kind: "holdout", global: true };
  if (experiment.status === "stopped") return { kind: "excluded" };
  if (exposed === HOLDOUT_ARM) return { kind: "holdout", global: false };
  if (exposed !== null && experiment.variants.some((v) => v.id === exposed))
    return { kind: "variant", variant: exposed };
  const seed = experiment.seed ?? experiment.id;
  if (bucket(seed, "coverage", reader) >= experiment.coverage) return { kind: "excluded" };
  if (bucket(seed, "holdout", reader) < experiment.holdout) return { kind: "holdout", global: false };
  const u = bucket(seed, "variant", reader);
  const total = experiment.variants.reduce((s, v) => s + v.weight, 0);
  let edge = 0;
  for (const v of experiment.variants) {
    edge += v.weight / total;
    if (u < edge) return { kind: "variant", variant: v.id };
  }
  return { kind: "variant", variant: (experiment.variants.at(-1) as { id: string }).id };
}
