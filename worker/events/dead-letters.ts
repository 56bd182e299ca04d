/**
 * The dead-letter queue's consumer (`opentime-events-dlq`): events the events consumer gave up on after its
 * retries. Events of erased readers are dropped (acked): nothing of theirs is kept anywhere. The others are
 * kept for an operator: retried an hour later, each time (the queue's own max_retries then ends them).
 * The Worker's queue handler dispatches batches of that queue here (worker/index.ts).
 */
import type { QueuedEvent } from "../../core/events";
import { type Bindings, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { isErased } from "./erasure";

export const DEAD_LETTER_QUEUE = "opentime-events-dlq";
/** How long a kept dead letter waits before it is delivered to this consumer again. */
export const DEAD_LETTER_RETRY_SECONDS = 3600;

export interface DeadLetterSummary {
  /** events of erased readers, acked */
  dropped: number;
  /** everything else (and the readers whose tombstone could not be read), retried later */
  kept: number;
}

export async function consumeDeadLetters(batch: MessageBatch<QueuedEvent>, env: Bindings): Promise<DeadLetterSummary> {
  const secrets = getConfig(env).tokenSecrets;
  const byUser = new Map<string, Message<QueuedEvent>[]>();
  const summary: DeadLetterSummary = { dropped: 0, kept: 0 };
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
  await Promise.all(
    [...byUser].map(async ([user, messages]) => {
      let erased = false;
      try {
        erased = await isErased(env.OPENTIME_KV, user, secrets);
      } catch (e) {
        logEvent("error", "dead_letters.erasure_read_failed", { detail: errorMessage(e) });
      }
      for (const m of messages) {
        if (erased) {
          summary.dropped++;
          m.ack();
        } else keep(m);
      }
    }),
  );
  // counts only: the events name readers
  if (summary.kept > 0) logEvent("warn", "dead_letters.kept", { ...summary });
  return summary;
}
