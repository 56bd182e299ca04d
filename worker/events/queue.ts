/**
 * Puts events on the events queue, packed: one message holds one reader shard's events of a call (at most
 * PACK_EVENTS of them, and PACK_BYTES), so the consumer hands each message to exactly one shard, and a 500-event
 * POST is about 16 queue messages instead of 500 (Queues bill, and limit a queue's throughput, per message).
 * Messages queued by earlier versions hold one bare event; the consumers read both (eventsOf).
 * Returns a result instead of throwing: the API answers 503 (eventsUnavailable), email routes carry on without
 * recording.
 */
import type { QueuedEvent } from "../../core/events";
import { ApiError } from "../errors";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import { byShard } from "../state/shard-routing";

/** A message on the events queue: one shard's events. */
export interface PackedEvents {
  events: QueuedEvent[];
}
/** What a message of the events queue may hold: packed events, or one event (queued by earlier versions). */
export type EventsMessage = PackedEvents | QueuedEvent;

/** Events per message: a shard applies a consumer batch's messages in one transaction. */
export const PACK_EVENTS = 100;
/** Bytes of JSON per message, under the Queues limit of 128 KB (128,000 bytes, with about 100 of metadata). */
export const PACK_BYTES = 96 * 1024;
/** Cloudflare Queues take at most 100 messages and 256 KB (256,000 bytes, metadata included) per sendBatch. */
const SEND_MESSAGES = 100;
const SEND_BYTES = 224 * 1024;

export type EnqueueResult = { ok: true } | { ok: false; reason: "queue-missing" | "queue-refused" };

/** Seconds an API client waits before sending again what the queue refused (back-pressure or a passing outage). */
const REFUSED_RETRY_AFTER_S = 1;

/**
 * What an API route throws when the queue did not take what it must record (`refused`: what was not recorded, and
 * how to retry it): 503 EVENTS_UNAVAILABLE, with Retry-After when the queue refused, without when no queue is
 * bound (a deploy's configuration, which no retry mends). The one place that words and times the answer.
 */
export function eventsUnavailable(result: Extract<EnqueueResult, { ok: false }>, refused: string): ApiError {
  if (result.reason === "queue-missing")
    return new ApiError("EVENTS_UNAVAILABLE", "the EVENTS queue binding is not configured (wrangler.toml)");
  return new ApiError("EVENTS_UNAVAILABLE", refused, { "Retry-After": String(REFUSED_RETRY_AFTER_S) });
}

const utf8 = new TextEncoder();

/**
 * The events a message holds, or null when it holds none this Worker queued (the dead-letter consumer keeps
 * such a message for an operator; the events consumer retries it into the dead-letter queue).
 */
export function eventsOf(body: unknown): QueuedEvent[] | null {
  if (typeof body !== "object" || body === null) return null;
  const packed = (body as Partial<PackedEvents>).events;
  if (Array.isArray(packed)) return packed.length > 0 && packed.every(isEvent) ? packed : null;
  return isEvent(body) ? [body] : null;
}

/** What every queued event has: an id, a reader and a time (the rest the writer's schema check judges). */
function isEvent(e: unknown): e is QueuedEvent {
  if (typeof e !== "object" || e === null) return false;
  const { id, user, ts } = e as Partial<QueuedEvent>;
  return typeof id === "string" && typeof user === "string" && typeof ts === "number";
}

/**
 * Packs events into messages: by shard (a shard's messages one after the other, the shards in the order their
 * first event came), each shard's events in order, each message within PACK_EVENTS and PACK_BYTES.
 */
export function pack(events: readonly QueuedEvent[]): { body: PackedEvents; bytes: number }[] {
  const out: { body: PackedEvents; bytes: number }[] = [];
  for (const group of byShard(events, (e) => e.user).values()) {
    let message: { body: PackedEvents; bytes: number } | null = null;
    for (const e of group) {
      const size = utf8.encode(JSON.stringify(e)).byteLength + 1;
      if (!message || message.body.events.length >= PACK_EVENTS || message.bytes + size > PACK_BYTES) {
        message = { body: { events: [] }, bytes: 12 };
        out.push(message);
      }
      message.body.events.push(e);
      message.bytes += size;
    }
  }
  return out;
}

