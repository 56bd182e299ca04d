/** GET /v1/preview/decisions?user&campaign&layout : the stored open-time decisions of that email. Behind `previewAccess`. */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { previewQuery } from "../preview/query";
import { storedDecisions } from "../preview/stored-decisions";

export function registerPreviewDecisions(app: Hono<AppEnv>): void {
  app.get("/v1/preview/decisions", async (c) => {
    const decisions = await storedDecisions(c.env.OPENTIME_KV, previewQuery(c));
    return c.json({ decisions }, 200, { "Cache-Control": "no-store" });
  });
}
