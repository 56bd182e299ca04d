/**
 * Tables the Worker keeps in D1 itself: each schema is a list of migrations (each a list of statements), applied
 * in order once per database, its version recorded in `schema_versions` in the same transaction (D1's batch),
 * so `wrangler dev`, the tests, a first deploy and an upgrade need no migration step. Two isolates migrating at
 * once read the same version; each batch first moves it from the one read to the next, which triggers on
 * `schema_versions` refuse unless that is still the current one, so the later batch rolls back whole (no
 * migration statement ever runs twice), reads the version again and goes on. Once it has succeeded in an
 * isolate, for a database and schema, it is not checked again there. Until then each caller checks for itself:
 * a check in flight is never shared, since a promise made in one request's context never settles in another's
 * once that request is gone (a report cancelled mid-migration left every later caller, the shards' alarms
 * included, waiting for good). Migrations are never edited once shipped: a change is a new one at the end.
 */
const ready = new WeakMap<D1Database, Set<string>>();

const VERSIONS = [
  `CREATE TABLE IF NOT EXISTS schema_versions (
     name TEXT PRIMARY KEY, version INTEGER NOT NULL) WITHOUT ROWID`,
  // the compare-and-set: a version is inserted at 1 (a second insert fails on the key) and only moves one step,
  // so a batch written for a version another isolate has moved since aborts (apart from the table: databases
  // made before have it without them)
  `CREATE TRIGGER IF NOT EXISTS schema_versions_start BEFORE INSERT ON schema_versions WHEN NEW.version <> 1 BEGIN
     SELECT RAISE(ABORT, 'schema version must start at 1');
   END`,
  `CREATE TRIGGER IF NOT EXISTS schema_versions_step BEFORE UPDATE ON schema_versions
   WHEN NEW.version <> OLD.version + 1 BEGIN
     SELECT RAISE(ABORT, 'schema version moved meanwhile');
   END`,
];

async function migrate(db: D1Database, name: string, migrations: readonly (readonly string[])[]): Promise<void> {
  await db.batch(VERSIONS.map((s) => db.prepare(s)));
  for (let attempt = 0; attempt < 3; attempt++) {
    const row = await db
      .prepare("SELECT version FROM schema_versions WHERE name = ?")
      .bind(name)
      .first<{ version: number }>();
    let version = row?.version ?? 0;
    if (version >= migrations.length) return;
    try {
      for (; version < migrations.length; version++) {
        // the version first: a stale batch aborts before any of its statements runs
        await db.batch([
          version === 0
            ? db.prepare("INSERT INTO schema_versions (name, version) VALUES (?, 1)").bind(name)
            : db.prepare("UPDATE schema_versions SET version = ? WHERE name = ?").bind(version + 1, name),
          ...(migrations[version] as readonly string[]).map((s) => db.prepare(s)),
        ]);
      }
      return;
    } catch (e) {
      // another isolate moved the version first (this batch rolled back): read it again (a real failure fails again)
      if (attempt === 2) throw e;
    }
  }
}

export async function ensureTables(
  db: D1Database,
  name: string,
  migrations: readonly (readonly string[])[],
): Promise<void> {
  if (ready.get(db)?.has(name)) return;
  await migrate(db, name, migrations);
  let done = ready.get(db);
  if (!done) {
    done = new Set();
    ready.set(db, done);
  }
  done.add(name);
}
