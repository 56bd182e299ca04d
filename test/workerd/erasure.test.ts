/**
 * Erasure that lasts, inside workerd with real KV: the reader's state is deleted and only a tombstone is kept,
 * longer than the longest default token; their later opens, clicks and amp-list requests answer normally
 * (reason `erased`) but store and queue nothing; their events are dropped, also after TOKEN_SECRET rotates
 * and from the dead-letter queue; tombstones written before the change (keyed by the secret) still count.
 */
import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_ERASURE_TOMBSTONE_DAYS, erasureKey } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { featuresOf, type Profile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { getConfig } from "../../worker/env";
import { consumeDeadLetters, DEAD_LETTER_QUEUE, DEAD_LETTER_RETRY_SECONDS } from "../../worker/events/dead-letters";
import { ERASURE_KV_OPS } from "../../worker/events/erasure";
import worker from "../../worker/index";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { faultyKv } from "./support/faulty-bindings";
import { call, clearKv, consume, fixture, recordingQueue, SENDER, seedModel } from "./support/harness";

const DAY = 86400;
const ROTATED_SECRET = "rotated-secret-0123456789abcdef-xyz";
const now = () => Math.floor(Date.now() / 1000);

/** A queue binding that records what the Worker sends (instead of the real queue's consumer applying it). */
async function erase(user: string): Promise<void> {
  const req = new Request(`https://opentime.test/v1/users/${user}`, {
    method: "DELETE",
    headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
  });
  const res = await worker.fetch(req, env, createExecutionContext());
  expect(res.status).toBe(200);
}

async function decisionsOf(user: string): Promise<string[]> {
  return (await env.OPENTIME_KV.list({ prefix: kvKeys.decisionsPrefix(user) })).keys.map((k) => k.name);
}

const ev = (id: string, user: string): QueuedEvent => ({ id, user, type: "view", item: "p1", ts: now() - 60 });

/**
 * A reader the model knows (factors in their profile), with features written as `npm run seed` does; each
 * test takes its own (`index`): the writer's own tombstones (Durable Objects) outlive a test's KV.
 */
async function knownReader(index: number): Promise<Profile> {
  await seedModel();
  const p = fixture().profiles.filter((x) => x.factors !== null)[index] as Profile;
  const f = fixture();
  await env.OPENTIME_KV.put(kvKeys.features(p.userId, f.version), JSON.stringify(featuresOf(p, f.version)));
  return p;
}

beforeEach(clearKv);

describe("erasure", () => {
  it("deletes the reader's state; later opens, clicks and amp-list answer with popular items, store and queue nothing", async () => {
    const p = await knownReader(0);
    const user = p.userId;
    const rec = recordingQueue();
    const bindings = { ...env, EVENTS: rec.queue };
    // before: an open stores its decision and queues an open event (so the checks below can fail)
    const before = await call(
      `/v1/img/${await mintToken(TEST_TOKEN_SECRET, { user, campaign: "before", ttlSeconds: 3600 })}/row-0.png`,
      {},
      bindings,
    );
    expect(before.status).toBe(200);
    expect(before.headers.get("X-Opentime-Reason")).toBe("personalized");
    expect(await decisionsOf(user)).toHaveLength(1);
    expect(rec.sent.map((e) => e.type)).toEqual(["email_open"]);

    await erase(user);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
    expect(await env.OPENTIME_KV.get(kvKeys.features(user, fixture().version))).toBeNull();
    expect(await decisionsOf(user)).toEqual([]);
    // features written again since (an old seed, say) are not used either
    await env.OPENTIME_KV.put(
      kvKeys.features(user, fixture().version),
      JSON.stringify(featuresOf(p, fixture().version)),
    );

    // a later email, opened and clicked
    const t = await mintToken(TEST_TOKEN_SECRET, { user, campaign: "after", ttlSeconds: 30 * DAY });
    const img = await call(`/v1/img/${t}/row-0.png`, {}, bindings);
    expect(img.status).toBe(200);
    expect(img.headers.get("Content-Type")).toBe("image/png");
    expect(img.headers.get("X-Opentime-Reason")).toBe("erased");
    expect(img.headers.get("X-Opentime-Item")).not.toBe("none");
    const click = await call(`/v1/c/${t}/row-1`, {}, bindings);
    expect(click.status).toBe(302);
    expect(click.headers.get("X-Opentime-Reason")).toBe("erased");
    expect(click.headers.get("Location")).toMatch(/^https:\/\/opentime\.test\/demo\/p\/p\d+\?/);
    const recs = await call(`/v1/amp/recs?t=${t}&n=4`, { "AMP-Email-Sender": SENDER }, bindings);
    expect(recs.status).toBe(200);
    expect(recs.headers.get("X-Opentime-Reason")).toBe("erased");
    expect(((await recs.json()) as { items: unknown[] }).items).toHaveLength(4);

    expect(await decisionsOf(user)).toEqual([]);
    expect(rec.sent.map((e) => e.type)).toEqual(["email_open"]);
  });

  it("keeps only a tombstone, under a hash of the id, for longer than the longest default token (45 days)", async () => {
    const p = await knownReader(1);
    await erase(p.userId);
    const listed = await env.OPENTIME_KV.list({ prefix: kvKeys.erasure("") });
    expect(listed.keys.map((k) => k.name)).toEqual([await erasureKey(p.userId)]);
    expect(listed.keys[0]?.name).not.toContain(p.userId);
    // the token a reader can still hold: 30 days (`npm run token`, `npm run email`)
    expect(DEFAULT_ERASURE_TOMBSTONE_DAYS).toBeGreaterThan(30);
    expect(listed.keys[0]?.expiration).toBeGreaterThanOrEqual(now() + 45 * DAY - 60);
    // nothing else of the reader is left
    const all = (await env.OPENTIME_KV.list()).keys.map((k) => k.name);
    expect(all.filter((k) => k.includes(p.userId))).toEqual([]);
  });

  it("reads ERASURE_TOMBSTONE_DAYS between 1 and 3650 days, else the default", () => {
    const days = (v: string) => getConfig({ ...env, ERASURE_TOMBSTONE_DAYS: v }).erasureTombstoneDays;
    expect(days("3650")).toBe(3650);
    expect(days("1")).toBe(1);
    expect(days("400")).toBe(400);
    for (const bad of ["0", "3651", "-5", "forever"]) expect(days(bad), bad).toBe(DEFAULT_ERASURE_TOMBSTONE_DAYS);
    expect(getConfig({ ...env, ERASURE_TOMBSTONE_DAYS: undefined }).erasureTombstoneDays).toBe(45);
  });

  it("survives TOKEN_SECRET rotation: the reader's events are dropped and their opens record nothing", async () => {
    const p = await knownReader(2);
    await erase(p.userId);
    const rec = recordingQueue();
    // the old secret is gone entirely (not even TOKEN_SECRET_PREVIOUS)
    const rotated = { ...env, TOKEN_SECRET: ROTATED_SECRET, TOKEN_SECRET_PREVIOUS: undefined, EVENTS: rec.queue };
    const events = [ev("r1", p.userId), ev("r2", p.userId)];
    const result = await consume(events, rotated);
    expect(result.explicitAcks.sort()).toEqual(["m0-r1", "m1-r2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(p.userId))).toBeNull();
    const t = await mintToken(ROTATED_SECRET, { user: p.userId, campaign: "after-rotation", ttlSeconds: 3600 });
    const img = await call(`/v1/img/${t}/card-0.png`, {}, rotated);
    expect(img.headers.get("X-Opentime-Reason")).toBe("erased");
    expect(rec.sent).toEqual([]);
    expect(await decisionsOf(p.userId)).toEqual([]);
  });

  it("drops events posted after the erasure (the real queue), while another reader's land", async () => {
    const p = await knownReader(3);
    await erase(p.userId);
    const req = new Request("https://opentime.test/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${TEST_EVENTS_KEY}` },
      body: JSON.stringify({ events: [ev("late-1", p.userId), ev("late-2", "erasure-bystander")] }),
    });
    expect((await worker.fetch(req, env, createExecutionContext())).status).toBe(202);
    const started = Date.now();
    while ((await env.OPENTIME_KV.get(kvKeys.profile("erasure-bystander"))) === null) {
      if (Date.now() - started > 10_000) throw new Error("the bystander's event never landed");
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await env.OPENTIME_KV.get(kvKeys.profile(p.userId))).toBeNull();
    expect(await env.OPENTIME_KV.get(kvKeys.seen(p.userId))).toBeNull();
  });

  /** The tombstone the code before core/erasure-key.ts wrote: HMAC(secret, "erasure:" + id), first 16 bytes in hex. */
  async function legacyTombstone(user: string, secret = TEST_TOKEN_SECRET): Promise<void> {
    const raw = new TextEncoder().encode(secret);
    const key = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`erasure:${user}`)));
    const hash = Array.from(mac.slice(0, 16), (b) => b.toString(16).padStart(2, "0")).join("");
    await env.OPENTIME_KV.put(kvKeys.erasure(hash), "1", { expirationTtl: 7 * DAY });
  }

  it("still honours, on opens, a tombstone written before the change (under the current or previous secret)", async () => {
    const p = await knownReader(4);
    await env.OPENTIME_KV.delete(kvKeys.profile(p.userId));
    await legacyTombstone(p.userId);
    const rec = recordingQueue();
    const bindings = { ...env, EVENTS: rec.queue };
    const t = await mintToken(TEST_TOKEN_SECRET, { user: p.userId, campaign: "legacy", ttlSeconds: 3600 });
    const img = await call(`/v1/img/${t}/row-0.png`, {}, bindings);
    expect(img.headers.get("X-Opentime-Reason")).toBe("erased");
    // rotated since: the previous secret still finds it
    const rotated = {
      ...env,
      TOKEN_SECRET: ROTATED_SECRET,
      TOKEN_SECRET_PREVIOUS: TEST_TOKEN_SECRET,
      EVENTS: rec.queue,
    };
    const click = await call(`/v1/c/${t}/row-1`, {}, rotated);
    expect(click.headers.get("X-Opentime-Reason")).toBe("erased");
    expect(rec.sent).toEqual([]);
    expect(await decisionsOf(p.userId)).toEqual([]);
  });

  // A reader erased before the writer was deployed has a KV tombstone only: the shard reads KV's tombstones on a
  // reader's first touch (worker/state/first-touch.ts), so their next event recreates nothing.
  it("drops the events of a reader erased before the change (a KV tombstone only)", async () => {
    const p = await knownReader(5);
    await env.OPENTIME_KV.delete(kvKeys.profile(p.userId));
    await legacyTombstone(p.userId);
    const result = await consume([ev("l1", p.userId)]);
    expect(result.explicitAcks).toEqual(["m0-l1"]);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(p.userId))).toBeNull();
  });
});

