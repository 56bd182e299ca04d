/**
 * The catalog writer's stamps (worker/state/catalog-writer.ts): per item and live field, the `at` of the last timed
 * change applied to it (core/catalog-order.ts), in the writer's own storage, never in the overlay published to KV
 * (every open reads that whole). Kept however old, and bounded each time a PATCH writes stamps (in its transaction):
 * past MAX_STAMPS the oldest are dropped and the newest of those becomes the floor (`meta.stamp_floor`) below which no timed change is taken, so a dropped stamp
 * never lets an older change through. Their number is kept in `meta.stamp_count`, so that no PATCH reads the whole
 * table. Synchronous SQL on the writer's storage, inside the PATCH's transaction.
 */
import { MAX_STAMPS, type Stamp } from "../../core/catalog-order";
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

/** No timed change older than this is taken: the newest stamp dropped for the bound (0 while none was). */
export function stampFloor(sql: SqlStorage): number {
  return readMeta(sql, "stamp_floor");
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

/**
 * Past `maxRows`, drops the oldest stamps (those of the newest dropped's time too), raising the floor to that time.
 * `maxRows`: a test's; MAX_STAMPS otherwise. Reads the rows it drops (counted on the `at` index), not the table.
 */
export function pruneStamps(sql: SqlStorage, maxRows = MAX_STAMPS): void {
  const held = heldStamps(sql);
  if (held <= maxRows) return;
  const cutoff = sql
    .exec<{ at: number }>("SELECT at FROM stamps ORDER BY at LIMIT 1 OFFSET ?", held - maxRows - 1)
    .one().at;
  const dropped = sql.exec<{ n: number }>("SELECT count(*) AS n FROM stamps WHERE at <= ?", cutoff).one().n;
  sql.exec("DELETE FROM stamps WHERE at <= ?", cutoff);
  writeMeta(sql, "stamp_floor", Math.max(readMeta(sql, "stamp_floor"), cutoff));
  writeMeta(sql, "stamp_count", Math.max(0, held - dropped));
}
