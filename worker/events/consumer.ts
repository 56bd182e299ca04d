/**
 * The events queue consumer: fans a batch out to the reader shards (worker/state/reader-shard.ts), one RPC per
 * shard, all in parallel. A message holds one shard's events (worker/events/queue.ts packs them so; a bare
 * event from an earlier version is a message of one). Each shard applies its events in one transaction and says
 * what became of each; a message is acknowledged only once every event in it was committed (or dropped: a
 * duplicate, an erased reader, an opt-out of tracking, an id that reads as an email address: the shard records
 * nothing under one but an opt-out), and retried otherwise (its shard failed, or one of its
 * events would break the profile: after max_retries it is dead-lettered). Redeliveries are harmless: shards
 * keep every applied id, so the events of a retried message that were applied count as duplicates.
 *
 * A reader whose opt-out of tracking takes effect has their stored decisions deleted by their shard before it
 * answers (an opt-out older than their last opt-in, which the consent clock ignores, deletes nothing); a failed
 * deletion is left to the sweeps the shard queued with the opt-out.
 */
import type { QueuedEvent } from "../../core/events";
import type { Bindings } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import type { ApplyOutcome } from "../state/reader-shard";
import { byShard, shardStub } from "../state/shard-routing";
import { type EventsMessage, eventsOf } from "./queue";

/** Events by what became of them, events of retried messages (`retried`), and messages holding none (`unreadable`). */
export type ConsumeSummary = Record<ApplyOutcome | "retried" | "unreadable", number> & { shards: number };

const RETRY_DELAY_SECONDS = 5;

/** An event of the batch, and the message it came from. */
interface Held {
  event: QueuedEvent;
  from: number;
}

export async function consumeEvents(batch: MessageBatch<EventsMessage>, env: Bindings): Promise<ConsumeSummary> {
  const held: Held[] = [];
  const summary: ConsumeSummary = {
    shards: 0,
    applied: 0,
    duplicate: 0,
    refused: 0,
    erased: 0,
    "not-pseudonymous": 0,
    rejected: 0,
    retried: 0,
    unreadable: 0,
  };
  const sizes: number[] = [];
  /** messages to retry: a shard failed, an event was rejected, nothing readable */
  const retry = new Set<number>();
  batch.messages.forEach((m, index) => {
    const events = eventsOf(m.body);
    sizes.push(events?.length ?? 0);
    if (!events) {
      summary.unreadable++;
      retry.add(index);
      return;
    }
    for (const event of events) held.push({ event, from: index });
  });
  // one call per shard: its events in the batch's order
  const calls = byShard(held, (h) => h.event.user);
  summary.shards = calls.size;
  // how long the newest message waited: under a backlog the shards coalesce snapshot writes more (reader-shard.ts).
  // First deliveries only: a message tried again waited out its retry's delay (and its first try's), not a backlog,
  // so a batch of retries alone leaves the shards' interval as it was (a redelivery minutes late stretched it to
  // its longest, for every reader of the shard, until a fresh batch came)
  const fresh = batch.messages.filter((m) => m.attempts <= 1).map((m) => m.timestamp.getTime());
  const backlogMs = fresh.length > 0 ? Math.max(0, Date.now() - Math.max(...fresh)) : undefined;
  await Promise.all(
    [...calls].map(async ([shard, call]) => {
      let outcomes: ApplyOutcome[];
      try {
        outcomes = await shardStub(env, shard).apply(
          call.map((h) => h.event),
          backlogMs === undefined ? {} : { backlogMs },
        );
      } catch (e) {
        logEvent("error", "events.shard_failed", { shard, detail: errorMessage(e), events: call.length });
        for (const h of call) retry.add(h.from);
        return;
      }
      // an opt-out of tracking that took effect has had the reader's decisions deleted by the shard's apply
      call.forEach((h, i) => {
        const outcome = outcomes[i] ?? "rejected";
        summary[outcome]++;
        if (outcome === "rejected") retry.add(h.from);
      });
    }),
  );
  batch.messages.forEach((m, index) => {
    if (retry.has(index)) {
      summary.retried += sizes[index] as number;
      m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    } else m.ack();
  });
  if (summary.rejected > 0) logEvent("error", "events.rejected_by_profile_schema", { events: summary.rejected });
  if (summary.unreadable > 0) logEvent("error", "events.unreadable_messages", { messages: summary.unreadable });
  // queued before the edge checked look-alike ids (or replayed): counted, never named
  if (summary["not-pseudonymous"] > 0)
    logEvent("warn", "events.user_id_not_pseudonymous", { events: summary["not-pseudonymous"] });
  return summary;
}
