/**
 * GET /v1/admin/suppressions?since=<ISO time> | ?cursor=<from the last answer> [&limit=500] (Bearer
 * ADMIN_API_KEYS): for the shop's own list (its ESP), every reader whose `unsubscribed`, `pausedUntil` or
 * `frequency` changed, whatever took the change (the email's form, its one-click link, the consent API), with their
 * state now: `{changes: [{user, unsubscribed, pausedUntil, frequency, changedAt}], cursor, more}`. `more`: ask again with the cursor at
 * once; else keep the cursor and ask with it later, for exactly the changes applied since
 * (worker/suppressions/list-changes.ts); a cursor ahead of a shard's changes (another deployment's) is refused.
 * Reader ids only, never an address; kept by no cache.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { requireApiKey } from "../lib/api-key";
import { pageQuery } from "../lib/page-query";
import { invalidInput } from "../lib/zod-issues";
import { readListChanges } from "../suppressions/list-changes";
import { ListChangesQuery } from "../suppressions/list-changes-query";

export function registerAdminSuppressionsList(app: Hono<AppEnv>): void {
  app.get(
    "/v1/admin/suppressions",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const q = ListChangesQuery.safeParse(pageQuery(c.req.query()));
      if (!q.success) throw invalidInput(q.error);
      // reader ids, and the cursor that reads them: kept by no cache
      return c.json(await readListChanges(c.env, q.data), 200, { "Cache-Control": "private, no-store" });
    },
  );
}
