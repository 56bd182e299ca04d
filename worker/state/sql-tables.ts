/**
 * Small pieces of SQL the Durable Objects' tables share: a `meta` table of named integers (the catalog writer's
 * version, the experiment registry's sequence), trimming a reader's rows to their newest (the shard's views
 * and recent outcomes), and how late their alarm prunes expired rows. Synchronous SQL on the caller's storage,
 * inside its transaction.
 */

/**
 * A shard's alarm prunes expired rows (views, recent outcomes) this long after the oldest expired: one wake
 * deletes an hour of them, not one wake per row under steady traffic. Their readers never read an expired row.
 */
export const PRUNE_SLACK_MS = 3_600_000;

/** `meta`: one integer per name. */
export const META_SCHEMA =
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID";

/** The integer named `key` in `meta` (0 when unset). */
export function readMeta(sql: SqlStorage, key: string): number {
  return sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? 0;
}

export function writeMeta(sql: SqlStorage, key: string, value: number): void {
  sql.exec(
    "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    key,
    value,
  );
}

/**
 * Keeps the reader's newest `limit` rows of `table` (by its `ts` column, then `id`, its key within the reader),
 * deleting the others. A count over the reader's own rows first: the common case deletes nothing. `table` and
 * `id` are the caller's constants, never input.
 */
export function keepNewest(sql: SqlStorage, table: string, id: string, user: string, limit: number): void {
  const held = sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table} WHERE user = ?`, user).one().n;
  if (held <= limit) return;
  sql.exec(
    `DELETE FROM ${table} WHERE user = ? AND ${id} NOT IN (
       SELECT ${id} FROM ${table} WHERE user = ? ORDER BY ts DESC, ${id} LIMIT ${limit})`,
    user,
    user,
  );
}
