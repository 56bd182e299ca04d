/** GET /v1/preview/blocks?campaign=<id> : the block each demo reader gets, and why. Behind `previewAccess`. */

import type { Hono } from "hono";
import { CampaignIdSchema } from "../../core/campaign";
import { type AppEnv, getConfig } from "../env";
import { background } from "../lib/background";
import { invalidInput } from "../lib/zod-issues";
import { blocksByReader } from "../preview/blocks-by-reader";

export function registerPreviewBlocks(app: Hono<AppEnv>): void {
  app.get("/v1/preview/blocks", async (c) => {
    const id = CampaignIdSchema.safeParse(c.req.query("campaign") ?? "demo");
    if (!id.success) throw invalidInput(id.error, "BAD_REQUEST", "campaign");
    const body = await blocksByReader(c.env.OPENTIME_KV, getConfig(c.env), id.data, background(c).waitUntil);
    return c.json(body, 200, { "Cache-Control": "no-store" });
  });
}
