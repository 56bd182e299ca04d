/**
 * POST /v1/admin/dead-letters/replay (Bearer ADMIN_API_KEYS) `{"user"} | {"user","ids":[...]} | {"shard"}`
 * (`limit`, `cursor` to walk a long list): the reader's shard applies a page of parked dead letters as the events
 * consumer would have (duplicates, erased readers and tracking off as it does) and deletes those it settled;
 * those it still rejects stay parked. `{shard, replayed: [{user, id, type, outcome}], count, cursor}` (`count`:
 * still parked). See worker/events/parked-letters.ts.
 */
import type { Hono } from "hono";
import type { AppEnv } from "../env";
import { DeadLetterSelectionSchema, MAX_SELECTION_BYTES } from "../events/dead-letter-selection";
import { replayDeadLetters } from "../events/parked-letters";
import { requireApiKey } from "../lib/api-key";
import { readValidBody } from "../lib/read-json-body";

export function registerAdminDeadLettersReplay(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/dead-letters/replay",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const selection = await readValidBody(c, DeadLetterSelectionSchema, MAX_SELECTION_BYTES);
      return c.json(await replayDeadLetters(c.env, selection));
    },
  );
}
