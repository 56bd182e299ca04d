/**
 * The reader shard's parked dead letters (`parked`): events the dead-letter consumer could not have applied
 * (worker/events/dead-letters.ts, ReaderShard.park), one row per reader and event id, kept for an operator
 * (GET /v1/admin/dead-letters lists them; replay applies them through the shard's apply path, delete drops
 * them) until the reader is erased. Tracking turned off deletes the reader's parked events but their consent
 * changes (park() keeps consent changes whatever the consent), in the transaction that applies the opt-out,
 * with their views and recent outcomes (ReaderShard.apply). Listed in key order
 * (reader, id), a page at a time. Synchronous SQL on the shard's storage; the shard is the only writer.
 */
import type { QueuedEvent } from "../../core/events";

export const PARKED_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS parked (
     user TEXT NOT NULL, id TEXT NOT NULL, event TEXT NOT NULL, parked_at INTEGER NOT NULL,
     PRIMARY KEY (user, id)) WITHOUT ROWID`,
];

/** Tracking turned off: the reader's parked events go, but their consent changes (park() keeps those). */
export function deleteParkedOnOptOut(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM parked WHERE user = ? AND json_extract(event, '$.type') IS NOT 'consent'", user)
    .rowsWritten;
}

/** Which parked events: one reader's (some of their ids, or all), or the shard's; after a key, a page at a time. */
export interface ParkedQuery {
  user?: string;
  /** with `user` only: these event ids (ids are unique per reader) */
  ids?: readonly string[];
  /** the last key of the previous page */
  after?: ParkedKey;
  limit: number;
}

export interface ParkedKey {
  user: string;
  id: string;
}

export interface ParkedEntry extends ParkedKey {
  /** when it was parked (ms) */
  parkedAt: number;
  event: QueuedEvent;
}

interface ParkedRow extends Record<string, SqlStorageValue> {
  user: string;
  id: string;
  event: string;
  parked_at: number;
}

/** A page of parked events in key order; `next` is the key to continue after (null: the last page). */
export function parkedPage(sql: SqlStorage, q: ParkedQuery): { entries: ParkedEntry[]; next: ParkedKey | null } {
  const limit = Math.max(1, Math.floor(q.limit));
  const after = q.after ?? { user: "", id: "" };
  const columns = "SELECT user, id, event, parked_at FROM parked";
  const rows =
    q.user === undefined
      ? sql.exec<ParkedRow>(
          `${columns} WHERE (user, id) > (?, ?) ORDER BY user, id LIMIT ?`,
          after.user,
          after.id,
          limit,
        )
      : q.ids
        ? sql.exec<ParkedRow>(
            `${columns} WHERE user = ? AND id IN (SELECT value FROM json_each(?)) AND id > ? ORDER BY id LIMIT ?`,
            q.user,
            JSON.stringify(q.ids),
            q.user === after.user ? after.id : "",
            limit,
          )
        : sql.exec<ParkedRow>(
            `${columns} WHERE user = ? AND id > ? ORDER BY id LIMIT ?`,
            q.user,
            q.user === after.user ? after.id : "",
            limit,
          );
  const entries = rows.toArray().map((r) => ({
    user: r.user,
    id: r.id,
    parkedAt: r.parked_at,
    event: JSON.parse(r.event) as QueuedEvent,
  }));
  const last = entries[entries.length - 1];
  return { entries, next: entries.length === limit && last ? { user: last.user, id: last.id } : null };
}

/** How many events are parked: the reader's, or the shard's. */
export function countParked(sql: SqlStorage, user?: string): number {
  return user === undefined
    ? sql.exec<{ n: number }>("SELECT count(*) AS n FROM parked").one().n
    : sql.exec<{ n: number }>("SELECT count(*) AS n FROM parked WHERE user = ?", user).one().n;
}

/** Deletes these parked events; how many were there. */
export function removeParked(sql: SqlStorage, keys: readonly ParkedKey[]): number {
  let rows = 0;
  for (const k of keys) rows += sql.exec("DELETE FROM parked WHERE user = ? AND id = ?", k.user, k.id).rowsWritten;
  return rows;
}
