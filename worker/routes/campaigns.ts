/**
 * The admin API for campaign settings (Bearer ADMIN_API_KEYS):
 *   PUT /v1/admin/campaigns/<id>  {"policy":"live","utm":{"source":"newsletter"},"badge":"New"} -> 200 settings
 *   GET /v1/admin/campaigns/<id>  -> the settings in force (the defaults when none were stored)
 * Settings are validated with core/campaign.ts; unknown fields are refused.
 */
import type { Hono } from "hono";
import { CampaignIdSchema, CampaignSchema } from "../../core/campaign";
import { kvKeys } from "../../core/kv-keys";
import { getCampaign, putCampaign } from "../decisions/campaign-store";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { readJsonBody } from "../lib/read-json-body";
import { invalidInput } from "../lib/zod-issues";

/** Room for item rules with long id lists (core/item-rules.ts). */
const MAX_BODY = 65_536;

function campaignId(raw: string): string {
  const parsed = CampaignIdSchema.safeParse(raw);
  if (!parsed.success) throw invalidInput(parsed.error, "BAD_REQUEST", "campaign id");
  return parsed.data;
}

export function registerCampaigns(app: Hono<AppEnv>): void {
  const admin = requireApiKey((c) => c.adminApiKeys, "admin");

  app.put("/v1/admin/campaigns/:id", admin, async (c) => {
    const id = campaignId(c.req.param("id"));
    const parsed = CampaignSchema.strict().safeParse(await readJsonBody(c, MAX_BODY));
    if (!parsed.success) throw invalidInput(parsed.error);
    await putCampaign(c.env.OPENTIME_KV, id, parsed.data);
    return c.json({ id, campaign: parsed.data });
  });

  app.get("/v1/admin/campaigns/:id", admin, async (c) => {
    const id = campaignId(c.req.param("id"));
    const stored = (await c.env.OPENTIME_KV.get(kvKeys.campaign(id))) !== null;
    return c.json({ id, stored, campaign: await getCampaign(c.env.OPENTIME_KV, id, 0) });
  });
}
