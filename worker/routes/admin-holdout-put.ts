/**
 * PUT /v1/admin/holdout (Bearer ADMIN_API_KEYS) `{"share":0.05}`: the global holdout, a share of every
 * campaign's readers kept from personalization (popular items), reported as the `global-holdout` experiment
 * (arms `holdout` and `personalized`; clicks on any campaign and purchases within 30 days of a reader's first
 * open count). `{"share":0}` turns it off. Set it before experiments start: turning it on moves readers whose
 * arm is not recorded yet. Without `seed`, the seed in force stays; turning it on, or a new share or seed,
 * starts a phase (`phaseStart`: the report's sample-ratio check counts the readers recorded since). The
 * experiment registry decides each change, strongly consistent (one writer), and publishes it to KV; 503
 * KV_UNAVAILABLE when KV cannot be read to adopt what an earlier version stored. Opens follow within a minute.
 */
import type { Hono } from "hono";
import { GlobalHoldoutChangeSchema } from "../../core/experiments/experiment";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { forgetGlobalHoldout } from "../experiments/experiment-store";
import { experimentRegistry } from "../experiments/registry-stub";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

export function registerAdminHoldoutPut(app: Hono<AppEnv>): void {
  app.put(
    "/v1/admin/holdout",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const change = await readValidBody(c, GlobalHoldoutChangeSchema, 1024);
      const answer = await experimentRegistry(c.env).putHoldout(change);
      if (!answer.ok) throw new ApiError(answer.code, answer.message);
      forgetGlobalHoldout();
      return c.json(answer.holdout ?? { share: 0 });
    },
  );
}
