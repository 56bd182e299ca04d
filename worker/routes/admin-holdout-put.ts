/**
 * PUT /v1/admin/holdout (Bearer ADMIN_API_KEYS) `{"share":0.05}`: the global holdout, a share of every
 * campaign's readers kept from personalization (popular items), reported as the `global-holdout` experiment
 * (arms `holdout` and `personalized`; clicks on any campaign and purchases within 30 days of a reader's first
 * open count). `{"share":0}` turns it off. Set it before experiments start: turning it on moves readers whose
 * arm is not recorded yet. Without `seed`, the seed in force stays; a new share or seed starts a phase
 * (`phaseStart`: the report's sample-ratio check counts the readers recorded since). Opens follow within a
 * minute.
 */
import type { Hono } from "hono";
import { type GlobalHoldout, GlobalHoldoutChangeSchema } from "../../core/experiments/experiment";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { putGlobalHoldout, readGlobalHoldout } from "../experiments/experiment-store";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

/** The holdout in force; a failed read is refused, never taken for "none" (its seed and phase would be lost). */
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
      const stored = await inForce(c.env.OPENTIME_KV);
      // a share changed alone keeps the seed in force: a new seed would move every reader not yet recorded
      const seed = change.seed ?? stored?.seed ?? "global-holdout";
      // a new share (or seed) starts a phase: the report's ratio check counts the readers recorded since
      const moved = stored !== null && (stored.share !== change.share || stored.seed !== seed);
      const phaseStart = moved ? Math.floor(Date.now() / 1000) : stored?.phaseStart;
      const holdout = { share: change.share, seed, ...(phaseStart !== undefined && { phaseStart }) };
      await putGlobalHoldout(c.env.OPENTIME_KV, holdout.share > 0 ? holdout : null);
      return c.json(holdout);
    },
  );
}
