/**
 * GET /v1/admin/experiments (Bearer ADMIN_API_KEYS): `{ids}`, the stored experiments in id order (at most
 * 1,000): the registry's, with any KV holds from before the registry existed.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { listExperimentIds, MAX_LISTED_EXPERIMENTS } from "../experiments/experiment-store";
import { experimentRegistry } from "../experiments/registry-stub";
import { requireApiKey } from "../lib/api-key";

export function registerAdminExperimentList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/experiments",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const [registered, listed] = await Promise.all([
        experimentRegistry(c.env).ids(MAX_LISTED_EXPERIMENTS),
        listExperimentIds(c.env.OPENTIME_KV, MAX_LISTED_EXPERIMENTS),
      ]);
      const ids = [...new Set([...registered, ...listed])].sort().slice(0, MAX_LISTED_EXPERIMENTS);
      return c.json({ ids });
    },
  );
}
