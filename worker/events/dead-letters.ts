/**
 * The dead-letter queue's consumer (`opentime-events-dlq`): messages the events consumer gave up on after its
 * retries (worker/events/queue.ts: one shard's events each, or one bare event). Events of erased readers are
 * dropped: nothing of theirs is kept anywhere. The others are parked in their reader's shard
 * (worker/state/reader-shard.ts, `parked`: kept for an operator until the reader is erased), except those the
 * shard applied already (a packed message is dead-lettered whole for one bad event; its other events were
 * applied on the first delivery). A message is acked once each of its events is dropped, parked or found
 * applied; one that cannot be handled now (a tombstone unreadable, a shard failing, a message that holds no
 * event) is retried an hour later, whole (parking is idempotent by reader and id).
 * The Worker's queue handler dispatches batches of that queue here (worker/index.ts).
 */
import type { QueuedEvent } from "../../core/events";
import { type Bindings, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { shardOf, shardStub } from "../state/shard-routing";
import { isErased } from "./erasure";
import { type EventsMessage, eventsOf } from "./queue";

export const DEAD_LETTER_QUEUE = "opentime-events-dlq";
/** How long a kept dead letter waits before it is delivered to this consumer again. */
export const DEAD_LETTER_RETRY_SECONDS = 3600;

export interface DeadLetterSummary {
  /** events of erased readers, dropped */
  dropped: number;
  /** events kept in their reader's shard */
  parked: number;
  /** events their shard had applied already (a packed message's good events), dropped */
  applied: number;
  /** messages not handled now (tombstone unreadable, shard failing, no event held): retried later */
  kept: number;
}

export async function consumeDeadLetters(
  batch: MessageBatch<EventsMessage>,
  env: Bindings,
): Promise<DeadLetterSummary> {
  const secrets = getConfig(env).tokenSecrets;
  const summary: DeadLetterSummary = { dropped: 0, parked: 0, applied: 0, kept: 0 };
  /** messages to keep: one of their events could not be handled now */
  const keep = new Set<number>();
  const byUser = new Map<string, { event: QueuedEvent; from: number }[]>();
  batch.messages.forEach((m, index) => {
    const events = eventsOf(m.body);
    if (!events) {
      keep.add(index); // not an event this Worker queued: an operator looks at it
      return;
    }
    for (const event of events) {
      const list = byUser.get(event.user) ?? [];
      list.push({ event, from: index });
      byUser.set(event.user, list);
    }
  });
  const toPark = new Map<number, { event: QueuedEvent; from: number }[]>();
  await Promise.all(
    [...byUser].map(async ([user, events]) => {
      let erased: boolean;
      try {
        erased = await isErased(env.OPENTIME_KV, user, secrets);
      } catch (e) {
        logEvent("error", "dead_letters.erasure_read_failed", { detail: errorMessage(e) });
        for (const { from } of events) keep.add(from);
        return;
      }
      if (erased) {
        summary.dropped += events.length;
        return;
      }
      const shard = shardOf(user);
      toPark.set(shard, [...(toPark.get(shard) ?? []), ...events]);
    }),
  );
  await Promise.all(
    [...toPark].map(async ([shard, events]) => {
      try {
        const outcomes = await shardStub(env, shard).park(events.map((e) => e.event));
        for (const outcome of outcomes) {
          if (outcome === "erased") summary.dropped++;
          else if (outcome === "applied") summary.applied++;
          else summary.parked++;
        }
      } catch (e) {
        logEvent("error", "dead_letters.park_failed", { shard, detail: errorMessage(e) });
        for (const { from } of events) keep.add(from);
      }
    }),
  );
  batch.messages.forEach((m, index) => {
    if (keep.has(index)) {
      summary.kept++;
      m.retry({ delaySeconds: DEAD_LETTER_RETRY_SECONDS });
    } else m.ack();
  });
  // counts only: the events name readers
  if (summary.parked + summary.kept > 0) logEvent("warn", "dead_letters.kept", { ...summary });
  return summary;
}
