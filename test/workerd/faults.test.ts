/**
 * Fault injection inside workerd: KV get/list/put/delete that throw or never settle, a queue that refuses
 * sends. Email routes still answer (fallback content, never a hang or a 5xx), accepted events are never
 * lost (the consumer retries them) and nothing is written half (a redelivery counts each event once).
 */
import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { decode } from "fast-png";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { type Profile, parseProfile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { consumeEvents } from "../../worker/events/consumer";
import worker from "../../worker/index";
import { KvDeadlineError, withKvDeadlines } from "../../worker/lib/kv-deadline";
import { resetModelCache } from "../../worker/model/model-store";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { failingQueue, fakeBatch, faultyKv, type KvFault } from "./support/faulty-bindings";
import { call, clearKv, fixture, SENDER, seedModel, token } from "./support/harness";

/** A fault that made a route wait for ever fails the test here instead of hanging the suite. */
const TIMEOUT = 30_000;

type TestEnv = typeof env;
const withKv = (kv: KVNamespace): TestEnv => ({ ...env, OPENTIME_KV: kv });
const now = () => Math.floor(Date.now() / 1000);

beforeEach(async () => {
  await clearKv();
  await seedModel();
  resetBlockMemo();
  resetCampaignCache();
});

/** A reader the model knows (has factors), so a healthy KV would personalize. */
const reader = () => fixture().profiles.find((p) => p.factors)?.userId as string;

/** Loads the model into this isolate with a healthy KV (the state of a Worker that has served before). */
async function warm(): Promise<void> {
  const res = await call(`/v1/amp/recs?t=${await token(reader())}`);
  expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
  resetBlockMemo();
}

/** The four email routes of one reader, with `bindings`; every answer is what an email can render. */
async function emailRoutesAnswer(bindings: TestEnv): Promise<{ recsReason: string; recsItems: number }> {
  const t = await token(reader());
  const [recs, img, click, pixel] = await Promise.all([
    call(`/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER }, bindings),
    call(`/v1/img/${t}/row-0.png`, {}, bindings),
    call(`/v1/c/${t}/row-0`, {}, bindings),
    call(`/v1/e/${t}?type=email_open`, {}, bindings),
  ]);

  expect(recs.status).toBe(200);
  expect(recs.headers.get("Content-Type")).toMatch(/^application\/json/);
  const body = (await recs.json()) as { items: unknown[] };
  expect(Array.isArray(body.items)).toBe(true);
  const recsReason = recs.headers.get("X-Opentime-Reason") ?? "";
  expect(recsReason).not.toBe("");

  expect(img.status).toBe(200);
  expect(img.headers.get("Content-Type")).toBe("image/png");
  const png = decode(new Uint8Array(await img.arrayBuffer()));
  expect([png.width, png.height]).toEqual([200, 300]);

  expect(click.status).toBe(302);
  expect(click.headers.get("Location")).toMatch(/^https?:\/\//);

  expect(pixel.status).toBe(200);
  expect(pixel.headers.get("Content-Type")).toBe("image/gif");
  expect(new Uint8Array(await pixel.arrayBuffer()).subarray(0, 6)).toEqual(new TextEncoder().encode("GIF89a"));
  expect(pixel.headers.get("X-Opentime-Recorded")).toBe("yes"); // recording needs the queue, not KV
  return { recsReason, recsItems: body.items.length };
}

describe("email routes with KV failing", () => {
  const ALL_GETS: KvFault[] = [{ ops: ["get", "list"], mode: "throw" }];
  const HUNG_GETS: KvFault[] = [{ ops: ["get", "list"], mode: "hang" }];

  it(
    "answer with generic content when every KV read throws (model already loaded)",
    async () => {
      await warm();
      const f = faultyKv(env.OPENTIME_KV, ALL_GETS);
      const { recsReason, recsItems } = await emailRoutesAnswer(withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(recsReason).toBe("kv-error");
      expect(recsItems).toBe(6); // the loaded model's popular items
    },
    TIMEOUT,
  );

  it(
    "answer when every KV read throws in a fresh isolate (no model, no fallback items)",
    async () => {
      resetModelCache();
      const f = faultyKv(env.OPENTIME_KV, ALL_GETS);
      const { recsReason } = await emailRoutesAnswer(withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(recsReason).toMatch(/^kv-error/);
    },
    TIMEOUT,
  );

  it(
    "answer within the read deadline when every KV read hangs (model already loaded)",
    async () => {
      await warm();
      const f = faultyKv(env.OPENTIME_KV, HUNG_GETS);
      const { recsReason, recsItems } = await emailRoutesAnswer(withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(recsReason).toBe("kv-error");
      expect(recsItems).toBe(6);
    },
    TIMEOUT,
  );

  it(
    "answer when every KV read hangs in a fresh isolate",
    async () => {
      resetModelCache();
      const f = faultyKv(env.OPENTIME_KV, HUNG_GETS);
      const { recsReason } = await emailRoutesAnswer(withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(recsReason).toMatch(/^kv-error/);
    },
    TIMEOUT,
  );

  it(
    "answer as usual when every KV write throws (decisions are not stored)",
    async () => {
      await warm();
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["put", "delete"], mode: "throw" }]);
      const { recsReason } = await emailRoutesAnswer(withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0); // the image and the click tried to store their decision
      expect(recsReason).toBe("personalized");
      expect(f.writes).toEqual([]);
    },
    TIMEOUT,
  );
});

describe("queue sends failing", () => {
  async function postEvents(bindings: TestEnv, events: unknown[]): Promise<Response> {
    const req = new Request("https://opentime.test/v1/events", {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${TEST_EVENTS_KEY}` },
      body: JSON.stringify({ events }),
    });
    return worker.fetch(req, bindings, createExecutionContext());
  }

  it(
    "POST /v1/events answers 503 EVENTS_UNAVAILABLE with Retry-After, so the client retries",
    async () => {
      const q = failingQueue();
      const res = await postEvents({ ...env, EVENTS: q.queue }, [
        { id: "q1", type: "view", user: "u-queue", item: "p1", ts: now() },
      ]);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("EVENTS_UNAVAILABLE");
      expect(Number(res.headers.get("Retry-After"))).toBeGreaterThan(0);
      expect(q.attempts()).toBeGreaterThan(0);
    },
    TIMEOUT,
  );

  it(
    "images, clicks and the pixel still answer normally (the open/click is just not recorded)",
    async () => {
      const q = failingQueue();
      const bindings = { ...env, EVENTS: q.queue };
      // a campaign of its own: the pixel's rate limit counts per token
      const t = await mintToken(TEST_TOKEN_SECRET, { user: reader(), campaign: "queue-fault", ttlSeconds: 3600 });
      const img = await call(`/v1/img/${t}/row-0.png`, {}, bindings);
      expect(img.status).toBe(200);
      expect(img.headers.get("X-Opentime-Reason")).toBe("personalized");
      const png = decode(new Uint8Array(await img.arrayBuffer()));
      expect([png.width, png.height]).toEqual([200, 300]);
      const click = await call(`/v1/c/${t}/row-0`, {}, bindings);
      expect(click.status).toBe(302);
      expect(click.headers.get("X-Opentime-Item")).toBe(img.headers.get("X-Opentime-Item"));
      const pixel = await call(`/v1/e/${t}?type=email_open`, {}, bindings);
      expect(pixel.status).toBe(200);
      expect(pixel.headers.get("Content-Type")).toBe("image/gif");
      expect(pixel.headers.get("X-Opentime-Recorded")).toBe("no");
      expect(q.attempts()).toBe(3); // the open, the click and the pixel each tried
    },
    TIMEOUT,
  );
});

