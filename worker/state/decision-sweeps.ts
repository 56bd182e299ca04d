/**
 * Late sweeps of a reader's stored decisions (`decision:<user>:…` in KV) after they were erased or turned
 * tracking off (and, for an erased reader, of their model features: `npm run seed` may write them just after
 * the erasure's deletion, or a listing miss them). The first deletion (the erasure's, the consumer's) can miss
 * decisions written just after it: an open still running, or one at a location whose KV still serves the old
 * snapshot or no tombstone (up to 60 s), stores its decision after the deletion, and a KV listing may not show
 * a key written seconds before. Once the tombstone and the snapshot have reached every location, no open stores
 * one again, so the shard sweeps the reader's decisions twice more (SWEEP_AFTER_MS after the change) and then
 * forgets them: a reader's id is kept here 15 minutes (longer only while KV fails). A tracking-off sweep is
 * dropped if the reader has turned tracking on again meanwhile, and a round counts only once the opt-out's
 * snapshot is in KV (until then opens may store more).
 * Synchronous SQL on the shard's storage, in the transaction that erased or applied the opt-out; the shard's
 * alarm runs them (a failed sweep, or one run before that snapshot, is tried again a minute later).
 */

export const SWEEPS_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS decision_sweeps (user TEXT PRIMARY KEY, at INTEGER NOT NULL, round INTEGER NOT NULL) WITHOUT ROWID",
];

/** When each sweep runs after the change (ms): past KV's propagation, then past its listing's lag. */
export const SWEEP_AFTER_MS = [2 * 60_000, 15 * 60_000] as const;
/** A sweep that failed (KV) is tried again this much later. */
export const SWEEP_RETRY_MS = 60_000;

/** Queues the reader's sweeps from `now` (a later change starts them again). */
export function queueSweeps(sql: SqlStorage, user: string, now: number): void {
  sql.exec(
    "INSERT INTO decision_sweeps (user, at, round) VALUES (?, ?, 0) ON CONFLICT (user) DO UPDATE SET at = excluded.at, round = 0",
    user,
    now + SWEEP_AFTER_MS[0],
  );
}

/** A due sweep, as read: its round and time tell it from one queued again while it ran. */
export interface DueSweep extends Record<string, SqlStorageValue> {
  user: string;
  round: number;
  at: number;
}

/** The sweeps due at `now`, at most `limit`. */
export function dueSweeps(sql: SqlStorage, now: number, limit: number): DueSweep[] {
  return sql
    .exec<DueSweep>("SELECT user, round, at FROM decision_sweeps WHERE at <= ? ORDER BY at LIMIT ?", now, limit)
    .toArray();
}

/**
 * Records a sweep's end: done (the next round is queued, relative to when the change was made, or the reader's id
 * is forgotten after the last), or failed (tried again later). A sweep queued again while this one ran (a new
 * change: round 0, a later time) is left as it is.
 */
export function sweepDone(sql: SqlStorage, sweep: DueSweep, ok: boolean, now: number): void {
  const { user, round, at } = sweep;
  const same = "WHERE user = ? AND round = ? AND at = ?";
  if (!ok) {
    sql.exec(`UPDATE decision_sweeps SET at = ? ${same}`, now + SWEEP_RETRY_MS, user, round, at);
    return;
  }
  const next = SWEEP_AFTER_MS[round + 1];
  if (next === undefined) sql.exec(`DELETE FROM decision_sweeps ${same}`, user, round, at);
  else
    sql.exec(
      `UPDATE decision_sweeps SET at = ?, round = ? ${same}`,
      now + next - (SWEEP_AFTER_MS[round] as number),
      round + 1,
      user,
      round,
      at,
    );
}

/**
 * Drops the sweep as read (its round and time): the reader turned tracking on again. One queued again while it ran
 * (an erasure or opt-out during the run's awaits) is another, and stays.
 */
export function dropSweep(sql: SqlStorage, sweep: DueSweep): void {
  sql.exec("DELETE FROM decision_sweeps WHERE user = ? AND round = ? AND at = ?", sweep.user, sweep.round, sweep.at);
}

/** When the next sweep is due (ms), or null. */
export function nextSweep(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(at) AS at FROM decision_sweeps").one().at;
}
