/**
 * A Durable Object's own KV operations have deadlines (lib/kv-deadline.ts OBJECT_KV_DEADLINES, applied in each
 * object's constructor: lib/bounded-env.ts objectEnv). Here a reader shard built with short deadlines, whose KV
 * never settles: a first-touch read fails the shard's call (the batch is retried, nothing committed) and a
 * snapshot write is given up on (the batch acked, the alarm publishing it after the write given up on settles);
 * when KV is back each event counts once. A route that calls a shard gets 503 KV_UNAVAILABLE for it. An object's
 * writes of one key stay in order: none is sent while one given up on may still land (ABANDONED_WRITE_MS at most).
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile } from "../../core/profile";
import { consumeEvents } from "../../worker/events/consumer";
import { objectEnv } from "../../worker/lib/bounded-env";
import { ABANDONED_WRITE_MS, KvDeadlineError, type KvDeadlines, withKvDeadlines } from "../../worker/lib/kv-deadline";
import { within } from "../../worker/lib/within";
import { PUBLISH_BATCH, ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { fakeBatch, faultyKv } from "./support/faulty-bindings";
import { ADMIN_HEADERS, send } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

type TestEnv = typeof env;
/** Deadlines short enough for a test; the runtime's are seconds. */
const SHORT: KvDeadlines = { readMs: 50, modelReadMs: 50, writeMs: 50 };
/** What a call that hangs gives here instead: far past SHORT, so it tells a hang, never a slow machine. */
const HUNG = "never settled" as const;
const guard = <T>(work: Promise<T>) => within(work, 10_000, (): typeof HUNG => HUNG);

const ts = () => Math.floor(Date.now() / 1000) - 60;
const eventsOf = (user: string): QueuedEvent[] => [
  { id: `${user}-1`, type: "view", user, item: "p1", ts: ts() },
  { id: `${user}-2`, type: "purchase", user, item: "p1", value: 20, ts: ts() + 1 },
  { id: `${user}-3`, type: "view", user, item: "p2", ts: ts() + 2 },
];
const idsOf = (events: QueuedEvent[]) => events.map((e, i) => `m${i}-${e.id}`).sort();

/** READERS whose every shard is `shard` (a local instance: the consumer calls it as it would the stub). */
const onlyShard = (shard: ReaderShard) =>
  ({ idFromName: (name: string) => env.READERS?.idFromName(name), get: () => shard }) as unknown as TestEnv["READERS"];

/** Runs `body` with a reader shard over `user`'s shard's storage, built as the runtime builds it, over `kv`. */
function withShard<T>(user: string, kv: KVNamespace, body: (shard: ReaderShard) => Promise<T>): Promise<T> {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    body(new ReaderShard(state, { ...env, OPENTIME_KV: kv }, SHORT)),
  );
}

/**
 * Runs `body` while the shard object behind `stub` (the runtime's own: its alarm too) has the bindings its
 * constructor makes (objectEnv) over `kv`, with SHORT deadlines; its own are put back before this returns.
 */
const withObjectKv = <T>(stub: DurableObjectStub<ReaderShard>, kv: KVNamespace, body: () => Promise<T>): Promise<T> =>
  withObjectEnv(stub, () => objectEnv({ ...env, OPENTIME_KV: kv }, SHORT), body);

/** The test's KV with `put` in place of its own (given the real namespace); its other methods the real ones. */
function withPut(put: (target: KVNamespace, key: string, value: string) => Promise<void>): KVNamespace {
  return new Proxy(env.OPENTIME_KV, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "put") return (k: string, v: string) => put(target, k, v);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as KVNamespace;
}

