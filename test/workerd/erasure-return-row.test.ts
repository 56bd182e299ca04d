/**
 * A returned reader's mark on their own row (worker/state/tombstone-table.ts), inside workerd with the shard's real
 * storage: a reader the shard holds is sorted by their row alone, so no event batch reads a tombstone for them (nor
 * for the other readers beside them); the mark outlives a restart, a table made before it gets it from the
 * tombstones, and the sweep that deletes a returned reader's edge tombstones spends one budget operation a key.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { erasureHash, erasureKey } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import type { Bindings } from "../../worker/env";
import { tombstoneKeys } from "../../worker/events/erasure";
import { CLEANUP_KV_OPS, ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { MIGRATE_BATCH, migrateReaderReturns } from "../../worker/state/tombstone-table";
import { type FaultyKv, faultyKv } from "./support/faulty-bindings";
import { clearKv } from "./support/harness";

const DAY_MS = 86_400_000;
const nowS = () => Math.floor(Date.now() / 1000);
let seq = 0;
const purchase = (user: string, item: string, ts: number): QueuedEvent => ({
  id: `rr${seq++}`,
  type: "purchase",
  user,
  item,
  value: 10,
  ts,
});
const consent = (user: string, ts: number, tracking = true): QueuedEvent => ({
  id: `rr-consent${seq++}`,
  type: "consent",
  user,
  ts,
  consent: { personalization: true, tracking },
});

/** Erases `user` on the shard, as if two minutes ago (a return can then be timed in the past, with no wait). */
async function eraseEarlier(shard: ReaderShard, state: DurableObjectState, user: string): Promise<void> {
  await shard.erase(user, Date.now() + 45 * DAY_MS);
  state.storage.sql.exec(
    "UPDATE tombstones SET erased_at = ? WHERE hash = ?",
    Date.now() - 120_000,
    await erasureHash(user),
  );
}

/** The statements `shard` runs while `run` does. */
async function statementsOf(shard: ReaderShard, run: () => Promise<unknown>): Promise<string[]> {
  const sql = (shard as unknown as { sql: SqlStorage }).sql;
  const exec = sql.exec;
  const seen: string[] = [];
  sql.exec = ((query: string, ...bindings: unknown[]) => {
    seen.push(query);
    return exec.call(sql, query, ...bindings);
  }) as SqlStorage["exec"];
  try {
    await run();
  } finally {
    sql.exec = exec;
  }
  return seen;
}

/** The readers table as it was made before the return's mark (no returned_at, returned_until): `sql`'s, emptied. */
function tableBeforeTheMark(sql: SqlStorage): void {
  sql.exec("DROP TABLE readers");
  sql.exec(
    `CREATE TABLE readers (user TEXT PRIMARY KEY, profile TEXT NOT NULL, clock TEXT NOT NULL DEFAULT '{}',
     version INTEGER NOT NULL DEFAULT 0, published_version INTEGER NOT NULL DEFAULT -1,
     published_at INTEGER NOT NULL DEFAULT 0)`,
  );
}

/**
 * Gives `shard` a KV whose deletes of edge tombstones (`erased:`) throw, then erases `user` on it (as if two minutes
 * ago); the faulty KV, to count its hits and clear its faults.
 */
async function eraseWithFailingTombstoneDeletes(
  shard: ReaderShard,
  state: DurableObjectState,
  user: string,
): Promise<FaultyKv> {
  const faulty = faultyKv(env.OPENTIME_KV, [{ ops: ["delete"], mode: "throw", prefix: "erased:" }]);
  (shard as unknown as { env: Bindings }).env = { ...env, OPENTIME_KV: faulty.kv };
  await eraseEarlier(shard, state, user);
  return faulty;
}

/**
 * `env`'s KV, whose `op` of keys starting with `prefix` waits at a gate while it is shut (the others go through):
 * `entered` resolves once the first waits; `open` lets every waiting one through and the later ones pass.
 */
