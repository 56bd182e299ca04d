/**
 * Puts events on the events queue (in chunks of 100, the Queues limit per sendBatch). Returns a result
 * instead of throwing: the API answers 503 with Retry-After, email routes carry on without recording.
 */
import type { QueuedEvent } from "../../core/events";
import { errorMessage, logEvent } from "../lib/log";

/** Cloudflare Queues take at most 100 messages per sendBatch. */
const SEND_CHUNK = 100;

export type EnqueueResult = { ok: true } | { ok: false; reason: "queue-missing" | "queue-refused" };

export async function enqueue(
  queue: Queue<QueuedEvent> | undefined,
  events: readonly QueuedEvent[],
): Promise<EnqueueResult> {
  if (!queue) {
    logEvent("error", "events.queue_missing", { detail: "the EVENTS queue binding is not configured" });
    return { ok: false, reason: "queue-missing" };
  }
  try {
    for (let i = 0; i < events.length; i += SEND_CHUNK) {
      await queue.sendBatch(events.slice(i, i + SEND_CHUNK).map((body) => ({ body, contentType: "json" as const })));
    }
    return { ok: true };
  } catch (e) {
    // back-pressure or an outage: the caller retries the whole batch; the consumer counts repeats once
    logEvent("warn", "events.enqueue_refused", { detail: errorMessage(e), events: events.length });
    return { ok: false, reason: "queue-refused" };
  }
}
