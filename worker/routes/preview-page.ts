/**
 * GET / : the preview page (HTML and script; its data comes from /v1/preview/*). Behind `previewAccess`; never
 * framed by another site (lib/no-framing.ts); no script runs on it but its own (lib/staff-page-policy.ts).
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { noFraming } from "../lib/no-framing";
import { scriptHash, staffPagePolicy } from "../lib/staff-page-policy";
import { PREVIEW_PAGE, PREVIEW_SCRIPT } from "../preview/preview-page";

/** Hashed once per isolate: the script is a constant. */
let policy: Promise<string> | null = null;

export function registerPreviewPage(app: Hono<AppEnv>): void {
  app.get("/", noFraming, async (c) => {
    policy ??= scriptHash(PREVIEW_SCRIPT).then((hash) => staffPagePolicy([hash]));
    return c.html(PREVIEW_PAGE, 200, { "Cache-Control": "no-store", "Content-Security-Policy": await policy });
  });
}
