/**
 * Tables the Worker creates in D1 itself (CREATE ... IF NOT EXISTS, in one batch), once per isolate, database
 * and schema: `wrangler dev`, the tests and a first deploy need no migration step. A failure is retried by the
 * next caller.
 */
const ready = new WeakMap<D1Database, Map<string, Promise<void>>>();

export function ensureTables(db: D1Database, name: string, statements: readonly string[]): Promise<void> {
  let schemas = ready.get(db);
  if (!schemas) {
    schemas = new Map();
    ready.set(db, schemas);
  }
  let done = schemas.get(name);
  if (!done) {
    const own = schemas;
    done = db
      .batch(statements.map((s) => db.prepare(s)))
      .then(() => undefined)
      .catch((e: unknown) => {
        own.delete(name);
        throw e;
      });
    schemas.set(name, done);
  }
  return done;
}
