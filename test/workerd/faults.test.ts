/**
 * Fault injection inside workerd: KV get/list/put/delete that throw or never settle, a queue that refuses
 * sends. Email routes still answer (fallback content, never a hang or a 5xx), accepted events are never
 * lost (the consumer retries them) and nothing is written half (a redelivery counts each event once).
 */
import { createExecutionContext, env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { decode } from "fast-png";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, type Profile, parseProfile } from "../../core/profile";
import { mintToken } from "../../core/token";
import { resetBlockMemo } from "../../worker/decisions/block-memo";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import { consumeEvents } from "../../worker/events/consumer";
import { BACKGROUND_RETRY_MS } from "../../worker/events/queue";
import worker from "../../worker/index";
import {
  FETCH_KV_DEADLINES,
  fetchKind,
  KvDeadlineError,
  requestKind,
  withKvDeadlines,
} from "../../worker/lib/kv-deadline";
import { resetModelCache } from "../../worker/model/model-store";
import type { ReaderCache } from "../../worker/state/reader-cache";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub, shardOf } from "../../worker/state/shard-routing";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY, TEST_TOKEN_SECRET } from "./fixture";
import { failingQueue, fakeBatch, faultyKv, hangingQueue, type KvFault } from "./support/faulty-bindings";
import { call, clearKv, fixture, SENDER, seedModel, token } from "./support/harness";
import { withObjectEnv } from "./support/object-env";

/**
 * A fault that made a route wait for ever fails the test here instead of hanging the suite. A minute (the workerd
 * config's own): some tests wait out a 10 s deadline, and a loaded machine takes seconds for one request.
 */
const TIMEOUT = 60_000;

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
    "a deploy without the EVENTS queue: 503 EVENTS_UNAVAILABLE naming the binding, with no Retry-After (a retry cannot help)",
    async () => {
      const res = await postEvents({ ...env, EVENTS: undefined } as unknown as TestEnv, [
        { id: "q0", type: "view", user: "u-queue", item: "p1", ts: now() },
      ]);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("EVENTS_UNAVAILABLE");
      expect(body.error.message).toContain("EVENTS");
      expect(body.error.message).toContain("wrangler.toml");
      expect(res.headers.get("Retry-After")).toBeNull();
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
      // the pixel tried once (the email's image waits on it); the open and the click, sent after the answer, tried
      // again after each of BACKGROUND_RETRY_MS (a queue over its throughput refuses for a moment), then given up
      expect(q.attempts()).toBe(1 + 2 * (BACKGROUND_RETRY_MS.length + 1));
    },
    TIMEOUT,
  );
});

describe("a queue that never answers", () => {
  // the runtime's waitUntil would wait on the hung send for ever: these requests' contexts are not awaited
  const unawaited = (path: string, init: RequestInit, bindings: TestEnv) =>
    worker.fetch(new Request(`https://opentime.test${path}`, init), bindings, createExecutionContext());

  it(
    "holds neither the pixel's GIF nor the preferences form: the GIF says pending, the form's change is saved by the reader's shard",
    async () => {
      const q = hangingQueue();
      const bindings = { ...env, EVENTS: q.queue };
      const t = await mintToken(TEST_TOKEN_SECRET, { user: reader(), campaign: "queue-hangs", ttlSeconds: 3600 });
      const pixel = await unawaited(`/v1/e/${t}?type=email_open`, {}, bindings);
      expect(pixel.status).toBe(200);
      expect(pixel.headers.get("Content-Type")).toBe("image/gif");
      expect(pixel.headers.get("X-Opentime-Recorded")).toBe("pending");
      // a reader of their own: the form's change is applied at once, by their shard
      const user = "queue-hangs-form";
      const form = await unawaited(
        `/v1/amp/preferences?t=${await token(user)}`,
        {
          method: "POST",
          headers: { "AMP-Email-Sender": SENDER, "Content-Type": "application/x-www-form-urlencoded" },
          body: "form=2&unsubscribe=on",
        },
        bindings,
      );
      expect(form.status).toBe(200);
      expect(await form.json()).toMatchObject({ ok: true, message: "You are unsubscribed." });
      // a reader the shard held nothing of: kept as a suppression alone (worker/state/suppression-only.ts)
      expect((await readerStub(env, user).access(user, 1)).listChange).toMatchObject({ unsubscribed: true });
      expect(q.attempts()).toBe(2);
    },
    TIMEOUT,
  );
});