export async function enqueue(
  queue: Queue<EventsMessage> | undefined,
  events: readonly QueuedEvent[],
): Promise<EnqueueResult> {
  if (!queue) {
    logEvent("error", "events.queue_missing", { detail: "the EVENTS queue binding is not configured" });
    return { ok: false, reason: "queue-missing" };
  }
  try {
    let chunk: MessageSendRequest<EventsMessage>[] = [];
    let bytes = 0;
    for (const message of pack(events)) {
      if (chunk.length === SEND_MESSAGES || (chunk.length > 0 && bytes + message.bytes > SEND_BYTES)) {
        await queue.sendBatch(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push({ body: message.body, contentType: "json" });
      bytes += message.bytes;
    }
    if (chunk.length > 0) await queue.sendBatch(chunk);
    return { ok: true };
  } catch (e) {
    // back-pressure or an outage: the caller retries the whole batch; the consumer counts repeats once
    logEvent("warn", "events.enqueue_refused", { detail: errorMessage(e), events: events.length });
    return { ok: false, reason: "queue-refused" };
  }
}

/**
 * Waits (ms, each drawn between half and one and a half of it) before the tries of an event queued in the background
 * that the queue refused again: Queues take 5,000 messages a second per queue and refuse more (Too Many Requests)
 * until the producers fall below it, which the opens and clicks of a large send can reach for a moment. About 6 s in
 * all, well within the 30 s the runtime gives work after the response.
 */
export const BACKGROUND_RETRY_MS: readonly number[] = [250, 1000, 4000];

/**
 * How long one background try waits for the queue's answer: a queue that hangs rather than refuses is given up on
 * like a refusal (the send may still land; the shard counts a repeat once). Four tries and the waits between them
 * end within about 24 s, inside the 30 s the runtime gives work after the response.
 */
export const BACKGROUND_TRY_MS = 4000;

/**
 * enqueue for work after the response (an open's, a click's events, which nobody waits on and nobody sends again):
 * a refusal, or no answer within `tryMs`, is tried again after each of `waits`, the same events (their ids: the
 * shard counts a repeat once), then given up, logged as an error with how many events were lost.
 */
export async function enqueueInBackground(
  queue: Queue<EventsMessage> | undefined,
  events: readonly QueuedEvent[],
  waits: readonly number[] = BACKGROUND_RETRY_MS,
  tryMs = BACKGROUND_TRY_MS,
): Promise<EnqueueResult> {
  const attempt = () =>
    within(enqueue(queue, events), tryMs, (): EnqueueResult => {
      logSlow(tryMs, events.length);
      return { ok: false, reason: "queue-refused" };
    });
  let result = await attempt();
  for (const ms of waits) {
    if (result.ok || result.reason === "queue-missing") return result;
    await new Promise((resolve) => setTimeout(resolve, ms * (0.5 + Math.random())));
    result = await attempt();
  }
  if (!result.ok && result.reason === "queue-refused")
    logEvent("error", "events.enqueue_gave_up", { tries: waits.length + 1, events: events.length });
  return result;
}

/**
 * enqueue for an answer an email waits on (its pixel, its preferences form), which a queue that does not answer
 * must not hold: at most `ms`, then null (the send not settled yet), the send left to the runtime (`waitUntil`),
 * which may still land it. A reader who submits the form again sets the same choice again; a pixel retried with
 * its `eid` is counted once (without one, it may be counted twice).
 */
export function enqueueWithin(
  queue: Queue<EventsMessage> | undefined,
  events: readonly QueuedEvent[],
  ms: number,
  waitUntil: WaitUntil,
): Promise<EnqueueResult | null> {
  const sent = enqueue(queue, events);
  waitUntil(sent);
  return within(sent, ms, () => {
    logSlow(ms, events.length);
    return null;
  });
}

/** A send the queue has not answered within `ms` (it may still land). */
function logSlow(ms: number, events: number): void {
  logEvent("warn", "events.enqueue_slow", { detail: `no answer from the queue within ${ms} ms`, events });
}
