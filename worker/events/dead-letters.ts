/**
 * The dead-letter queue's consumer (`opentime-events-dlq`): events the events consumer gave up on after its
 * retries. Events of erased readers are dropped (acked): nothing of theirs is kept anywhere. The others are
 * parked in their reader's shard (worker/state/reader-shard.ts, `parked`: kept for an operator until the reader
 * is erased) and acked; whatever cannot be parked now (a tombstone unreadable, a shard failing, a message that
 * names no reader) is retried an hour later.
 * The Worker's queue handler dispatches batches of that queue here (worker/index.ts).
 */
import type { QueuedEvent } from "../../core/events";
import { type Bindings, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { shardOf, shardStub } from "../state/shard-routing";
import { isErased } from "./erasure";

export const DEAD_LETTER_QUEUE = "opentime-events-dlq";
/** How long a kept dead letter waits before it is delivered to this consumer again. */
export const DEAD_LETTER_RETRY_SECONDS = 3600;

export interface DeadLetterSummary {
  /** events of erased readers, acked */
  dropped: number;
  /** kept in their reader's shard, acked */
  parked: number;
  /** not handled now (tombstone unreadable, shard failing, no reader named): retried later */
  kept: number;
}

export async function consumeDeadLetters(batch: MessageBatch<QueuedEvent>, env: Bindings): Promise<DeadLetterSummary> {
  const secrets = getConfig(env).tokenSecrets;
  const byUser = new Map<string, Message<QueuedEvent>[]>();
  const summary: DeadLetterSummary = { dropped: 0, parked: 0, kept: 0 };
  const keep = (m: Message<QueuedEvent>) => {
    summary.kept++;
    m.retry({ delaySeconds: DEAD_LETTER_RETRY_SECONDS });
  };
  for (const m of batch.messages) {
    const user = (m.body as Partial<QueuedEvent> | null)?.user;
    if (typeof user !== "string") {
      keep(m); // not an event this Worker queued: an operator looks at it
      continue;
    }
    const list = byUser.get(user) ?? [];
    list.push(m);
    byUser.set(user, list);
  }
  const toPark = new Map<number, Message<QueuedEvent>[]>();
  await Promise.all(
    [...byUser].map(async ([user, messages]) => {
      let erased: boolean;
      try {
        erased = await isErased(env.OPENTIME_KV, user, secrets);
      } catch (e) {
        logEvent("error", "dead_letters.erasure_read_failed", { detail: errorMessage(e) });
        for (const m of messages) keep(m);
        return;
      }
      if (erased) {
        for (const m of messages) {
          summary.dropped++;
          m.ack();
        }
        return;
      }
      const shard = shardOf(user);
      toPark.set(shard, [...(toPark.get(shard) ?? []), ...messages]);
    }),
  );
  await Promise.all(
    [...toPark].map(async ([shard, messages]) => {
      try {
        const outcomes = await shardStub(env, shard).park(messages.map((m) => m.body));
        messages.forEach((m, i) => {
          if (outcomes[i] === "erased") summary.dropped++;
          else summary.parked++;
          m.ack();
        });
      } catch (e) {
        logEvent("error", "dead_letters.park_failed", { shard, detail: errorMessage(e) });
        for (const m of messages) keep(m);
      }
    }),
  );
  // counts only: the events name readers
  if (summary.parked + summary.kept > 0) logEvent("warn", "dead_letters.kept", { ...summary });
  return summary;
}
