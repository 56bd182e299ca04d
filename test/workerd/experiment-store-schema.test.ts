/**
 * The experiment store's schema in D1 (worker/lib/d1-schema.ts): a database made by the first version (no
 * `block` column, no recorded version) is upgraded in place, keeping its rows; an upgraded one is left alone;
 * rows written twice count once in the daily aggregates, and an erasure takes its share out.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ensureSchema, writeRows } from "../../worker/experiments/experiment-db";

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
    expect(columns).toContain("block");
    expect(await db().prepare("SELECT count(*) AS n FROM exposures").first("n")).toBe(1);
    expect(await db().prepare("SELECT version FROM schema_versions WHERE name = 'experiments'").first("version")).toBe(
      2,
    );

    const at = 1_800_000_000;
    const rows = [
      { kind: "exposure" as const, experiment: "x", user: "u1", arm: "a", campaign: "c", block: "picks", at },
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
    expect(await db().prepare("SELECT block FROM exposures WHERE experiment = 'x'").first("block")).toBe("picks");
    await writeRows(db(), [{ kind: "forget", user: "u1" }]);
    expect(await daily()).toEqual({ e: 0, p: 0, r: 0 });
  });
});