function gatedKv(op: "put" | "delete", prefix: string) {
  let shut = false;
  const waiting: (() => void)[] = [];
  let entered = () => {};
  const first = new Promise<void>((resolve) => {
    entered = resolve;
  });
  const kv = new Proxy(env.OPENTIME_KV, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as (...a: unknown[]) => Promise<unknown>;
      if (prop !== op) return typeof value === "function" ? value.bind(target) : value;
      return async (key: string, ...rest: unknown[]) => {
        if (shut && key.startsWith(prefix)) {
          entered();
          await new Promise<void>((resolve) => waiting.push(resolve));
        }
        return value.call(target, key, ...rest);
      };
    },
  });
  return {
    kv,
    entered: first,
    shut: () => {
      shut = true;
    },
    open: () => {
      shut = false;
      for (const go of waiting.splice(0)) go();
    },
  };
}

/** Waits (a turn at a time) until `done()`, 15 s at most (not a count of turns: a loaded machine's are slow). */
async function until(done: () => boolean): Promise<void> {
  const start = Date.now();
  while (!done() && Date.now() - start < 15_000) await new Promise((resolve) => setTimeout(resolve, 1));
  expect(done()).toBe(true);
}

const items = async (shard: ReaderShard, user: string) =>
  ((await shard.read(user))?.recentItems ?? []).map((r) => r.item).sort();

beforeEach(clearKv);

