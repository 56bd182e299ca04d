/**
 * POST /v1/admin/models/rollback (Bearer ADMIN_API_KEYS): returns to the version active before (the last in
 * `model:history`), after the same check as activation (core/model-versions.ts). 200 `{previous, pointer,
 * warning, unchanged}`; 409 MODEL_REFUSED when there is none or it fails the check.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { modelMove } from "../model/model-move";

export function registerAdminModelRollback(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/models/rollback",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => c.json(await modelMove(c.env, { kind: "rollback" })),
  );
}
