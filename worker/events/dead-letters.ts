/**
 * The dead-letter queue's consumer (`opentime-events-dlq`): messages the events consumer gave up on after its
 * retries (worker/events/queue.ts: one shard's events each, or one bare event). Most hold good events whose
 * message failed while KV or a shard was down through every retry (a shard call fails whole): their shard
 * applies them now, as the events consumer would have (duplicates, erased readers and readers with tracking off
 * as it does). Only an event that would break the profile is kept for an operator (ReaderShard.park: `parked`,
 * until the reader is erased). Events of erased readers are dropped: nothing of theirs is kept anywhere, but an
 * unsubscribe, which their shard keeps as a suppression alone (worker/state/suppression-only.ts), and the events of
 * a reader whose consent change turns personalization or tracking on: a return, should it be timed after the
 * erasure, which their shard decides as for the events consumer (worker/state/tombstone-table.ts): its own
 * tombstone decides all of it, never the edge's, which can stand a while after a return. An
 * opt-out of tracking that takes effect has its decisions deleted by the shard, as for the events consumer. A
 * message is acked once each of its events is handled; one that cannot be handled now (a shard failing, a
 * message that holds no event) is retried an hour later, whole (applying and parking are idempotent by reader
 * and id); on its last delivery (nothing is behind this queue), events its shard still cannot apply are parked as they are
 * rather than lost, and those it cannot park either are logged by id (`dead_letters.lost`) before the message
 * goes.
 * The Worker's queue handler dispatches batches of that queue here (worker/index.ts).
 */
import type { QueuedEvent } from "../../core/events";
import type { Bindings } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import type { ApplyOutcome, ParkOutcome } from "../state/reader-shard";
import { byShard, shardStub } from "../state/shard-routing";
import { type EventsMessage, eventsOf } from "./queue";

export const DEAD_LETTER_QUEUE = "opentime-events-dlq";
/** How long a kept dead letter waits before it is delivered to this consumer again. */
export const DEAD_LETTER_RETRY_SECONDS = 3600;
/** The dead-letter queue's `max_retries` (wrangler.toml): a message delivered more often than this is on its last. */
export const DEAD_LETTER_MAX_RETRIES = 3;

export interface DeadLetterSummary {
  /** events of erased readers, dropped */
  dropped: number;
  /** events kept in their reader's shard */
  parked: number;
  /** events their shard applied now, or had applied already (a packed message's good events) */
  applied: number;
  /** events of readers with tracking off, dropped */
  refused: number;
  /** events under an id that reads as an email address, but for opt-outs, dropped (core/opt-out.ts recordablePart) */
  notPseudonymous: number;
  /** messages not handled now (shard or cleanup failing, no event held): retried later */
  kept: number;
}

interface Held {
  event: QueuedEvent;
  /** the message it came in */
  from: number;
}

export async function consumeDeadLetters(
  batch: MessageBatch<EventsMessage>,
  env: Bindings,
): Promise<DeadLetterSummary> {
  const summary: DeadLetterSummary = { dropped: 0, parked: 0, applied: 0, refused: 0, notPseudonymous: 0, kept: 0 };
  /** messages to keep: one of their events could not be handled now */
  const keep = new Set<number>();
  const held: Held[] = [];
  batch.messages.forEach((m, index) => {
    const events = eventsOf(m.body);
    if (events) for (const event of events) held.push({ event, from: index });
    else keep.add(index); // not an event this Worker queued: an operator looks at it
  });
  /** whether the message is on its last delivery: nothing is behind this queue, so what it keeps is lost */
  const last = (h: Held) => (batch.messages[h.from]?.attempts ?? 1) > DEAD_LETTER_MAX_RETRIES;
  // every event goes to its shard, whose own tombstone decides (apply() and park() check it): an erased reader's
  // events are dropped there but an unsubscribe, and a reader who came back is recorded from their return on. The
  // edge's tombstone is not read here: it can stand a while after a return (the erasure request's KV write landing
  // after it, KV failing when the return deleted it), and what it dropped would be lost for good
  const toPark = byShard(held, (h) => h.event.user);
  await Promise.all(
    [...toPark].map(async ([shard, list]) => {
      const stub = shardStub(env, shard);
      const count = (outcomes: readonly ParkOutcome[]) =>
        outcomes.forEach((outcome) => {
          if (outcome === "erased") summary.dropped++;
          else if (outcome === "not-pseudonymous") summary.notPseudonymous++;
          else summary[outcome]++;
        });
      /** parks `held` (what the shard cannot apply); a shard failing keeps their messages */
      const park = async (held: readonly Held[]) => {
        if (held.length === 0) return;
        try {
          count(await stub.park(held.map((h) => h.event)));
        } catch (e) {
          logEvent("error", "dead_letters.park_failed", { shard, detail: errorMessage(e) });
          for (const { from } of held) keep.add(from);
          // on their message's last delivery these are lost: their ids (never their readers) say which
          const lost = held.filter(last).map((h) => h.event.id);
          if (lost.length > 0) logEvent("error", "dead_letters.lost", { shard, events: lost });
        }
      };
      let applied: ApplyOutcome[];
      try {
        applied = await stub.apply(list.map((h) => h.event));
      } catch (e) {
        // still failing: retried in an hour, but on a message's last delivery its events are parked as they are
        logEvent("error", "dead_letters.apply_failed", { shard, detail: errorMessage(e) });
        const onLast: Held[] = [];
        for (const h of list)
          if (last(h)) onLast.push(h);
          else keep.add(h.from);
        await park(onLast);
        return;
      }
      const rejected: Held[] = [];
      const done: Held[] = [];
      const outcomes: ParkOutcome[] = [];
      applied.forEach((outcome, i) => {
        const h = list[i] as Held;
        if (outcome === "rejected") rejected.push(h);
        else {
          done.push(h);
          outcomes.push(outcome === "duplicate" ? "applied" : outcome);
        }
      });
      count(outcomes);
      await park(rejected);
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
  if (summary.notPseudonymous > 0)
    logEvent("warn", "dead_letters.user_id_not_pseudonymous", { events: summary.notPseudonymous });
  return summary;
}
