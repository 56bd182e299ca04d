/** GET / : the preview page (HTML and script; its data comes from /v1/preview/*). Behind `previewAccess`. */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { PREVIEW_PAGE } from "../preview/preview-page";

export function registerPreviewPage(app: Hono<AppEnv>): void {
  app.get("/", (c) => c.html(PREVIEW_PAGE, 200, { "Cache-Control": "no-store" }));
}
