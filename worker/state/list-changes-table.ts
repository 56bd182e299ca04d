/**
 * The reader shard's list changes (`list_changes`): for each reader whose `unsubscribed`, `pausedUntil` or
 * `frequency` ever changed, one row with the values now and when the shard applied the latest change, for the
 * shop's list to follow (GET /v1/admin/suppressions: worker/suppressions/list-changes.ts). Written in the
 * transaction that applies the change, whatever took it (the email's form, its one-click link, the consent API),
 * so no change is applied without its row. Each change takes the shard's next sequence number (`list_changes_seq`,
 * never reused, not even after an erasure deletes the row that held the highest): a reader who follows the shard
 * past a number sees every later change, in order, without relying on clocks. A suppression kept alone (suppression-
 * only.ts) also keeps when its unsubscribe was made (`unsubscribed_at`). Erasure deletes the reader's row. A
 * shard created before this table records, when it first creates it, the readers it holds who are unsubscribed,
 * paused or chose a frequency, so the shop's first read has them; one whose table predates `frequency` records,
 * when it adds the column, the readers who chose one (with new numbers: a kept cursor reads them as changes).
 * Synchronous SQL on the shard's storage; the shard is the only writer.
 */
import type { Consent } from "../../core/profile";
import { FREQUENCY_DAYS } from "../../core/triggers";

const FREQUENCIES = Object.keys(FREQUENCY_DAYS) as NonNullable<Consent["frequency"]>[];
/** What the shop's list follows of a reader's consent. */
type ListState = Pick<Consent, "unsubscribed" | "pausedUntil" | "frequency">;

const TABLE = `CREATE TABLE IF NOT EXISTS list_changes (
   user TEXT PRIMARY KEY,
   unsubscribed INTEGER NOT NULL,
   paused_until INTEGER,
   frequency TEXT,
   changed_at INTEGER NOT NULL,
   seq INTEGER NOT NULL UNIQUE,
   unsubscribed_at INTEGER) WITHOUT ROWID`;
const COUNTER =
  "CREATE TABLE IF NOT EXISTS list_changes_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL)";

/** One reader's row: their list state now, and the change that set it. */
export interface ListChange {
  user: string;
  unsubscribed: boolean;
  /** unix s until which they paused emails, or null */
  pausedUntil: number | null;
  /** their frequency preference, or null (none) */
  frequency: Consent["frequency"];
  /** when the shard applied the change (ms) */
  changedAt: number;
  /** the shard's sequence number of the change */
  seq: number;
  /**
   * for a suppression kept alone (suppression-only.ts): when the latest unsubscribe it keeps was made (its event's
   * time, unix s), which a profile made later takes it up as of; null for another row, or one kept before it was
   */
  unsubscribedAt: number | null;
}

interface ListChangeRow extends Record<string, SqlStorageValue> {
  user: string;
  unsubscribed: number;
  paused_until: number | null;
  frequency: string | null;
  changed_at: number;
  seq: number;
  unsubscribed_at: number | null;
}

const columns =
  "SELECT user, unsubscribed, paused_until, frequency, changed_at, seq, unsubscribed_at FROM list_changes";

function fromRow(r: ListChangeRow): ListChange {
  return {
    user: r.user,
    unsubscribed: r.unsubscribed === 1,
    pausedUntil: r.paused_until,
    frequency: FREQUENCIES.find((f) => f === r.frequency) ?? null,
    changedAt: r.changed_at,
    seq: r.seq,
    unsubscribedAt: r.unsubscribed_at,
  };
}

/**
 * Creates the tables (after `readers`); when the shard had none, records the readers it holds who are unsubscribed,
 * paused or chose a frequency now, at `nowMs`; when its table predates `frequency`, adds the column and records the
 * readers who chose one (listed again, with their state now).
 */
export function createListChanges(sql: SqlStorage, nowMs: number): void {
  const existed =
    sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'list_changes'").toArray().length > 0;
  sql.exec(TABLE);
  sql.exec(COUNTER);
  if (existed) {
    const has = (column: string) =>
      sql.exec("SELECT 1 FROM pragma_table_info('list_changes') WHERE name = ?", column).toArray().length > 0;
    // its suppressions kept alone are taken up as of when they were kept, as before (suppression-only.ts)
    if (!has("unsubscribed_at")) sql.exec("ALTER TABLE list_changes ADD COLUMN unsubscribed_at INTEGER");
    if (has("frequency")) return;
    sql.exec("ALTER TABLE list_changes ADD COLUMN frequency TEXT");
    backfill(sql, nowMs, "json_extract(profile, '$.consent.frequency') IS NOT NULL");
    return;
  }
  backfill(
    sql,
    nowMs,
    `json_extract(profile, '$.consent.unsubscribed') = 1
     OR json_extract(profile, '$.consent.pausedUntil') > ?
     OR json_extract(profile, '$.consent.frequency') IS NOT NULL`,
    Math.floor(nowMs / 1000),
  );
}

/**
 * Records, at `nowMs`, the readers held whose profile matches `where` (with its `params`), each with the shard's
 * next numbers; the counter then stands at the highest number held, so the next change never takes one of theirs.
 */
