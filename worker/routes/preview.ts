/**
 * The preview, one gate in front of five endpoints (`previewAccess`, worker/preview/access.ts: 404 unless
 * DEMO_ROUTES or PREVIEW_PAGE; open on a loopback host in local development; otherwise the admin key or a
 * verified Cloudflare Access identity):
 *   GET  /                                        pick a user and a campaign, see the email's parts live
 *   GET  /v1/preview/users                        user ids with a profile or model features (up to 50)
 *   GET  /v1/preview/email?user&campaign&layout   token, rendered parts, recommendations and why
 *   GET  /v1/preview/decisions?user&campaign      the stored open-time decisions of that email
 *   POST /v1/preview/reset?user&campaign          forgets those decisions (to watch `freeze` decide again)
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { previewAccess } from "../preview/access";
import { registerPreviewDecisions } from "./preview-decisions";
import { registerPreviewEmail } from "./preview-email";
import { registerPreviewPage } from "./preview-page";
import { registerPreviewReset } from "./preview-reset";
import { registerPreviewUsers } from "./preview-users";

export function registerPreview(app: Hono<AppEnv>): void {
  app.use("/", previewAccess);
  app.use("/v1/preview/*", previewAccess);
  registerPreviewPage(app);
  registerPreviewUsers(app);
  registerPreviewEmail(app);
  registerPreviewDecisions(app);
  registerPreviewReset(app);
}
