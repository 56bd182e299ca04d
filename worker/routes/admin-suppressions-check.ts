/**
 * POST /v1/admin/suppressions (Bearer ADMIN_API_KEYS) `{"users":["c1","c2"],"campaign":"spring"}`: which of these
 * readers opentime knows must not be mailed, and why (`erased`, `unsubscribed`, `paused`, `unreadable`, and with
 * `campaign`, `frequency`: core/suppressions.ts), for `npm run email`, which asks before it builds anything.
 * `{"checked","suppressed":[{"user","reason"}]}`, the rest may be mailed. Read from the readers' snapshots and
 * tombstones in KV, and from their shards the sends of those with a frequency preference and the unsubscribes kept
 * of those with no snapshot (worker/suppressions/check.ts): a consent change reaches it about a second after the
 * reader's shard applies it, up to a minute at other locations; a recorded send, or an unsubscribe kept as a
 * suppression alone, at once. 503 KV_UNAVAILABLE, or STATE_UNAVAILABLE when a
 * shard cannot be read, with Retry-After (never a partial answer); a failure in our own code, here or in a shard,
 * 500 INTERNAL (worker/errors.ts `passingFailure` tells them apart).
 */
import type { Hono } from "hono";
import { MAX_BATCH_BYTES, SuppressionsRequestSchema } from "../../core/suppressions";
import { type AppEnv, getConfig } from "../env";
import { unavailableAs } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { errorMessage, logEvent } from "../lib/log";
import { readValidBody } from "../lib/read-json-body";
import { suppressedReaders } from "../suppressions/check";

export function registerAdminSuppressionsCheck(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/suppressions",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, SuppressionsRequestSchema, MAX_BATCH_BYTES);
      const users = [...new Set(body.users)];
      let suppressed: Awaited<ReturnType<typeof suppressedReaders>>;
      try {
        suppressed = await suppressedReaders(
          c.env,
          users,
          getConfig(c.env).tokenSecrets,
          Math.floor(Date.now() / 1000),
          body.campaign ?? null,
        );
      } catch (e) {
        logEvent("error", "suppressions.check_failed", { detail: errorMessage(e), users: users.length });
        throw unavailableAs(e, {
          STATE_UNAVAILABLE:
            "the readers' shards could not be read: retry (mail nobody of this batch until it answers)",
          KV_UNAVAILABLE: "the readers' consent could not be read: retry (mail nobody of this batch until it answers)",
        });
      }
      return c.json({ checked: users.length, suppressed });
    },
  );
}
