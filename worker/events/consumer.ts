/**
 * The events queue consumer: fans a batch out to the reader shards (worker/state/reader-shard.ts), one RPC per
 * shard, all in parallel. Each shard applies its readers' events in one transaction and says what became of
 * each; a message is acknowledged only once its shard has committed it (or dropped it: a duplicate, an erased
 * reader, an opt-out of tracking), and retried otherwise (the shard failed, or the event would break the
 * profile: after max_retries it is dead-lettered). Redeliveries are harmless: shards keep every applied id.
 *
 * A reader who turns tracking off also has their stored decisions deleted (KV, after the shard committed); a
 * failed deletion retries the opt-out message, whose redelivery (a duplicate for the shard) deletes again.
 */
import type { QueuedEvent } from "../../core/events";
import type { Bindings } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import type { ApplyOutcome } from "../state/reader-shard";
import { shardOf, shardStub } from "../state/shard-routing";
import { deleteDecisions } from "./erasure";

export type ConsumeSummary = Record<ApplyOutcome | "retried", number> & { shards: number };

const RETRY_DELAY_SECONDS = 5;

export async function consumeEvents(batch: MessageBatch<QueuedEvent>, env: Bindings): Promise<ConsumeSummary> {
  const byShard = new Map<number, Message<QueuedEvent>[]>();
  for (const m of batch.messages) {
    const shard = shardOf(m.body.user);
    const list = byShard.get(shard);
    if (list) list.push(m);
    else byShard.set(shard, [m]);
  }
  const summary: ConsumeSummary = {
    shards: byShard.size,
    applied: 0,
    duplicate: 0,
    refused: 0,
    erased: 0,
    rejected: 0,
    retried: 0,
  };
  // how long the newest message waited: under a backlog the shards coalesce snapshot writes more (reader-shard.ts)
  const newest = Math.max(...batch.messages.map((m) => m.timestamp.getTime()));
  const backlogMs = Math.max(0, Date.now() - newest);
  await Promise.all(
    [...byShard].map(async ([shard, messages]) => {
      let outcomes: ApplyOutcome[];
      try {
        outcomes = await shardStub(env, shard).apply(
          messages.map((m) => m.body),
          { backlogMs },
        );
      } catch (e) {
        summary.retried += messages.length;
        logEvent("error", "events.shard_failed", { shard, detail: errorMessage(e), messages: messages.length });
        for (const m of messages) m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
        return;
      }
      const optedOut = new Set(
        messages
          .filter(
            (m, i) => m.body.consent?.tracking === false && outcomes[i] !== "erased" && outcomes[i] !== "rejected",
          )
          .map((m) => m.body.user),
      );
      const cleanupFailed = new Set<string>();
      await Promise.all(
        [...optedOut].map(async (user) => {
          try {
            await deleteDecisions(env.OPENTIME_KV, user);
          } catch (e) {
            cleanupFailed.add(user);
            logEvent("error", "events.decisions_cleanup_failed", { detail: errorMessage(e) });
          }
        }),
      );
      messages.forEach((m, i) => {
        const outcome = outcomes[i] ?? "rejected";
        const cleanup = m.body.consent?.tracking === false && cleanupFailed.has(m.body.user);
        if (outcome === "rejected" || cleanup) {
          summary.retried++;
          m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
        } else m.ack();
        summary[outcome]++;
      });
    }),
  );
  if (summary.rejected > 0) logEvent("error", "events.rejected_by_profile_schema", { events: summary.rejected });
  return summary;
}