describe("a returned reader's row", () => {
  it("sorts their events by the return alone, across a restart; the shard reads no tombstone for a reader it holds", async () => {
    await runInDurableObject(readerStub(env, "rr-shard-1"), async (shard: ReaderShard, state) => {
      const back = "rr-back";
      const other = "rr-other";
      const t = nowS();
      expect(await shard.apply([purchase(back, "erased-item", t - 600), purchase(other, "o-1", t - 600)])).toEqual([
        "applied",
        "applied",
      ]);
      await eraseEarlier(shard, state, back);
      // the return, a minute ago: made in the transaction that keeps it on their new row
      expect(await shard.apply([consent(back, t - 60)])).toEqual(["applied"]);
      const row = state.storage.sql
        .exec<{ returned_at: number | null; returned_until: number | null }>(
          "SELECT returned_at, returned_until FROM readers WHERE user = ?",
          back,
        )
        .one();
      expect(row.returned_at).toBe((t - 60) * 1000);
      expect(row.returned_until).toBeGreaterThan(Date.now() + 44 * DAY_MS);

      // a restart: a new object over the same storage, its cache empty
      const restarted = new ReaderShard(state, env);
      let outcomes: string[] = [];
      const statements = await statementsOf(restarted, async () => {
        outcomes = await restarted.apply([
          purchase(back, "before-return", t - 90),
          purchase(back, "after-return", t - 30),
          purchase(other, "o-2", t - 90),
        ]);
      });
      expect(outcomes).toEqual(["erased", "applied", "applied"]);
      expect(statements.filter((s) => s.includes("tombstones"))).toEqual([]);
      expect(await items(restarted, back)).toEqual(["after-return"]);
      expect(await items(restarted, other)).toEqual(["o-1", "o-2"]);

      // the row alone decides: with the tombstone gone from under it, events timed before the return still drop
      state.storage.sql.exec("DELETE FROM tombstones WHERE hash = ?", await erasureHash(back));
      expect(await restarted.apply([purchase(back, "before-return-2", t - 80)])).toEqual(["erased"]);

      // erased again: the row and its mark go, and the next return is marked afresh
      await eraseEarlier(restarted, state, back);
      expect(state.storage.sql.exec("SELECT 1 FROM readers WHERE user = ?", back).toArray()).toEqual([]);
      expect(await restarted.apply([purchase(back, "while-erased", t - 20)])).toEqual(["erased"]);
      expect(await restarted.apply([consent(back, t - 10), purchase(back, "second-return", t - 5)])).toEqual([
        "applied",
        "applied",
      ]);
      expect(await items(restarted, back)).toEqual(["second-return"]);
      expect(
        state.storage.sql.exec<{ at: number }>("SELECT returned_at AS at FROM readers WHERE user = ?", back).one().at,
      ).toBe((t - 10) * 1000);
    });
  });

  it("a snapshot write of the erased row counts nothing for the returned reader's new row (its versions began again)", async () => {
    await runInDurableObject(readerStub(env, "rr-shard-versions"), async (shard: ReaderShard, state) => {
      const user = "rr-versions";
      const t = nowS();
      // every change published at once (no interval between a reader's snapshot writes)
      (shard as unknown as { interval: number }).interval = 0;
      for (let i = 0; i < 3; i++)
        expect(await shard.apply([purchase(user, `v-${i}`, t - 900 + i)])).toEqual(["applied"]);
      const row = () =>
        state.storage.sql
          .exec<{ version: number; published_version: number }>(
            "SELECT version, published_version FROM readers WHERE user = ?",
            user,
          )
          .toArray()[0] ?? null;
      const old = row();
      expect(old?.version).toBeGreaterThanOrEqual(3);
      expect(old?.published_version).toBe(old?.version);
      // the next snapshot write waits at the gate: the reader is erased, and comes back, while it is out
      const gate = gatedKv("put", kvKeys.profile(user));
      (shard as unknown as { env: Bindings }).env = { ...env, OPENTIME_KV: gate.kv };
      gate.shut();
      const applying = shard.apply([purchase(user, "v-3", t - 800)]);
      await gate.entered;
      const erasing = shard.erase(user, Date.now() + 45 * DAY_MS);
      await until(() => row() === null);
      state.storage.sql.exec(
        "UPDATE tombstones SET erased_at = ? WHERE hash = ?",
        Date.now() - 120_000,
        await erasureHash(user),
      );
      const returning = shard.apply([consent(user, t - 60)]);
      await until(() => row() !== null);
      expect(row()?.version).toBeLessThan((old?.version ?? 0) + 1);
      gate.open();
      expect(await applying).toEqual(["applied"]);
      await erasing;
      expect(await returning).toEqual(["applied"]);
      // the new row is published as its own versions say, not as the old row's write did
      const back = row();
      expect(back?.published_version).toBe(back?.version);
    });
  });

  it("is ignored, then cleared by the alarm, once the tombstone has ended", async () => {
    await runInDurableObject(readerStub(env, "rr-shard-2"), async (shard: ReaderShard, state) => {
      const user = "rr-ended";
      const t = nowS();
      await eraseEarlier(shard, state, user);
      expect(await shard.apply([consent(user, t - 60)])).toEqual(["applied"]);
      // the tombstone ends (its time set back): the row's mark ends with it, for the cached reader and the row
      state.storage.sql.exec("UPDATE tombstones SET until = ? WHERE hash = ?", Date.now() - 1, await erasureHash(user));
      state.storage.sql.exec("UPDATE readers SET returned_until = ? WHERE user = ?", Date.now() - 1, user);
      const restarted = new ReaderShard(state, env);
      expect(await restarted.apply([purchase(user, "late", t - 90)])).toEqual(["applied"]);
      await restarted.alarm();
      expect(
        state.storage.sql.exec("SELECT returned_at, returned_until FROM readers WHERE user = ?", user).one(),
      ).toEqual({ returned_at: null, returned_until: null });
    });
  });

  it("a table made before the mark gets it from the standing tombstones, once", async () => {
    await runInDurableObject(readerStub(env, "rr-shard-3"), async (_: ReaderShard, state) => {
      const sql = state.storage.sql;
      tableBeforeTheMark(sql);
      for (const user of ["rr-m-back", "rr-m-ended", "rr-m-plain"])
        sql.exec("INSERT INTO readers (user, profile) VALUES (?, '{}')", user);
      const until = Date.now() + DAY_MS;
      sql.exec("DELETE FROM tombstones");
      const stone = "INSERT INTO tombstones (hash, until, erased_at, returned_at) VALUES (?, ?, 1000, ?)";
      sql.exec(stone, await erasureHash("rr-m-back"), until, 5000);
      sql.exec(stone, await erasureHash("rr-m-ended"), Date.now() - 1, 5000);
      await migrateReaderReturns(state.storage, Date.now(), erasureHash);
      sql.exec("UPDATE tombstones SET returned_at = 6000");
      await migrateReaderReturns(state.storage, Date.now(), erasureHash); // a second start changes nothing
      expect(sql.exec("SELECT user, returned_at, returned_until FROM readers ORDER BY user").toArray()).toEqual([
        { user: "rr-m-back", returned_at: 5000, returned_until: until },
        { user: "rr-m-ended", returned_at: null, returned_until: null },
        { user: "rr-m-plain", returned_at: null, returned_until: null },
      ]);
    });
  });

  it("a big table is hashed a batch at a time, and only until every returned tombstone has found its reader", async () => {
    await runInDurableObject(readerStub(env, "rr-shard-4"), async (_: ReaderShard, state) => {
      const sql = state.storage.sql;
      tableBeforeTheMark(sql);
      // in id order: the returned reader in the first batch, then far more readers than a batch
      sql.exec("INSERT INTO readers (user, profile) VALUES ('rr-big-a-back', '{}')");
      for (let i = 0; i < 3 * MIGRATE_BATCH; i++)
        sql.exec("INSERT INTO readers (user, profile) VALUES (?, '{}')", `rr-big-b-${String(i).padStart(5, "0")}`);
      const until = Date.now() + DAY_MS;
      sql.exec("DELETE FROM tombstones");
      sql.exec(
        "INSERT INTO tombstones (hash, until, erased_at, returned_at) VALUES (?, ?, 1000, 5000)",
        await erasureHash("rr-big-a-back"),
        until,
      );
      let hashed = 0;
      let running = 0;
      let most = 0;
      const counting = async (user: string) => {
        hashed++;
        most = Math.max(most, ++running);
        try {
          return await erasureHash(user);
        } finally {
          running--;
        }
      };
      await migrateReaderReturns(state.storage, Date.now(), counting);
      expect(hashed).toBeLessThanOrEqual(MIGRATE_BATCH);
      expect(most).toBeLessThanOrEqual(MIGRATE_BATCH);
      expect(sql.exec("SELECT user, returned_until FROM readers WHERE returned_at IS NOT NULL").toArray()).toEqual([
        { user: "rr-big-a-back", returned_until: until },
      ]);
    });
  });
});

