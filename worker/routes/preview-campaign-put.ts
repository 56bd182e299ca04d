/**
 * PUT /v1/preview/campaigns/<id> : the preview's campaign editor saves a campaign (validated as the admin API
 * does: 400 naming the path of each bad field). Behind `previewAccess`: open on a loopback host in local
 * development, the admin key or Cloudflare Access in production.
 */
import type { Hono } from "hono";
import { campaignIdParam, readCampaignBody } from "../campaigns/campaign-input";
import { putCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";

export function registerPreviewCampaignPut(app: Hono<AppEnv>): void {
  app.put("/v1/preview/campaigns/:id", async (c) => {
    const id = campaignIdParam(c);
    const campaign = await readCampaignBody(c);
    await putCampaign(c.env.OPENTIME_KV, id, campaign);
    return c.json({ id, campaign });
  });
}
