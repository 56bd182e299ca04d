/**
 * The catalog writer's stamps (worker/state/catalog-writer.ts): per item and live field, the `at` of the last timed
 * change applied to it (core/catalog-order.ts), in the writer's own storage, never in the overlay published to KV
 * (every open reads that whole). Bounded twice, each time a PATCH writes stamps (in its transaction): a stamp older
 * than STAMP_HORIZON_MS is dropped (no `at` that old is taken), and past MAX_STAMPS the oldest are dropped and the
 * newest of those becomes the floor (`meta.stamp_floor`) below which no timed change is taken, so a dropped stamp
 * never lets an older change through. Their number is kept in `meta.stamp_count`, so that no PATCH reads the whole
 * table. Synchronous SQL on the writer's storage, inside the PATCH's transaction.
 */
import { MAX_STAMPS, STAMP_HORIZON_MS, type Stamp } from "../../core/catalog-order";
import { readMeta, writeMeta } from "./sql-tables";

export const STAMPS_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS stamps (id TEXT NOT NULL, field TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (id, field)) WITHOUT ROWID",
  "CREATE INDEX IF NOT EXISTS stamps_at ON stamps (at)",
];

/** One item's stamps, by field. */
export function readStamps(sql: SqlStorage, id: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const row of sql.exec<{ field: string; at: number }>("SELECT field, at FROM stamps WHERE id = ?", id)) {
    out.set(row.field, row.at);
  }
  return out;
}

/** No timed change older than this is taken at `nowMs`: the horizon, or the newest stamp dropped for the bound. */
export function stampFloor(sql: SqlStorage, nowMs: number): number {
  return Math.max(readMeta(sql, "stamp_floor"), nowMs - STAMP_HORIZON_MS);
}

/** How many stamps are held (`meta.stamp_count`, kept with every write: never a count over the table). */
function heldStamps(sql: SqlStorage): number {
  return readMeta(sql, "stamp_count");
}

/** Writes stamps (a stamp never moves back), inside the PATCH's transaction. */
export function writeStamps(sql: SqlStorage, stamps: readonly Stamp[]): void {
  let added = 0;
  for (const s of stamps) {
    const held = sql
      .exec<{ at: number }>("SELECT at FROM stamps WHERE id = ? AND field = ?", s.id, s.field)
      .toArray()[0];
    if (!held) {
      sql.exec("INSERT INTO stamps (id, field, at) VALUES (?, ?, ?)", s.id, s.field, s.at);
      added++;
    } else if (s.at > held.at) sql.exec("UPDATE stamps SET at = ? WHERE id = ? AND field = ?", s.at, s.id, s.field);
  }
  if (added > 0) writeMeta(sql, "stamp_count", heldStamps(sql) + added);
}

/** Deletes the stamps `where` says of `time` (older than it, or as old); how many. */
function dropStamps(sql: SqlStorage, where: "at < ?" | "at <= ?", time: number): number {
  // counted on the `at` index first: only the rows dropped are read
  const n = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM stamps WHERE ${where}`, time).one().n;
  if (n > 0) sql.exec(`DELETE FROM stamps WHERE ${where}`, time);
  return n;
}

/**
 * Drops the stamps past the horizon, then, past `maxRows`, the oldest (those of the newest dropped's time too),
 * raising the floor to that time. `maxRows`: a test's; MAX_STAMPS otherwise. Reads the rows it drops, not the table.
 */
export function pruneStamps(sql: SqlStorage, nowMs: number, maxRows = MAX_STAMPS): void {
  const before = heldStamps(sql);
  let held = before - dropStamps(sql, "at < ?", nowMs - STAMP_HORIZON_MS);
  if (held > maxRows) {
    const cutoff = sql
      .exec<{ at: number }>("SELECT at FROM stamps ORDER BY at LIMIT 1 OFFSET ?", held - maxRows - 1)
      .one().at;
    held -= dropStamps(sql, "at <= ?", cutoff);
    writeMeta(sql, "stamp_floor", Math.max(readMeta(sql, "stamp_floor"), cutoff));
  }
  if (held !== before) writeMeta(sql, "stamp_count", Math.max(0, held));
}
