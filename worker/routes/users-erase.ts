/**
 * DELETE /v1/users/<id> (Bearer ADMIN_API_KEYS): erasure. The reader's shard first (its tombstone drops their
 * events still queued, in the transaction that deletes their state and their experiment rows), then the edge's
 * copies (snapshot, decisions, features) and the KV tombstone. `{erased, keys_deleted, keys_pending, rows_deleted}`:
 * a request spends at most ERASURE_KV_OPS KV operations, and decisions past them (`keys_pending`, a reader of
 * thousands) are deleted by the shard's sweeps within minutes (worker/state/decision-sweeps.ts). KV failing after the
 * shard's part: 503 KV_UNAVAILABLE with Retry-After (a retry finishes it; the sweeps delete the snapshot, seen ids,
 * features and decisions and write the edge's tombstone again, whether or not it comes).
 */
import type { Hono } from "hono";
import { type AppEnv, getConfig } from "../env";
import { ApiError } from "../errors";
import { eraseUser } from "../events/erasure";
import { requireApiKey } from "../lib/api-key";
import { errorMessage, logEvent } from "../lib/log";
import { userIdParam } from "../profile/user-id-param";
import { readerStub } from "../state/shard-routing";

export function registerUsersErase(app: Hono<AppEnv>): void {
  app.delete(
    "/v1/users/:id",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const id = userIdParam(c.req.param("id"), true);
      const config = getConfig(c.env);
      const shard = await readerStub(c.env, id).erase(id, Date.now() + config.erasureTombstoneDays * 86_400_000);
      let kv: Awaited<ReturnType<typeof eraseUser>>;
      try {
        kv = await eraseUser(c.env.OPENTIME_KV, id, config.erasureTombstoneDays);
      } catch (e) {
        // the shard's part is done (its tombstone drops their events); its sweeps do the edge's again
        logEvent("error", "erasure.kv_failed", { detail: errorMessage(e) });
        throw new ApiError(
          "KV_UNAVAILABLE",
          "the reader's state is erased and their events are dropped, but the edge's copies could not all be deleted now: retry (the reader's shard deletes them again within minutes)",
          { "Retry-After": "1" },
        );
      }
      // keys past the request's KV budget (a reader of thousands of decisions) go with the shard's sweeps
      return c.json({ erased: true, keys_deleted: kv.deleted, keys_pending: kv.pending, rows_deleted: shard.rows });
    },
  );
}
