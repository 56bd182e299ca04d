/**
 * The reader shard's record of its readers' cart items, for cart-abandoned triggers (core/triggers.ts): one row
 * per reader and item with the times of its latest cart add and latest cart remove, whatever order they arrived
 * in, written in the transaction that applies the cart events (before the triggers move) and read by it: a remove
 * that arrives before its own add (events of separate requests, a retried batch) still takes the item out of the
 * delivery once the add arrives, and a late remove keeps an item added again since (CartTimes). Bounded: the
 * reader's latest MAX_CART_ITEMS_PER_READER items, none whose latest time is older than CART_ITEMS_KEPT_S (the
 * shard's alarm deletes what has expired, an hour's worth at a time). Tracking turned off and erasure delete the
 * reader's rows; the right of access lists them. Synchronous SQL on the shard's storage; the shard is the only
 * writer.
 */
import type { QueuedEvent } from "../../core/events";
import { type CartTimes, LATE_AFTER_SECONDS, MAX_AFTER_MINUTES, STALE_AFTER_SECONDS } from "../../core/triggers";
import { keepNewest } from "./sql-tables";
import { BEGUN_KEPT_S } from "./trigger-table";

export const CART_ITEMS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS cart_items (
     user TEXT NOT NULL, item TEXT NOT NULL, added INTEGER, removed INTEGER, ts INTEGER NOT NULL,
     PRIMARY KEY (user, item)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS cart_items_by_ts ON cart_items (ts)",
];

/** Items kept per reader (their latest): a delivery names 10 (MAX_TRIGGER_ITEMS). */
export const MAX_CART_ITEMS_PER_READER = 50;

/**
 * How long an item's times are kept after the later of them: the longest a cart add can wait for its delivery
 * (MAX_AFTER_MINUTES, and STALE_AFTER_SECONDS for one arriving late), then the longest a delivery can stay
 * pending (its first call up to LATE_AFTER_SECONDS late, then BEGUN_KEPT_S), with a day to spare: about 16 days.
 */
export const CART_ITEMS_KEPT_S =
  MAX_AFTER_MINUTES * 60 + STALE_AFTER_SECONDS + LATE_AFTER_SECONDS + BEGUN_KEPT_S + 86_400;

/**
 * Records the reader's newly applied cart adds and removes (inside the shard's transaction, any order): each
 * keeps the latest of its kind per item; those older than CART_ITEMS_KEPT_S are not kept. Returns when the
 * earliest row written expires (ms; the shard's alarm prunes then), or null when none was written.
 */
export function recordCartItems(
  sql: SqlStorage,
  user: string,
  events: readonly QueuedEvent[],
  nowS: number,
): number | null {
  const latest = new Map<string, CartTimes>();
  for (const e of events) {
    if ((e.type !== "cart_add" && e.type !== "cart_remove") || e.item === undefined) continue;
    if (e.ts < nowS - CART_ITEMS_KEPT_S) continue;
    const times = latest.get(e.item) ?? {};
    const kind = e.type === "cart_add" ? "added" : "removed";
    times[kind] = Math.max(times[kind] ?? Number.NEGATIVE_INFINITY, e.ts);
    latest.set(e.item, times);
  }
  if (latest.size === 0) return null;
  let earliest = Number.POSITIVE_INFINITY;
  for (const [item, { added, removed }] of latest) {
    const ts = Math.max(added ?? Number.NEGATIVE_INFINITY, removed ?? Number.NEGATIVE_INFINITY);
    sql.exec(
      `INSERT INTO cart_items (user, item, added, removed, ts) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (user, item) DO UPDATE SET added = coalesce(max(added, excluded.added), added, excluded.added),
         removed = coalesce(max(removed, excluded.removed), removed, excluded.removed), ts = max(ts, excluded.ts)`,
      user,
      item,
      added ?? null,
      removed ?? null,
      ts,
    );
    earliest = Math.min(earliest, ts);
  }
  keepNewest(sql, "cart_items", "item", user, MAX_CART_ITEMS_PER_READER);
  return (earliest + CART_ITEMS_KEPT_S) * 1000;
}

/** What the shard knows of the reader's cart items (those not expired), by item. */
export function cartTimesOf(sql: SqlStorage, user: string, nowS: number): Map<string, CartTimes> {
  const rows = sql
    .exec<{ item: string; added: number | null; removed: number | null }>(
      "SELECT item, added, removed FROM cart_items WHERE user = ? AND ts >= ?",
      user,
      nowS - CART_ITEMS_KEPT_S,
    )
    .toArray();
  return new Map(
    rows.map((r) => [
      r.item,
      { ...(r.added !== null && { added: r.added }), ...(r.removed !== null && { removed: r.removed }) },
    ]),
  );
}

/** Deletes every row past CART_ITEMS_KEPT_S (the shard's alarm). */
export function pruneCartItems(sql: SqlStorage, nowS: number): number {
  return sql.exec("DELETE FROM cart_items WHERE ts < ?", nowS - CART_ITEMS_KEPT_S).rowsWritten;
}

/** When the oldest row expires (ms), or null without rows: the shard's alarm prunes an hour later. */
export function nextCartItemExpiry(sql: SqlStorage): number | null {
  const oldest = sql.exec<{ ts: number | null }>("SELECT min(ts) AS ts FROM cart_items").one().ts;
  return oldest === null ? null : (oldest + CART_ITEMS_KEPT_S) * 1000;
}

/** A reader's cart items, latest first (right of access). */
export function cartItemsOf(
  sql: SqlStorage,
  user: string,
): { item: string; added: number | null; removed: number | null }[] {
  return sql
    .exec<{ item: string; added: number | null; removed: number | null }>(
      "SELECT item, added, removed FROM cart_items WHERE user = ? ORDER BY ts DESC, item",
      user,
    )
    .toArray();
}

export function deleteCartItems(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM cart_items WHERE user = ?", user).rowsWritten;
}