describe("a reader shard whose KV never settles", () => {
  it("a first-touch read: the shard's call fails at its deadline, the batch is retried whole, and counted once after", async () => {
    const user = "okd-first";
    const events = eventsOf(user);
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "hang" }]);
    const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      await withShard(user, f.kv, async (shard) => {
        const bindings = { ...env, READERS: onlyShard(shard) };
        const b = fakeBatch(events);
        expect(await guard(consumeEvents(b.batch, bindings))).not.toBe(HUNG);
        expect(f.hits).toBeGreaterThan(0);
        expect(b.acked()).toEqual([]);
        expect(b.retried().sort()).toEqual(idsOf(events));
        expect(await shard.read(user)).toBeNull(); // nothing committed
        // KV back: the redelivery applies each event once; another changes nothing
        f.faults.length = 0;
        const again = fakeBatch(events);
        const summary = await consumeEvents(again.batch, bindings);
        expect(again.acked().sort()).toEqual(idsOf(events));
        expect(summary.applied).toBe(3);
        const profile = await shard.read(user);
        expect(profile?.seenEvents).toEqual(events.map((e) => e.id));
        expect(profile?.purchases.map((p) => p.item)).toEqual(["p1"]);
        const third = fakeBatch(events);
        expect((await consumeEvents(third.batch, bindings)).duplicate).toBe(3);
        expect(await shard.read(user)).toEqual(profile);
      });
    } finally {
      quiet.mockRestore();
    }
  });

  it("a snapshot write: the batch is acked once committed; the alarm publishes it after the write given up on settles", async () => {
    const user = "okd-snapshot";
    const events = eventsOf(user);
    const key = kvKeys.profile(user);
    // the snapshot's first put waits for `land()`, then lands (late) as KV would; the next go through
    const waiting: (() => Promise<void>)[] = [];
    let puts = 0;
    const kv = withPut((target, k, v) => {
      if (k !== key || ++puts > 1) return target.put(k, v);
      return new Promise<void>((resolve) => waiting.push(() => target.put(k, v).then(resolve)));
    });
    // the shard's own object (its alarm is the runtime's), with the bindings its constructor makes over this KV
    const stub = readerStub(env, user);
    await withObjectKv(stub, kv, async () => {
      const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
      const warned = vi.spyOn(console, "warn").mockImplementation(() => {});
      const logged = (spy: typeof quiet, event: string) =>
        spy.mock.calls.filter(([line]) => String(line).includes(`"event":"${event}"`)).length;
      try {
        const b = fakeBatch(events);
        expect(await guard(consumeEvents(b.batch, env))).not.toBe(HUNG);
        expect(b.acked().sort()).toEqual(idsOf(events));
        expect(puts).toBe(1);
        expect(await env.OPENTIME_KV.get(key)).toBeNull();
        // the write given up on has not settled: the alarm, due a publish interval later, does not write the key over
        // it; held back, it is said once, as a warning, however many alarms find it held
        for (let i = 0; i < 2; i++) {
          await new Promise((r) => setTimeout(r, 1100));
          await guard(runDurableObjectAlarm(stub));
        }
        expect(puts).toBe(1);
        expect(logged(quiet, "state.publish_failed")).toBe(1);
        expect(logged(warned, "state.publish_held")).toBe(1);
        // it lands; the alarm's next round writes the newest profile after it
        await Promise.all(waiting.splice(0).map((land) => land()));
        await new Promise((r) => setTimeout(r, 1100));
        await guard(runDurableObjectAlarm(stub));
        expect(puts).toBe(2);
        expect(await env.OPENTIME_KV.get(key, "json")).toEqual(await stub.read(user));
        expect((await stub.read(user))?.seenEvents).toEqual(events.map((e) => e.id));
      } finally {
        quiet.mockRestore();
        warned.mockRestore();
      }
    });
  });
  it("an erasure waits for a snapshot write given up on: it lands before the route's delete, never after", async () => {
    const user = "okd-erase-late";
    const key = kvKeys.profile(user);
    // the snapshot's first put settles 400 ms on, far past its deadline (SHORT), and lands then, as KV may
    const LATE_MS = 400;
    let landed = 0;
    const kv = withPut((target, k, v) => {
      if (k !== key || landed > 0) return target.put(k, v);
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          landed = Date.now();
          void target.put(k, v).then(resolve);
        }, LATE_MS),
      );
    });
    await withObjectKv(readerStub(env, user), kv, async () => {
      const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
      try {
        const b = fakeBatch(eventsOf(user));
        await consumeEvents(b.batch, env);
        expect(b.acked()).toHaveLength(3); // the write was given up on; it has not landed
        expect(landed).toBe(0);
        const res = await send(`/v1/users/${user}`, { method: "DELETE", headers: ADMIN_HEADERS });
        expect(res.status).toBe(200);
        const answered = Date.now();
        // well after it would have landed: the snapshot is gone, as the erasure answered after the late write landed
        await new Promise((r) => setTimeout(r, LATE_MS + 100));
        expect(await env.OPENTIME_KV.get(key)).toBeNull();
        expect(landed).toBeGreaterThan(0);
        expect(landed).toBeLessThanOrEqual(answered);
      } finally {
        quiet.mockRestore();
      }
    });
  });
  it("a decision sweep's listing: the alarm settles and the sweep goes on a minute later, then deletes the late decision", async () => {
    const user = "okd-sweep";
    const stub = readerStub(env, user);
    const b = fakeBatch(eventsOf(user));
    await consumeEvents(b.batch, env);
    expect(b.acked()).toHaveLength(3);
    await stub.erase(user, Date.now() + 86_400_000);
    // an open that began before the erasure stores its decision after it
    const late = kvKeys.decision(user, "spring", 1767225600, "row-0");
    await env.OPENTIME_KV.put(late, "{}");
    const sweeps = () =>
      runInDurableObject(stub, (_: ReaderShard, state) =>
        state.storage.sql.exec<{ round: number; at: number }>("SELECT round, at FROM decision_sweeps").toArray(),
      );
    const sweepNow = async () => {
      await runInDurableObject(stub, (_: ReaderShard, state) => {
        state.storage.sql.exec("UPDATE decision_sweeps SET at = 0");
      });
      return guard(runDurableObjectAlarm(stub));
    };
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["list", "delete"], mode: "hang" }]);
    await withObjectKv(stub, f.kv, async () => {
      const quiet = vi.spyOn(console, "error").mockImplementation(() => {});
      try {
        const before = Date.now();
        expect(await sweepNow()).not.toBe(HUNG);
        expect(f.hits).toBeGreaterThan(0);
        const [left] = await sweeps();
        expect(left?.round).toBe(0); // not done: tried again a minute later
        expect(left?.at).toBeGreaterThanOrEqual(before + 60_000);
        expect(await env.OPENTIME_KV.get(late)).not.toBeNull();
      } finally {
        quiet.mockRestore();
      }
    });
    // KV back: the sweep deletes it and goes on to its next round
    expect(await sweepNow()).not.toBe(HUNG);
    expect((await sweeps()).map((x) => x.round)).toEqual([1]);
    expect(await env.OPENTIME_KV.get(late)).toBeNull();
  });
});

