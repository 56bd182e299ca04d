/**
 * Tables the Worker keeps in D1 itself: each schema is a list of migrations (each a list of statements), applied
 * in order once per database, its version recorded in `schema_versions` in the same transaction (D1's batch),
 * so `wrangler dev`, the tests, a first deploy and an upgrade need no migration step. Two isolates migrating at
 * once: one batch fails (its transaction rolls back), reads the version again and goes on. Checked once per
 * isolate, database and schema; a failure is retried by the next caller. Migrations are never edited once
 * shipped: a change is a new one at the end.
 */
const ready = new WeakMap<D1Database, Map<string, Promise<void>>>();

const VERSIONS = `CREATE TABLE IF NOT EXISTS schema_versions (
  name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID`;

async function migrate(db: D1Database, name: string, migrations: readonly (readonly string[])[]): Promise<void> {
  await db.prepare(VERSIONS).run();
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await db
      .prepare("SELECT version FROM schema_versions WHERE name = ?")
      .bind(name)
      .first<{ version: number }>();
    let version = row?.version ?? 0;
    if (version >= migrations.length) return;
    try {
      for (; version < migrations.length; version++) {
        await db.batch([
          ...(migrations[version] as readonly string[]).map((s) => db.prepare(s)),
          db
            .prepare(
              "INSERT INTO schema_versions (name, version) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET version = excluded.version",
            )
            .bind(name, version + 1),
        ]);
      }
      return;
    } catch (e) {
      // another isolate may have applied it meanwhile: read the version again (a real failure fails again)
      if (attempt === 2) throw e;
    }
  }
}

export function ensureTables(db: D1Database, name: string, migrations: readonly (readonly string[])[]): Promise<void> {
  let schemas = ready.get(db);
  if (!schemas) {
    schemas = new Map();
    ready.set(db, schemas);
  }
  let done = schemas.get(name);
  if (!done) {
    const own = schemas;
    done = migrate(db, name, migrations).catch((e: unknown) => {
      own.delete(name);
      throw e;
    });
    schemas.set(name, done);
  }
  return done;
}
