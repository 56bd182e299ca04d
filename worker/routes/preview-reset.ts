/**
 * POST /v1/preview/reset?t : forgets the stored decisions of the preview's email whose token is `t` (to watch
 * `freeze` decide again), `{deleted, pending}`. Only a preview email's (a token with `p: 1`): the decisions of the
 * emails really sent to the reader are what their clicks lead to, and are never touched here. Behind
 * `previewAccess`.
 */
import type { Hono } from "hono";
import { verifyToken } from "../../core/token";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { forgetDecisions } from "../preview/stored-decisions";

export function registerPreviewReset(app: Hono<AppEnv>): void {
  app.post("/v1/preview/reset", async (c) => {
    const token = await verifyToken(getConfig(c.env).tokenSecrets, c.req.query("t"));
    if (!token.ok)
      throw new ApiError("TOKEN_INVALID", `token ${token.reason}: pass the preview's email token as \`t\``);
    if (token.claims.p !== 1)
      throw new ApiError(
        "BAD_REQUEST",
        "t is a real email's token: only the preview's own emails' decisions are forgotten (a real email's clicks lead to what its images showed)",
      );
    return c.json(await forgetDecisions(c.env.OPENTIME_KV, token.claims));
  });
}
