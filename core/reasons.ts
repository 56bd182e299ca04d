/**
 * The closed vocabulary of why an email was shown what it was shown: `X-Opentime-Reason` on amp-list,
 * image and click answers, and the `reason` of a stored decision. The README's tables list exactly these
 * (test/node/reasons.test.ts compares them).
 */

/** Why the model could not be used at all (worker/model/model-store.ts). */
export const MODEL_FAILURES = [
  "model-pointer-missing",
  "model-manifest-invalid",
  "model-spec-unknown",
  "model-missing",
  "model-corrupt",
  "catalog-invalid",
  "kv-error",
  "model-loading",
] as const;
export type ModelFailureReason = (typeof MODEL_FAILURES)[number];

/** What a recommendation answers: personalized, or why generic (popular) content was served. */
export const RECS_REASONS = [
  "personalized",
  "experiment-popular",
  "opted-out",
  "erased",
  "token-missing",
  "token-malformed",
  "token-bad-signature",
  "token-expired",
  "profile-missing",
  "profile-invalid",
  "profile-no-factors-for-model",
  "profile-factor-dims",
  ...MODEL_FAILURES,
  "scoring-error",
] as const;
export type RecsReason = (typeof RECS_REASONS)[number];

/**
 * Whether generic content was served because something failed (the model, or scoring), not because of who the
 * reader is or what they chose: what an open shows then is not a promise (worker/decisions/decide-slot.ts).
 */
export function isFailureReason(reason: string): boolean {
  return reason === "scoring-error" || (MODEL_FAILURES as readonly string[]).includes(reason);
}

/** Nothing at all in KV to fall back on: the reason gets this suffix and the answer is empty. */
export const NO_FALLBACK_SUFFIX = "+no-fallback";
export type ServedReason = RecsReason | `${RecsReason}${typeof NO_FALLBACK_SUFFIX}`;

/** Open-time images and clicks add: a stored decision reused, a bad slot name, or a failure past every fallback. */
export const SLOT_ONLY_REASONS = [
  "stored-frozen",
  "stored-live",
  "stored-provisional",
  "bad-slot",
  "item-unavailable",
  "internal-error",
] as const;
export type SlotReason = ServedReason | (typeof SLOT_ONLY_REASONS)[number];

/** Who scored the items (`static`: a static block of the campaign, no scoring). */
export const SCORERS = ["ranker", "hybrid", "als", "als-foldin", "popular", "static"] as const;
export type Scorer = (typeof SCORERS)[number];

/**
 * Where a ranker's or hybrid's scores came from: the reader's pool (core/reader-pool.ts), or the graphs over
 * every item of the catalog.
 */
export const RANKINGS = ["pool", "catalog"] as const;
export type Ranking = (typeof RANKINGS)[number];

/**
 * Why a click on an open-time image's link was taken for a link scanner's (Microsoft Defender Safe Links,
 * Proofpoint, Mimecast, Barracuda...: they fetch every link of a delivered email), not the reader's: it is then
 * counted apart and never as a reader's click (worker/decisions/classify-click.ts, core/click-bursts.ts). The
 * README's table of scanner clicks lists exactly these (test/node/reasons.test.ts).
 */
export const SCANNER_REASONS = ["agent", "burst", "suspect-burst"] as const;
export type ScannerReason = (typeof SCANNER_REASONS)[number];