describe("queue consumer with KV failing", () => {
  const ev = (id: string, user: string, type: QueuedEvent["type"], item?: string, value?: number): QueuedEvent => ({
    id,
    user,
    type,
    item,
    ts: now() - 120 + Number(id.replace(/\D/g, "") || 0),
    value,
  });
  /** Two users' events: views, a purchase, an open and a click. */
  const eventsOf = (a: string, b: string): QueuedEvent[] => [
    ev("e1", a, "view", "p1"),
    ev("e2", a, "purchase", "p1", 20),
    ev("e3", a, "email_click", "p2"),
    ev("e4", b, "email_open"),
    ev("e5", b, "purchase", "p3", 5),
  ];
  const idsOf = (events: QueuedEvent[]) => events.map((e, i) => `m${i}-${e.id}`).sort();

  async function profileOf(user: string): Promise<Profile | null> {
    const raw = await env.OPENTIME_KV.get(kvKeys.profile(user), "json");
    if (raw === null) return null;
    const p = parseProfile(raw);
    if (!p.ok) throw new Error(`stored profile of ${user} is invalid: ${p.error}`);
    return p.profile;
  }

  /** What a profile holds, without who and when it was written: comparable across users and runs. */
  const contents = (p: Profile | null) => {
    if (!p) return null;
    const { userId: _u, updatedAt: _t, ...rest } = p;
    return rest;
  };

  /** The profiles the same events make with a healthy KV, delivered once (users renamed `control-*`). */
  async function control(events: QueuedEvent[]) {
    const renamed = events.map((e) => ({ ...e, user: `control-${e.user}` }));
    const b = fakeBatch(renamed);
    await consumeEvents(b.batch, env);
    expect(b.acked().sort()).toEqual(idsOf(renamed));
    const users = [...new Set(events.map((e) => e.user))];
    return Object.fromEntries(
      await Promise.all(users.map(async (u) => [u, contents(await profileOf(`control-${u}`))] as const)),
    );
  }

  async function expectCountedOnce(events: QueuedEvent[]) {
    const expected = await control(events);
    for (const user of Object.keys(expected)) {
      expect(expected[user]).not.toBeNull();
      expect(contents(await profileOf(user))).toEqual(expected[user]);
    }
  }

  /** Delivers `events` again with a healthy KV: every message acked. */
  async function redeliver(events: QueuedEvent[]) {
    const b = fakeBatch(events);
    await consumeEvents(b.batch, env);
    expect(b.retried()).toEqual([]);
    expect(b.acked().sort()).toEqual(idsOf(events));
  }

  it(
    "a failing profile read retries every message and writes nothing; the retry then applies them once",
    async () => {
      const events = eventsOf("cf-read-a", "cf-read-b");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "profile:" }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(f.hits).toBe(2);
      expect(b.acked()).toEqual([]);
      expect(b.retried().sort()).toEqual(idsOf(events));
      expect(f.writes).toEqual([]);
      expect(await profileOf("cf-read-a")).toBeNull();
      await redeliver(events);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "a failing read of one user's profile retries only that user's messages",
    async () => {
      const events = eventsOf("cf-one-a", "cf-one-b");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: kvKeys.profile("cf-one-a") }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(b.retried().sort()).toEqual(
        events.flatMap((e, i) => (e.user === "cf-one-a" ? [`m${i}-${e.id}`] : [])).sort(),
      );
      expect(b.acked().sort()).toEqual(
        events.flatMap((e, i) => (e.user === "cf-one-b" ? [`m${i}-${e.id}`] : [])).sort(),
      );
      expect(f.hits).toBe(1);
      expect(await profileOf("cf-one-a")).toBeNull();
      expect(await profileOf("cf-one-b")).not.toBeNull();
    },
    TIMEOUT,
  );

  it(
    "a failing erasure check retries and writes nothing",
    async () => {
      const events = eventsOf("cf-erq-a", "cf-erq-b");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "erased:" }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(b.acked()).toEqual([]);
      expect(b.retried().sort()).toEqual(idsOf(events));
      expect(f.writes).toEqual([]);
    },
    TIMEOUT,
  );

  it(
    "a failing profile write retries and writes nothing; after the fault clears, a redelivery counts each event once",
    async () => {
      const events = eventsOf("cf-put-a", "cf-put-b");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["put"], mode: "throw", prefix: "profile:" }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(f.hits).toBe(2);
      expect(b.acked()).toEqual([]);
      expect(b.retried().sort()).toEqual(idsOf(events));
      expect(f.writes).toEqual([]); // not the seen list either: it is written after the profile
      f.faults.length = 0;
      const again = fakeBatch(events);
      await consumeEvents(again.batch, withKv(f.kv));
      expect(again.acked().sort()).toEqual(idsOf(events));
      await redeliver(events); // and once more: all duplicates now
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "a failing seen-list write after the profile write: the redelivery counts each event once",
    async () => {
      const events = eventsOf("cf-seen-a", "cf-seen-b");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["put"], mode: "throw", prefix: "seen:" }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(f.hits).toBe(2);
      expect(b.retried().sort()).toEqual(idsOf(events));
      expect(f.writes.sort()).toEqual([kvKeys.profile("cf-seen-a"), kvKeys.profile("cf-seen-b")]);
      await redeliver(events);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "a profile write that outlives its deadline and lands late: the retry's redelivery counts each event once",
    async () => {
      const events = eventsOf("cf-late-a", "cf-late-b");
      // the write is not lost, only slow: it lands after the consumer gave up on it
      const f = faultyKv(env.OPENTIME_KV, []);
      const slow = { ...f.kv } as KVNamespace;
      const landed: Promise<unknown>[] = [];
      slow.put = ((key: string, ...rest: unknown[]) => {
        const put = () => (f.kv.put as (...a: unknown[]) => Promise<void>)(key, ...rest);
        if (!key.startsWith("profile:")) return put();
        const late = new Promise((r) => setTimeout(r, 300)).then(put);
        landed.push(late);
        return late;
      }) as KVNamespace["put"];
      const deadlines = { readMs: 1_000, modelReadMs: 1_000, writeMs: 50 };
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(withKvDeadlines(slow, deadlines)));
      expect(b.acked()).toEqual([]);
      expect(b.retried().sort()).toEqual(idsOf(events));
      await Promise.all(landed);
      expect(await profileOf("cf-late-a")).not.toBeNull();
      await redeliver(events);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "events of an erased user are acked and nothing is written (only their keys deleted again)",
    async () => {
      const user = "cf-erased";
      const res = await worker.fetch(
        new Request(`https://opentime.test/v1/users/${user}`, {
          method: "DELETE",
          headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
        }),
        env,
        createExecutionContext(),
      );
      expect(res.status).toBe(200);
      const events = [ev("x1", user, "view", "p1"), ev("x2", user, "purchase", "p1", 9)];
      const f = faultyKv(env.OPENTIME_KV, []);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(b.acked().sort()).toEqual(idsOf(events));
      expect(b.retried()).toEqual([]);
      // the consumer deletes what a batch racing the erasure could have left; it puts nothing
      expect(f.writes.sort()).toEqual([kvKeys.profile(user), kvKeys.seen(user)].sort());
      expect(await profileOf(user)).toBeNull();
      expect(await env.OPENTIME_KV.get(kvKeys.seen(user))).toBeNull();
    },
    TIMEOUT,
  );

  it(
    "an erasure that lands mid-batch, with the consumer's clean-up deletes failing: the redelivery leaves nothing",
    async () => {
      const user = "cf-erase-race";
      const events = [ev("r1", user, "view", "p1"), ev("r2", user, "purchase", "p1", 9)];
      // the admin erases the reader after the consumer read the profile and before it writes it
      const f = faultyKv(env.OPENTIME_KV, []);
      const racing = { ...f.kv } as KVNamespace;
      racing.put = (async (key: string, ...rest: unknown[]) => {
        if (key === kvKeys.profile(user)) {
          const res = await worker.fetch(
            new Request(`https://opentime.test/v1/users/${user}`, {
              method: "DELETE",
              headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
            }),
            env,
            createExecutionContext(),
          );
          expect(res.status).toBe(200);
          f.faults.push({ ops: ["delete"], mode: "throw" });
        }
        return (f.kv.put as (...a: unknown[]) => Promise<void>)(key, ...rest);
      }) as KVNamespace["put"];
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(racing));
      expect(f.hits).toBeGreaterThan(0); // the consumer saw the erasure and tried to undo its writes
      expect(b.retried().sort()).toEqual(idsOf(events));
      f.faults.length = 0;
      const again = fakeBatch(events);
      await consumeEvents(again.batch, withKv(f.kv));
      expect(again.acked().sort()).toEqual(idsOf(events));
      expect(await env.OPENTIME_KV.get(kvKeys.profile(user))).toBeNull();
      expect(await env.OPENTIME_KV.get(kvKeys.seen(user))).toBeNull();
    },
    TIMEOUT,
  );

  it(
    "turning tracking off with the decision clean-up failing: the redelivery still deletes the decisions",
    async () => {
      const user = "cf-optout";
      const decision = kvKeys.decision(user, "spring", "row-0");
      await env.OPENTIME_KV.put(decision, JSON.stringify({ v: 1 }));
      const events: QueuedEvent[] = [{ ...ev("o1", user, "consent"), consent: { tracking: false } }];
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["list", "delete"], mode: "throw", prefix: "decision:" }]);
      const b = fakeBatch(events);
      await consumeEvents(b.batch, withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(b.retried()).toEqual(idsOf(events));
      f.faults.length = 0;
      await redeliver(events);
      expect((await profileOf(user))?.consent.tracking).toBe(false);
      expect(await env.OPENTIME_KV.get(decision)).toBeNull();
    },
    TIMEOUT,
  );

  it(
    "the Worker's queue handler bounds KV reads: a hung profile read retries the messages",
    async () => {
      const events = [ev("h1", "cf-hung", "view", "p1")];
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "hang", prefix: "profile:" }]);
      const batch = createMessageBatch<QueuedEvent>(
        "opentime-events",
        events.map((body, i) => ({ id: `m${i}-${body.id}`, timestamp: new Date(), attempts: 1, body })),
      );
      const ctx = createExecutionContext();
      await worker.queue(batch, withKv(f.kv), ctx);
      const result = await getQueueResult(batch, ctx);
      expect(f.hits).toBe(1);
      expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m0-h1"]);
      expect(result.explicitAcks).toEqual([]);
      expect(await profileOf("cf-hung")).toBeNull();
    },
    TIMEOUT,
  );
});

