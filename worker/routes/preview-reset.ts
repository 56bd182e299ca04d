/**
 * POST /v1/preview/reset?user&campaign : forgets that user's decisions for the campaign (to watch `freeze` decide
 * again), `{deleted, pending}`: past one invocation's KV operations some are left (`pending`), for a reset again.
 * Behind `previewAccess`.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { previewQuery } from "../preview/query";
import { forgetDecisions } from "../preview/stored-decisions";

export function registerPreviewReset(app: Hono<AppEnv>): void {
  app.post("/v1/preview/reset", async (c) => c.json(await forgetDecisions(c.env.OPENTIME_KV, previewQuery(c))));
}
