/** GET /v1/admin/triggers (Bearer ADMIN_API_KEYS): the stored triggers configuration (`{"v":1,"triggers":[]}` when none). */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { readTriggers } from "../triggers/trigger-config";

export function registerAdminTriggersGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/triggers",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const config = await readTriggers(c.env.OPENTIME_KV);
      if (!config)
        throw new ApiError(
          "KV_UNAVAILABLE",
          "the triggers could not be read (KV failed, or they were written by another version: PUT them again)",
        );
      return c.json(config);
    },
  );
}
