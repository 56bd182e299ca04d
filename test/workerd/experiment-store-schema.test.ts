/**
 * The experiment store's schema in D1 (worker/lib/d1-schema.ts): a database made by the first version (no
 * `block`, `via` or `phase` column, no assignments table, no recorded version) is upgraded in place, keeping its rows; an upgraded one is left alone;
 * rows written twice count once in the daily aggregates, and an erasure takes its share out. Two isolates
 * migrating at once: the one that read a version another has moved since is refused and reads it again.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { globalHoldoutExperiment } from "../../core/experiments/experiment";
import { ensureSchema, type StoreRow, writeRows } from "../../worker/experiments/experiment-db";
import { experimentReport } from "../../worker/experiments/experiment-report";

const db = () => env.DB as D1Database;

describe("the experiment store's schema", () => {
  it("upgrades a first-version database in place, then writes idempotently", async () => {
    await db().batch([
      db().prepare("DROP TABLE IF EXISTS exposures"),
      db().prepare("DROP TABLE IF EXISTS schema_versions"),
      db().prepare(
        `CREATE TABLE exposures (experiment TEXT NOT NULL, user TEXT NOT NULL, arm TEXT NOT NULL, campaign TEXT NOT NULL,
           at INTEGER NOT NULL, day TEXT NOT NULL, PRIMARY KEY (experiment, user)) WITHOUT ROWID`,
      ),
      db().prepare("INSERT INTO exposures VALUES ('old', 'u0', 'a', 'c', 1, '2026-01-01')"),
    ]);
    await ensureSchema(db());
    const columns = (await db().prepare("PRAGMA table_info(exposures)").all<{ name: string }>()).results.map(
      (c) => c.name,
    );
    expect(columns).toEqual(expect.arrayContaining(["block", "via", "phase"]));
    const outcomeColumns = (await db().prepare("PRAGMA table_info(outcomes)").all<{ name: string }>()).results;
    expect(outcomeColumns.map((c) => c.name)).toContain("currency");
    expect(await db().prepare("SELECT count(*) AS n FROM exposures").first("n")).toBe(1);
    expect(await db().prepare("SELECT version FROM schema_versions WHERE name = 'experiments'").first("version")).toBe(
      6,
    );

    const at = 1_800_000_000;
    const rows = [
      { kind: "assignment" as const, experiment: "x", user: "u1", arm: "a", campaign: "c", phase: 7, at: at - 9 },
      {
        kind: "exposure" as const,
        experiment: "x",
        user: "u1",
        arm: "a",
        campaign: "c",
        block: "picks",
        via: "open" as const,
        phase: 7,
        at,
      },
      {
        kind: "purchase" as const,
        experiment: "x",
        user: "u1",
        arm: "a",
        event: "p1",
        slot: null,
        item: "i1",
        value: 12.5,
        at: at + 5,
      },
    ];
    await writeRows(db(), rows);
    await writeRows(db(), rows);
    const daily = () =>
      db()
        .prepare("SELECT sum(exposures) AS e, sum(purchases) AS p, sum(revenue) AS r FROM daily WHERE experiment = 'x'")
        .first();
    expect(await daily()).toEqual({ e: 1, p: 1, r: 12.5 });
    expect(await db().prepare("SELECT block, via, phase FROM exposures WHERE experiment = 'x'").first()).toEqual({
      block: "picks",
      via: "open",
      phase: 7,
    });
    expect(await db().prepare("SELECT count(*) AS n FROM assignments WHERE experiment = 'x'").first("n")).toBe(1);
    // a row an earlier version queued (no via, phase, block) is written, not refused: D1 refuses undefined, and a
    // refused batch would hold the shard's outbox, erasures included, for good
    const old = { kind: "exposure", experiment: "x", user: "u2", arm: "a", campaign: "c", at } as unknown as StoreRow;
    await writeRows(db(), [old]);
    expect(await db().prepare("SELECT via, phase, block FROM exposures WHERE user = 'u2'").first()).toEqual({
      via: null,
      phase: null,
      block: null,
    });
    // a reader exposed by a click, then seen opening: an opener
    await writeRows(db(), [
      {
        kind: "exposure",
        experiment: "x",
        user: "u3",
        arm: "a",
        campaign: "c",
        block: null,
        via: "click",
        phase: 7,
        at,
      },
      { kind: "opened", experiment: "x", user: "u3" },
    ]);
    expect(await db().prepare("SELECT via FROM exposures WHERE user = 'u3'").first("via")).toBe("open");
    expect(await daily()).toEqual({ e: 3, p: 1, r: 12.5 });
    await writeRows(db(), [
      { kind: "forget", user: "u2" },
      { kind: "forget", user: "u3" },
    ]);
    await writeRows(db(), [{ kind: "forget", user: "u1" }]);
    expect(await daily()).toEqual({ e: 0, p: 0, r: 0 });
    expect(await db().prepare("SELECT count(*) AS n FROM assignments WHERE user = 'u1'").first("n")).toBe(0);
  });
});

/** Drops the experiment store and its recorded version: a fresh database. */
async function fresh(): Promise<void> {
  await db().batch(
    ["exposures", "outcomes", "assignments", "daily", "scanner_clicks", "schema_versions"].map((t) =>
      db().prepare(`DROP TABLE IF EXISTS ${t}`),
    ),
  );
}

