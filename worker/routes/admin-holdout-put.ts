/**
 * PUT /v1/admin/holdout (Bearer ADMIN_API_KEYS) `{"share":0.05}`: the global holdout, a share of every
 * campaign's readers kept from personalization (popular items), reported as the `global-holdout` experiment
 * (arms `holdout` and `personalized`; clicks on any campaign and purchases within 30 days of a reader's first
 * open count). `{"share":0}` turns it off. Set it before experiments start: turning it on moves readers whose
 * arm is not recorded yet. Without `seed`, the seed in force stays. Opens follow within a minute.
 */
import type { Hono } from "hono";
import { type GlobalHoldout, GlobalHoldoutChangeSchema } from "../../core/experiments/experiment";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { putGlobalHoldout, readGlobalHoldout } from "../experiments/experiment-store";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

/** The holdout in force; a failed read is refused, never taken for "none" (its seed would be lost). */
async function inForce(kv: KVNamespace): Promise<GlobalHoldout | null> {
  try {
    return await readGlobalHoldout(kv, true);
  } catch {
    throw new ApiError("KV_UNAVAILABLE", "the holdout in force could not be read to keep its seed; try again");
  }
}

export function registerAdminHoldoutPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/holdout",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const change = await readValidBody(c, GlobalHoldoutChangeSchema, 1024);
      // a share changed alone keeps the seed in force: a new seed would move every reader not yet recorded
      const stored = change.seed === undefined ? await inForce(c.env.OPENTIME_KV) : null;
      const seed = change.seed ?? stored?.seed ?? "global-holdout";
      const holdout = { share: change.share, seed };
      await putGlobalHoldout(c.env.OPENTIME_KV, holdout.share > 0 ? holdout : null);
      return c.json(holdout);
    },
  );
}
