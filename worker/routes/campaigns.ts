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
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";

const MAX_BODY = 4096;

function campaignId(raw: string): string {
  const parsed = CampaignIdSchema.safeParse(raw);
  if (!parsed.success) throw new ApiError("BAD_REQUEST", `bad campaign id: ${parsed.error.issues[0]?.message}`);
  return parsed.data;
}

export function registerCampaigns(app: Hono<AppEnv>): void {
  const admin = requireApiKey((c) => c.adminApiKeys, "admin");

  app.put("/v1/admin/campaigns/:id", admin, async (c) => {
    const id = campaignId(c.req.param("id"));
    const text = await c.req.text();
    if (text.length > MAX_BODY) throw new ApiError("PAYLOAD_TOO_LARGE", `settings are at most ${MAX_BODY} bytes`);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new ApiError("INVALID_JSON", "the body is not JSON");
    }
    const parsed = CampaignSchema.strict().safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new ApiError("BAD_REQUEST", `invalid settings at ${issue?.path.join(".") || "(root)"}: ${issue?.message}`);
    }
    await putCampaign(c.env.OPENTIME_KV, id, parsed.data);
    return c.json({ id, campaign: parsed.data });
  });

  app.get("/v1/admin/campaigns/:id", admin, async (c) => {
    const id = campaignId(c.req.param("id"));
    const stored = (await c.env.OPENTIME_KV.get(kvKeys.campaign(id))) !== null;
    return c.json({ id, stored, campaign: await getCampaign(c.env.OPENTIME_KV, id, 0) });
  });
}