describe("the sweep of a returned reader's edge tombstones", () => {
  it("goes on a minute later when KV fails, while the tombstone stands, though the reader tracks again", async () => {
    const user = "rr-sweep-kv";
    await runInDurableObject(readerStub(env, `rr-shard-sweep-${user}`), async (shard: ReaderShard, state) => {
      const faulty = await eraseWithFailingTombstoneDeletes(shard, state, user);
      expect(await shard.apply([consent(user, nowS() - 60)])).toEqual(["applied"]);
      const stone = await erasureKey(user);
      await env.OPENTIME_KV.put(stone, "1");
      const sweep = () =>
        state.storage.sql.exec<{ at: number }>("SELECT at FROM decision_sweeps WHERE user = ?", user).toArray();
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      await shard.alarm();
      expect(faulty.hits).toBeGreaterThan(0);
      expect(await env.OPENTIME_KV.get(stone)).toBe("1");
      expect(sweep()[0]?.at).toBeGreaterThan(Date.now());
      faulty.faults.length = 0;
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      await shard.alarm();
      expect(await env.OPENTIME_KV.get(stone)).toBeNull();
      // tracking on: their decisions are theirs, the sweep goes
      expect(sweep()).toEqual([]);
    });
  });

  it("an erasure while the sweep deletes the edge tombstones keeps its own sweeps (the sweep drops only itself)", async () => {
    const user = "rr-sweep-erased-again";
    await runInDurableObject(readerStub(env, `rr-shard-sweep-${user}`), async (shard: ReaderShard, state) => {
      const gate = gatedKv("delete", "erased:");
      (shard as unknown as { env: Bindings }).env = { ...env, OPENTIME_KV: gate.kv };
      await eraseEarlier(shard, state, user);
      // back, tracking on: the return queues sweeps of its edge tombstones
      expect(await shard.apply([consent(user, nowS() - 60)])).toEqual(["applied"]);
      const sweeps = () =>
        state.storage.sql
          .exec<{ round: number; at: number }>("SELECT round, at FROM decision_sweeps WHERE user = ?", user)
          .toArray();
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      gate.shut();
      const run = shard.alarm();
      await gate.entered;
      // erased again while the sweep's delete is under way: the erasure queues its sweeps (round 0, minutes on)
      const before = Date.now();
      await shard.erase(user, Date.now() + 45 * DAY_MS);
      const queued = sweeps();
      expect(queued).toHaveLength(1);
      expect(queued[0]?.at).toBeGreaterThanOrEqual(before + 60_000);
      gate.open();
      await run;
      // the sweep ran with the reader as it read them (back, tracking on) and dropped itself: the erasure's stays
      expect(sweeps()).toEqual(queued);
    });
  });

  it("an erased reader's sweep deletes no snapshot of a return made while it wrote their edge tombstone", async () => {
    const user = "rr-sweep-back-meanwhile";
    await runInDurableObject(readerStub(env, `rr-shard-sweep-${user}`), async (shard: ReaderShard, state) => {
      const gate = gatedKv("put", "erased:");
      (shard as unknown as { env: Bindings }).env = { ...env, OPENTIME_KV: gate.kv };
      (shard as unknown as { interval: number }).interval = 0;
      await eraseEarlier(shard, state, user);
      // the erasure's sweep, due: it writes the edge tombstone again, and waits at the gate doing so
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      gate.shut();
      const run = shard.alarm();
      await gate.entered;
      // meanwhile they come back: their new row's snapshot is written
      expect(await shard.apply([consent(user, nowS() - 60)])).toEqual(["applied"]);
      expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).not.toBeNull();
      gate.open();
      await run;
      expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).not.toBeNull();
    });
  });

  it("a failed delete of the edge tombstone at the return is retried though the erasure's sweeps are gone", async () => {
    const user = "rr-return-sweep";
    await runInDurableObject(readerStub(env, `rr-shard-sweep-${user}`), async (shard: ReaderShard, state) => {
      const faulty = await eraseWithFailingTombstoneDeletes(shard, state, user);
      const stone = await erasureKey(user);
      await env.OPENTIME_KV.put(stone, "1");
      // the erasure's sweeps have run their rounds and forgotten the reader
      state.storage.sql.exec("DELETE FROM decision_sweeps WHERE user = ?", user);
      expect(await shard.apply([consent(user, nowS() - 60)])).toEqual(["applied"]);
      expect(faulty.hits).toBeGreaterThan(0);
      expect(await env.OPENTIME_KV.get(stone)).toBe("1");
      // KV back: the sweep the return queued deletes it
      faulty.faults.length = 0;
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      await shard.alarm();
      expect(await env.OPENTIME_KV.get(stone)).toBeNull();
    });
  });

  /** A reader who came back with tracking off (their decisions are swept), and `n` decisions stored since. */
  it.each([
    ["one token secret", undefined],
    ["two token secrets", "the-previous-token-secret-0123456789"],
  ])("spends one budget operation a key, with %s", async (_, previous) => {
    const user = `rr-sweep-${previous ? 2 : 1}`;
    await runInDurableObject(readerStub(env, `rr-shard-sweep-${user}`), async (shard: ReaderShard, state) => {
      const shardEnv: Bindings = { ...env, TOKEN_SECRET_PREVIOUS: previous };
      (shard as unknown as { env: Bindings }).env = shardEnv;
      await eraseEarlier(shard, state, user);
      expect(await shard.apply([consent(user, nowS() - 60, false)])).toEqual(["applied"]);
      // the erasure request's KV part landed after the return: its tombstones stand at the edge again
      const keys = await tombstoneKeys(user, [env.TOKEN_SECRET as string, ...(previous ? [previous] : [])]);
      expect(keys).toHaveLength(previous ? 3 : 2);
      for (const k of keys) await env.OPENTIME_KV.put(k, "1");
      const n = 600;
      for (let i = 0; i < n; i += 100)
        await Promise.all(
          Array.from({ length: 100 }, (_, k) =>
            env.OPENTIME_KV.put(kvKeys.decision(user, `c${i + k}`, 1767225600, "row-0"), "{}"),
          ),
        );
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      await shard.alarm();
      for (const k of keys) expect(await env.OPENTIME_KV.get(k)).toBeNull();
      expect(await env.OPENTIME_KV.get(await erasureKey(user))).toBeNull();
      // the run's budget: one operation a tombstone key, one for the listing, the rest for decisions
      const left = (await env.OPENTIME_KV.list({ prefix: kvKeys.decisionsPrefix(user) })).keys.length;
      expect(left).toBe(n - (CLEANUP_KV_OPS - keys.length - 1));
    });
  });
});
