/**
 * Which block of a campaign each demo reader gets at an open of the AMP part, and why (with the values of the
 * facts: the preview shows what headers keep out), for the preview's campaign editor; under an experiment
 * running on the campaign, the reader's arm (`experiment`) and that arm's block, as the real email serves them.
 */

import { mintToken, verifyToken } from "../../core/token";
import { readCampaign } from "../decisions/campaign-store";
import type { Config } from "../env";
import { ApiError } from "../errors";
import type { WaitUntil } from "../lib/background";
import { ampOpenFacts } from "./amp-open-facts";
import { listUsers } from "./list-users";
import { previewOpen } from "./preview-open";

/** Readers shown: each costs one ranking. */
const MAX_READERS = 20;

export async function blocksByReader(
  kv: KVNamespace,
  config: Config,
  campaignId: string,
  /** the request's: a model load the preview starts outlives its answer */
  waitUntil: WaitUntil,
) {
  const secret = config.tokenSecrets[0];
  if (!secret)
    throw new ApiError("MODEL_UNAVAILABLE", "TOKEN_SECRET is not set: run `npm start` once to create .dev.vars");
  const now = Date.now();
  const campaign = await readCampaign(kv, campaignId);
  const users = (await listUsers(kv)).slice(0, MAX_READERS);
  const readers = await Promise.all(
    users.map(async (user) => {
      const token = await mintToken(secret, { user, campaign: campaignId, ttlSeconds: 600, preview: true });
      const verified = await verifyToken(config.tokenSecrets, token, Math.floor(now / 1000));
      const { served, experiment } = await previewOpen({
        kv,
        config,
        token,
        verified,
        stored: campaign,
        open: (c) => ampOpenFacts(c.timeZone, now),
        n: 6,
        now,
        waitUntil,
      });
      return {
        user,
        experiment,
        block: served.selection.block.id,
        type: served.selection.block.type,
        why: served.detail(),
        reason: served.rec.reason,
        items: served.rec.items.slice(0, 3).map((it) => it.id),
      };
    }),
  );
  return { campaign: campaignId, readers };
}
