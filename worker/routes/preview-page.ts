/**
 * GET / : the preview page (HTML and script; its data comes from /v1/preview/*). Behind `previewAccess`; never
 * framed by another site (lib/no-framing.ts).
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { noFraming } from "../lib/no-framing";
import { PREVIEW_PAGE } from "../preview/preview-page";

export function registerPreviewPage(app: Hono<AppEnv>): void {
  app.get("/", noFraming, (c) => c.html(PREVIEW_PAGE, 200, { "Cache-Control": "no-store" }));
}
