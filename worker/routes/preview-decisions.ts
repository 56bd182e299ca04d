/**
 * GET /v1/preview/decisions?t&layout : the stored open-time decisions of the email whose token is `t` (the
 * preview's email answer carries it; decisions are kept per send). Behind `previewAccess`.
 */
import type { Hono } from "hono";
import { verifyToken } from "../../core/token";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { previewLayout } from "../preview/query";
import { storedDecisions } from "../preview/stored-decisions";

export function registerPreviewDecisions(app: Hono<AppEnv>): void {
  app.get("/v1/preview/decisions", async (c) => {
    const token = await verifyToken(getConfig(c.env).tokenSecrets, c.req.query("t"));
    if (!token.ok) throw new ApiError("TOKEN_INVALID", `token ${token.reason}: pass the email's token as \`t\``);
    const decisions = await storedDecisions(c.env.OPENTIME_KV, token.claims, previewLayout(c));
    return c.json({ decisions }, 200, { "Cache-Control": "no-store" });
  });
}