describe("an invocation's KV operations (Workers allow 1,000)", () => {
  it("one apply call writes at most PUBLISH_BATCH snapshots; its alarm, run at once, writes the rest", async () => {
    const n = PUBLISH_BATCH + 50;
    const users = Array.from({ length: n }, (_, i) => `okd-many-${i}`);
    const snapshots: string[] = [];
    const counting = withPut(async (target, key, value) => {
      if (key.startsWith("profile:")) snapshots.push(key);
      await target.put(key, value);
    });
    await withShard("okd-many-0", counting, async (shard) => {
      const events = users.map((user, i): QueuedEvent => ({ id: `v${i}`, type: "view", user, item: "p1", ts: ts() }));
      expect(new Set(await shard.apply(events))).toEqual(new Set(["applied"]));
      expect(snapshots).toHaveLength(PUBLISH_BATCH);
      await shard.alarm();
      expect(new Set(snapshots).size).toBe(n);
    });
  });
});

describe("a route calling a shard whose KV operation passes its deadline", () => {
  it("answers 503 KV_UNAVAILABLE with Retry-After; nothing applied, the dead letter kept", async () => {
    const user = "okd-route";
    const stub = readerStub(env, user);
    await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify(emptyProfile(user, new Date().toISOString())));
    expect(await stub.park([{ id: "okd-r1", type: "view", user, item: "p1", ts: ts() }])).toEqual(["parked"]);
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "hang" }]);
    // the bindings the shard's constructor makes (objectEnv), over a KV that hangs, with short deadlines
    await withObjectKv(stub, f.kv, async () => {
      const quiet = vi.spyOn(console, "warn").mockImplementation(() => {});
      try {
        const res = await guard(
          send("/v1/admin/dead-letters/replay", {
            method: "POST",
            headers: ADMIN_HEADERS,
            body: JSON.stringify({ user }),
          }),
        );
        if (res === HUNG) throw new Error("the route hung");
        expect(res.status).toBe(503);
        expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KV_UNAVAILABLE");
        expect(res.headers.get("Retry-After")).toBe("1");
        expect(f.hits).toBeGreaterThan(0);
      } finally {
        quiet.mockRestore();
      }
    });
    expect(await stub.read(user)).toBeNull();
    expect(await stub.parkedCount(user)).toBe(1);
  });
});

describe("an object's ordered writes (withKvDeadlines, orderedWrites)", () => {
  it("a key whose write was given up on is not written again until it settles, or ABANDONED_WRITE_MS have passed", async () => {
    const sent: string[] = [];
    let settle: (() => void) | null = null;
    const kv = {
      put: (key: string, value: string) => {
        sent.push(`${key}=${value}`);
        // the first write of `a` waits for settle(); the rest settle at once
        return sent.length === 1 ? new Promise<void>((r) => (settle = r)) : Promise.resolve();
      },
    } as unknown as KVNamespace;
    const ordered = withKvDeadlines(kv, SHORT, { orderedWrites: true });
    await expect(ordered.put("a", "1")).rejects.toThrow(/did not settle within 50 ms/);
    await expect(ordered.put("a", "2")).rejects.toThrow(KvDeadlineError);
    await ordered.put("b", "1"); // another key is not held
    expect(sent).toEqual(["a=1", "b=1"]);
    (settle as unknown as () => void)();
    await new Promise((r) => setTimeout(r, 0));
    await ordered.put("a", "2");
    expect(sent).toEqual(["a=1", "b=1", "a=2"]);
    // one that never settles holds its key ABANDONED_WRITE_MS at most
    const never = { put: () => new Promise(() => {}) } as unknown as KVNamespace;
    const held = withKvDeadlines(never, SHORT, { orderedWrites: true });
    await expect(held.put("a", "1")).rejects.toThrow(/did not settle/);
    await expect(held.put("a", "2")).rejects.toThrow(/not sent/);
    const start = Date.now();
    const clock = vi.spyOn(Date, "now").mockReturnValue(start + ABANDONED_WRITE_MS);
    try {
      await expect(held.put("a", "3")).rejects.toThrow(/did not settle/); // sent (and given up on) again
    } finally {
      clock.mockRestore();
    }
  });
});
