/**
 * The part of a consent change that opts out (stops something), and what else it names: all a reader whose id an
 * earlier version stored shaped like an address only through a look-alike `@` or `.` (core/events.ts
 * HeldUserIdSchema) may still change. Opting out must always work; new data under such an id is not stored, so
 * nothing such a change turns on or chooses (resubscribe, resume, topics, a frequency) is taken; nor, from the
 * queue, any other event under such an id (recordablePart).
 */
import { looksLikeEmail, type QueuedEvent } from "./events";
import type { Consent } from "./profile";

export type ConsentFields = Partial<Omit<Consent, "updatedAt">>;

/**
 * `out`: personalization or tracking turned off, unsubscribed, a pause that ends after `nowS`; `rest`: the names of
 * every other field the change holds.
 */
export function optOutOf(change: ConsentFields, nowS: number): { out: ConsentFields; rest: string[] } {
  const out: ConsentFields = {};
  const rest: string[] = [];
  for (const [name, value] of Object.entries(change)) {
    if (value === undefined) continue;
    if ((name === "personalization" || name === "tracking") && value === false) out[name] = false;
    else if (name === "unsubscribed" && value === true) out.unsubscribed = true;
    else if (name === "pausedUntil" && typeof value === "number" && value > nowS) out.pausedUntil = value;
    else rest.push(name);
  }
  return { out, rest };
}

/**
 * What of a queued event may be recorded under its user id: all of it, for a pseudonymous id; for one that reads as
 * an email address (core/events.ts looksLikeEmail: an event queued before the edge checked look-alikes, or replayed
 * from dead letters), a consent change's opt-out alone (optOutOf: opting out always works) and nothing else (null),
 * as the edge takes them (worker/events/may-record.ts, the consent routes).
 */
export function recordablePart(event: QueuedEvent, nowS: number): QueuedEvent | null {
  if (!looksLikeEmail(event.user)) return event;
  if (event.type !== "consent" || !event.consent) return null;
  const { out } = optOutOf(event.consent, nowS);
  return Object.keys(out).length > 0 ? { ...event, consent: out } : null;
}
