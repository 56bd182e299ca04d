/**
 * The reader shard's recent clicks and purchases, so that an exposure applied after them still credits those
 * that followed it (core/experiments/exposure.ts, lateAttributedRows): its message may be retried, or overtaken
 * by a click or purchase posted through the events API. One row per reader and event, written in the
 * transaction that applies it (only where experiments are recorded), kept OUTCOMES_KEPT_MS after that (the
 * queue's retries and the dead-letter queue's, an hour apart, end well within it; the shard's alarm prunes
 * what is older). Bounded: an event older than OUTCOMES_KEPT_MS when applied (a history import) is not kept,
 * since no exposure that late can come; a reader keeps their newest MAX_OUTCOMES_PER_READER. Tracking turned
 * off and erasure delete the reader's rows. Synchronous SQL on the shard's storage; the shard is the only
 * writer.
 */
import type { QueuedEvent } from "../../core/events";
import { keepNewest } from "./sql-tables";

export const OUTCOMES_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS recent_outcomes (
     user TEXT NOT NULL, event TEXT NOT NULL, ts INTEGER NOT NULL, until INTEGER NOT NULL, body TEXT NOT NULL,
     PRIMARY KEY (user, event)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS recent_outcomes_by_until ON recent_outcomes (until)",
];

/** How long a click or purchase is kept after it was applied (ms). */
export const OUTCOMES_KEPT_MS = 2 * 86_400_000;
/** Clicks and purchases kept per reader (their newest): the profile keeps 200 purchased items too. */
export const MAX_OUTCOMES_PER_READER = 200;

/** What attribution reads of an event (no exposures: those were applied with it). */
function outcomeOf(e: QueuedEvent): QueuedEvent {
  return {
    id: e.id,
    type: e.type,
    user: e.user,
    ts: e.ts,
    ...(e.campaign !== undefined && { campaign: e.campaign }),
    ...(e.item !== undefined && { item: e.item }),
    ...(e.value !== undefined && { value: e.value }),
    ...(e.currency !== undefined && { currency: e.currency }),
    ...(e.slot !== undefined && { slot: e.slot }),
  };
}

/**
 * Records the reader's newly applied clicks and purchases (inside the shard's transaction). Returns when the
 * rows written expire (ms; the shard's alarm prunes then), or null when none was written.
 */
export function recordOutcomes(
  sql: SqlStorage,
  user: string,
  events: readonly QueuedEvent[],
  nowMs: number,
): number | null {
  const until = nowMs + OUTCOMES_KEPT_MS;
  const oldest = Math.floor((nowMs - OUTCOMES_KEPT_MS) / 1000);
  let wrote = false;
  for (const e of events) {
    if ((e.type !== "email_click" && e.type !== "purchase") || e.ts < oldest) continue;
    sql.exec(
      "INSERT OR IGNORE INTO recent_outcomes (user, event, ts, until, body) VALUES (?, ?, ?, ?, ?)",
      user,
      e.id,
      e.ts,
      until,
      JSON.stringify(outcomeOf(e)),
    );
    wrote = true;
  }
  if (!wrote) return null;
  keepNewest(sql, "recent_outcomes", "event", user, MAX_OUTCOMES_PER_READER);
  return until;
}

/**
 * The reader's kept clicks and purchases, oldest first: those still within OUTCOMES_KEPT_MS of being applied at
 * `nowMs` (attribution), or every row held (right of access: the alarm may not have pruned them yet).
 */
export function outcomesOf(sql: SqlStorage, user: string, nowMs = 0): QueuedEvent[] {
  return sql
    .exec<{ body: string }>(
      "SELECT body FROM recent_outcomes WHERE user = ? AND until > ? ORDER BY ts, event",
      user,
      nowMs,
    )
    .toArray()
    .map((r) => JSON.parse(r.body) as QueuedEvent);
}

/** Deletes one of the reader's rows: a click found since to be a link scanner's (worker/state/clicks-table.ts). */
export function deleteOutcome(sql: SqlStorage, user: string, event: string): void {
  sql.exec("DELETE FROM recent_outcomes WHERE user = ? AND event = ?", user, event);
}

/** Deletes the reader's rows (tracking off, erasure); returns how many went. */
export function deleteOutcomes(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM recent_outcomes WHERE user = ?", user).rowsWritten;
}

/** Deletes the rows kept long enough (the shard's alarm). */
export function pruneOutcomes(sql: SqlStorage, nowMs: number): void {
  sql.exec("DELETE FROM recent_outcomes WHERE until <= ?", nowMs);
}

/** When the oldest row expires (ms), or null without rows. */
export function nextOutcomeExpiry(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(until) AS at FROM recent_outcomes").one().at;
}