describe("decisions made on a failure", () => {
  const failingFiles = () =>
    withKv(faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: `model:${fixture().version}:` }]).kv);
  /** the model can be read again (the isolate asks KV anew, as it does at its next refresh) */
  const recover = () => {
    resetModelCache();
    resetBlockMemo();
  };

  it(
    "generic content shown because the model failed is not frozen: the next real open decides again",
    async () => {
      resetModelCache();
      const t = await token(reader());
      const failed = await call(`/v1/img/${t}/row-0.png`, {}, failingFiles());
      expect(failed.headers.get("X-Opentime-Reason")).toBe("kv-error");
      recover();
      const again = await call(`/v1/img/${t}/row-0.png`);
      expect(again.headers.get("X-Opentime-Decision")).toBe("decided");
      expect(again.headers.get("X-Opentime-Reason")).toBe("personalized");
      // and that one holds
      const third = await call(`/v1/img/${t}/row-0.png`);
      expect(third.headers.get("X-Opentime-Reason")).toBe("stored-frozen");
      expect(third.headers.get("X-Opentime-Item")).toBe(again.headers.get("X-Opentime-Item"));
    },
    TIMEOUT,
  );

  it(
    "its click still leads to what the image showed, and holds it from then on",
    async () => {
      resetModelCache();
      const t = await token(reader());
      const failed = await call(`/v1/img/${t}/row-1.png`, {}, failingFiles());
      expect(failed.headers.get("X-Opentime-Reason")).toBe("kv-error");
      const shown = failed.headers.get("X-Opentime-Item");
      recover();
      const click = await call(`/v1/c/${t}/row-1`);
      expect(click.headers.get("X-Opentime-Item")).toBe(shown);
      expect(click.headers.get("X-Opentime-Reason")).toBe("stored-provisional");
      const reopen = await call(`/v1/img/${t}/row-1.png`);
      expect(reopen.headers.get("X-Opentime-Reason")).toBe("stored-frozen");
      expect(reopen.headers.get("X-Opentime-Item")).toBe(shown);
    },
    TIMEOUT,
  );

  it(
    "the reader's consent still counts: tracking off stores nothing, personalization off says so",
    async () => {
      resetModelCache();
      const user = reader();
      const consent = async (change: Partial<Profile["consent"]>) => {
        const p = (await env.OPENTIME_KV.get(kvKeys.profile(user), "json")) as Profile;
        await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify({ ...p, consent: { ...p.consent, ...change } }));
      };
      const stored = async () => (await env.OPENTIME_KV.list({ prefix: kvKeys.decisionsPrefix(user) })).keys.length;
      await consent({ tracking: false });
      const t = await token(user);
      const failed = await call(`/v1/img/${t}/row-2.png`, {}, failingFiles());
      expect(failed.headers.get("X-Opentime-Reason")).toBe("kv-error");
      expect(await stored()).toBe(0);
      // allowed again: the failure's open is stored, provisional, as for anyone
      await consent({ tracking: true });
      resetBlockMemo();
      await call(`/v1/img/${t}/row-2.png`, {}, failingFiles());
      expect(await stored()).toBe(1);
      await consent({ personalization: false });
      resetBlockMemo();
      const opted = await call(`/v1/img/${t}/row-0.png`, {}, failingFiles());
      expect(opted.headers.get("X-Opentime-Reason")).toBe("opted-out");
      expect(await stored()).toBe(1);
    },
    TIMEOUT,
  );
});

