/**
 * PUT /v1/admin/campaigns/<id> (Bearer ADMIN_API_KEYS): creates or replaces a campaign, either version
 * (core/campaign.ts; version 1 is migrated). With `If-Match` (the `ETag` a GET or a write gave), only the
 * campaign that tag names is replaced: 412 CAMPAIGN_CHANGED when another edit landed since (`*`: any stored
 * one). 200 `{id, created, campaign, campaignSegmentsMissing, unchanged}` with the campaign as stored and its
 * `ETag` (the conditions naming a segment its model lacks: saved all the same; unchanged: the id held this very
 * campaign, compared as stored, and nothing was written); 400 naming the path of each bad field. Decided by the
 * campaigns' one writer (worker/campaigns/campaign-edits.ts); opens see the campaign within a minute
 * (worker/decisions/campaign-store.ts).
 */
import type { Hono } from "hono";
import { saveCampaign } from "../campaigns/campaign-edits";
import { campaignIdParam, readCampaignBody } from "../campaigns/campaign-input";
import { campaignSegmentsMissing } from "../campaigns/campaign-segments";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { preconditionOf } from "../lib/entity-tag";

export function registerAdminCampaignPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/campaigns/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = campaignIdParam(c);
      const ifMatch = preconditionOf(c.req.header("If-Match"), c.req.header("If-None-Match"));
      const campaign = await readCampaignBody(c);
      const { created, etag, written } = await saveCampaign(c.env, id, campaign, "replace", ifMatch);
      const missing = await campaignSegmentsMissing(c.env.OPENTIME_KV, id, campaign);
      return c.json({ id, created, campaign, campaignSegmentsMissing: missing, unchanged: !written }, 200, {
        ETag: etag,
      });
    },
  );
}
