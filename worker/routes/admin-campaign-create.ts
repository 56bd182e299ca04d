/**
 * POST /v1/admin/campaigns (Bearer ADMIN_API_KEYS) `{"id": "spring", "campaign": {...}}`: creates a campaign,
 * 201 `{id, campaign, campaignSegmentsMissing, unchanged}` with its `ETag` (as a PUT's,
 * worker/campaigns/campaign-segments.ts); 409 CAMPAIGN_EXISTS when the id holds another campaign (replace it with
 * PUT). A create of the campaign the id holds, as stored (a retry whose first answer was lost, or was a 503 whose
 * write landed), is answered as the first was, with `unchanged: true`, and writes nothing. Decided by the
 * campaigns' one writer (worker/campaigns/campaign-edits.ts): two creations of one id at once, wherever they are
 * sent, give one 201 and one 409 (two 201s when both ask the same campaign, one of them unchanged).
 */
import type { Hono } from "hono";
import { z } from "zod";
import { CampaignIdSchema } from "../../core/campaign";
import { saveCampaign } from "../campaigns/campaign-edits";
import { campaignFrom, MAX_CAMPAIGN_BODY } from "../campaigns/campaign-input";
import { campaignSegmentsMissing } from "../campaigns/campaign-segments";
import type { AppEnv } from "../env";
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
      const { etag, written } = await saveCampaign(c.env, id, campaign, "create", null);
      const missing = await campaignSegmentsMissing(c.env.OPENTIME_KV, id, campaign);
      return c.json({ id, campaign, campaignSegmentsMissing: missing, unchanged: !written }, 201, { ETag: etag });
    },
  );
}