describe("a stored decision that cannot be read", () => {
  it(
    "a re-open or click whose read of it fails shows what it decides now, and stores nothing over it",
    async () => {
      await warm();
      const user = reader();
      const t = await token(user);
      expect((await call(`/v1/img/${t}/row-0.png`)).headers.get("X-Opentime-Decision")).toBe("decided");
      const [key] = (await env.OPENTIME_KV.list({ prefix: kvKeys.decisionsPrefix(user) })).keys.map((k) => k.name);
      // what the first open froze: another item than the ranking gives now (it was made on an older ranking)
      const stored = (await env.OPENTIME_KV.get(key as string, "json")) as { item: { id: string } };
      const items = (JSON.parse(fixture().catalogJson) as { items: { id: string }[] }).items;
      const other = items.find((it) => it.id !== stored.item.id) as { id: string };
      await env.OPENTIME_KV.put(key as string, JSON.stringify({ ...stored, item: { ...stored.item, id: other.id } }));
      // KV fails the read of decisions (a passing error, a deadline) at a re-open and a click
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "decision:" }]);
      resetBlockMemo();
      const reopen = await call(`/v1/img/${t}/row-0.png`, {}, withKv(f.kv));
      expect(reopen.status).toBe(200);
      const click = await call(
        `/v1/c/${t}/row-0`,
        { "User-Agent": "Mozilla/5.0 (Macintosh) Safari/605.1.15" },
        withKv(f.kv),
      );
      expect(click.status).toBe(302);
      expect(f.hits).toBeGreaterThan(0);
      expect(f.writes.filter((k) => k.startsWith("decision:"))).toEqual([]);
      // once KV reads again, the email shows what it froze, and its click leads there
      resetBlockMemo();
      const later = await call(`/v1/img/${t}/row-0.png`);
      expect(later.headers.get("X-Opentime-Reason")).toBe("stored-frozen");
      expect(later.headers.get("X-Opentime-Item")).toBe(other.id);
      expect((await call(`/v1/c/${t}/row-0`)).headers.get("X-Opentime-Item")).toBe(other.id);
    },
    TIMEOUT,
  );
});

describe("model files that never answer", () => {
  // the load such a request starts goes on in its waitUntil until the files' deadline: its context is not awaited
  const timed = async (path: string, headers: Record<string, string>, bindings: TestEnv) => {
    const started = Date.now();
    const res = await worker.fetch(
      new Request(`https://opentime.test${path}`, { headers }),
      bindings,
      createExecutionContext(),
    );
    const body = new Uint8Array(await res.arrayBuffer());
    return { res, body, ms: Date.now() - started };
  };
  /** KV whose reads of model files (`model:<version>:*`, 10 s deadline) never answer; the pointer answers */
  const hungFiles = (version: string) =>
    faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "hang", prefix: `model:${version}:` }]);
  /** the email deadline on model files (worker/lib/kv-deadline.ts): what an open waited before */
  const FILES_DEADLINE_MS = 10_000;
  /**
   * An answer held on the files comes at their deadline at the earliest (it is timed from before their read); one
   * that did not wait for them comes after OPEN_MODEL_WAIT_MS (3 s) and its own work, which a loaded machine
   * stretches by seconds: the bound is the deadline itself, as wide as it can be and still fail an answer that waited.
   */
  const ANSWERED_BEFORE_MS = FILES_DEADLINE_MS;

  it(
    "a fresh isolate answers the amp-list, images and clicks with popular content (model-loading) well before the files' deadline",
    async () => {
      resetModelCache();
      const f = hungFiles(fixture().version);
      const bindings = withKv(f.kv);
      const t = await token(reader());
      const [recs, img, click] = await Promise.all([
        timed(`/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER }, bindings),
        timed(`/v1/img/${t}/row-0.png`, {}, bindings),
        timed(`/v1/c/${t}/row-1`, {}, bindings),
      ]);
      expect(f.hits).toBeGreaterThan(0);
      expect(recs.res.status).toBe(200);
      expect(recs.res.headers.get("X-Opentime-Reason")).toBe("model-loading");
      expect((JSON.parse(new TextDecoder().decode(recs.body)) as { items: unknown[] }).items.length).toBe(6);
      expect(img.res.headers.get("X-Opentime-Reason")).toBe("model-loading");
      const png = decode(img.body);
      expect([png.width, png.height]).toEqual([200, 300]);
      expect(click.res.status).toBe(302);
      expect(click.res.headers.get("X-Opentime-Reason")).toBe("model-loading");
      for (const r of [recs, img, click]) expect(r.ms).toBeLessThan(ANSWERED_BEFORE_MS);
    },
    TIMEOUT,
  );

  it(
    "a campaign held on a version whose files never answer is served the active model well before their deadline",
    async () => {
      await warm();
      const campaign = "held-on-hung";
      const put = await worker.fetch(
        new Request(`https://opentime.test/v1/admin/campaigns/${campaign}`, {
          method: "PUT",
          headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" },
          body: JSON.stringify({ v: 2, model: "als-hung", default: { id: "picks", type: "recommendations" } }),
        }),
        env,
        createExecutionContext(),
      );
      expect(put.status).toBe(200);
      const f = hungFiles("als-hung");
      const t = await mintToken(TEST_TOKEN_SECRET, { user: reader(), campaign, ttlSeconds: 3600 });
      const recs = await timed(`/v1/amp/recs?t=${t}`, { "AMP-Email-Sender": SENDER }, withKv(f.kv));
      expect(f.hits).toBeGreaterThan(0);
      expect(recs.res.headers.get("X-Opentime-Reason")).toBe("personalized");
      expect(recs.res.headers.get("X-Opentime-Model")).toBe(fixture().version);
      expect(recs.ms).toBeLessThan(ANSWERED_BEFORE_MS);
    },
    TIMEOUT,
  );
});

