/**
 * The reader shard's `applied` table: the id of every event applied, per reader (primary key (user, id)), which
 * makes applying exact: a redelivered or replayed event is a duplicate, whenever it comes. Kept for good, with
 * one exception: the pixel's ids (`pixel:`, core/events.ts), which anyone holding an email can mint, up to the
 * pixel's rate limit (20 a minute per token), for the token's life. Those expire PIXEL_IDS_KEPT_MS after they
 * were applied (past any redelivery: a queue message lives at most 14 days, its dead letter 14 more) and a
 * reader keeps their newest MAX_PIXEL_IDS_PER_READER of them; the shard's alarm is set for an hour after the
 * oldest expires (PRUNE_SLACK_MS) and deletes what has. Synchronous SQL on the shard's storage, inside its
 * transaction; the shard is the only writer.
 */
import { isPixelId } from "../../core/events";

export const APPLIED_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS applied (
     user TEXT NOT NULL, id TEXT NOT NULL, expires INTEGER,
     PRIMARY KEY (user, id)) WITHOUT ROWID`,
];

/** How long a pixel's id is kept after it was applied (ms). */
export const PIXEL_IDS_KEPT_MS = 30 * 86_400_000;
/** Pixel ids kept per reader (their newest): a held email at the pixel's rate limit fills it in under an hour. */
export const MAX_PIXEL_IDS_PER_READER = 1_000;

/**
 * Brings a table of an earlier version (no `expires`: every id kept for good, as they stay) to this one, and
 * indexes the expiring ids (by reader, for the cap; by time, for the alarm).
 */
export function migrateAppliedTable(sql: SqlStorage): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('applied')").toArray();
  if (!columns.some((c) => c.name === "expires")) sql.exec("ALTER TABLE applied ADD COLUMN expires INTEGER");
  sql.exec("CREATE INDEX IF NOT EXISTS applied_expiring ON applied (user, expires) WHERE expires IS NOT NULL");
  sql.exec("CREATE INDEX IF NOT EXISTS applied_by_expiry ON applied (expires) WHERE expires IS NOT NULL");
}

/** Records the id as applied; true when it was not (a repeat, or an id recorded before, writes nothing). */
export function recordApplied(sql: SqlStorage, user: string, id: string, nowMs: number): boolean {
  const expires = isPixelId(id) ? nowMs + PIXEL_IDS_KEPT_MS : null;
  return (
    sql.exec("INSERT OR IGNORE INTO applied (user, id, expires) VALUES (?, ?, ?)", user, id, expires).rowsWritten > 0
  );
}

/** Forgets the id: an event not applied after all (refused, rejected, a scanner's click undone). */
export function forgetApplied(sql: SqlStorage, user: string, id: string): void {
  sql.exec("DELETE FROM applied WHERE user = ? AND id = ?", user, id);
}

export function wasApplied(sql: SqlStorage, user: string, id: string): boolean {
  return sql.exec("SELECT 1 FROM applied WHERE user = ? AND id = ?", user, id).toArray().length > 0;
}

/**
 * Keeps the reader's newest MAX_PIXEL_IDS_PER_READER pixel ids. A count over their pixel ids first (an index
 * range): the common case deletes nothing.
 */
export function trimPixelIds(sql: SqlStorage, user: string): void {
  const held = sql
    .exec<{ n: number }>("SELECT count(*) AS n FROM applied WHERE user = ? AND expires IS NOT NULL", user)
    .one().n;
  if (held <= MAX_PIXEL_IDS_PER_READER) return;
  sql.exec(
    `DELETE FROM applied WHERE user = ? AND expires IS NOT NULL AND id NOT IN (
       SELECT id FROM applied WHERE user = ? AND expires IS NOT NULL
       ORDER BY expires DESC, id LIMIT ${MAX_PIXEL_IDS_PER_READER})`,
    user,
    user,
  );
}

/** The reader's applied ids, the first `limit` in id order, and how many they are. */
export function appliedOf(sql: SqlStorage, user: string, limit: number): { ids: string[]; count: number } {
  return {
    ids: sql
      .exec<{ id: string }>("SELECT id FROM applied WHERE user = ? ORDER BY id LIMIT ?", user, Math.max(1, limit))
      .toArray()
      .map((r) => r.id),
    count: sql.exec<{ n: number }>("SELECT count(*) AS n FROM applied WHERE user = ?", user).one().n,
  };
}

/** Deletes the reader's ids (erasure); the rows deleted. */
export function deleteApplied(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM applied WHERE user = ?", user).rowsWritten;
}

/** Deletes the expired pixel ids (the shard's alarm). */
export function pruneAppliedIds(sql: SqlStorage, nowMs: number): void {
  sql.exec("DELETE FROM applied WHERE expires IS NOT NULL AND expires <= ?", nowMs);
}

/** When the oldest pixel id expires (ms), or null when none is held. */
export function nextAppliedExpiry(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(expires) AS at FROM applied WHERE expires IS NOT NULL").one().at;
}
