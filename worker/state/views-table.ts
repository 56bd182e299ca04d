/**
 * The reader shard's index of what its readers viewed, for viewed-* triggers (core/triggers.ts): one row per
 * reader and item with the latest view's time, written in the transaction that applies the `view` events and
 * looked up by item when the catalog changes (worker/state/catalog-inbox.ts). Kept whatever the triggers
 * configuration says (a trigger switched on later then finds the views already there), and bounded: the
 * reader's latest MAX_VIEWS_PER_READER items, none older than MAX_VIEWED_WITHIN_DAYS (the shard's alarm is set
 * for an hour after the oldest expires, PRUNE_SLACK_MS, and deletes what has; an older row is never read). A
 * purchase of the item removes the views before it (a reader who bought what they viewed is not told it is
 * back or cheaper); tracking turned off and erasure delete the reader's rows. Synchronous SQL on the shard's
 * storage; the shard is the only writer.
 */
import type { QueuedEvent } from "../../core/events";
import type { Profile } from "../../core/profile";
import { MAX_VIEWED_WITHIN_DAYS } from "../../core/triggers";
import { keepNewest } from "./sql-tables";

export const VIEWS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS views (
     user TEXT NOT NULL, item TEXT NOT NULL, ts INTEGER NOT NULL,
     PRIMARY KEY (user, item)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS views_by_item ON views (item, ts)",
  "CREATE INDEX IF NOT EXISTS views_by_ts ON views (ts)",
];

/** Items kept per reader (their latest views): the profile's recent items are 50 as well. */
export const MAX_VIEWS_PER_READER = 50;

const KEPT_S = MAX_VIEWED_WITHIN_DAYS * 86_400;

/**
 * Records the reader's newly applied events (inside the shard's transaction, any order): a view sets the
 * item's time (the latest wins) unless the reader bought the item at or after it; a purchase removes the
 * item's views at or before it. `purchases` is the profile's after these events. Returns when the earliest view
 * written expires (ms; the shard's alarm prunes then), or null when none was written.
 */
export function recordViews(
  sql: SqlStorage,
  user: string,
  events: readonly QueuedEvent[],
  purchases: Profile["purchases"],
  nowS: number,
): number | null {
  for (const e of events) {
    if (e.type === "purchase" && e.item)
      sql.exec("DELETE FROM views WHERE user = ? AND item = ? AND ts <= ?", user, e.item, e.ts);
  }
  const bought = new Map(purchases.map((p) => [p.item, p.lastTs]));
  // the latest view of each item in these events: one write per item
  const latest = new Map<string, number>();
  for (const e of events) {
    if (e.type !== "view" || !e.item || e.ts < nowS - KEPT_S) continue;
    if ((bought.get(e.item) ?? Number.NEGATIVE_INFINITY) >= e.ts) continue;
    if (e.ts > (latest.get(e.item) ?? Number.NEGATIVE_INFINITY)) latest.set(e.item, e.ts);
  }
  for (const [item, ts] of latest) {
    sql.exec(
      `INSERT INTO views (user, item, ts) VALUES (?, ?, ?)
       ON CONFLICT (user, item) DO UPDATE SET ts = max(ts, excluded.ts)`,
      user,
      item,
      ts,
    );
  }
  const wrote = latest.size > 0;
  if (!wrote) return null;
  // past the bound: the oldest go (age is the alarm's to prune, pruneOldViews)
  keepNewest(sql, "views", "item", user, MAX_VIEWS_PER_READER);
  return (Math.min(...latest.values()) + KEPT_S) * 1000;
}

/** The readers who viewed the item since `sinceS`, latest first, at most `limit`. */
export function viewersOf(
  sql: SqlStorage,
  item: string,
  sinceS: number,
  limit: number,
): { user: string; ts: number }[] {
  return sql
    .exec<{ user: string; ts: number }>(
      "SELECT user, ts FROM views WHERE item = ? AND ts >= ? ORDER BY ts DESC LIMIT ?",
      item,
      sinceS,
      limit,
    )
    .toArray();
}

/** Deletes every view past MAX_VIEWED_WITHIN_DAYS (the shard's alarm). */
export function pruneOldViews(sql: SqlStorage, nowS: number): number {
  return sql.exec("DELETE FROM views WHERE ts < ?", nowS - KEPT_S).rowsWritten;
}

/** When the oldest view expires (ms), or null without views: the shard's alarm prunes an hour later. */
export function nextViewExpiry(sql: SqlStorage): number | null {
  const oldest = sql.exec<{ ts: number | null }>("SELECT min(ts) AS ts FROM views").one().ts;
  return oldest === null ? null : (oldest + KEPT_S) * 1000;
}

/** A reader's views, latest first (right of access). */
export function viewsOf(sql: SqlStorage, user: string): { item: string; ts: number }[] {
  return sql
    .exec<{ item: string; ts: number }>("SELECT item, ts FROM views WHERE user = ? ORDER BY ts DESC", user)
    .toArray();
}

export function deleteViews(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM views WHERE user = ?", user).rowsWritten;
}