describe("queue consumer and reader shards under faults (each fault: 0 events lost, 0 counted twice)", () => {
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
  /** Makes the shard's SQL throw for queries `fails` picks; returns the restore. */
  const failingSql = async (
    stub: DurableObjectStub<ReaderShard>,
    fails: (query: string) => boolean,
    what: string,
  ): Promise<() => Promise<void>> => {
    const restore = await runInDurableObject(stub, (instance: ReaderShard) => {
      const sql = (instance as unknown as { sql: SqlStorage }).sql;
      const exec = sql.exec.bind(sql);
      (sql as { exec: SqlStorage["exec"] }).exec = ((query: string, ...bindings: unknown[]) => {
        if (fails(query)) throw new Error(`injected: ${what}`);
        return exec(query, ...bindings);
      }) as SqlStorage["exec"];
      return () => {
        (sql as { exec: SqlStorage["exec"] }).exec = exec;
      };
    });
    return () => runInDurableObject(stub, () => restore());
  };
  /** Two user ids (with `prefix`) that the routing puts in the same shard. */
  const twoReadersOfOneShard = (prefix: string): [string, string] => {
    const seen = new Map<number, string>();
    for (let i = 0; ; i++) {
      const user = `${prefix}-${i}`;
      const other = seen.get(shardOf(user));
      if (other) return [other, user];
      seen.set(shardOf(user), user);
    }
  };

  /** The writer's own state of the reader (what the shard holds), or null. */
  const profileOf = (user: string): Promise<Profile | null> => readerStub(env, user).read(user);

  /** The snapshot opens read (KV), or null. */
  async function snapshotOf(user: string): Promise<Profile | null> {
    const raw = await env.OPENTIME_KV.get(kvKeys.profile(user), "json");
    if (raw === null) return null;
    const p = parseProfile(raw);
    if (!p.ok) throw new Error(`snapshot of ${user} is invalid: ${p.error}`);
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

  /** Consumes `events` while the reader's shard (its object, not the consumer) uses `kv`; its own KV after. */
  async function consumeWithShardKv(user: string, kv: KVNamespace, events: QueuedEvent[]) {
    const b = fakeBatch(events);
    await withObjectEnv(
      readerStub(env, user),
      (real) => ({ ...real, OPENTIME_KV: kv }),
      () => consumeEvents(b.batch, env),
    );
    return b;
  }

  it(
    "a shard call that fails retries every message of that shard and commits nothing; the redelivery counts once",
    async () => {
      const events = eventsOf("cf-rpc-a", "cf-rpc-b");
      let calls = 0;
      const failing = {
        idFromName: (name: string) => env.READERS?.idFromName(name),
        get: () => ({
          apply: () => {
            calls++;
            return Promise.reject(new Error("injected: the object is unreachable"));
          },
        }),
      } as unknown as TestEnv["READERS"];
      const b = fakeBatch(events);
      await consumeEvents(b.batch, { ...env, READERS: failing });
      expect(calls).toBeGreaterThan(0);
      expect(b.acked()).toEqual([]);
      expect(b.retried().sort()).toEqual(idsOf(events));
      expect(await profileOf("cf-rpc-a")).toBeNull();
      await redeliver(events);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "the object throwing mid-transaction rolls the whole batch back; the redelivery counts once",
    async () => {
      const events = eventsOf("cf-mid-a", "cf-mid-b");
      const stub = readerStub(env, "cf-mid-a");
      let inserts = 0;
      const restore = await failingSql(
        stub,
        (query) => query.startsWith("INSERT") && ++inserts === 2,
        "disk full mid-batch",
      );
      const a = events.filter((e) => e.user === "cf-mid-a");
      const b = fakeBatch(a);
      await consumeEvents(b.batch, env);
      expect(inserts).toBeGreaterThanOrEqual(2);
      expect(b.retried().sort()).toEqual(idsOf(a));
      expect(await profileOf("cf-mid-a")).toBeNull(); // nothing of the batch was kept
      await restore();
      await redeliver(a);
      await expectCountedOnce(a);
    },
    TIMEOUT,
  );

  it(
    "the snapshot write failing after the object committed: acked, and the alarm publishes it once KV is back",
    async () => {
      const events = eventsOf("cf-snap-a", "cf-snap-b").filter((e) => e.user === "cf-snap-a");
      const stub = readerStub(env, "cf-snap-a");
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["put"], mode: "throw", prefix: "profile:" }]);
      await withObjectEnv(
        stub,
        (real) => ({ ...real, OPENTIME_KV: f.kv }),
        async () => {
          const b = fakeBatch(events);
          await consumeEvents(b.batch, env);
          expect(f.hits).toBeGreaterThan(0);
          expect(b.acked().sort()).toEqual(idsOf(events)); // committed: nothing to retry
          expect(await snapshotOf("cf-snap-a")).toBeNull();
          f.faults.length = 0;
          // the shard's alarm retries one publish interval later (run it now if it has not fired yet)
          await new Promise((r) => setTimeout(r, 1100));
          await runDurableObjectAlarm(stub);
        },
      );
      expect(await snapshotOf("cf-snap-a")).toEqual(await profileOf("cf-snap-a"));
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "a rolled-back batch leaves the object's memory as the commit before it: a reader it holds keeps their state",
    async () => {
      const events = eventsOf("cf-mem-a", "cf-mem-b").filter((e) => e.user === "cf-mem-a");
      const [first, ...rest] = events as [QueuedEvent, ...QueuedEvent[]];
      await redeliver([first]);
      const before = await profileOf("cf-mem-a");
      expect(before?.seenEvents).toEqual([first.id]);
      const stub = readerStub(env, "cf-mem-a");
      // the profile's write fails after its events were recorded as applied
      const restore = await failingSql(stub, (query) => query.trim().startsWith("INSERT INTO readers"), "disk full");
      const b = fakeBatch(rest);
      await consumeEvents(b.batch, env);
      expect(b.retried().sort()).toEqual(idsOf(rest));
      expect(await profileOf("cf-mem-a")).toEqual(before);
      await restore();
      await redeliver(rest);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "snapshots coalesce under a backlog: over the queue's delay, back to one a second once it is gone",
    async () => {
      const user = "cf-backlog";
      const stub = readerStub(env, user);
      const purchase = (id: string) => ev(id, user, "purchase", "p1", 1);
      const deliver = async (events: QueuedEvent[], waitedMs: number) => {
        const b = fakeBatch(events, new Date(Date.now() - waitedMs));
        await consumeEvents(b.batch, env);
        expect(b.acked()).toHaveLength(events.length);
      };
      // messages that waited 20 s: the reader's first snapshot is written at once (never written before)...
      const wrote = Date.now();
      await deliver([purchase("b1")], 20_000);
      expect((await snapshotOf(user))?.rfm.orders).toBe(1);
      // ...a change right after waits for the interval, 20 s here: the alarm is set for then, and has nothing due now
      await deliver([purchase("b2")], 20_000);
      const alarm = await runInDurableObject(stub, (_: ReaderShard, state) => state.storage.getAlarm());
      // (from a time before the first write, not after the second: a bound from below that a slow machine keeps)
      expect(alarm).toBeGreaterThan(wrote + 15_000);
      await new Promise((r) => setTimeout(r, 1100));
      await runDurableObjectAlarm(stub);
      expect((await snapshotOf(user))?.rfm.orders).toBe(1);
      // with the backlog gone the interval is one second again: the next change is written within it
      await deliver([purchase("b3")], 0);
      expect((await snapshotOf(user))?.rfm.orders).toBe(3);
      expect((await profileOf(user))?.rfm.orders).toBe(3);
    },
    TIMEOUT,
  );

  it(
    "outcomes are per reader: two readers of one shard with the same event id (every reader's open of a campaign)",
    async () => {
      const [a, b] = twoReadersOfOneShard("cf-same-id");
      const stub = readerStub(env, a);
      expect(await stub.apply([ev("open-1", a, "email_open")])).toEqual(["applied"]);
      // a's is a repeat, b's is new: each is told so, and b's lands
      expect(await stub.apply([ev("open-1", a, "email_open"), ev("open-1", b, "email_open")])).toEqual([
        "duplicate",
        "applied",
      ]);
      expect((await profileOf(b))?.seenEvents).toEqual(["open-1"]);
    },
    TIMEOUT,
  );

  it(
    "the consumer dying between the object's commit and its acks: the redelivery counts each event once",
    async () => {
      const events = eventsOf("cf-die-a", "cf-die-b");
      // what a consumer that crashed after the shard call did: committed, never acked
      for (const user of ["cf-die-a", "cf-die-b"]) {
        await readerStub(env, user).apply(events.filter((e) => e.user === user));
      }
      await redeliver(events);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "duplicate and out-of-order delivery, across batches: each event counted once",
    async () => {
      const events = eventsOf("cf-ooo-a", "cf-ooo-b");
      const reversed = [...events].reverse();
      const b1 = fakeBatch([...reversed.slice(0, 3), ...reversed.slice(0, 2)]);
      await consumeEvents(b1.batch, env);
      expect(b1.retried()).toEqual([]);
      await redeliver(reversed);
      // arrival order may change what depends on it (decay anchors, id order); never what was counted
      const counted = (p: Profile | null) => ({
        orders: p?.rfm.orders,
        monetary: p?.rfm.monetary,
        purchases: p?.purchases.map((x) => [x.item, x.invoices]).sort(),
        items: p?.recentItems.map((x) => `${x.type}:${x.item}:${x.ts}`).sort(),
        events: [...(p?.seenEvents ?? [])].sort(),
      });
      const expected = await control(events);
      for (const user of ["cf-ooo-a", "cf-ooo-b"]) {
        expect(counted(await profileOf(user))).toEqual(counted(expected[user] as unknown as Profile));
      }
    },
    TIMEOUT,
  );

  it(
    "stale KV reads cannot lose an update: the object, not KV, holds the state between batches",
    async () => {
      const events = eventsOf("cf-stale-a", "cf-stale-b");
      const stub = readerStub(env, "cf-stale-a");
      await redeliver(events.slice(0, 2));
      // from now on KV answers what it held before the first batch (nothing): eventually consistent at its worst
      const stale = faultyKv(env.OPENTIME_KV, []);
      (stale.kv as { get: KVNamespace["get"] }).get = (async (key: string | string[]) =>
        Array.isArray(key) ? new Map(key.map((k) => [k, null])) : null) as unknown as KVNamespace["get"];
      const b = fakeBatch(events.slice(2));
      await withObjectEnv(
        stub,
        (real) => ({ ...real, OPENTIME_KV: stale.kv }),
        () => consumeEvents(b.batch, { ...env, OPENTIME_KV: stale.kv }),
      );
      expect(b.retried()).toEqual([]);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "consent is decided by timestamp: a retried older opt-out arriving after a newer opt-in does not undo it",
    async () => {
      const user = "cf-consent";
      const at = now() - 100;
      const optIn: QueuedEvent = { id: "in", user, type: "consent", ts: at + 50, consent: { personalization: true } };
      const optOut: QueuedEvent = { id: "out", user, type: "consent", ts: at, consent: { personalization: false } };
      await redeliver([optIn]);
      await redeliver([optOut]);
      expect((await profileOf(user))?.consent.personalization).toBe(true);
      const other = "cf-consent-2";
      await redeliver([{ ...optOut, user: other }]);
      await redeliver([{ ...optIn, user: other }]);
      expect((await profileOf(other))?.consent.personalization).toBe(true);
    },
    TIMEOUT,
  );

  it(
    "upgrade without loss: a reader known only to KV is imported once, and their seen ids stay counted",
    async () => {
      const user = "cf-upgrade";
      const events = eventsOf(user, "cf-upgrade-b").filter((e) => e.user === user);
      // the state the KV-era consumer left: a profile and its seen ids, for the first two events
      await redeliver(events.slice(0, 2));
      const before = await profileOf(user);
      // an object that has never held the reader: no rows, nothing in its memory
      await runInDurableObject(readerStub(env, user), (instance: ReaderShard) => {
        const internals = instance as unknown as { sql: SqlStorage; cache: ReaderCache };
        internals.sql.exec("DELETE FROM readers WHERE user = ?", user);
        internals.sql.exec("DELETE FROM applied WHERE user = ?", user);
        internals.cache.delete(user);
      });
      await env.OPENTIME_KV.put(kvKeys.seen(user), JSON.stringify(events.slice(0, 2).map((e) => e.id)));
      expect(await profileOf(user)).toBeNull(); // the writer holds nothing: only KV has the reader
      await redeliver(events); // the first two again, and the third
      const after = await profileOf(user);
      expect(after?.rfm.orders).toBe(before?.rfm.orders);
      await expectCountedOnce(events);
    },
    TIMEOUT,
  );

  it(
    "the shard's own KV read of a new reader failing (KV's rate limit, an error not KV's): retried, nothing committed; imported once KV answers",
    async () => {
      const user = "cf-touch";
      const events = eventsOf(user, "cf-touch-b").filter((e) => e.user === user);
      // a reader known only to KV (the state the KV-era consumer left): their profile and the id it had seen
      const kvEra = { ...emptyProfile(user, new Date().toISOString()), seenEvents: ["kv-era-1"] };
      await env.OPENTIME_KV.put(kvKeys.profile(user), JSON.stringify(kvEra));
      for (const mode of ["throw", "rate-limited"] as const) {
        // the first touch reads the reader's KV-era profile, seen ids and tombstones in one bulk get
        const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode }]);
        const b = await consumeWithShardKv(user, f.kv, events);
        expect(f.hits, mode).toBeGreaterThan(0);
        expect(b.acked(), mode).toEqual([]);
        expect(b.retried().sort(), mode).toEqual(idsOf(events));
        expect(await profileOf(user), mode).toBeNull();
      }
      await redeliver(events);
      const after = await profileOf(user);
      expect(after?.seenEvents).toEqual(["kv-era-1", ...events.map((e) => e.id)]);
      expect(after?.rfm.orders).toBe(1);
    },
    TIMEOUT,
  );

  it(
    "events of an erased reader are acknowledged and dropped by the object's tombstone",
    async () => {
      const user = "cf-erased";
      await redeliver([ev("x0", user, "view", "p1")]);
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
      await redeliver(events);
      expect(await profileOf(user)).toBeNull();
      expect(await snapshotOf(user)).toBeNull();
      // even with TOKEN_SECRET rotated: the tombstone does not depend on it
      const rotated = fakeBatch(events);
      await consumeEvents(rotated.batch, { ...env, TOKEN_SECRET: "a-completely-different-secret-0123456789" });
      expect(rotated.acked().sort()).toEqual(idsOf(events));
      expect(await profileOf(user)).toBeNull();
    },
    TIMEOUT,
  );

  it(
    "turning tracking off with the decision clean-up failing: the opt-out lands, and its sweeps delete them",
    async () => {
      const user = "cf-optout";
      const decision = kvKeys.decision(user, "spring", 1767225600, "row-0");
      await env.OPENTIME_KV.put(decision, JSON.stringify({ v: 1 }));
      const events: QueuedEvent[] = [{ ...ev("o1", user, "consent"), consent: { tracking: false } }];
      // the shard deletes the reader's decisions before it answers: its KV fails that
      const f = faultyKv(env.OPENTIME_KV, [{ ops: ["list", "delete"], mode: "throw", prefix: "decision:" }]);
      const shard = readerStub(env, user);
      const b = await consumeWithShardKv(user, f.kv, events);
      expect(f.hits).toBeGreaterThan(0);
      // the opt-out is committed and acknowledged: its cleanup is the shard's, not the message's
      expect(b.acked()).toEqual(idsOf(events));
      expect((await profileOf(user))?.consent.tracking).toBe(false);
      expect(await env.OPENTIME_KV.get(decision)).not.toBeNull();
      // the sweeps queued with it (2 and 15 minutes on; their time moved to now) delete them
      await runInDurableObject(shard, (_: ReaderShard, state: DurableObjectState) => {
        state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", user);
      });
      await runDurableObjectAlarm(shard);
      expect(await env.OPENTIME_KV.get(decision)).toBeNull();
    },
    TIMEOUT,
  );
});

