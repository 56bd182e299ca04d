/**
 * POST /v1/admin/sends (Bearer ADMIN_API_KEYS) `{"campaign":"spring","users":["c1","c2"]}`: records that the
 * campaign's messages are being built for these readers (`npm run email`, after its suppression check and before
 * it writes anything), so that each reader's frequency preference counts this send when another campaign is
 * checked (worker/suppressions/check.ts). Each reader's send is written by their shard, the one writer of their
 * state (worker/state/campaign-sends-table.ts), one call per shard, at the shard's time; an erased reader's is
 * not recorded, nor one their shard holds back now (`held`, with why: an unsubscribe, a pause, or a send their
 * frequency preference counts made since the suppression check; the builder leaves them out).
 * `{"campaign","recorded","held":[{"user","reason"}]}`. Idempotent: the same request again within 20 hours of the
 * issue's first is that send again (a rebuild: no send added, the send's time moved to it). 503 STATE_UNAVAILABLE
 * with Retry-After when a shard cannot be reached (worker/errors.ts `passingFailure`): the others may have recorded
 * theirs, and the same request again records the rest. A shard
 * failing in our own code (a bug: a TypeError, a constraint of its tables) is 500 INTERNAL, not a 503 to retry.
 */
import type { Hono } from "hono";
import { MAX_BATCH_BYTES, SendsRequestSchema } from "../../core/suppressions";
import type { AppEnv } from "../env";
import { passingFailure, unavailableAs } from "../errors";
import { requireApiKey } from "../lib/api-key";
import { errorMessage, logEvent } from "../lib/log";
import { readValidBody } from "../lib/read-json-body";
import { byShard, shardStub } from "../state/shard-routing";

export function registerAdminSendsRecord(app: Hono<AppEnv>): void {
  app.post(
    "/v1/admin/sends",
    requireApiKey((c) => c.adminApiKeys, "admin"),
    async (c) => {
      const body = await readValidBody(c, SendsRequestSchema, MAX_BATCH_BYTES);
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
        // a bug in any shard is answered as one (500), whatever the others did
        const reasons = failed.map((s) => (s as PromiseRejectedResult).reason);
        const answered = reasons.find((r) => passingFailure(r) === null) ?? reasons[0];
        const message =
          "some readers' sends could not be recorded: send the same request again (what was recorded is only recorded again)";
        throw unavailableAs(answered, { STATE_UNAVAILABLE: message, KV_UNAVAILABLE: message });
      }
      const done = settled.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
      const recorded = done.reduce((n, d) => n + d.recorded, 0);
      return c.json({ campaign: body.campaign, recorded, held: done.flatMap((d) => d.held) });
    },
  );
}