/**
 * Another isolate on the same database: ensureTables keys its `ready` cache by the binding, so a proxy of it
 * has a cache of its own. `afterRead`, if given, runs between its read of the schema version and its writes.
 */
function isolate(afterRead?: () => Promise<void>): D1Database {
  return new Proxy(db(), {
    get(target, key) {
      if (key === "prepare" && afterRead)
        return (query: string) => {
          if (!query.startsWith("SELECT version FROM schema_versions")) return target.prepare(query);
          return {
            bind: (...values: unknown[]) => ({
              first: async () => {
                const row = await target
                  .prepare(query)
                  .bind(...values)
                  .first();
                await afterRead();
                return row;
              },
            }),
          };
        };
      const value = Reflect.get(target, key);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

const version = () => db().prepare("SELECT version FROM schema_versions WHERE name = 'experiments'").first("version");

describe("a check of the schema in flight", () => {
  it("is never shared: a caller whose check never settles (its request gone) holds up no other caller", async () => {
    await fresh();
    // one binding (one isolate's cache), whose first batch never answers, as a cancelled request's I/O
    let batches = 0;
    const stuck = new Proxy(db(), {
      get(target, key) {
        if (key === "batch")
          return (statements: D1PreparedStatement[]) =>
            batches++ === 0 ? new Promise(() => {}) : target.batch(statements);
        const value = Reflect.get(target, key);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    void ensureSchema(stuck);
    const second = ensureSchema(stuck).then(() => "ready");
    // a guard, not a speed test: held up, the second check never settles; a loaded machine takes seconds for one
    const waited = new Promise((resolve) => setTimeout(() => resolve("still waiting"), 15_000));
    expect(await Promise.race([second, waited])).toBe("ready");
    expect(await version()).toBe(6);
  });
});

describe("a report on a fresh database", () => {
  it("creates the tables before its reads, which run side by side", async () => {
    await fresh();
    const report = await experimentReport(isolate(), globalHoldoutExperiment(null, 30), { intervals: "fixed" });
    expect(report.unit).toBe("opened");
    expect(report.arms.map((a) => a.exposed)).toEqual([0]);
  });
});

describe("two isolates migrating the experiment store at once", () => {
  it("refuses the batch of the isolate that read a stale version, which then reads it again", async () => {
    await fresh();
    let read!: () => void;
    const hasRead = new Promise<void>((resolve) => {
      read = resolve;
    });
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    // B reads version 0, then waits while A applies migrations 1 to 3
    const b = ensureSchema(
      isolate(async () => {
        read();
        await released;
      }),
    );
    await hasRead;
    await ensureSchema(isolate());
    expect(await version()).toBe(6);
    release();
    // B's batch for migration 1 rolls back (it would have set the version back to 1): it reads 3 and stops
    await b;
    expect(await version()).toBe(6);
    await ensureSchema(isolate());
    const columns = (await db().prepare("PRAGMA table_info(exposures)").all<{ name: string }>()).results;
    expect(columns.filter((c) => c.name === "block")).toHaveLength(1);
  });

  it("guards a version recorded before the guards existed, and refuses a write that does not move it one step", async () => {
    await fresh();
    await ensureSchema(isolate());
    // a database that the version without the guards migrated
    await db().batch([
      db().prepare("DROP TRIGGER schema_versions_start"),
      db().prepare("DROP TRIGGER schema_versions_step"),
    ]);
    const guards = async () =>
      (
        await db()
          .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'schema_versions' ORDER BY name",
          )
          .all<{ name: string }>()
      ).results.map((t) => t.name);
    expect(await guards()).toEqual([]);
    await ensureSchema(isolate());
    await ensureSchema(isolate());
    expect(await guards()).toEqual(["schema_versions_start", "schema_versions_step"]);
    expect(await version()).toBe(6);
    // what a stale isolate's batch for migration 1 or 2 would write first
    await expect(
      db().prepare("INSERT INTO schema_versions (name, version) VALUES ('experiments', 1)").run(),
    ).rejects.toThrow();
    await expect(
      db().prepare("UPDATE schema_versions SET version = 2 WHERE name = 'experiments'").run(),
    ).rejects.toThrow(/moved meanwhile/);
    await expect(db().prepare("INSERT INTO schema_versions VALUES ('other', 2)").run()).rejects.toThrow(
      /must start at 1/,
    );
    expect(await version()).toBe(6);
  });
});