describe("late decisions", () => {
  /** Runs the shard's alarm as if its due sweeps' time had come (a sweep is due minutes after the change). */
  async function sweepNow(user: string): Promise<{ round: number }[]> {
    const stub = readerStub(env, user);
    await runInDurableObject(stub, (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0");
    });
    await runDurableObjectAlarm(stub);
    return runInDurableObject(stub, (_: ReaderShard, state: DurableObjectState) =>
      state.storage.sql.exec<{ round: number }>("SELECT round FROM decision_sweeps WHERE user = ?", user).toArray(),
    );
  }

  it("a decision stored just after the erasure (an open still running) is swept twice more, then the id is gone", async () => {
    const user = "late-erased";
    await consume([ev("le1", user)]);
    await erase(user);
    // an open that began before the erasure writes its decision after it
    const late = kvKeys.decision(user, "spring", 1767225600, "row-0");
    await env.OPENTIME_KV.put(late, "{}");
    // and a seed that wrote their features just after the erasure's deletion
    const features = kvKeys.features(user, "v-late");
    await env.OPENTIME_KV.put(features, "{}");
    expect(await sweepNow(user)).toEqual([{ round: 1 }]);
    expect(await env.OPENTIME_KV.get(late)).toBeNull();
    expect(await env.OPENTIME_KV.get(features)).toBeNull();
    await env.OPENTIME_KV.put(late, "{}");
    // the last sweep: the reader's id is forgotten with it
    expect(await sweepNow(user)).toEqual([]);
    expect(await env.OPENTIME_KV.get(late)).toBeNull();
  });

  it("an erasure whose KV part fails answers 503 KV_UNAVAILABLE; the shard's sweeps delete the snapshot and write the tombstone", async () => {
    const user = "erased-kv-down";
    await consume([ev("kd1", user)]);
    await env.OPENTIME_KV.put(kvKeys.seen(user), JSON.stringify(["old-id"]));
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).not.toBeNull();
    // the shard's part lands; the request's own KV writes fail
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["put", "delete"], mode: "throw" }]);
    const req = new Request(`https://opentime.test/v1/users/${user}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    const res = await worker.fetch(req, { ...env, OPENTIME_KV: f.kv }, createExecutionContext());
    expect(f.hits).toBeGreaterThan(0);
    expect(res.status).toBe(503);
    expect(res.headers.get("Retry-After")).toBe("1");
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("KV_UNAVAILABLE");
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).not.toBeNull();
    // no retry comes: the sweeps the erasure queued finish the edge's part
    expect(await sweepNow(user)).toEqual([{ round: 1 }]);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
    expect(await env.OPENTIME_KV.get(kvKeys.seen(user))).toBeNull();
    expect(await env.OPENTIME_KV.get(await erasureKey(user))).toBe("1");
    // and the snapshot is not written again: the shard holds nothing of the reader
    await runDurableObjectAlarm(readerStub(env, user));
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
  });

  /** All of the reader's decision keys (past KV's 1,000 a listing page). */
  async function allDecisions(user: string): Promise<number> {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await env.OPENTIME_KV.list({ prefix: kvKeys.decisionsPrefix(user), ...(cursor && { cursor }) });
      n += page.keys.length;
      cursor = page.list_complete ? undefined : page.cursor;
    } while (cursor);
    return n;
  }

  /** `n` stored decisions of the reader (a reader of many daily campaigns, kept a year). */
  async function manyDecisions(user: string, n: number): Promise<void> {
    for (let i = 0; i < n; i += 100)
      await Promise.all(
        Array.from({ length: Math.min(100, n - i) }, (_, k) =>
          env.OPENTIME_KV.put(kvKeys.decision(user, `c${i + k}`, 1767225600, "row-0"), "{}"),
        ),
      );
  }

  it("an erasure spends at most ERASURE_KV_OPS KV operations (a Worker has 1,000); the sweeps delete the rest", async () => {
    const user = "many-decisions";
    await consume([ev("md1", user)]);
    await manyDecisions(user, 1000);
    const req = new Request(`https://opentime.test/v1/users/${user}`, {
      method: "DELETE",
      headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
    });
    const res = await worker.fetch(req, env, createExecutionContext());
    expect(res.status).toBe(200);
    const body = (await res.json()) as { keys_deleted: number; keys_pending: number };
    // the tombstone, two listings and one operation a key: within the budget, the rest left
    expect(body.keys_deleted).toBeLessThanOrEqual(ERASURE_KV_OPS - 3);
    expect(body.keys_pending).toBeGreaterThan(0);
    expect(await allDecisions(user)).toBe(body.keys_pending);
    expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
    // the first sweep deletes what was left
    expect(await sweepNow(user)).toEqual([{ round: 1 }]);
    expect(await allDecisions(user)).toBe(0);
  });

  it("a sweep run spends a bounded KV budget too: one cut short goes on at the next run, its round not counted", async () => {
    const user = "many-late";
    await consume([ev("ml1", user)]);
    await erase(user);
    await manyDecisions(user, 1100);
    expect(await sweepNow(user)).toEqual([{ round: 0 }]);
    const left = await allDecisions(user);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThan(1100);
    let runs = 1;
    while ((await sweepNow(user))[0]?.round === 0 && runs < 5) runs++;
    expect(await allDecisions(user)).toBe(0);
    expect(runs).toBeGreaterThan(1);
  });

  it("tracking off: a decision stored after the opt-out goes; tracking on again keeps the reader's decisions", async () => {
    const user = "late-optout";
    // a second apart: within one second the more private choice would win (core/apply-events.ts)
    const consent = (id: string, tracking: boolean, later = 0): QueuedEvent => ({
      id,
      type: "consent",
      user,
      ts: now() + later,
      consent: { tracking },
    });
    await consume([consent("lo1", false)]);
    const late = kvKeys.decision(user, "spring", 1767225600, "row-0");
    await env.OPENTIME_KV.put(late, "{}");
    expect(await sweepNow(user)).toEqual([{ round: 1 }]);
    expect(await env.OPENTIME_KV.get(late)).toBeNull();
    await consume([consent("lo2", true, 1)]);
    await env.OPENTIME_KV.put(late, "{}");
    expect(await sweepNow(user)).toEqual([]);
    expect(await env.OPENTIME_KV.get(late)).toBe("{}");
  });
});

