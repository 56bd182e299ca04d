/**
 * PUT /v1/preview/campaigns/<id> : the preview's campaign editor saves a campaign (validated as the admin API
 * does: 400 naming the path of each bad field), with the `If-Match` of the campaign it loaded: 412
 * CAMPAIGN_CHANGED when another edit landed since. 200 `{id, campaign, campaignSegmentsMissing, unchanged}`: the
 * editor shows the conditions naming a segment the campaign's model lacks (saved all the same); unchanged: the id
 * held this very campaign and nothing was written. Behind `previewAccess`: open on a loopback host in local
 * development, the admin key or Cloudflare Access in production.
 */
import type { Hono } from "hono";
import { saveCampaign } from "../campaigns/campaign-edits";
import { campaignIdParam, readCampaignBody } from "../campaigns/campaign-input";
import { campaignSegmentsMissing } from "../campaigns/campaign-segments";
import type { AppEnv } from "../env";
import { preconditionOf } from "../lib/entity-tag";

export function registerPreviewCampaignPut(app: Hono<AppEnv>): void {
  app.put("/v1/preview/campaigns/:id", async (c) => {
    const id = campaignIdParam(c);
    const ifMatch = preconditionOf(c.req.header("If-Match"), c.req.header("If-None-Match"));
    const campaign = await readCampaignBody(c);
    const { etag, written } = await saveCampaign(c.env, id, campaign, "replace", ifMatch);
    const missing = await campaignSegmentsMissing(c.env.OPENTIME_KV, id, campaign);
    return c.json({ id, campaign, campaignSegmentsMissing: missing, unchanged: !written }, 200, { ETag: etag });
  });
}
