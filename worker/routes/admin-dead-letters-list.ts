/**
 * GET /v1/admin/dead-letters?user=<id> | ?shard=<0-15> [&limit=100&cursor=...] (Bearer ADMIN_API_KEYS): parked
 * dead letters (events the dead-letter consumer could not have applied), a page at a time in key order:
 * `{shard, count, events: [{user, id, parked_at, event}], cursor}` (`count`: all the reader's, or the shard's;
 * `cursor` null on the last page). See worker/events/parked-letters.ts.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { DeadLetterListQuery } from "../events/dead-letter-selection";
import { listDeadLetters } from "../events/parked-letters";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";

export function registerAdminDeadLettersList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/dead-letters",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const q = DeadLetterListQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      return c.json(await listDeadLetters(c.env, q.data));
    },
  );
}