function backfill(sql: SqlStorage, nowMs: number, where: string, ...params: SqlStorageValue[]): void {
  const last = lastListSeq(sql);
  const written = sql.exec(
    `INSERT INTO list_changes (user, unsubscribed, paused_until, frequency, changed_at, seq)
     SELECT user, coalesce(json_extract(profile, '$.consent.unsubscribed'), 0) = 1,
            json_extract(profile, '$.consent.pausedUntil'),
            CASE WHEN json_extract(profile, '$.consent.frequency') IN ('daily', 'weekly', 'monthly')
                 THEN json_extract(profile, '$.consent.frequency') END,
            ?, ? + row_number() OVER (ORDER BY user)
     FROM readers
     WHERE json_valid(profile) AND (${where})
     ON CONFLICT (user) DO UPDATE SET unsubscribed = excluded.unsubscribed, paused_until = excluded.paused_until,
       frequency = excluded.frequency, changed_at = excluded.changed_at, seq = excluded.seq`,
    nowMs,
    last,
    ...params,
  ).rowsWritten;
  if (written > 0)
    sql.exec(
      "INSERT OR REPLACE INTO list_changes_seq (id, seq) VALUES (0, max(?, (SELECT coalesce(max(seq), 0) FROM list_changes)))",
      last,
    );
}

/**
 * Records the reader's change when applying their events changed `unsubscribed`, `pausedUntil` or `frequency`
 * (inside the caller's transaction); a change that sets what was already set (a second click) records nothing.
 */
export function recordListChange(
  sql: SqlStorage,
  user: string,
  before: ListState,
  after: ListState,
  nowMs: number,
): boolean {
  if (
    before.unsubscribed === after.unsubscribed &&
    before.pausedUntil === after.pausedUntil &&
    before.frequency === after.frequency
  )
    return false;
  const seq = sql
    .exec<{ seq: number }>(
      "INSERT INTO list_changes_seq (id, seq) VALUES (0, 1) ON CONFLICT (id) DO UPDATE SET seq = seq + 1 RETURNING seq",
    )
    .one().seq;
  sql.exec(
    `INSERT INTO list_changes (user, unsubscribed, paused_until, frequency, changed_at, seq) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (user) DO UPDATE SET unsubscribed = excluded.unsubscribed, paused_until = excluded.paused_until,
       frequency = excluded.frequency, changed_at = excluded.changed_at, seq = excluded.seq`,
    user,
    after.unsubscribed ? 1 : 0,
    after.pausedUntil,
    after.frequency,
    nowMs,
    seq,
  );
  return true;
}

/**
 * Changes after sequence number `after`, in order, at most `limit`: those numbered up to `floor` (the shard's last
 * when the read began) only when applied at `sinceMs` or later; every later one whatever its time.
 */
function listChangesAfter(sql: SqlStorage, after: number, floor: number, sinceMs: number, limit: number): ListChange[] {
  return sql
    .exec<ListChangeRow>(
      `${columns} WHERE seq > ? AND (seq > ? OR changed_at >= ?) ORDER BY seq LIMIT ?`,
      after,
      floor,
      sinceMs,
      Math.max(1, Math.floor(limit)),
    )
    .toArray()
    .map(fromRow);
}

/**
 * A page of changes after sequence number `after`, in order, at most `limit` (0: none, only `last`): those
 * numbered up to `floor` (the shard's last when the read began) only when applied at `sinceMs` or later, so that
 * `since` picks where a read starts and never hides a change made after it began (whatever the clocks); with the
 * number to continue after: the page's last when it is full, else the shard's last (every change up to it was on
 * the page or was left out by `since`; a reader changed again gets a higher one), so a shard read to its end is
 * never searched again from the start; and the shard's last number (`last`: a cursor past it is not this shard's).
 */
export function listChangesPage(
  sql: SqlStorage,
  after: number,
  floor: number,
  sinceMs: number,
  limit: number,
): { changes: ListChange[]; next: number; last: number } {
  const last = lastListSeq(sql);
  if (after > last || limit < 1) return { changes: [], next: after, last };
  const changes = listChangesAfter(sql, after, floor, sinceMs, limit);
  const end = changes.at(-1);
  return { changes, next: changes.length >= limit && end ? end.seq : Math.max(after, last), last };
}

/** The shard's last sequence number (0: no change recorded yet). */
export function lastListSeq(sql: SqlStorage): number {
  return sql.exec<{ seq: number }>("SELECT seq FROM list_changes_seq WHERE id = 0").toArray()[0]?.seq ?? 0;
}

/** The reader's row, or null (right of access). */
export function listChangeOf(sql: SqlStorage, user: string): ListChange | null {
  const row = sql.exec<ListChangeRow>(`${columns} WHERE user = ?`, user).toArray()[0];
  return row ? fromRow(row) : null;
}

/** Erasure: the reader's row goes (inside the caller's transaction); the rows deleted. */
export function deleteListChange(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM list_changes WHERE user = ?", user).rowsWritten;
}
