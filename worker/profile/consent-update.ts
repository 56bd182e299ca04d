/**
 * Queues a consent change for the events consumer, which applies it to the profile in order with the
 * user's other events (one writer per profile: a concurrent batch can never write an older consent back).
 * Applied within about a second; an unknown user gets a minimal profile holding their choice.
 */
import type { QueuedEvent } from "../../core/events";
import type { Consent } from "../../core/profile";
import { type EnqueueResult, type EventsMessage, enqueue } from "../events/queue";

export type ConsentChange = Partial<Omit<Consent, "updatedAt">>;

/** The internal `consent` event that carries a change (each its own id: a repeat is a new change, never a toggle). */
export function consentEvent(userId: string, change: ConsentChange): QueuedEvent {
  return {
    id: `consent:${crypto.randomUUID()}`,
    type: "consent",
    user: userId,
    ts: Math.floor(Date.now() / 1000),
    consent: change,
  };
}

export function queueConsentChange(
  queue: Queue<EventsMessage> | undefined,
  userId: string,
  change: ConsentChange,
): Promise<EnqueueResult> {
  return enqueue(queue, [consentEvent(userId, change)]);
}
