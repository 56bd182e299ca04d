/**
 * POST /v1/admin/campaigns (Bearer ADMIN_API_KEYS) `{"id": "spring", "campaign": {...}}`: creates a campaign,
 * 201 `{id, campaign}`; 409 CAMPAIGN_EXISTS when the id is taken (replace it with PUT). The check reads KV,
 * which another location may not see yet for up to a minute: it guards against a typo, not a race (two
 * creations of one id at once: the last wins, as with PUT).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { CampaignIdSchema } from "../../core/campaign";
import { kvKeys } from "../../core/kv-keys";
import { campaignFrom, MAX_CAMPAIGN_BODY } from "../campaigns/campaign-input";
import { putCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

const CreateSchema = z.strictObject({ id: CampaignIdSchema, campaign: z.unknown() });

export function registerAdminCampaignCreate(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/campaigns",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, CreateSchema, MAX_CAMPAIGN_BODY);
      const { id } = body;
      const campaign = campaignFrom(body.campaign ?? {}, "campaign");
      if ((await c.env.OPENTIME_KV.get(kvKeys.campaign(id))) !== null) {
        throw new ApiError("CAMPAIGN_EXISTS", `campaign ${id} exists: PUT /v1/admin/campaigns/${id} replaces it`);
      }
      await putCampaign(c.env.OPENTIME_KV, id, campaign);
      return c.json({ id, campaign }, 201);
    },
  );
}
