/**
 * POST /v1/admin/dead-letters/delete (Bearer ADMIN_API_KEYS) `{"user"} | {"user","ids":[...]} | {"shard"}`
 * (`limit`, `cursor`): deletes a page of parked dead letters without applying them. `{shard, deleted, count}`
 * (`count`: still parked). See worker/events/parked-letters.ts.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { DeadLetterSelectionSchema, MAX_SELECTION_BYTES } from "../events/dead-letter-selection";
import { deleteDeadLetters } from "../events/parked-letters";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

export function registerAdminDeadLettersDelete(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/dead-letters/delete",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const selection = await readValidBody(c, DeadLetterSelectionSchema, MAX_SELECTION_BYTES);
      return c.json(await deleteDeadLetters(c.env, selection));
    },
  );
}
