/**
 * GET /v1/admin/campaigns/<id> (Bearer ADMIN_API_KEYS): the campaign in force, `{id, stored, campaign}` (the
 * defaults, `stored: false`, when none was stored; a stored version 1 shown migrated), with the `ETag` a PUT's
 * `If-Match` names when stored. Read through the campaigns' one writer: the last write shows, wherever it was
 * made.
 */
import type { Hono } from "hono";
import { campaignForEdit } from "../campaigns/campaign-edits";
import { campaignIdParam } from "../campaigns/campaign-input";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";

export function registerAdminCampaignGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/campaigns/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = campaignIdParam(c);
      const { campaign, stored, etag } = await campaignForEdit(c.env, id);
      return c.json({ id, stored, campaign }, 200, { "Cache-Control": "no-store", ...(etag && { ETag: etag }) });
    },
  );
}
