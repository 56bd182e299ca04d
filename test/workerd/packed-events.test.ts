/**
 * Packed queue messages, inside workerd: the events API and the email routes queue one message per reader shard
 * (worker/events/queue.ts), within the Queues limits; the consumer acks a message only when every event in it
 * was committed, so one bad event retries its message (its neighbours are duplicates then), and the dead-letter
 * consumer parks the bad event alone. Messages of one bare event (queued before packing) are still read.
 */
import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import fc from "fast-check";
import { beforeEach, describe, expect, inject, it, vi } from "vitest";
import { erasureKey } from "../../core/erasure-key";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile, type Profile } from "../../core/profile";
import { consumeEvents } from "../../worker/events/consumer";
import { consumeDeadLetters, DEAD_LETTER_MAX_RETRIES, DEAD_LETTER_QUEUE } from "../../worker/events/dead-letters";
import {
  BACKGROUND_RETRY_MS,
  BACKGROUND_TRY_MS,
  type EventsMessage,
  enqueue,
  enqueueInBackground,
  eventsOf,
  PACK_BYTES,
  PACK_EVENTS,
  type PackedEvents,
  pack,
} from "../../worker/events/queue";
import worker from "../../worker/index";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub, shardOf } from "../../worker/state/shard-routing";
import { TEST_EVENTS_KEY } from "./fixture";
import { faultyKv } from "./support/faulty-bindings";
import { clearKv } from "./support/harness";

declare module "vitest" {
  interface ProvidedContext {
    deadLetterMaxRetries: number | undefined;
  }
}

const now = () => Math.floor(Date.now() / 1000);
const bytesOf = (body: unknown) => new TextEncoder().encode(JSON.stringify(body)).byteLength;

beforeEach(clearKv);

let seq = 0;
const view = (user: string, item = "p1"): QueuedEvent => ({
  id: `pk${seq++}`,
  type: "view",
  user,
  item,
  ts: now() - 60,
});
/** A queued message no API check would pass (a time that is not whole seconds): it would break the reader's profile. */
const poison = (user: string): QueuedEvent => ({
  id: `poison${seq++}`,
  type: "view",
  user,
  item: "p9",
  ts: now() - 30.5,
});

/** A batch of messages that records ack() and retry() by message index. */
function batchOf(bodies: readonly unknown[], queue = "opentime-events", attempts = 1) {
  const acked: number[] = [];
  const retried: number[] = [];
  const messages = bodies.map((body, i) => ({
    id: `m${i}`,
    timestamp: new Date(),
    attempts,
    body,
    ack: () => acked.push(i),
    retry: () => retried.push(i),
  }));
  const batch = { queue, messages } as unknown as MessageBatch<EventsMessage>;
  return { batch, acked, retried };
}

/** A queue binding that keeps every sendBatch call's messages as sent. */
function capturingQueue() {
  const calls: MessageSendRequest<EventsMessage>[][] = [];
  const queue = {
    send: async (body: EventsMessage) => {
      calls.push([{ body }]);
    },
    sendBatch: async (messages: Iterable<MessageSendRequest<EventsMessage>>) => {
      calls.push([...messages]);
    },
  } as unknown as Queue<EventsMessage>;
  return { queue, calls };
}

async function profileOf(user: string): Promise<Profile | null> {
  return readerStub(env, user).read(user);
}

