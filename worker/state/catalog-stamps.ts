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

/**
 * Stamps per statement: one JSON parameter each (ids of at most 128 characters: well under SQLite's 2 MB a value).
 * A PATCH of 1,000 timed items naming every live field writes 9,000 in a handful of statements, not two per stamp.
 */
const STAMPS_PER_STATEMENT = 1000;

/** The stamps of these items (a PATCH's timed ones), by item and field; a few statements, not one per item. */
export function readStamps(sql: SqlStorage, ids: readonly string[]): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (let i = 0; i < ids.length; i += STAMPS_PER_STATEMENT) {
    const rows = sql.exec<{ id: string; field: string; at: number }>(
      "SELECT id, field, at FROM stamps WHERE id IN (SELECT value FROM json_each(?))",
      JSON.stringify(ids.slice(i, i + STAMPS_PER_STATEMENT)),
    );
    for (const row of rows) {
      const held = out.get(row.id) ?? new Map<string, number>();
      held.set(row.field, row.at);
      out.set(row.id, held);
    }
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

/**
 * Writes stamps (a stamp never moves back), inside the PATCH's transaction: per STAMPS_PER_STATEMENT, one count of
 * those not held yet (for `meta.stamp_count`) and one upsert. At most one stamp per item and field (orderChanges
 * writes one per field of an item, and a PATCH names an item once), else the count would be off.
 */
export function writeStamps(sql: SqlStorage, stamps: readonly Stamp[]): void {
  let added = 0;
  for (let i = 0; i < stamps.length; i += STAMPS_PER_STATEMENT) {
    const rows = JSON.stringify(stamps.slice(i, i + STAMPS_PER_STATEMENT).map((s) => [s.id, s.field, s.at]));
    added += sql
      .exec<{ n: number }>(
        `SELECT count(*) AS n FROM json_each(?) AS j WHERE NOT EXISTS (
           SELECT 1 FROM stamps WHERE id = json_extract(j.value, '$[0]') AND field = json_extract(j.value, '$[1]'))`,
        rows,
      )
      .one().n;
    // (`WHERE true`: SQLite's parser needs it before an upsert's ON CONFLICT after a SELECT)
    sql.exec(
      `INSERT INTO stamps (id, field, at)
         SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]') FROM json_each(?) WHERE true
         ON CONFLICT (id, field) DO UPDATE SET at = excluded.at WHERE excluded.at > stamps.at`,
      rows,
    );
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
