/**
 * PUT /v1/admin/holdout (Bearer ADMIN_API_KEYS) `{"share":0.05}`: the global holdout, a share of every
 * campaign's readers kept from personalization (popular items), reported as the `global-holdout` experiment
 * (arms `holdout` and `personalized`; clicks on any campaign and purchases within 30 days of a reader's first
 * open count). `{"share":0}` turns it off. Set it before experiments start: turning it on moves readers whose
 * arm is not recorded yet. Opens follow within a minute.
 */
import type { Hono } from "hono";
import { GlobalHoldoutSchema } from "../../core/experiments/experiment";
import type { AppEnv } from "../env";
import { putGlobalHoldout } from "../experiments/experiment-store";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

export function registerAdminHoldoutPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/holdout",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const holdout = await readValidBody(c, GlobalHoldoutSchema, 1024);
      await putGlobalHoldout(c.env.OPENTIME_KV, holdout.share > 0 ? holdout : null);
      return c.json(holdout);
    },
  );
}