describe("packing", () => {
  it("puts each shard's events in its own messages, in order, within PACK_EVENTS and PACK_BYTES", () => {
    const event = fc.record({
      user: fc.integer({ min: 0, max: 60 }).map((n) => `pack-u${n}`),
      // impressions carry up to 24 long item ids: a few of them fill a message's bytes before its count
      items: fc.array(fc.string({ minLength: 100, maxLength: 128 }), { maxLength: 24 }),
    });
    fc.assert(
      fc.property(fc.array(event, { maxLength: 600 }), (drawn) => {
        const events: QueuedEvent[] = drawn.map((d, i) => ({
          id: `e${i}`,
          type: "impression",
          user: d.user,
          items: d.items,
          ts: 1_800_000_000,
        }));
        const messages = pack(events);
        for (const m of messages) {
          expect(new Set(m.body.events.map((e) => shardOf(e.user))).size).toBe(1);
          expect(m.body.events.length).toBeLessThanOrEqual(PACK_EVENTS);
          expect(bytesOf(m.body)).toBeLessThanOrEqual(PACK_BYTES);
          expect(m.bytes).toBeGreaterThanOrEqual(bytesOf(m.body));
        }
        // nothing lost, nothing doubled, and each shard's events in the order given
        const byShard = (list: QueuedEvent[]) => {
          const out = new Map<number, string[]>();
          for (const e of list) out.set(shardOf(e.user), [...(out.get(shardOf(e.user)) ?? []), e.id]);
          return out;
        };
        expect(byShard(messages.flatMap((m) => m.body.events))).toEqual(byShard(events));
      }),
      { numRuns: 60 },
    );
  });

  it("sends within the Queues limits: at most 100 messages and 256 KB a sendBatch, 128 KB a message", async () => {
    const long = (n: number) => `${"x".repeat(120)}${n}`.slice(-128);
    const events: QueuedEvent[] = Array.from({ length: 500 }, (_, i) => ({
      id: `big${i}`,
      type: "impression",
      user: `pack-big-${i % 40}`,
      items: Array.from({ length: 24 }, (_, j) => long(i * 24 + j)),
      ts: now(),
    }));
    const q = capturingQueue();
    expect(await enqueue(q.queue, events)).toEqual({ ok: true });
    expect(q.calls.length).toBeGreaterThan(1); // 1.6 MB of events cannot go in one call
    // Queues count 1 KB as 1,000 bytes, and about 100 bytes of metadata per message
    for (const call of q.calls) {
      expect(call.length).toBeLessThanOrEqual(100);
      expect(call.reduce((sum, m) => sum + bytesOf(m.body) + 100, 0)).toBeLessThanOrEqual(256_000);
      for (const m of call) expect(bytesOf(m.body) + 100).toBeLessThanOrEqual(128_000);
    }
    const sent = q.calls.flat().flatMap((m) => eventsOf(m.body) ?? []);
    expect(sent.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
  });

  it("an open's or a click's events the queue refused (over its 5,000 messages a second) are sent again, then given up", async () => {
    const event: QueuedEvent = { id: "open:retry", type: "email_open", user: "pack-retry", ts: now() };
    // refuses its first two sends (Too Many Requests), then takes them
    const q = capturingQueue();
    let refusals = 2;
    const busy = {
      sendBatch: async (messages: Iterable<MessageSendRequest<EventsMessage>>) => {
        if (refusals-- > 0) throw new Error("Too Many Requests");
        await q.queue.sendBatch(messages);
      },
    } as unknown as Queue<EventsMessage>;
    expect(await enqueueInBackground(busy, [event], [1, 1, 1])).toEqual({ ok: true });
    expect(q.calls.flat().flatMap((m) => eventsOf(m.body) ?? [])).toEqual([event]);
    // a queue that keeps refusing: one try and one after each wait, then given up
    let tries = 0;
    const full = {
      sendBatch: async () => {
        tries++;
        throw new Error("Too Many Requests");
      },
    } as unknown as Queue<EventsMessage>;
    expect(await enqueueInBackground(full, [event], [1, 1])).toEqual({ ok: false, reason: "queue-refused" });
    expect(tries).toBe(3);
  });

  it("a background send the queue does not answer is given up on after its time and tried again, within the runtime's 30 s", async () => {
    const event: QueuedEvent = { id: "open:hang", type: "email_open", user: "pack-hang", ts: now() };
    // hangs at its first send (never answers), then takes them
    const q = capturingQueue();
    let hangs = 1;
    const stuck = {
      sendBatch: (messages: Iterable<MessageSendRequest<EventsMessage>>) =>
        hangs-- > 0 ? new Promise<void>(() => {}) : q.queue.sendBatch(messages),
    } as unknown as Queue<EventsMessage>;
    expect(await enqueueInBackground(stuck, [event], [1], 20)).toEqual({ ok: true });
    expect(q.calls.flat().flatMap((m) => eventsOf(m.body) ?? [])).toEqual([event]);
    // one that never answers: each try bounded, then given up
    let tries = 0;
    const dead = {
      sendBatch: () => {
        tries++;
        return new Promise<void>(() => {});
      },
    } as unknown as Queue<EventsMessage>;
    expect(await enqueueInBackground(dead, [event], [1, 1], 20)).toEqual({ ok: false, reason: "queue-refused" });
    expect(tries).toBe(3);
    // the defaults: four tries' limits and the longest waits fit in the 30 s after the response
    const longest = BACKGROUND_RETRY_MS.reduce((sum, ms) => sum + ms * 1.5, 0);
    expect((BACKGROUND_RETRY_MS.length + 1) * BACKGROUND_TRY_MS + longest).toBeLessThan(30_000);
  });

  it("POST /v1/events queues a 500-event batch as one message per shard", async () => {
    const q = capturingQueue();
    const events = Array.from({ length: 500 }, (_, i) => ({
      id: `post${i}`,
      type: "view",
      user: `pack-post-${i % 200}`,
      item: "p1",
      ts: now() - 60,
    }));
    const ctx = createExecutionContext();
    const res = await worker.fetch(
      new Request("https://opentime.test/v1/events", {
        method: "POST",
        headers: { Authorization: `Bearer ${TEST_EVENTS_KEY}`, "Content-Type": "application/json" },
        body: JSON.stringify({ events }),
      }),
      { ...env, EVENTS: q.queue },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(202);
    const messages = q.calls.flat();
    const shards = new Set(events.map((e) => shardOf(e.user)));
    expect(messages).toHaveLength(shards.size);
    expect(q.calls).toHaveLength(1);
    expect(messages.flatMap((m) => eventsOf(m.body) ?? []).map((e) => e.id)).toHaveLength(500);
  });
});

describe("consuming packed messages", () => {
  it("one bad event retries its message alone; the redelivery counts its neighbours once; the dead letter parks only it", async () => {
    const [a, b, c] = ["pack-a", "pack-b", "pack-c"];
    const good = [view(a), view(b, "p2"), view(c, "p3")];
    const bad = poison(a);
    // the bad event's message, and one message of the same readers' other events
    const withBad: PackedEvents = { events: [good[0] as QueuedEvent, bad, good[1] as QueuedEvent] };
    const clean: PackedEvents = { events: [good[2] as QueuedEvent] };
    const first = batchOf([withBad, clean]);
    const summary = await consumeEvents(first.batch, env);
    expect(first.retried).toEqual([0]);
    expect(first.acked).toEqual([1]);
    expect(summary).toMatchObject({ applied: 3, rejected: 1, retried: 3 });
    for (const [user, item] of [
      [a, "p1"],
      [b, "p2"],
      [c, "p3"],
    ] as const)
      expect((await profileOf(user))?.recentItems.map((r) => r.item)).toEqual([item]);

    // redelivered: its good events are duplicates now, and the bad one is rejected again
    const again = batchOf([withBad]);
    expect(await consumeEvents(again.batch, env)).toMatchObject({ applied: 0, duplicate: 2, rejected: 1 });
    expect(again.retried).toEqual([0]);

    // dead-lettered: the good events are found applied (not parked), the bad one is parked for an operator
    const dead = batchOf([withBad], DEAD_LETTER_QUEUE);
    expect(await consumeDeadLetters(dead.batch, env)).toEqual({
      dropped: 0,
      parked: 1,
      applied: 2,
      refused: 0,
      notPseudonymous: 0,
      kept: 0,
    });
    expect(dead.acked).toEqual([0]);
    expect(await readerStub(env, a).parkedCount(a)).toBe(1);
    expect(await readerStub(env, b).parkedCount(b)).toBe(0);
    expect((await profileOf(a))?.recentItems).toHaveLength(1);
  });

  it("reads bare events (queued before packing) beside packed ones, and retries a message that holds none", async () => {
    const bare = view("pack-bare");
    const packed: PackedEvents = { events: [view("pack-new"), view("pack-new", "p2")] };
    const b = batchOf([bare, packed, { events: [] }, { note: "not an event" }]);
    const summary = await consumeEvents(b.batch, env);
    expect(summary).toMatchObject({ applied: 3, unreadable: 2 });
    expect(b.acked).toEqual([0, 1]);
    expect(b.retried).toEqual([2, 3]);
    expect((await profileOf("pack-bare"))?.recentItems).toHaveLength(1);
    expect((await profileOf("pack-new"))?.recentItems).toHaveLength(2);
    // the dead-letter consumer keeps them for an operator, an hour at a time
    const dead = batchOf([{ events: [] }, { note: "not an event" }], DEAD_LETTER_QUEUE);
    expect(await consumeDeadLetters(dead.batch, env)).toEqual({
      dropped: 0,
      parked: 0,
      applied: 0,
      refused: 0,
      notPseudonymous: 0,
      kept: 2,
    });
    expect(dead.retried).toEqual([0, 1]);
  });

  it("a dead-lettered message keeps nothing of a reader with tracking off; the opt-out's sweeps delete decisions", async () => {
    const [off, other] = ["pack-off", "pack-off-other"];
    const optOut: QueuedEvent = {
      id: `out${seq++}`,
      type: "consent",
      user: off,
      ts: now() - 90,
      consent: { tracking: false },
    };
    // applied by the shard (which deleted their decisions then), and a decision an open stored just after
    expect(await readerStub(env, off).apply([optOut])).toEqual(["applied"]);
    await env.OPENTIME_KV.put(kvKeys.decision(off, "spring", 1767225600, "row-0"), "{}");
    const refusedView = view(off);
    expect(await readerStub(env, off).apply([refusedView])).toEqual(["refused"]);
    const dead = batchOf([{ events: [optOut, refusedView, poison(other)] }], DEAD_LETTER_QUEUE);
    expect(await consumeDeadLetters(dead.batch, env)).toEqual({
      dropped: 0,
      parked: 1,
      applied: 1,
      refused: 1,
      notPseudonymous: 0,
      kept: 0,
    });
    expect(dead.acked).toEqual([0]);
    // the sweeps the opt-out queued delete it (2 and 15 minutes on: their time is moved to now)
    await runInDurableObject(readerStub(env, off), (_: ReaderShard, state: DurableObjectState) => {
      state.storage.sql.exec("UPDATE decision_sweeps SET at = 0 WHERE user = ?", off);
    });
    await runDurableObjectAlarm(readerStub(env, off));
    expect(await env.OPENTIME_KV.get(kvKeys.decision(off, "spring", 1767225600, "row-0"))).toBeNull();
    expect(await readerStub(env, off).parkedCount(off)).toBe(0);
    expect(await readerStub(env, other).parkedCount(other)).toBe(1);
  });

  it("a shard's first touch of many new readers reads KV in bulk: an upgrade's profile and a tombstone past the first 100 keys", async () => {
    // 40 new readers of one shard: 4 keys each (profile, seen, tombstone, legacy tombstone) make two bulk reads
    const shard = shardOf("pack-bulk-0");
    const users: string[] = [];
    for (let i = 0; users.length < 40; i++) if (shardOf(`pack-bulk-${i}`) === shard) users.push(`pack-bulk-${i}`);
    const [upgraded, erased] = [users[35] as string, users[38] as string];
    const before = { ...emptyProfile(upgraded, new Date().toISOString()), seenEvents: ["kv-era-1"] };
    before.rfm = { ...before.rfm, orders: 3 };
    await env.OPENTIME_KV.put(kvKeys.profile(upgraded), JSON.stringify(before));
    await env.OPENTIME_KV.put(await erasureKey(erased), "1");
    const outcomes = await readerStub(env, upgraded).apply(users.map((u) => view(u)));
    expect(outcomes.filter((o) => o === "applied")).toHaveLength(39);
    expect(outcomes[38]).toBe("erased");
    const imported = await profileOf(upgraded);
    expect(imported?.rfm.orders).toBe(3);
    expect(imported?.seenEvents).toContain("kv-era-1");
    expect(await profileOf(erased)).toBeNull();
  });
  it("a dead letter of good events (their shard was down through every retry) is applied, not parked", async () => {
    const [a, b] = ["dl-late-a", "dl-late-b"];
    const late = [view(a), view(a, "p2"), view(b, "p3")];
    const optOut: QueuedEvent = {
      id: `dl-out${seq++}`,
      type: "consent",
      user: b,
      ts: now() - 10,
      consent: { tracking: false },
    };
    await env.OPENTIME_KV.put(kvKeys.decision(b, "spring", 1767225600, "row-0"), "{}");
    const dead = batchOf([{ events: [...late, optOut] }, { events: [poison(a)] }], DEAD_LETTER_QUEUE);
    expect(await consumeDeadLetters(dead.batch, env)).toEqual({
      dropped: 0,
      parked: 1,
      applied: 4,
      refused: 0,
      notPseudonymous: 0,
      kept: 0,
    });
    expect(dead.acked).toEqual([0, 1]);
    expect((await profileOf(a))?.recentItems.map((r) => r.item).sort()).toEqual(["p1", "p2"]);
    expect((await profileOf(b))?.consent.tracking).toBe(false);
    // the opt-out applied late still deletes the reader's decisions
    expect(await env.OPENTIME_KV.get(kvKeys.decision(b, "spring", 1767225600, "row-0"))).toBeNull();
    expect(await readerStub(env, a).parkedCount(a)).toBe(1);
    // delivered again (an ack lost): nothing counts twice
    const again = batchOf([{ events: late }], DEAD_LETTER_QUEUE);
    expect(await consumeDeadLetters(again.batch, env)).toMatchObject({ applied: 3, parked: 0 });
    expect((await profileOf(a))?.recentItems).toHaveLength(2);
  });

  it("a shard still failing keeps the dead letter for an hour; on its last delivery its events are parked", async () => {
    const user = "dl-down";
    const events = [view(user), view(user, "p2")];
    const down = {
      idFromName: (name: string) => env.READERS?.idFromName(name),
      get: (id: DurableObjectId) => {
        const real = env.READERS?.get(id);
        return {
          apply: () => Promise.reject(new Error("injected: the object is unreachable")),
          park: (list: QueuedEvent[]) => real?.park(list),
        };
      },
    } as unknown as typeof env.READERS;
    const first = batchOf([{ events }], DEAD_LETTER_QUEUE, 1);
    expect(await consumeDeadLetters(first.batch, { ...env, READERS: down })).toMatchObject({ kept: 1, parked: 0 });
    expect(first.retried).toEqual([0]);
    expect(await readerStub(env, user).parkedCount(user)).toBe(0);
    const last = batchOf([{ events }], DEAD_LETTER_QUEUE, DEAD_LETTER_MAX_RETRIES + 1);
    expect(await consumeDeadLetters(last.batch, { ...env, READERS: down })).toMatchObject({ kept: 0, parked: 2 });
    expect(last.acked).toEqual([0]);
    expect(await readerStub(env, user).parkedCount(user)).toBe(2);
  });

  it("the edge's tombstones are never read: their failing loses nothing, the shard's decides", async () => {
    const [user, gone] = ["dl-last-kv", "dl-last-kv-erased"];
    // a reader their shard holds, and one it erased
    await readerStub(env, user).apply([view(user, "p0")]);
    await readerStub(env, gone).erase(gone, Date.now() + 86_400_000);
    const events = [view(user), view(gone)];
    const f = faultyKv(env.OPENTIME_KV, [{ ops: ["get"], mode: "throw", prefix: "erased:" }]);
    for (const attempts of [1, DEAD_LETTER_MAX_RETRIES + 1]) {
      const b = batchOf([{ events }], DEAD_LETTER_QUEUE, attempts);
      expect(await consumeDeadLetters(b.batch, { ...env, OPENTIME_KV: f.kv })).toEqual({
        dropped: 1,
        parked: 0,
        applied: 1,
        refused: 0,
        notPseudonymous: 0,
        kept: 0,
      });
      expect(b.acked).toEqual([0]);
    }
    expect(f.hits).toBe(0);
    expect((await profileOf(user))?.recentItems).toHaveLength(2);
    expect(await profileOf(gone)).toBeNull();
  });

  it("events a shard can neither apply nor park on their last delivery are logged by id, never by reader", async () => {
    const user = "dl-lost-reader";
    const events = [view(user), view(user, "p2")];
    const down = {
      idFromName: (name: string) => env.READERS?.idFromName(name),
      get: () => ({
        apply: () => Promise.reject(new Error("injected: the object is unreachable")),
        park: () => Promise.reject(new Error("injected: the object is unreachable")),
      }),
    } as unknown as typeof env.READERS;
    const lines: string[] = [];
    const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => {
      lines.push(String(line));
    });
    try {
      const early = batchOf([{ events }], DEAD_LETTER_QUEUE, 1);
      await consumeDeadLetters(early.batch, { ...env, READERS: down });
      expect(lines.filter((l) => l.includes("dead_letters.lost"))).toEqual([]);
      const last = batchOf([{ events }], DEAD_LETTER_QUEUE, DEAD_LETTER_MAX_RETRIES + 1);
      expect(await consumeDeadLetters(last.batch, { ...env, READERS: down })).toMatchObject({ kept: 1, parked: 0 });
    } finally {
      spy.mockRestore();
    }
    const lost = lines.map((l) => JSON.parse(l) as { event: string; events?: string[] });
    expect(lost.filter((l) => l.event === "dead_letters.lost").map((l) => l.events)).toEqual([events.map((e) => e.id)]);
    expect(lines.some((l) => l.includes(user))).toBe(false);
  });

  it("the dead-letter consumer's last delivery is the one wrangler.toml configures", () => {
    expect(DEAD_LETTER_MAX_RETRIES).toBe(inject("deadLetterMaxRetries"));
  });
});