describe("dead letters", () => {
  /** A dead-letter batch whose messages record ack() and retry(options). */
  function deadLetters(events: QueuedEvent[]) {
    const acked: string[] = [];
    const retried: { id: string; delaySeconds?: number }[] = [];
    const messages = events.map((body, i) => {
      const id = `d${i}-${body.id}`;
      return {
        id,
        timestamp: new Date(),
        attempts: 1,
        body,
        ack: () => acked.push(id),
        retry: (o?: QueueRetryOptions) => retried.push({ id, ...(o?.delaySeconds === undefined ? {} : o) }),
      } as unknown as Message<QueuedEvent>;
    });
    const batch = { queue: DEAD_LETTER_QUEUE, messages } as unknown as MessageBatch<QueuedEvent>;
    return { batch, acked, retried };
  }

  it("drops (acks) the events of erased readers, applies the others, and parks what would break a profile", async () => {
    await erase("dl-erased");
    // a time that is not whole seconds: no API check would pass it, and it would break the reader's profile
    const poison: QueuedEvent = { ...ev("p", "dl-kept"), ts: now() - 59.5 };
    const b = deadLetters([ev("a", "dl-erased"), ev("b", "dl-kept"), ev("c", "dl-erased"), poison]);
    // rotated since the erasure: the tombstone still counts
    const summary = await consumeDeadLetters(b.batch, { ...env, TOKEN_SECRET: ROTATED_SECRET });
    expect(summary).toEqual({ dropped: 2, parked: 1, applied: 1, refused: 0, notPseudonymous: 0, kept: 0 });
    expect(b.acked.sort()).toEqual(["d0-a", "d1-b", "d2-c", "d3-p"]);
    expect(b.retried).toEqual([]);
    expect(await readerStub(env, "dl-kept").parkedCount("dl-kept")).toBe(1);
    // parked dead letters go with the reader's erasure
    await erase("dl-kept");
    expect(await readerStub(env, "dl-kept").parkedCount("dl-kept")).toBe(0);
  });

  it("an erased reader's unsubscribe is not dropped: their shard keeps it as a suppression alone", async () => {
    await erase("dl-erased-unsub");
    const unsub: QueuedEvent = { ...ev("u", "dl-erased-unsub"), type: "consent", consent: { unsubscribed: true } };
    const b = deadLetters([unsub, ev("v", "dl-erased-unsub")]);
    const summary = await consumeDeadLetters(b.batch, env);
    expect(summary).toEqual({ dropped: 1, parked: 0, applied: 1, refused: 0, notPseudonymous: 0, kept: 0 });
    expect(b.acked.sort()).toEqual(["d0-u", "d1-v"]);
    const held = await readerStub(env, "dl-erased-unsub").access("dl-erased-unsub", 10);
    expect(held.profile).toBeNull();
    expect(held.applied.count).toBe(0);
    expect(held.listChange).toMatchObject({ unsubscribed: true });
  });

  it("a reader who consents again after the erasure comes back through a dead letter, as through the events queue", async () => {
    const user = "dl-returning";
    await erase(user);
    // erased two minutes ago, as their shard has it: a return can be timed in the past, with no wait
    const hash = (await erasureKey(user)).slice("erased:".length);
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE tombstones SET erased_at = ? WHERE hash = ?", Date.now() - 120_000, hash);
    });
    expect(await env.OPENTIME_KV.get(await erasureKey(user))).not.toBeNull();
    const t = now();
    const b = deadLetters([
      { id: "back", user, type: "consent", ts: t - 60, consent: { personalization: true, tracking: true } },
      { ...ev("before", user), item: "p-before", ts: t - 90 },
      { ...ev("after", user), item: "p-after", ts: t - 30 },
    ]);
    const summary = await consumeDeadLetters(b.batch, env);
    expect(summary).toEqual({ dropped: 1, parked: 0, applied: 2, refused: 0, notPseudonymous: 0, kept: 0 });
    expect(await readerStub(env, user).erased(user)).toBe(false);
    expect((await readerStub(env, user).read(user))?.consent).toMatchObject({ personalization: true, tracking: true });
    expect(await env.OPENTIME_KV.get(await erasureKey(user))).toBeNull();
    // a consent on of another erased reader, timed before their erasure, is no return: dropped by their shard
    await erase("dl-not-returning");
    const late = deadLetters([
      { id: "late", user: "dl-not-returning", type: "consent", ts: t - 600, consent: { tracking: true } },
    ]);
    expect((await consumeDeadLetters(late.batch, env)).dropped).toBe(1);
    expect(await readerStub(env, "dl-not-returning").erased("dl-not-returning")).toBe(true);
  });

  it("does not drop a returned reader's dead letter because the edge still shows their tombstone", async () => {
    const user = "dl-returned-edge";
    await erase(user);
    const hash = (await erasureKey(user)).slice("erased:".length);
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE tombstones SET erased_at = ? WHERE hash = ?", Date.now() - 120_000, hash);
    });
    const t = now();
    // they came back through the events queue: their shard records them again from t - 60
    const back: QueuedEvent = { id: "back", user, type: "consent", ts: t - 60, consent: { tracking: true } };
    expect(await readerStub(env, user).apply([back])).toEqual(["applied"]);
    expect(await readerStub(env, user).erased(user)).toBe(false);
    // the edge's tombstone still stands (the erasure request's KV write landing after the return, or a KV failure
    // the return's sweeps have not yet made good): their shard, the one that decides, records them
    await env.OPENTIME_KV.put(await erasureKey(user), "1");
    const b = deadLetters([{ ...ev("after", user), item: "p-after", ts: t - 30 }]);
    const summary = await consumeDeadLetters(b.batch, env);
    expect(summary).toMatchObject({ dropped: 0, applied: 1 });
    expect(((await readerStub(env, user).read(user))?.recentItems ?? []).map((r) => r.item)).toEqual(["p-after"]);
  });

  it("reads no edge tombstone (the shard's decides), and keeps a message that names no reader", async () => {
    await erase("dl-erased-2");
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "erased:" }]);
    const b = deadLetters([ev("a", "dl-erased-2"), { id: "x" } as unknown as QueuedEvent]);
    const summary = await consumeDeadLetters(b.batch, { ...env, OPENTIME_KV: f.kv });
    expect(f.hits).toBe(0);
    expect(summary).toEqual({ dropped: 1, parked: 0, applied: 0, refused: 0, notPseudonymous: 0, kept: 1 });
    expect(b.acked).toEqual(["d0-a"]);
    expect(b.retried).toEqual([{ id: "d1-x", delaySeconds: DEAD_LETTER_RETRY_SECONDS }]);
  });
});
