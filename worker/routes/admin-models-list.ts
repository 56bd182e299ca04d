/**
 * GET /v1/admin/models (Bearer ADMIN_API_KEYS): every model version stored, newest first, each with the Worker's
 * own check of it (manifest, ONNX sha256, catalog), the active pointer and the history a rollback returns along
 * (core/model-versions.ts Listing; `npm run models -- list --url` prints it). 200 `{active, history, versions}`.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { modelListing } from "../model/model-listing";

export function registerAdminModelsList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/models",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      c.header("Cache-Control", "no-store");
      return c.json(await modelListing(c.env));
    },
  );
}
