/**
 * The reader shard's outbox to the experiment store (worker/experiments/experiment-db.ts): the rows its
 * events make (exposures, attributed clicks and purchases: core/experiments/exposure.ts) and its erasures,
 * written in the transaction that applied them, then sent to D1 in order and deleted once D1 has them. A
 * failed send keeps them for the shard's alarm to send again; D1 ignores rows it already holds, so sending
 * twice counts once. Only the shard that owns the readers writes here.
 */
import type { StoreRow } from "../experiments/experiment-db";

export const OUTBOX_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS experiment_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, row TEXT NOT NULL)",
];

/** Rows sent to D1 per call (a few D1 statements). */
export const OUTBOX_BATCH = 400;
/** A failed send is tried again this much later. */
export const OUTBOX_RETRY_MS = 10_000;

/** Inside the caller's transaction. */
export function queueRows(sql: SqlStorage, rows: readonly StoreRow[]): void {
  for (const row of rows) sql.exec("INSERT INTO experiment_outbox (row) VALUES (?)", JSON.stringify(row));
}

/** The erasure of a reader (inside the caller's transaction): their rows not sent yet go, then D1's. */
export function queueForget(sql: SqlStorage, user: string): void {
  // a row JSON names its user as `"user":"<id>"`; JSON.stringify gives the same text for the same id
  sql.exec("DELETE FROM experiment_outbox WHERE instr(row, ?) > 0", `"user":${JSON.stringify(user)}`);
  queueRows(sql, [{ kind: "forget", user }]);
}

export function pendingRows(sql: SqlStorage, limit = OUTBOX_BATCH): { last: number; rows: StoreRow[] } | null {
  const found = sql
    .exec<{ seq: number; row: string }>("SELECT seq, row FROM experiment_outbox ORDER BY seq LIMIT ?", limit)
    .toArray();
  if (found.length === 0) return null;
  return { last: (found.at(-1) as { seq: number }).seq, rows: found.map((r) => JSON.parse(r.row) as StoreRow) };
}

export function sentUpTo(sql: SqlStorage, last: number): void {
  sql.exec("DELETE FROM experiment_outbox WHERE seq <= ?", last);
}

export function hasPending(sql: SqlStorage): boolean {
  return sql.exec("SELECT 1 FROM experiment_outbox LIMIT 1").toArray().length > 0;
}
