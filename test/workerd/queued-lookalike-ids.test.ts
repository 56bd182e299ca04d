/**
 * Events already queued under a user id that reads as an email address (queued before the edge checked look-alike
 * `@` and `.`, or replayed from dead letters), inside workerd: the reader shard records nothing under such an id but
 * an opt-out, whichever path brings them (the events consumer, the dead-letter consumer, a parked replay), as
 * mayRecord refuses them at the edge (worker/events/may-record.ts, core/opt-out.ts recordablePart). The batch's other
 * events are applied; the refusals are counted and logged without the id.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { consumeEvents } from "../../worker/events/consumer";
import { consumeDeadLetters, DEAD_LETTER_QUEUE } from "../../worker/events/dead-letters";
import type { EventsMessage } from "../../worker/events/queue";
import { readerStub } from "../../worker/state/shard-routing";
import { clearKv } from "./support/harness";

beforeEach(clearKv);
afterEach(() => {
  vi.restoreAllMocks();
});

const now = () => Math.floor(Date.now() / 1000);
let seq = 0;
const event = (user: string, fields: Partial<QueuedEvent> & Pick<QueuedEvent, "type">): QueuedEvent => ({
  id: `la${seq++}`,
  user,
  ts: now() - 60,
  ...fields,
});

/** A batch of messages that records ack() and retry() by message index. */
function batchOf(bodies: readonly unknown[], queue = "opentime-events") {
  const acked: number[] = [];
  const retried: number[] = [];
  const messages = bodies.map((body, i) => ({
    id: `m${i}`,
    timestamp: new Date(),
    attempts: 1,
    body,
    ack: () => acked.push(i),
    retry: () => retried.push(i),
  }));
  return { batch: { queue, messages } as unknown as MessageBatch<EventsMessage>, acked, retried };
}

/** What the Worker logged while `run` ran, as text. */
async function logsOf<T>(run: () => Promise<T>): Promise<{ result: T; text: string }> {
  const lines: string[] = [];
  for (const level of ["log", "warn", "error"] as const)
    vi.spyOn(console, level).mockImplementation((line: unknown) => lines.push(String(line)));
  const result = await run();
  return { result, text: lines.join("\n") };
}

describe("events queued under an id that reads as an email address", () => {
  const lookAlikes = ["jane＠example.com", "ken%40example.org", "lou@example。jp"];

  it("record nothing but an opt-out; the batch's other events are applied, the refusals counted and logged unnamed", async () => {
    const [jane, ken, lou] = lookAlikes as [string, string, string];
    const bodies = [
      {
        events: [
          event(jane, { type: "view", item: "p1" }),
          event(jane, { type: "purchase", item: "p2", value: 10 }),
          event(jane, { type: "consent", consent: { personalization: true, topics: ["shoes"] } }),
        ],
      },
      // a bare event, as queued by an earlier version
      event(ken, { type: "cart_add", item: "p3" }),
      { events: [event("la-ok", { type: "view", item: "p4" })] },
      // an opt-out works under any id: its opt-out alone is kept, never what else the change held
      { events: [event(lou, { type: "consent", consent: { tracking: false, personalization: true, topics: ["x"] } })] },
    ];
    const { batch, acked, retried } = batchOf(bodies);
    const { result: summary, text } = await logsOf(() => consumeEvents(batch, env));
    expect(summary).toMatchObject({ applied: 2, "not-pseudonymous": 4, rejected: 0, retried: 0 });
    expect(acked).toEqual([0, 1, 2, 3]);
    expect(retried).toEqual([]);
    expect(await readerStub(env, jane).read(jane)).toBeNull();
    expect(await readerStub(env, ken).read(ken)).toBeNull();
    expect((await readerStub(env, "la-ok").read("la-ok"))?.recentItems.map((r) => r.item)).toEqual(["p4"]);
    const kept = await readerStub(env, lou).read(lou);
    expect(kept?.consent.tracking).toBe(false);
    expect(kept?.consent.topics).toEqual([]);
    expect(kept?.recentItems).toEqual([]);
    // counted, never named
    expect(
      JSON.parse(text.split("\n").find((l) => l.includes("events.user_id_not_pseudonymous")) ?? "{}"),
    ).toMatchObject({ events: 4 });
    for (const name of ["jane", "ken", "lou"]) expect(text).not.toContain(name);
  });

  it("are neither applied nor parked from the dead-letter queue, nor applied by a replay of parked letters", async () => {
    const [jane] = lookAlikes as [string];
    const dead = batchOf(
      [{ events: [event(jane, { type: "view", item: "p1" }), event("la-dead-ok", { type: "view", item: "p2" })] }],
      DEAD_LETTER_QUEUE,
    );
    const { result: summary, text } = await logsOf(() => consumeDeadLetters(dead.batch, env));
    expect(summary).toEqual({ dropped: 0, parked: 0, applied: 1, refused: 0, notPseudonymous: 1, kept: 0 });
    expect(dead.acked).toEqual([0]);
    expect(text).toContain("dead_letters.user_id_not_pseudonymous");
    expect(text).not.toContain("jane");
    expect(await readerStub(env, jane).read(jane)).toBeNull();
    const stub = readerStub(env, jane);
    expect(await stub.park([event(jane, { type: "view", item: "p1" })])).toEqual(["not-pseudonymous"]);
    expect((await stub.parked({ user: jane, limit: 10 })).entries).toEqual([]);
    // a letter parked by an earlier version is dropped when replayed (and deleted), not applied
    const old = event(jane, { type: "purchase", item: "p5", value: 3 });
    await runInDurableObject(stub, (_: unknown, state) => {
      state.storage.sql.exec(
        "INSERT INTO parked (user, id, event, parked_at) VALUES (?, ?, ?, ?)",
        jane,
        old.id,
        JSON.stringify(old),
        Date.now(),
      );
    });
    const replay = await stub.replayParked({ user: jane, limit: 10 });
    expect(replay.replayed.map((r) => r.outcome)).toEqual(["not-pseudonymous"]);
    expect(replay.count).toBe(0);
    expect(await stub.read(jane)).toBeNull();
  });
});
