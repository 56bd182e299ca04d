/**
 * GET /v1/preview/email?user&campaign&layout : a fresh token, the rendered parts, the recommendations and
 * why. Behind `previewAccess`.
 */
import type { Hono } from "hono";
import { cfSignals } from "../campaigns/open-facts";
import { type AppEnv, getConfig } from "../env";
import { emailPreview } from "../preview/email-preview";
import { previewQuery } from "../preview/query";

export function registerPreviewEmail(app: Hono<AppEnv>): void {
  app.get("/v1/preview/email", async (c) => {
    const q = previewQuery(c);
    const config = getConfig(c.env);
    const base = config.publicBaseUrl ?? new URL(c.req.url).origin;
    return c.json(await emailPreview(c.env.OPENTIME_KV, config, base, q, cfSignals(c.req.raw)), 200, {
      "Cache-Control": "no-store",
    });
  });
}
