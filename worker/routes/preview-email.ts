/**
 * GET /v1/preview/email?user&campaign&layout[&t] : the rendered parts, the recommendations and why, for the
 * email of token `t` (the one shown before, opened again: what `freeze` holds) when it is that user's and
 * campaign's and still valid, else for a fresh token (a new email: decisions are kept per send). Behind
 * `previewAccess`.
 */

import type { Hono } from "hono";
import { type AppEnv, getConfig } from "../env";
import { background } from "../lib/background";
import { emailPreview } from "../preview/email-preview";
import { previewQuery } from "../preview/query";

export function registerPreviewEmail(app: Hono<AppEnv>): void {
  app.get("/v1/preview/email", async (c) => {
    const q = previewQuery(c);
    const config = getConfig(c.env);
    const base = config.publicBaseUrl ?? new URL(c.req.url).origin;
    const again = c.req.query("t");
    return c.json(await emailPreview(c.env.OPENTIME_KV, config, background(c).waitUntil, base, q, again), 200, {
      "Cache-Control": "no-store",
    });
  });
}
