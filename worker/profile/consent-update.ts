/**
 * A consent change on its way to the reader's shard, the one writer of their profile: queued for the events
 * consumer, which applies it in order with the user's other events (a concurrent batch can never write an older
 * consent back), or, for the email's answers (its preferences form, its one-click unsubscribe), recorded with the
 * shard itself when the queue refuses or does not answer in time. Applied within about a second; an unknown user
 * gets a minimal profile holding their choice, but for an unsubscribe alone, which the shard keeps as a suppression
 * and nothing else, as it does an erased reader's (worker/state/suppression-only.ts).
 */
import { EMAIL_PREFERENCES_ID_PREFIX, type QueuedEvent } from "../../core/events";
import type { Consent } from "../../core/profile";
import { newNonce, sendKey, type TokenClaims } from "../../core/token";
import type { Bindings } from "../env";
import { type EnqueueResult, type EventsMessage, enqueue, enqueueWithin } from "../events/queue";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import { readerStub } from "../state/shard-routing";

export type ConsentChange = Partial<Omit<Consent, "updatedAt">>;

/** How long the queue may take a change an email waits on before the reader's shard is asked to apply it itself. */
const QUEUE_WAIT_MS = 3_000;
/** How long the reader's shard may take to apply it. */
const SHARD_WAIT_MS = 5_000;

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

/** Which of an email's answers made a change (part of its id). */
export type EmailConsentSource = "preferences" | "unsubscribe";

/**
 * Records a change an email's reader made (the preferences form, the one-click unsubscribe): on the events queue,
 * and when the queue refuses or does not answer within QUEUE_WAIT_MS, with the reader's shard itself (the change's
 * consent clock makes both landing one change; a send still in flight is left to `waitUntil`). The id is the
 * source, the email's send and the second, and for a form a random part of its own (the whole id within
 * MAX_ID_LENGTH, the longest campaign's too, so the dead-letter API can name it): a form's POSTs differ (one that
 * submits on each change, a reader who saves twice at once), and a second one of the same id in a queue batch would
 * be dropped as a redelivery of the first (core/apply-events.ts), its change lost though answered saved; the link's
 * is always the same change. The shard keeps no consent change's id (the clock makes applying one again change
 * nothing), so a link or form POSTed over and over grows nothing, and a repeat changes nothing. `false`: neither
 * took it (logged), and the reader is asked to send it again.
 */
export async function recordConsentChange(
  env: Pick<Bindings, "EVENTS" | "READERS">,
  claims: TokenClaims,
  source: EmailConsentSource,
  change: ConsentChange,
  waitUntil: WaitUntil,
): Promise<boolean> {
  const userId = claims.u;
  const base = consentEvent(userId, change);
  const prefix = source === "preferences" ? EMAIL_PREFERENCES_ID_PREFIX : "unsubscribe:";
  // 8 random base64url characters (a send's nonce): a UUID's 36 took the longest campaign's id past MAX_ID_LENGTH
  const own = source === "preferences" ? `:${newNonce()}` : "";
  const event: QueuedEvent = { ...base, id: `${prefix}${sendKey(claims)}:${base.ts}${own}` };
  const queued = await enqueueWithin(env.EVENTS, [event], QUEUE_WAIT_MS, waitUntil);
  if (queued?.ok) return true;
  try {
    const [outcome] = await within(readerStub(env, userId).apply([event]), SHARD_WAIT_MS, () => {
      throw new Error(`no answer from the reader's shard within ${SHARD_WAIT_MS} ms`);
    });
    if (outcome !== "rejected") return true;
    logEvent("error", "consent.not_recorded", { detail: "the reader's shard rejected the change" });
  } catch (e) {
    logEvent("error", "consent.not_recorded", { detail: errorMessage(e) });
  }
  return false;
}
