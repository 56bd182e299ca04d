/**
 * GET /v1/preview/campaigns/<id> : the campaign in force, for the preview's editor, with its `ETag` when stored
 * (the editor's save sends it back as `If-Match`). Behind `previewAccess`.
 */
import type { Hono } from "hono";
import { campaignForEdit } from "../campaigns/campaign-edits";
import { campaignIdParam } from "../campaigns/campaign-input";
import type { AppEnv } from "../env";

export function registerPreviewCampaignGet(app: Hono<AppEnv>): void {
  app.get("/v1/preview/campaigns/:id", async (c) => {
    const id = campaignIdParam(c);
    const { campaign, etag } = await campaignForEdit(c.env, id);
    return c.json({ id, campaign }, 200, { "Cache-Control": "no-store", ...(etag && { ETag: etag }) });
  });
}
