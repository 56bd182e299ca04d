/**
 * One open of a previewed email, served as the real email's AMP list serves it (routes/amp-recs.ts): an
 * experiment running on the campaign, or the global holdout, gives the reader their arm (their recorded exposure,
 * else the hashes: experiments/open-arm.ts), whose configuration is served, popular items for a `popular` or
 * holdout arm; then the block for the reader. The preview records nothing (no exposure: its token is a preview's).
 */
import type { Campaign } from "../../core/campaign";
import type { Facts } from "../../core/conditions";
import type { TokenResult } from "../../core/token";
import { serveBlock } from "../campaigns/serve-block";
import type { Config } from "../env";
import { openArm } from "../experiments/open-arm";
import type { WaitUntil } from "../lib/background";
import { openLoads, profileOnce } from "../recs/recommend";

export interface PreviewOpenInput {
  kv: KVNamespace;
  config: Config;
  token: string;
  verified: TokenResult;
  /** the campaign as stored */
  stored: Campaign;
  /** the open's facts for the campaign served (its `timeZone`) */
  open: (campaign: Campaign) => Facts;
  n: number;
  /** unix milliseconds */
  now: number;
  waitUntil: WaitUntil;
}

export async function previewOpen(input: PreviewOpenInput) {
  const { kv, config, verified, now } = input;
  const loads = openLoads(kv, config, now, input.waitUntil);
  const arm = verified.ok
    ? await openArm(kv, verified.claims, input.stored, () => profileOnce(loads, kv, verified.claims.u), now)
    : null;
  const campaign = arm?.campaign ?? input.stored;
  const served = await serveBlock({
    kv,
    config,
    token: input.token,
    verified,
    campaign,
    n: input.n,
    open: input.open(campaign),
    now,
    loads,
    personalize: arm?.personalize,
    waitUntil: input.waitUntil,
  });
  /** `<experiment>:<arm>` as `X-Opentime-Experiment` names it, null: no experiment nor global holdout applies */
  return { served, campaign, experiment: arm?.label ?? null };
}
