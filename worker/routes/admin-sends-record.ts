/**
 * POST /v1/admin/sends (Bearer ADMIN_API_KEYS) `{"campaign":"spring","users":["c1","c2"]}`: records that the
 * campaign's messages are being built for these readers (`npm run email`, after its suppression check and before
 * it writes anything), so that each reader's frequency preference counts this send when another campaign is
 * checked (worker/suppressions/check.ts). Each reader's send is written by their shard, the one writer of their
 * state (worker/state/campaign-sends-table.ts), one call per shard, at the shard's time; an erased reader's is
 * not recorded. `{"campaign","recorded"}`. Idempotent: the same request again only moves the sends' time (a
 * rebuild). 503 STATE_UNAVAILABLE with Retry-After when a shard cannot be reached: the others may have recorded
 * theirs, and the same request again records the rest.
 */
import type { Hono } from "hono";
import { SendsRequestSchema } from "../../core/suppressions";
import type { AppEnv } from "../env";
import { ApiError } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { errorMessage, logEvent } from "../lib/log";
import { readValidBody } from "../lib/read-json-body";
import { byShard, shardStub } from "../state/shard-routing";

/** MAX_SUPPRESSION_USERS ids of up to 128 characters, and a campaign id, as JSON. */
const MAX_SENDS_BYTES = 128 * 1024;

export function registerAdminSendsRecord(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/sends",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, SendsRequestSchema, MAX_SENDS_BYTES);
      const settled = await Promise.allSettled(
        [...byShard(new Set(body.users), (user) => user)].map(async ([shard, users]) =>
          shardStub(c.env, shard).recordSends(body.campaign, users),
        ),
      );
      const failed = settled.filter((s) => s.status === "rejected");
      if (failed.length > 0) {
        // counts only: the request names readers
        logEvent("error", "sends.not_recorded", {
          detail: errorMessage((failed[0] as PromiseRejectedResult).reason),
          shards: failed.length,
        });
        throw new ApiError(
          "STATE_UNAVAILABLE",
          "some readers' sends could not be recorded: send the same request again (what was recorded is only recorded again)",
          { "Retry-After": "1" },
        );
      }
      const recorded = settled.reduce((n, s) => n + (s.status === "fulfilled" ? s.value : 0), 0);
      return c.json({ campaign: body.campaign, recorded });
    },
  );
}
