/**
 * Parked dead letters for an operator, inside workerd: GET /v1/admin/dead-letters lists a reader's or a shard's
 * a page at a time; POST .../replay applies them through the shard's apply path (settled ones go, ones still
 * rejected stay parked); POST .../delete drops them; tracking turned off deletes the reader's parked events
 * (not their consent changes) in the transaction that applies the opt-out. Distinct reader ids per test: the
 * shards' storage outlives a test.
 */
import { createExecutionContext, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { DEAD_LETTER_PAGE_MAX } from "../../worker/events/dead-letter-selection";
import worker from "../../worker/index";
import { readerStub, shardOf } from "../../worker/state/shard-routing";
import { TEST_ADMIN_KEY, TEST_EVENTS_KEY } from "./fixture";
import { clearKv } from "./support/harness";

const now = () => Math.floor(Date.now() / 1000);

beforeEach(clearKv);

async function call(method: string, path: string, body?: unknown, key = TEST_ADMIN_KEY) {
  const res = await worker.fetch(
    new Request(`https://opentime.test${path}`, {
      method,
      headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
    env,
    createExecutionContext(),
  );
  // biome-ignore lint/suspicious/noExplicitAny: test reads of JSON answers
  return { status: res.status, body: (await res.json()) as any };
}

const view = (id: string, user: string, item = "p1"): QueuedEvent => ({ id, type: "view", user, item, ts: now() - 60 });
/** No API check would pass it (a time that is not whole seconds): the shard rejects it. */
const poison = (id: string, user: string): QueuedEvent => ({ id, type: "view", user, item: "p1", ts: now() - 30.5 });

describe("GET /v1/admin/dead-letters", () => {
  it("lists a reader's parked events, and a shard's a page at a time with a cursor", async () => {
    const user = "dla-list";
    await readerStub(env, user).park([view("dla-l1", user), poison("dla-l2", user), view("dla-l3", user)]);
    const mine = await call("GET", `/v1/admin/dead-letters?user=${user}`);
    expect(mine.status).toBe(200);
    expect(mine.body.shard).toBe(shardOf(user));
    expect(mine.body.count).toBe(3);
    expect(mine.body.events.map((e: { id: string }) => e.id)).toEqual(["dla-l1", "dla-l2", "dla-l3"]);
    expect(mine.body.events[1].event).toMatchObject({ type: "view", user });
    expect(mine.body.cursor).toBeNull();
    // the shard's, two at a time: every one of this reader's is reached exactly once
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/v1/admin/dead-letters?shard=${shardOf(user)}&limit=2${cursor ? `&cursor=${cursor}` : ""}`;
      const page = await call("GET", q);
      expect(page.status).toBe(200);
      expect(page.body.events.length).toBeLessThanOrEqual(2);
      for (const e of page.body.events) seen.push(`${e.user}/${e.id}`);
      cursor = page.body.cursor;
    } while (cursor);
    expect(seen.filter((k) => k.startsWith(`${user}/`))).toEqual([
      `${user}/dla-l1`,
      `${user}/dla-l2`,
      `${user}/dla-l3`,
    ]);
    expect(new Set(seen).size).toBe(seen.length);
  });

  it("needs the admin key, and names a reader or a shard (400 with the field otherwise)", async () => {
    expect((await call("GET", "/v1/admin/dead-letters?user=x", undefined, TEST_EVENTS_KEY)).status).toBe(401);
    // an empty or blank shard is no shard, not shard 0
    const bad = ["", "?user=a&shard=1", "?shard=16", "?shard=abc", "?shard=", "?shard=%20", "?shard=0x1"];
    for (const q of [...bad, "?user=a&limit=0", "?user=a&cursor=%%%"]) {
      const res = await call("GET", `/v1/admin/dead-letters${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code, q).toBe("BAD_REQUEST");
    }
    const email = await call("GET", "/v1/admin/dead-letters?user=jane@example.com");
    expect(email.status).toBe(400);
  });
});

describe("POST /v1/admin/dead-letters/replay", () => {
  it("applies what the shard now accepts and removes it; what it still rejects stays parked", async () => {
    const user = "dla-replay";
    await readerStub(env, user).park([view("dla-r1", user, "p7"), poison("dla-r2", user)]);
    const res = await call("POST", "/v1/admin/dead-letters/replay", { user });
    expect(res.status).toBe(200);
    expect(res.body.replayed).toEqual([
      { user, id: "dla-r1", type: "view", outcome: "applied" },
      { user, id: "dla-r2", type: "view", outcome: "rejected" },
    ]);
    expect(res.body.count).toBe(1);
    expect((await readerStub(env, user).read(user))?.recentItems.map((r) => r.item)).toEqual(["p7"]);
    expect(await readerStub(env, user).parkedCount(user)).toBe(1);
    // replayed again: the rejected one is judged again and stays, nothing counts twice
    const again = await call("POST", "/v1/admin/dead-letters/replay", { user, ids: ["dla-r2", "dla-r1"] });
    expect(again.body.replayed).toEqual([{ user, id: "dla-r2", type: "view", outcome: "rejected" }]);
    expect((await readerStub(env, user).read(user))?.recentItems).toHaveLength(1);
  });

  it("a replayed opt-out of tracking deletes the reader's stored decisions", async () => {
    const user = "dla-optout";
    const decision = kvKeys.decision(user, "spring", 1767225600, "row-0");
    await env.OPENTIME_KV.put(decision, "{}");
    const optOut: QueuedEvent = { id: "dla-o1", type: "consent", user, ts: now() - 20, consent: { tracking: false } };
    await readerStub(env, user).park([optOut]);
    const res = await call("POST", "/v1/admin/dead-letters/replay", { user });
    expect(res.body.replayed).toEqual([{ user, id: "dla-o1", type: "consent", outcome: "applied" }]);
    expect((await readerStub(env, user).read(user))?.consent.tracking).toBe(false);
    expect(await env.OPENTIME_KV.get(decision)).toBeNull();
  });

  it("refuses a bad selection with 400 naming the field", async () => {
    for (const body of [
      {},
      { user: "a", shard: 1 },
      { shard: 1, ids: ["x"] },
      { user: "a", extra: 1 },
      { user: "a", ids: [] },
    ]) {
      const res = await call("POST", "/v1/admin/dead-letters/replay", body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.error.code).toBe("BAD_REQUEST");
    }
    expect((await call("POST", "/v1/admin/dead-letters/replay", { user: "a" }, TEST_EVENTS_KEY)).status).toBe(401);
  });
});

describe("POST /v1/admin/dead-letters/delete", () => {
  it("deletes the named events, or all the reader's, without applying them", async () => {
    const user = "dla-delete";
    await readerStub(env, user).park([view("dla-d1", user), view("dla-d2", user), poison("dla-d3", user)]);
    const one = await call("POST", "/v1/admin/dead-letters/delete", { user, ids: ["dla-d2"] });
    expect(one.status).toBe(200);
    expect(one.body).toEqual({ shard: shardOf(user), deleted: 1, count: 2 });
    const rest = await call("POST", "/v1/admin/dead-letters/delete", { user });
    expect(rest.body).toMatchObject({ deleted: 2, count: 0 });
    expect(await readerStub(env, user).read(user)).toBeNull();
  });

  it("takes a full page of ids of 128 characters in any script, raw or escaped as Python's json.dumps writes them", async () => {
    const user = "dla-long-ids";
    await readerStub(env, user).park([view("dla-kept", user)]);
    // ids count characters: 128 emoji are 512 bytes of UTF-8, 1,536 escaped (two \uXXXX each)
    for (const letter of ["\u3042", "\u{1F600}"]) {
      const ids = Array.from(
        { length: DEAD_LETTER_PAGE_MAX },
        (_, i) => `${String(i).padStart(3, "0")}${letter.repeat(125)}`,
      );
      const raw = JSON.stringify({ user, ids, limit: DEAD_LETTER_PAGE_MAX });
      const escaped = raw.replace(/[\u0080-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`);
      for (const path of ["/v1/admin/dead-letters/delete", "/v1/admin/dead-letters/replay"])
        for (const body of [raw, escaped]) {
          const res = await worker.fetch(
            new Request(`https://opentime.test${path}`, {
              method: "POST",
              headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}`, "Content-Type": "application/json" },
              body,
            }),
            env,
            createExecutionContext(),
          );
          expect(res.status, `${path} ${body.length}: ${(await res.clone().text()).slice(0, 200)}`).toBe(200);
          // none of them is parked: the reader's one event stays
          expect(((await res.json()) as { count: number }).count).toBe(1);
        }
    }
  });
});

describe("tracking turned off", () => {
  it("deletes the reader's parked events (not their consent changes) in the transaction that applies it", async () => {
    const user = "dla-tracking-off";
    const other = "dla-tracking-on";
    const shard = readerStub(env, user);
    await shard.apply([view("dla-t0", user)]);
    // a consent change parked by an earlier version (one can no longer break a profile: core/apply-events.ts)
    const parkedConsent: QueuedEvent = { id: "dla-t2", type: "consent", user, ts: now() - 30, consent: { topics: [] } };
    await shard.park([view("dla-t1", user), parkedConsent]);
    await readerStub(env, other).park([view("dla-t3", other)]);
    const optOut: QueuedEvent = { id: "dla-t4", type: "consent", user, ts: now() - 5, consent: { tracking: false } };
    expect(await shard.apply([optOut])).toEqual(["applied"]);
    const left = await call("GET", `/v1/admin/dead-letters?user=${user}`);
    expect(left.body.events.map((e: { id: string }) => e.id)).toEqual(["dla-t2"]);
    expect(await readerStub(env, other).parkedCount(other)).toBe(1);
    // a reader whose first event turns tracking off (a new row) loses theirs as well
    const fresh = "dla-tracking-first";
    await readerStub(env, fresh).park([view("dla-t5", fresh)]);
    const first: QueuedEvent = {
      id: "dla-t6",
      type: "consent",
      user: fresh,
      ts: now() - 5,
      consent: { tracking: false },
    };
    expect(await readerStub(env, fresh).apply([first])).toEqual(["applied"]);
    expect(await readerStub(env, fresh).parkedCount(fresh)).toBe(0);
  });
});
