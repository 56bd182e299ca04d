/**
 * GET /v1/admin/campaigns/<id> (Bearer ADMIN_API_KEYS): the campaign in force, `{id, stored, campaign}`
 * (the defaults, `stored: false`, when none was stored; a stored version 1 shown migrated).
 */
import type { Hono } from "hono";
import { kvKeys } from "../../core/kv-keys";
import { campaignIdParam } from "../campaigns/campaign-input";
import { readCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";

export function registerAdminCampaignGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/campaigns/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = campaignIdParam(c);
      const stored = (await c.env.OPENTIME_KV.get(kvKeys.campaign(id))) !== null;
      return c.json({ id, stored, campaign: await readCampaign(c.env.OPENTIME_KV, id) });
    },
  );
}
