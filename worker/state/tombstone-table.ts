/**
 * The reader shard's erasure tombstones (`tombstones`, by erasure hash, never the id: core/erasure-key.ts) and a
 * reader's return. A tombstone stands until `until` (ERASURE_TOMBSTONE_DAYS after the erasure, longer than any
 * token) and drops the reader's events, which then record nothing. A reader who comes back and consents again, a
 * consent change that turns personalization or tracking on timed after the erasure (`erased_at`), has `returned_at`
 * set to that change's time: from it on the reader is recorded again, while their events timed before it (late ones
 * from before the erasure, or made while it stood) are still dropped until the tombstone ends. The shard is the one
 * writer, in the transactions that erase and that apply the return.
 */
import { isEmailPreferencesId, type QueuedEvent } from "../../core/events";

export const TOMBSTONES_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS tombstones (hash TEXT PRIMARY KEY, until INTEGER NOT NULL, erased_at INTEGER, returned_at INTEGER)",
];

/**
 * Adds `erased_at` and `returned_at` to a table made before them. Its tombstones take the time of the upgrade as
 * their erasure's: later than the erasure itself, so no consent change made before the upgrade reads as a return.
 */
export function migrateTombstones(sql: SqlStorage, nowMs: number): void {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('tombstones')").toArray();
  if (!columns.some((c) => c.name === "erased_at")) {
    sql.exec("ALTER TABLE tombstones ADD COLUMN erased_at INTEGER");
    sql.exec("UPDATE tombstones SET erased_at = ?", nowMs);
  }
  if (!columns.some((c) => c.name === "returned_at")) sql.exec("ALTER TABLE tombstones ADD COLUMN returned_at INTEGER");
}

/** A tombstone that stands: until when (ms), when the reader was erased, and when they came back (or null). */
export interface Tombstone {
  until: number;
  erasedAt: number;
  returnedAt: number | null;
}

export function tombstoneOf(sql: SqlStorage, hash: string, nowMs: number): Tombstone | null {
  const row = sql
    .exec<{ until: number; erased_at: number | null; returned_at: number | null }>(
      "SELECT until, erased_at, returned_at FROM tombstones WHERE hash = ? AND until > ?",
      hash,
      nowMs,
    )
    .toArray()[0];
  return row ? { until: row.until, erasedAt: row.erased_at ?? nowMs, returnedAt: row.returned_at } : null;
}

/** An erasure: the tombstone stands until `untilMs` at least, erased now; a return before it no longer counts. */
export function writeErasure(sql: SqlStorage, hash: string, untilMs: number, nowMs: number): void {
  sql.exec(
    `INSERT INTO tombstones (hash, until, erased_at, returned_at) VALUES (?, ?, ?, NULL)
     ON CONFLICT (hash) DO UPDATE SET until = max(until, excluded.until), erased_at = excluded.erased_at, returned_at = NULL`,
    hash,
    untilMs,
    nowMs,
  );
}

/**
 * A tombstone the shard learns of now (the edge's, written before it held one): it counts from now, as far as a
 * return goes; one it holds keeps its times.
 */
export function learnTombstone(sql: SqlStorage, hash: string, untilMs: number, nowMs: number): void {
  sql.exec(
    "INSERT INTO tombstones (hash, until, erased_at) VALUES (?, ?, ?) ON CONFLICT (hash) DO UPDATE SET until = max(until, excluded.until)",
    hash,
    untilMs,
    nowMs,
  );
}

export function markReturned(sql: SqlStorage, hash: string, atMs: number): void {
  sql.exec("UPDATE tombstones SET returned_at = ? WHERE hash = ?", atMs, hash);
}

/** A return as the reader's row keeps it: when they came back, and until when their tombstone stands (ms). */
export interface ReturnMark {
  at: number;
  until: number;
}

/** The return a standing tombstone records, or null. */
export function returnMarkOf(stone: Tombstone | null): ReturnMark | null {
  return stone?.returnedAt == null ? null : { at: stone.returnedAt, until: stone.until };
}

/** From when the reader's events are recorded (ms), or null: no return, or its tombstone has ended (all are). */
export function recordedSince(mark: ReturnMark | null, nowMs: number): number | null {
  return mark !== null && mark.until > nowMs ? mark.at : null;
}

/** The columns of `readers` that keep a return (ReaderShard's schema creates them; migrateReaderReturns adds them). */
export const RETURN_COLUMNS = "returned_at INTEGER, returned_until INTEGER";
/** Finds the returns the alarm clears once their tombstone has ended. */
const RETURN_INDEX =
  "CREATE INDEX IF NOT EXISTS readers_returned ON readers (returned_until) WHERE returned_until IS NOT NULL";

