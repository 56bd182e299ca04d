/**
 * Which arm of the experiment running on a campaign an open serves, and what that arm shows: a variant's
 * campaign configuration, or the shop's popular items with no personalization (a `popular` variant, the
 * experiment's holdout or the global holdout). The reader's recorded exposure (their profile) wins over the
 * hashes (sticky: core/experiments/assignment.ts); the profile is read once per open (recommend.ts's
 * OpenLoads), so a campaign under an experiment costs an open no extra read but the experiment's own (cached a
 * minute). No experiment and no global holdout: null, the campaign as it is. Never throws.
 */
import type { Campaign } from "../../core/campaign";
import { type Arm, assign, inGlobalHoldout } from "../../core/experiments/assignment";
import {
  type Experiment,
  GLOBAL_ATTRIBUTION_DAYS,
  GLOBAL_HOLDOUT_ARMS,
  GLOBAL_HOLDOUT_ID,
  type GlobalHoldout,
  HOLDOUT_ARM,
} from "../../core/experiments/experiment";
import { ANY_CAMPAIGN, type ExposureFacts, type Exposures, INITIAL_PHASE } from "../../core/experiments/exposure";
import type { TokenClaims } from "../../core/token";
import { errorMessage, logEvent } from "../lib/log";
import type { ProfileRead } from "../profile/profile-store";
import { globalHoldout, runningExperiment } from "./experiment-store";

export interface ServedArm {
  /** the campaign configuration to serve (the variant's, or the campaign's own for popular content) */
  campaign: Campaign;
  /** false: popular items only, nothing of the reader used (`experiment-popular`) */
  personalize: boolean;
  /** what the open's exposure records (the email routes queue it when the open is real and recordable) */
  exposures: ExposureFacts[];
  /** `<experiment>:<arm>` for the `X-Opentime-Experiment` header */
  label: string;
}

/** The popular-items configuration: the campaign's settings, one block of recommendations, nobody's data. */
function popular(base: Campaign): Campaign {
  return { ...base, blocks: [], default: { id: "popular", type: "recommendations" } };
}

function armName(arm: Exclude<Arm, { kind: "excluded" }>): string {
  return arm.kind === "variant" ? arm.variant : HOLDOUT_ARM;
}

export interface ArmInput {
  kv: KVNamespace;
  campaignId: string;
  /** the token's campaign as stored (its settings serve a popular arm) */
  campaign: Campaign;
  user: string;
  /** the reader's recorded exposures (their profile), read once per open */
  exposures: () => Promise<Exposures>;
  /** unix milliseconds */
  now: number;
}

export async function armForOpen(input: ArmInput): Promise<ServedArm | null> {
  try {
    const [experiment, global] = await Promise.all([
      runningExperiment(input.kv, input.campaignId, input.now),
      globalHoldout(input.kv, input.now),
    ]);
    if (!experiment && !(global && global.share > 0)) return null;
    const exposures = await input.exposures();
    return decideArm(input, experiment, global, exposures);
  } catch (e) {
    logEvent("error", "experiment.arm_failed", { detail: errorMessage(e) });
    return null;
  }
}

/** The arm from what was read. */
function decideArm(
  input: Pick<ArmInput, "campaignId" | "campaign" | "user" | "now">,
  experiment: Experiment | null,
  global: GlobalHoldout | null,
  exposures: Exposures,
): ServedArm | null {
  const facts: ExposureFacts[] = [];
  const globalOn = global !== null && global.share > 0;
  const heldGlobally = inGlobalHoldout(global, input.user, exposures[GLOBAL_HOLDOUT_ID]?.arm ?? null);
  if (globalOn) {
    facts.push({
      experiment: GLOBAL_HOLDOUT_ID,
      arm: heldGlobally ? GLOBAL_HOLDOUT_ARMS.held : GLOBAL_HOLDOUT_ARMS.rest,
      campaign: ANY_CAMPAIGN,
      days: GLOBAL_ATTRIBUTION_DAYS,
      phase: global.phaseStart ?? INITIAL_PHASE,
    });
  }
  const globalLabel = `${GLOBAL_HOLDOUT_ID}:${heldGlobally ? GLOBAL_HOLDOUT_ARMS.held : GLOBAL_HOLDOUT_ARMS.rest}`;
  if (heldGlobally)
    return { campaign: popular(input.campaign), personalize: false, exposures: facts, label: globalLabel };
  // outside any experiment of this campaign (none runs, or its coverage leaves the reader out): the campaign as it
  // is, counted for the global holdout when one is on
  const arm = experiment ? assign(experiment, input.user, exposures[experiment.id]?.arm ?? null) : null;
  if (!experiment || !arm || arm.kind === "excluded")
    return globalOn ? { campaign: input.campaign, personalize: true, exposures: facts, label: globalLabel } : null;
  const name = armName(arm);
  facts.push({
    experiment: experiment.id,
    arm: name,
    campaign: input.campaignId,
    days: experiment.attributionDays,
    phase: experiment.phaseStart ?? INITIAL_PHASE,
  });
  const variant = arm.kind === "variant" ? experiment.variants.find((v) => v.id === arm.variant) : undefined;
  const content = variant?.content ?? "popular";
  return content === "popular"
    ? { campaign: popular(input.campaign), personalize: false, exposures: facts, label: `${experiment.id}:${name}` }
    : { campaign: content, personalize: true, exposures: facts, label: `${experiment.id}:${name}` };
}

/**
 * Starts the reads an arm needs (the campaign's experiment and the global holdout, each cached a minute), so the
 * caller can run them beside the campaign's read; true when an arm will apply (the caller can then start the
 * reader's profile read at once). Never rejects.
 */
export function prefetchArm(kv: KVNamespace, campaignId: string, now: number): Promise<boolean> {
  return Promise.all([runningExperiment(kv, campaignId, now), globalHoldout(kv, now)]).then(
    ([experiment, global]) => experiment !== null || (global !== null && global.share > 0),
    () => false,
  );
}

/**
 * The arm of an open with a verified token; `profile` reads the reader's profile (shared with the open's
 * ranking), asked for only when an experiment or the global holdout applies.
 */
export function openArm(
  kv: KVNamespace,
  claims: TokenClaims,
  campaign: Campaign,
  profile: () => Promise<ProfileRead>,
  now: number,
): Promise<ServedArm | null> {
  return armForOpen({
    kv,
    campaignId: claims.c,
    campaign,
    user: claims.u,
    exposures: async () => {
      const read = await profile();
      return read.ok ? read.profile.experiments : {};
    },
    now,
  });
}
