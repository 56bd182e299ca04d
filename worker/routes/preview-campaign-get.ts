/** GET /v1/preview/campaigns/<id> : the campaign in force, for the preview's editor. Behind `previewAccess`. */
import type { Hono } from "hono";
import { campaignIdParam } from "../campaigns/campaign-input";
import { readCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";

export function registerPreviewCampaignGet(app: Hono<AppEnv>): void {
  app.get("/v1/preview/campaigns/:id", async (c) => {
    const id = campaignIdParam(c);
    return c.json({ id, campaign: await readCampaign(c.env.OPENTIME_KV, id) }, 200, { "Cache-Control": "no-store" });
  });
}
