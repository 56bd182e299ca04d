/**
 * GET /v1/admin/experiments (Bearer ADMIN_API_KEYS): `{ids}`, the stored experiments in key order (at most
 * 1,000; KV's list may miss one created in the last minute).
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { listExperimentIds, MAX_LISTED_EXPERIMENTS } from "../experiments/experiment-store";
import { requireApiKey } from "../lib/api-key";

export function registerAdminExperimentList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/experiments",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => c.json({ ids: await listExperimentIds(c.env.OPENTIME_KV, MAX_LISTED_EXPERIMENTS) }),
  );
}
