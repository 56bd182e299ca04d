/**
 * Suppression-only readers: the unsubscribe of a reader their shard holds no profile of is kept as a suppression
 * and nothing else. The one-click link lives two years (core/unsubscribe-link.ts), so it is pressed for readers
 * erased long ago (their tombstone ended: nothing remembers them) and for readers opentime never knew; an
 * unsubscribe can only stop email, and "this pseudonymous id opted out" is exactly what a sender must keep, erasure
 * or not. So the reader's list row (list-changes-table.ts, `unsubscribed`) is written alone: no profile, applied
 * id, snapshot, history, features or impressions. The shop's list reads it (GET /v1/admin/suppressions), the
 * builder's check holds the reader back (worker/suppressions/check.ts asks the shard of a reader with no snapshot),
 * and the right of access shows it. A reader whose tombstone stands gets the same, and their other events are
 * still dropped: they asked to be forgotten, then not to be mailed, and the second must outlive the tombstone.
 *
 * Should the shard later create the reader (any other event, or their state from before the shards imported), the
 * new profile takes the suppression up (unsubscribed, as of when the reader unsubscribed: the row keeps the event's
 * time), so their profile, snapshot and list row agree; a resubscribe made after it wins, as consent changes do,
 * also one the shard applies after the unsubscribe though the unsubscribe's message was held back longer. Synchronous
 * SQL inside the shard's transaction; the shard is the only writer.
 */
import type { ConsentClock } from "../../core/apply-events";
import type { QueuedEvent } from "../../core/events";
import type { Profile } from "../../core/profile";
import { type ListChange, listChangeOf, recordListChange } from "./list-changes-table";

/** A reader's list state before anything was recorded of them: subscribed, not paused. */
export const NOT_ON_LIST = { unsubscribed: false, pausedUntil: null, frequency: null } as const;

/** Whether an event unsubscribes the reader (a consent change setting `unsubscribed`, whatever else it sets). */
export function unsubscribes(e: QueuedEvent): boolean {
  return e.type === "consent" && e.consent?.unsubscribed === true;
}

/** Whether every event is an unsubscribe and nothing more (no other consent field, no activity). */
export function onlyUnsubscribes(events: readonly QueuedEvent[]): boolean {
  return events.every(
    (e) =>
      unsubscribes(e) &&
      Object.entries(e.consent ?? {}).every(([field, value]) => field === "unsubscribed" || value === undefined),
  );
}

/**
 * Keeps the unsubscribes among `events` as the reader's list row alone, applied at `nowMs` (a repeat changes nothing
 * on the list), with when the latest of them was made (its event's time): what a profile made later takes it up as of.
 */
export function keepSuppression(sql: SqlStorage, user: string, events: readonly QueuedEvent[], nowMs: number): void {
  const madeAt = events.reduce((at, e) => (unsubscribes(e) ? Math.max(at, e.ts) : at), Number.NEGATIVE_INFINITY);
  if (madeAt === Number.NEGATIVE_INFINITY) return;
  const before = listChangeOf(sql, user) ?? NOT_ON_LIST;
  const changed = recordListChange(sql, user, before, { ...before, unsubscribed: true }, nowMs);
  // a change sets the time; a repeat keeps the later of the two (a row kept before the column counts from when it
  // was kept, as adoptSuppression reads it: an older repeat never dates it back)
  sql.exec(
    `UPDATE list_changes SET unsubscribed_at = CASE WHEN ? THEN ?
       ELSE max(coalesce(unsubscribed_at, changed_at / 1000), ?) END
     WHERE user = ?`,
    changed ? 1 : 0,
    madeAt,
    madeAt,
    user,
  );
}

/**
 * A reader the shard creates now, with the suppression `kept` before it held them (their list row) taken up: the
 * consent unsubscribed, its clock set to when the unsubscribe was made (a row kept before that time was: when it was
 * written), so a resubscribe made after it wins, whichever the shard applied first; null when none was kept.
 */
export function adoptSuppression(
  kept: ListChange | null,
  profile: Profile,
  clock: ConsentClock,
): { profile: Profile; clock: ConsentClock } | null {
  if (!kept?.unsubscribed) return null;
  const at = kept.unsubscribedAt ?? Math.floor(kept.changedAt / 1000);
  return {
    profile: {
      ...profile,
      consent: { ...profile.consent, unsubscribed: true, updatedAt: Math.max(profile.consent.updatedAt ?? 0, at) },
    },
    clock: { ...clock, unsubscribed: Math.max(clock.unsubscribed ?? Number.NEGATIVE_INFINITY, at) },
  };
}
