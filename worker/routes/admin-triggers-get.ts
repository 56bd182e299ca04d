/**
 * GET /v1/admin/triggers (Bearer ADMIN_API_KEYS): the stored triggers configuration (`{"v":1,"triggers":[]}` when
 * none). KV failing: 503 KV_UNAVAILABLE with KV's Retry-After (worker/errors.ts); a document this version cannot
 * read: 503 KV_UNAVAILABLE saying to PUT it again.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { storedTriggers } from "../triggers/trigger-config";

export function registerAdminTriggersGet(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/triggers",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const config = await storedTriggers(c.env.OPENTIME_KV);
      if (!config)
        throw new ApiError(
          "KV_UNAVAILABLE",
          "the triggers could not be read (they were written by another version, or damaged): PUT them again",
        );
      return c.json(config);
    },
  );
}
