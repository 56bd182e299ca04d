/**
 * A reader's frequency across changes of their trigger rows: a call refused while its row changed under it does
 * not count, and an acknowledged send still counts after the trigger's id is reused for another type.
 */
import { env, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import { resetTriggersCache } from "../../worker/triggers/trigger-config";
import { clearKv, consume } from "./support/harness";
import { type Call, adminRequest as send, timePasses } from "./support/webhook-receiver";

const HOOK = "https://hooks.shop.test/opentime";
const CART = { id: "cart-30", type: "cart-abandoned", afterMinutes: 30, campaign: "cart", webhook: HOOK };
const nowS = () => Math.floor(Date.now() / 1000);
let seq = 0;
const event = (user: string, type: QueuedEvent["type"], minutesAgo: number, item?: string): QueuedEvent => ({
  id: `ra${seq++}`,
  type,
  user,
  ts: nowS() - minutesAgo * 60,
  ...(item && { item }),
});
const weekly = (user: string): QueuedEvent => ({
  id: `raf${seq++}`,
  type: "consent",
  user,
  ts: nowS(),
  consent: { frequency: "weekly" },
});
const rows = (user: string) =>
  runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql
      .exec("SELECT trigger, state, reason, sent_at, earlier_sent_at FROM triggers WHERE user = ?", user)
      .toArray(),
  );

let calls: Call[] = [];
beforeEach(async () => {
  await clearKv();
  resetTriggersCache();
  calls = [];
  expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
  resetTriggersCache();
});
afterEach(() => vi.restoreAllMocks());

/**
 * A weekly reader's cart call under way: the receiver holds it until `release`, then refuses it (400); every later
 * call it takes. `first`: the alarm that made the call, settled once the answer is handled.
 */
async function firstCallHeld(user: string) {
  let release: () => void = () => {};
  const held = new Promise<void>((r) => {
    release = r;
  });
  vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
    const req = new Request(input as RequestInfo, init);
    calls.push({ body: await req.text(), signature: null, delivery: null });
    if (calls.length === 1) {
      await held;
      return new Response("bad", { status: 400 });
    }
    return new Response("ok");
  });
  await consume([weekly(user), event(user, "cart_add", 29.5, "p1")]);
  await timePasses(user);
  const stub = readerStub(env, user);
  const first = runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
  await vi.waitFor(() => expect(calls).toHaveLength(1), { timeout: 15_000, interval: 20 });
  return { stub, first, release };
}

describe("a call refused at its only attempt while the reader's row changed", () => {
  it("does not count for the reader's frequency (README: one whose only call was refused does not count)", async () => {
    const user = "refused-moved";
    const { stub, first, release } = await firstCallHeld(user);
    // while the call waits, a later cart add moves the row to a new wait
    await consume([event(user, "cart_add", 0, "p2")]);
    release();
    await first;
    // the receiver refused the only call: it did not take it, so the new wait is not held back by it
    await timePasses(user);
    await runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "delivered" }]);
    expect(calls).toHaveLength(2);
  });

  it("nor does one whose row an emptied cart cancelled while it was in flight", async () => {
    const user = "refused-emptied";
    const { stub, first, release } = await firstCallHeld(user);
    await consume([event(user, "cart_remove", 0, "p1")]);
    release();
    await first;
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "failed", reason: "refused" }]);
    // a later cart goes: the refused call was never the reader's email
    await consume([event(user, "cart_add", 0, "p2")]);
    await timePasses(user);
    await runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "delivered" }]);
    expect(calls).toHaveLength(2);
  });
});

describe("a trigger id reused for another type", () => {
  // a row of the other type is taken as none (its cooldown is not this type's), and its delivered_at went with it:
  // a weekly reader got two in a minute
  it("keeps the reader's last acknowledged send for their frequency", async () => {
    const { scheduleViewed } = await import("../../worker/state/trigger-table");
    const { TriggerSchema } = await import("../../core/triggers");
    const user = "reused-type";
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      calls.push({ body: await req.text(), signature: null, delivery: null });
      return new Response("ok");
    });
    await consume([weekly(user), event(user, "cart_add", 31, "p1")]);
    const stub = readerStub(env, user);
    await runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    expect(calls).toHaveLength(1);
    // the same id now names a back-in-stock trigger; a change the reader viewed comes a minute later
    const BACK = { id: "cart-30", type: "viewed-back-in-stock", campaign: "back", webhook: HOOK };
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [BACK] })).status).toBe(200);
    resetTriggersCache();
    await runInDurableObject(stub, (_: ReaderShard, state) => {
      const back = TriggerSchema.parse(BACK) as Parameters<typeof scheduleViewed>[2];
      const change = { seq: 1, item: "p7", kind: "back-in-stock", at: nowS() } as const;
      scheduleViewed(state.storage.sql, user, back, change, nowS() - 60, Date.now(), new Set());
    });
    await runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    // weekly: the email acknowledged a minute ago holds this one back
    expect(calls).toHaveLength(1);
  });
});
