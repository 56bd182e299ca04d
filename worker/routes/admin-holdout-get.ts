/**
 * GET /v1/admin/holdout (Bearer ADMIN_API_KEYS): the global holdout in force, as its one writer (the experiment
 * registry) holds it (off: a share of 0 with what it `ended`), `{"share":0}` when none was ever set.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { experimentRegistry } from "../experiments/registry-stub";
import { requireApiKey } from "../lib/api-key";

export function registerAdminHoldoutGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/holdout",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => c.json((await experimentRegistry(c.env).getHoldout()) ?? { share: 0 }),
  );
}