/** Whether `readers` has the return columns; creates their index when it has. */
export function hasReturnColumns(sql: SqlStorage): boolean {
  const columns = sql.exec<{ name: string }>("SELECT name FROM pragma_table_info('readers')").toArray();
  const has = columns.some((c) => c.name === "returned_until");
  if (has) sql.exec(RETURN_INDEX);
  return has;
}

/** How many readers' ids migrateReaderReturns reads and hashes at a time. */
export const MIGRATE_BATCH = 500;

/**
 * Adds the return columns to a `readers` table made before them, and copies onto each row the return its
 * standing tombstone records. Rows name readers and tombstones hash them, so while any such tombstone stands the
 * rows' ids are hashed (`hash`: core/erasure-key.ts) MIGRATE_BATCH at a time, in id order, until every one of those
 * tombstones (few: returns after an erasure) has found its reader, or the rows end: bounded memory, and a shard of
 * many readers hashes only as far as its returned readers' rows. The columns are added with the copies in one
 * transaction, so a start cut short does it all again. The caller blocks other calls meanwhile (blockConcurrencyWhile).
 */
export async function migrateReaderReturns(
  storage: DurableObjectStorage,
  nowMs: number,
  hash: (user: string) => Promise<string>,
): Promise<void> {
  const sql = storage.sql;
  if (hasReturnColumns(sql)) return;
  const stones = new Map(
    sql
      .exec<{ hash: string; until: number; returned_at: number }>(
        "SELECT hash, until, returned_at FROM tombstones WHERE returned_at IS NOT NULL AND until > ?",
        nowMs,
      )
      .toArray()
      .map((r) => [r.hash, { at: r.returned_at, until: r.until }]),
  );
  /** the rows whose reader a standing returned tombstone names, with its return */
  const marks = new Map<string, ReturnMark>();
  const found = new Set<string>();
  let after: string | null = null;
  while (found.size < stones.size) {
    const users = sql
      .exec<{ user: string }>(
        "SELECT user FROM readers WHERE ? IS NULL OR user > ? ORDER BY user LIMIT ?",
        after,
        after,
        MIGRATE_BATCH,
      )
      .toArray()
      .map((r) => r.user);
    if (users.length === 0) break;
    const hashes = await Promise.all(users.map(hash));
    users.forEach((user, i) => {
      const h = hashes[i] as string;
      const mark = stones.get(h);
      if (!mark) return;
      marks.set(user, mark);
      found.add(h);
    });
    after = users[users.length - 1] as string;
  }
  storage.transactionSync(() => {
    if (hasReturnColumns(sql)) return;
    for (const column of RETURN_COLUMNS.split(", ")) sql.exec(`ALTER TABLE readers ADD COLUMN ${column}`);
    for (const [user, mark] of marks)
      sql.exec("UPDATE readers SET returned_at = ?, returned_until = ? WHERE user = ?", mark.at, mark.until, user);
    sql.exec(RETURN_INDEX);
  });
}

/** Clears the returns whose tombstone has ended (the alarm, with the tombstones): their events are all recorded. */
export function clearEndedReturns(sql: SqlStorage, nowMs: number): void {
  sql.exec("UPDATE readers SET returned_at = NULL, returned_until = NULL WHERE returned_until <= ?", nowMs);
}

/**
 * When the reader came back, of `events` (ms), or null: the earliest consent change that turns personalization or
 * tracking on, timed after the erasure. Another event (an open of an email sent before, a purchase) is no consent.
 */
export function returnOf(events: readonly QueuedEvent[], erasedAtMs: number): number | null {
  let at: number | null = null;
  for (const e of events)
    if (turnsOn(e) && e.ts * 1000 > erasedAtMs && (at === null || e.ts * 1000 < at)) at = e.ts * 1000;
  return at;
}

/**
 * Whether the event is a consent change that turns personalization or tracking on: a return, if timed after an
 * erasure. Not one made with an email's preferences form: whoever holds the email (a forward) could make it, and
 * undo an erasure without the person who asked for it (core/events.ts isEmailPreferencesId).
 */
export function turnsOn(e: QueuedEvent): boolean {
  return (
    e.type === "consent" &&
    (e.consent?.personalization === true || e.consent?.tracking === true) &&
    !isEmailPreferencesId(e.id)
  );
}
