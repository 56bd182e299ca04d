/**
 * PUT /v1/admin/campaigns/<id> (Bearer ADMIN_API_KEYS): creates or replaces a campaign, either version
 * (core/campaign.ts; version 1 is migrated). 200 `{id, created, campaign}` with the campaign as stored;
 * 400 naming the path of each bad field. Opens see it within a minute (worker/decisions/campaign-store.ts).
 */
import type { Hono } from "hono";
import { kvKeys } from "../../core/kv-keys";
import { campaignIdParam, readCampaignBody } from "../campaigns/campaign-input";
import { putCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";

export function registerAdminCampaignPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/campaigns/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = campaignIdParam(c);
      const campaign = await readCampaignBody(c);
      const created = (await c.env.OPENTIME_KV.get(kvKeys.campaign(id))) === null;
      await putCampaign(c.env.OPENTIME_KV, id, campaign);
      return c.json({ id, created, campaign });
    },
  );
}