describe("withKvDeadlines", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("gives the email's paths the 1 s reads, and every other route the API's longer ones", () => {
    for (const path of ["/v1/amp/recs", "/v1/amp/preferences", "/v1/img/t/row-0.png", "/v1/c/t/row-0", "/v1/e/t"])
      expect(fetchKind(path), path).toBe("email");
    for (const path of ["/v1/unsubscribe", "/v1/unsubscribe/"]) expect(fetchKind(path), path).toBe("email");
    // a request's path as the router reads it: escaped letters decoded (a malformed escape beside them too)
    const kind = (path: string) => requestKind(new Request(`https://opentime.test${path}?t=x`));
    for (const path of ["/v1/%61mp/recs", "/v1/%69mg/t/row-0.png", "/v1/%75nsubscribe", "/v1/%61mp/%E0%A4%A"])
      expect(kind(path), path).toBe("email");
    for (const path of ["/v1/%61dmin/subjects", "/v1/amp%2Frecs", "/v1/health"]) expect(kind(path), path).toBe("api");
    for (const path of ["/v1/admin/subjects", "/v1/admin/suppressions", "/v1/users/u1", "/v1/events", "/v1/health"])
      expect(fetchKind(path), path).toBe("api");
    for (const path of ["/v1/unsubscribed", "/v1/amplify", "/dashboard", "/"])
      expect(fetchKind(path), path).toBe("api");
    expect(FETCH_KV_DEADLINES.email.readMs).toBe(1_000);
    expect(FETCH_KV_DEADLINES.api.readMs).toBeGreaterThan(FETCH_KV_DEADLINES.email.readMs);
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