describe("withKvDeadlines", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("rejects a hung read with a KvDeadlineError that names the key's kind, never the key", async () => {
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get", "list"], mode: "hang" }]);
    const kv = withKvDeadlines(f.kv, { readMs: 30, modelReadMs: 30, writeMs: 30 });
    const err = await kv.get(kvKeys.profile("secret-reader-42")).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KvDeadlineError);
    expect((err as Error).message).toContain("profile");
    expect((err as Error).message).not.toContain("secret-reader-42");
    await expect(kv.list({ prefix: kvKeys.decisionsPrefix("secret-reader-42") })).rejects.toThrow(/decision/);
  });

  it("passes values and errors through, and clears its timer when the operation settles", async () => {
    const setSpy = vi.spyOn(globalThis, "setTimeout");
    const clearSpy = vi.spyOn(globalThis, "clearTimeout");
    const kv = withKvDeadlines(env.OPENTIME_KV, { readMs: 60_000, modelReadMs: 60_000, writeMs: 60_000 });
    await kv.put("fault:probe", "v");
    expect(await kv.get("fault:probe")).toBe("v");
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["delete"], mode: "throw" }]);
    await expect(
      withKvDeadlines(f.kv, { readMs: 60_000, modelReadMs: 60_000, writeMs: 60_000 }).delete("x"),
    ).rejects.toThrow(/injected fault/);
    const timers = setSpy.mock.results.map((r) => r.value);
    expect(timers).toHaveLength(3);
    expect(clearSpy.mock.calls.map((c) => c[0])).toEqual(timers);
  });
});
