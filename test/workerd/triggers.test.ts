/**
 * Triggers end to end in workerd: the admin API stores the configuration; cart adds reach the reader's shard
 * through the real queue consumer; the shard's alarm calls the webhook (globalThis.fetch, answered by the test)
 * once, signed, with a token that verifies, when the cart has waited its minutes with no purchase. Time is
 * faked by the events' own timestamps and by moving a delivery's stored time (a retry's back-off).
 */
import {
  createExecutionContext,
  env,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { bucket } from "../../core/experiments/assignment";
import { GLOBAL_ATTRIBUTION_DAYS, GLOBAL_HOLDOUT_ARMS, GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { ANY_CAMPAIGN, exposureEventId } from "../../core/experiments/exposure";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { verifyToken } from "../../core/token";
import {
  RETRY_DELAYS_S,
  retryDelayMs,
  type TriggerDelivery,
  TriggerDeliverySchema,
  TriggerSchema,
  TriggersConfigSchema,
  type ViewedTrigger,
} from "../../core/triggers";
import { verifyWebhook } from "../../core/webhook-signature";
import { resetExperimentCache } from "../../worker/experiments/experiment-store";
import worker from "../../worker/index";
import { PUBLISH_INTERVAL_MS, type ReaderShard } from "../../worker/state/reader-shard";
import { readerStub } from "../../worker/state/shard-routing";
import {
  BEGUN_KEPT_S,
  type DueDelivery,
  dueDeliveries,
  recordAttempt,
  scheduleViewed,
} from "../../worker/state/trigger-table";
import { resetTriggersCache } from "../../worker/triggers/trigger-config";
import { TEST_ADMIN_KEY, TEST_TOKEN_SECRET, TEST_WEBHOOK_SECRET } from "./fixture";
import { clearKv, consume } from "./support/harness";
import { withObjectEnv } from "./support/object-env";
import {
  type Call,
  receiveWebhooks,
  runAlarmsUntil,
  adminRequest as send,
  timePasses,
} from "./support/webhook-receiver";

const HOOK = "https://hooks.shop.test/opentime";
const CART = { id: "cart-30", type: "cart-abandoned", afterMinutes: 30, campaign: "cart", webhook: HOOK };

let calls: Call[] = [];
/** How the webhook answers the next call. */
let answer: () => Response = () => new Response("ok");

const nowS = () => Math.floor(Date.now() / 1000);
let seq = 0;
const event = (user: string, type: QueuedEvent["type"], minutesAgo: number, item?: string): QueuedEvent => ({
  id: `t${seq++}`,
  type,
  user,
  ts: nowS() - minutesAgo * 60,
  ...(item && { item }),
});

const consent = (user: string, change: NonNullable<QueuedEvent["consent"]>): QueuedEvent => ({
  id: `c${seq++}`,
  type: "consent",
  user,
  ts: nowS(),
  consent: change,
});

/** Runs the reader's shard alarm (as the runtime does when it is due) until `calls` has `n`, or a second passed. */
const alarmUntil = (user: string, n: number) => runAlarmsUntil(user, () => calls.length >= n);

function triggerRow(user: string) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql.exec("SELECT state, reason, attempts, delivery FROM triggers WHERE user = ?", user).toArray(),
  );
}

/** As if the reader's deliveries had waited `hours` since their due time (an outage, the secret missing): due now. */
function dueHoursAgo(user: string, hours: number) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
    state.storage.sql.exec(
      "UPDATE triggers SET due_at = ?, next_at = ? WHERE user = ?",
      nowS() - hours * 3600,
      Date.now() - 1,
      user,
    );
  });
}

beforeEach(async () => {
  await clearKv();
  resetTriggersCache();
  calls = [];
  answer = () => new Response("ok");
  receiveWebhooks(HOOK, calls, () => answer());
  const put = await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] });
  expect(put.status).toBe(200);
  expect(await put.json()).toMatchObject({ warnings: [] });
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("cart-abandoned trigger", () => {
  it("a cart add with no purchase calls the webhook once, after its minutes, signed, with a token that verifies", async () => {
    const user = "trig-a";
    const cart = event(user, "cart_add", 10, "p000417");
    await consume([cart]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0); // 20 minutes to go
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    const call = calls[0] as Call;
    expect(await verifyWebhook(TEST_WEBHOOK_SECRET, call.body, call.signature, nowS())).toBe(true);
    expect(await verifyWebhook("another-secret-0123456789", call.body, call.signature, nowS())).toBe(false);
    const delivery = JSON.parse(call.body) as TriggerDelivery;
    // exactly what the OpenAPI description's webhooks say it is
    expect(TriggerDeliverySchema.safeParse(delivery).error).toBeUndefined();
    expect(delivery).toMatchObject({
      trigger: "cart-30",
      type: "cart-abandoned",
      user,
      campaign: "cart",
      items: ["p000417"],
      attempt: 1,
    });
    expect(call.delivery).toBe(delivery.id);
    // named, as firewalls in front of receivers ask (AWS WAF's core rules refuse a request without one)
    expect(call.userAgent).toBe("opentime-webhook/1");
    const token = await verifyToken([TEST_TOKEN_SECRET], delivery.token, nowS());
    expect(token).toMatchObject({ ok: true, claims: { u: user, c: "cart" } });
    // delivered once: later alarms, and the same events again, send nothing more
    await consume([cart, event(user, "view", 1, "p000001")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    expect(await triggerRow(user)).toMatchObject([{ state: "delivered", attempts: 1 }]);
  });

  it("a delivery stored for an id an earlier version took, shaped like an address only through a look-alike, is sent once", async () => {
    // the cart add an earlier version applied for such a reader (the shard's apply now drops it: the delivery it
    // scheduled then is what is left of it, queued-lookalike-ids.test.ts), applied past that check
    const user = "trig-jane\uFF20example.com";
    const cartAdd = event(user, "cart_add", 40, "p000417");
    await runInDurableObject(readerStub(env, user), (instance: ReaderShard) =>
      (instance as unknown as { applyScreened(e: QueuedEvent[], o: object): Promise<unknown> }).applyScreened(
        [cartAdd],
        {},
      ),
    );
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    const delivery = JSON.parse((calls[0] as Call).body) as TriggerDelivery;
    expect(delivery).toMatchObject({ user, items: ["p000417"], attempt: 1 });
    expect(await verifyToken([TEST_TOKEN_SECRET], delivery.token, nowS())).toMatchObject({
      ok: true,
      claims: { u: user },
    });
    expect(await triggerRow(user)).toMatchObject([{ state: "delivered", attempts: 1 }]);
  });

  it("a webhook secret shorter than 16 characters signs nothing: the PUT warns, and the delivery waits for a real one", async () => {
    const short = "changeme";
    const ctx = createExecutionContext();
    const put = await worker.fetch(
      new Request("https://opentime.test/v1/admin/triggers", {
        method: "PUT",
        headers: { Authorization: `Bearer ${TEST_ADMIN_KEY}` },
        body: JSON.stringify({ v: 1, triggers: [CART] }),
      }),
      { ...env, TRIGGER_WEBHOOK_SECRET: short },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect(put.status).toBe(200);
    expect(((await put.json()) as { warnings: string[] }).warnings).toEqual([
      expect.stringMatching(/^TRIGGER_WEBHOOK_SECRET is not set or shorter than 16 characters/),
    ]);
    // the reader's shard with that secret: due, it calls nothing (a forger could find 8 characters from one call)
    const user = "trig-short-secret";
    await withObjectEnv(
      readerStub(env, user),
      (real) => ({ ...real, TRIGGER_WEBHOOK_SECRET: short }),
      async () => {
        await consume([event(user, "cart_add", 40, "p000417")]);
        await alarmUntil(user, 1);
        expect(calls).toHaveLength(0);
        expect(await triggerRow(user)).toMatchObject([{ state: "pending", attempts: 0 }]);
      },
    );
    // the real secret again: the delivery goes, signed with it
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    const call = calls[0] as Call;
    expect(await verifyWebhook(TEST_WEBHOOK_SECRET, call.body, call.signature, nowS())).toBe(true);
  });

  it("one put off past a day by what the shop left unset (the secret, the configuration's version) is dropped as stale, its items with it", async () => {
    const [unsigned, unread] = ["trig-never-signed", "trig-never-read"];
    const itemsOf = (user: string) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql
          .exec<{ items: string }>("SELECT items FROM triggers WHERE user = ?", user)
          .toArray()
          .map((r) => r.items),
      );
    await withObjectEnv(
      readerStub(env, unsigned),
      (real) => ({ ...real, TRIGGER_WEBHOOK_SECRET: "" }),
      async () => {
        await consume([event(unsigned, "cart_add", 40, "p000417")]);
        await alarmUntil(unsigned, 1);
        // put off a minute while the day lasts
        expect(await triggerRow(unsigned)).toMatchObject([{ state: "pending", attempts: 0 }]);
        await dueHoursAgo(unsigned, 25);
        await alarmUntil(unsigned, 1);
        expect(await triggerRow(unsigned)).toMatchObject([{ state: "cancelled", reason: "stale" }]);
        expect(await itemsOf(unsigned)).toEqual(["[]"]);
      },
    );
    // a configuration this version cannot read (a newer one, after a rollback): as unreadable
    await consume([event(unread, "cart_add", 40, "p000418")]);
    await env.OPENTIME_KV.put(kvKeys.triggers, JSON.stringify({ v: 2, triggers: [] }));
    resetTriggersCache();
    await dueHoursAgo(unread, 25);
    await alarmUntil(unread, 1);
    expect(await triggerRow(unread)).toMatchObject([{ state: "cancelled", reason: "stale" }]);
    expect(await itemsOf(unread)).toEqual(["[]"]);
    expect(calls).toHaveLength(0);
  });

  it("one begun whose retries are put off past their longest (the secret removed since its first call) is given up, its items with it", async () => {
    const user = "trig-begun-unsigned";
    answer = () => new Response("busy", { status: 503 });
    await consume([event(user, "cart_add", 40, "p000419")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    expect(await triggerRow(user)).toMatchObject([{ state: "pending", attempts: 1 }]);
    const rowOf = () =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql.exec("SELECT state, reason, items FROM triggers WHERE user = ?", user).one(),
      );
    const firstCallBack = (ms: number) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
        state.storage.sql.exec(
          "UPDATE triggers SET sent_at = ?, next_at = ? WHERE user = ?",
          Date.now() - ms,
          Date.now() - 1,
          user,
        );
      });
    await withObjectEnv(
      readerStub(env, user),
      (real) => ({ ...real, TRIGGER_WEBHOOK_SECRET: "" }),
      async () => {
        // within its retries' longest span: put off, kept
        await firstCallBack((BEGUN_KEPT_S - 3600) * 1000);
        await alarmUntil(user, 2);
        expect(await rowOf()).toMatchObject({ state: "pending", items: '["p000419"]' });
        await firstCallBack((BEGUN_KEPT_S + 60) * 1000);
        await alarmUntil(user, 2);
        expect(await rowOf()).toEqual({ state: "failed", reason: "retries-exhausted", items: "[]" });
      },
    );
    expect(calls).toHaveLength(1);
  });

  it("a stored configuration whose tokens would outlive the tombstone still delivers tokens a day short of it", async () => {
    // stored before PUT refused it (or ERASURE_TOMBSTONE_DAYS lowered since): 60 days against 45
    const stored = TriggersConfigSchema.parse({ v: 1, triggers: [{ ...CART, tokenTtlDays: 60 }] });
    await env.OPENTIME_KV.put(kvKeys.triggers, JSON.stringify(stored));
    resetTriggersCache();
    const user = "trig-ttl";
    await consume([event(user, "cart_add", 40, "p000417")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    const delivery = JSON.parse((calls[0] as Call).body) as TriggerDelivery;
    const token = await verifyToken([TEST_TOKEN_SECRET], delivery.token, nowS());
    if (!token.ok) throw new Error(token.reason);
    expect(token.claims.e - nowS()).toBeLessThanOrEqual(44 * 86_400);
    expect(token.claims.e - nowS()).toBeGreaterThan(43 * 86_400);
  });

  it("a purchase after the cart add cancels it; an older cart add arriving late never fires", async () => {
    const user = "trig-b";
    await consume([event(user, "cart_add", 10, "p000417")]);
    await consume([event(user, "purchase", 5, "p000417")]);
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await triggerRow(user)).toMatchObject([{ state: "cancelled", reason: "purchased" }]);
    // a cart add from before that purchase, delivered late by the queue: nothing was abandoned
    await consume([event(user, "cart_add", 40, "p000002")]);
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
  });

  it("an item added before a purchase is never named, whatever order the add, the purchase and a later add arrive in", async () => {
    const itemsOf = (user: string) =>
      runInDurableObject(
        readerStub(env, user),
        (_: ReaderShard, state) =>
          state.storage.sql.exec<{ items: string }>("SELECT items FROM triggers WHERE user = ?", user).one().items,
      );
    // p1 added, the cart bought, then p2 added: the purchase ends the first wait, the second names p2 alone
    const inOrder = "trig-bought-in-order";
    await consume([event(inOrder, "cart_add", 9, "p1")]);
    await consume([event(inOrder, "purchase", 7, "p1")]);
    await consume([event(inOrder, "cart_add", 5, "p2")]);
    expect(await itemsOf(inOrder)).toBe('["p2"]');
    // the same three in one batch
    const oneBatch = "trig-bought-one-batch";
    await consume([
      event(oneBatch, "cart_add", 9, "p1"),
      event(oneBatch, "purchase", 7, "p1"),
      event(oneBatch, "cart_add", 5, "p2"),
    ]);
    expect(await itemsOf(oneBatch)).toBe('["p2"]');
    // the purchase arriving after the later add
    const late = "trig-bought-late";
    await consume([event(late, "cart_add", 9, "p1"), event(late, "cart_add", 5, "p2")]);
    await consume([event(late, "purchase", 7, "p1")]);
    expect(await itemsOf(late)).toBe('["p2"]');
    // p1 added again after the purchase: named again
    await consume([event(late, "cart_add", 3, "p1")]);
    expect(await itemsOf(late)).toBe('["p1","p2"]');
    await timePasses(late);
    await alarmUntil(late, 1);
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0] as Call).body)).toMatchObject({ user: late, items: ["p1", "p2"] });
  });

  it("a cart remove takes its item out of the delivery, and one that empties it cancels it: no email names what was removed", async () => {
    const items = (user: string) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql.exec("SELECT items, state, reason FROM triggers WHERE user = ?", user).toArray(),
      );
    // one of two removed (a batch of removes alone: the configuration is not read for it): the other is named
    const partial = "trig-remove-one";
    await consume([event(partial, "cart_add", 12, "p1"), event(partial, "cart_add", 11, "p2")]);
    await consume([event(partial, "cart_remove", 10, "p1")]);
    expect(await items(partial)).toEqual([{ items: '["p2"]', state: "pending", reason: null }]);
    await timePasses(partial);
    await alarmUntil(partial, 1);
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0] as Call).body)).toMatchObject({ user: partial, items: ["p2"] });
    // the only item removed: cancelled saying why, nothing sent
    const emptied = "trig-remove-all";
    await consume([event(emptied, "cart_add", 12, "p1")]);
    await consume([event(emptied, "cart_remove", 10, "p1")]);
    expect(await items(emptied)).toEqual([{ items: "[]", state: "cancelled", reason: "cart-emptied" }]);
    await timePasses(emptied);
    await alarmUntil(emptied, 2);
    expect(calls).toHaveLength(1);
    // added, removed and another added in one batch: the wait names only what is still in the cart
    const batch = "trig-remove-batch";
    await consume([
      event(batch, "cart_add", 12, "p1"),
      event(batch, "cart_remove", 11, "p1"),
      event(batch, "cart_add", 10, "p3"),
    ]);
    expect(await items(batch)).toEqual([{ items: '["p3"]', state: "pending", reason: null }]);
  });

  it("a cart remove empties a pending wait even when the trigger has since been removed from the configuration", async () => {
    const user = "trig-remove-gone";
    await consume([event(user, "cart_add", 10, "p1")]);
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [] })).status).toBe(200);
    resetTriggersCache();
    // a batch with a cart add reads the configuration, which no longer names the row's trigger
    await consume([event(user, "cart_remove", 2, "p1"), event(user, "cart_add", 1, "p9")]);
    expect(await triggerRow(user)).toMatchObject([{ state: "cancelled", reason: "cart-emptied" }]);
  });

  it("a cart remove that arrives before its own add still takes the item out; access lists the cart's times; erasure and tracking off delete them", async () => {
    const cartItems = async (user: string) =>
      ((await (await send(`/v1/users/${user}`, "GET")).json()) as { cart_items: unknown[] }).cart_items;
    // the remove (a minute after the add) arrives first: the add alone names nothing, so nothing is sent
    const alone = "trig-remove-first";
    await consume([event(alone, "cart_remove", 9, "p1")]);
    await consume([event(alone, "cart_add", 10, "p1")]);
    expect(await triggerRow(alone)).toMatchObject([{ state: "cancelled", reason: "cart-emptied" }]);
    const at = nowS();
    expect(await cartItems(alone)).toEqual([{ item: "p1", added: at - 600, removed: at - 540 }]);
    await timePasses(alone);
    await alarmUntil(alone, 1);
    expect(calls).toHaveLength(0);
    // with another item added after it: the delivery names that one alone
    const other = "trig-remove-first-2";
    await consume([event(other, "cart_remove", 9, "p1")]);
    await consume([event(other, "cart_add", 12, "p1"), event(other, "cart_add", 11, "p2")]);
    await timePasses(other);
    await alarmUntil(other, 1);
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0] as Call).body)).toMatchObject({ user: other, items: ["p2"] });
    // a late remove of an item added again since, before another add: the item stays named
    const again = "trig-remove-late";
    await consume([
      event(again, "cart_add", 14, "p1"),
      event(again, "cart_add", 12, "p1"),
      event(again, "cart_add", 11, "p2"),
    ]);
    await consume([event(again, "cart_remove", 13, "p1")]);
    expect(await triggerRow(again)).toMatchObject([{ state: "pending" }]);
    const items = await runInDurableObject(readerStub(env, again), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT items FROM triggers WHERE user = ?", again).one(),
    );
    expect(JSON.parse(items.items as string)).toEqual(["p2", "p1"]);
    // tracking off and on again in one batch: what came after the opt-in is kept (the remove), so its late add
    // names nothing
    const back = "trig-remove-offon";
    const off = consent(back, { tracking: false });
    await consume([
      { ...off, ts: nowS() - 20 * 60 },
      { ...consent(back, { tracking: true }), ts: nowS() - 15 * 60 },
      event(back, "cart_remove", 9, "p1"),
    ]);
    await consume([event(back, "cart_add", 10, "p1")]);
    expect(await triggerRow(back)).toMatchObject([{ state: "cancelled", reason: "cart-emptied" }]);
    // erasure and tracking off leave no cart item behind
    expect((await send(`/v1/users/${alone}`, "DELETE")).status).toBeLessThan(300);
    await consume([consent(other, { tracking: false })]);
    for (const user of [alone, other]) {
      const left = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql.exec("SELECT count(*) AS n FROM cart_items WHERE user = ?", user).one(),
      );
      expect(left.n).toBe(0);
    }
  });

  it("a failing webhook is retried after a back-off, with the same delivery id, and delivered once", async () => {
    const user = "trig-c";
    let attempts = 0;
    answer = () => (++attempts === 1 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([event(user, "cart_add", 31, "p000417")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    expect(await triggerRow(user)).toMatchObject([{ state: "pending", attempts: 1 }]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1); // the back-off (half a minute to a minute) has not passed
    await timePasses(user);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(2);
    const [first, second] = calls.map((c) => JSON.parse(c.body) as TriggerDelivery) as [
      TriggerDelivery,
      TriggerDelivery,
    ];
    expect(second.id).toBe(first.id);
    expect([first.attempt, second.attempt]).toEqual([1, 2]);
    await timePasses(user);
    await alarmUntil(user, 3);
    expect(calls).toHaveLength(2);
    expect(await triggerRow(user)).toMatchObject([{ state: "delivered", attempts: 2 }]);
  });

  it("a webhook's redirect is not followed: the signed body and its token go nowhere else, and it is retried", async () => {
    const user = "trig-r";
    answer = () =>
      calls.length === 1
        ? new Response(null, { status: 307, headers: { Location: `${HOOK}/elsewhere` } })
        : new Response("ok");
    await consume([event(user, "cart_add", 31, "p000417")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    expect(await triggerRow(user)).toMatchObject([{ state: "pending", attempts: 1 }]);
  });

  it("nothing is sent to a reader who unsubscribed, paused sends or was erased meanwhile", async () => {
    const [quits, erased] = ["trig-d", "trig-e"];
    await consume([event(quits, "cart_add", 10, "p1"), event(erased, "cart_add", 10, "p1")]);
    await consume([{ id: "unsub", type: "consent", user: quits, ts: nowS(), consent: { unsubscribed: true } }]);
    const paused = "trig-p";
    await consume([event(paused, "cart_add", 10, "p1")]);
    await consume([
      { id: "pause", type: "consent", user: paused, ts: nowS(), consent: { pausedUntil: nowS() + 7 * 86400 } },
    ]);
    // due now, then erased: nothing goes out for them
    await timePasses(erased);
    expect((await send(`/v1/users/${erased}`, "DELETE")).status).toBeLessThan(300);
    await timePasses(quits);
    await timePasses(paused);
    await alarmUntil(quits, 1);
    await alarmUntil(paused, 1);
    await alarmUntil(erased, 1);
    expect(calls).toHaveLength(0);
    expect(await triggerRow(quits)).toMatchObject([{ state: "cancelled", reason: "unsubscribed" }]);
    expect(await triggerRow(paused)).toMatchObject([{ state: "cancelled", reason: "paused" }]);
    expect(await triggerRow(erased)).toEqual([]);
    // the right of access says why
    const access = (await (await send(`/v1/users/${paused}`, "GET")).json()) as { triggers: unknown[] };
    expect(access.triggers).toMatchObject([{ trigger: "cart-30", state: "cancelled", reason: "paused", items: "[]" }]);
  });

  it("a delivery due during a pause that ends within the day waits for its end, then goes; a longer pause drops it", async () => {
    const [short, long] = ["trig-pause-short", "trig-pause-long"];
    const pause = (user: string, until: number | null): QueuedEvent => ({
      id: `pause-${seq++}`,
      type: "consent",
      user,
      ts: nowS(),
      consent: { pausedUntil: until },
    });
    const ends = nowS() + 3 * 3600;
    await consume([event(short, "cart_add", 31, "p1"), pause(short, ends)]);
    await consume([event(long, "cart_add", 31, "p1"), pause(long, nowS() + 2 * 86_400)]);
    await alarmUntil(short, 1);
    await alarmUntil(long, 1);
    expect(calls).toHaveLength(0);
    // kept, with its items, until the pause ends; the longer pause's is cancelled at once, its items emptied
    const held = await runInDurableObject(readerStub(env, short), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT state, items, next_at FROM triggers WHERE user = ?", short).one(),
    );
    expect(held).toEqual({ state: "pending", items: '["p1"]', next_at: ends * 1000 });
    expect(await triggerRow(long)).toMatchObject([{ state: "cancelled", reason: "paused" }]);
    // the pause ends (here lifted early), and its time comes: sent
    await consume([pause(short, null)]);
    await timePasses(short);
    await alarmUntil(short, 1);
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0] as Call).body)).toMatchObject({ user: short, items: ["p1"] });
  });

  it("a cart add during a pause that outlasts its delivery keeps nothing of it; one that ends within the day waits", async () => {
    const [long, short] = ["trig-add-paused-long", "trig-add-paused-short"];
    const pausedFor = (user: string, seconds: number): QueuedEvent => ({
      id: `pause-${seq++}`,
      type: "consent",
      user,
      ts: nowS() - 60,
      consent: { pausedUntil: nowS() + seconds },
    });
    const rows = (user: string) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql.exec("SELECT state, reason, items FROM triggers WHERE user = ?", user).toArray(),
      );
    await consume([pausedFor(long, 30 * 86_400), pausedFor(short, 3 * 3600)]);
    await consume([event(long, "cart_add", 1, "p-while-paused"), event(short, "cart_add", 1, "p-short")]);
    expect(await rows(long)).toEqual([{ state: "cancelled", reason: "paused", items: "[]" }]);
    expect(await rows(short)).toEqual([{ state: "pending", reason: null, items: '["p-short"]' }]);
  });

  it("refuses a bad configuration naming the field, and a switched-off trigger schedules nothing", async () => {
    const bad = await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [{ ...CART, afterMinutes: 0 }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(
      /^triggers\[0\]\.afterMinutes: /,
    );
    // a webhook on a private network (cloud metadata here): refused, naming the field
    const inside = await send("/v1/admin/triggers", "PUT", {
      v: 1,
      triggers: [CART, { ...CART, id: "cart-2", webhook: "https://169.254.169.254/latest" }],
    });
    expect(inside.status).toBe(400);
    expect(((await inside.json()) as { error: { message: string } }).error.message).toMatch(
      /^triggers\[1\]\.webhook: a private network/,
    );
    // a token that outlives the erasure tombstone (45 days) would let an erased reader's email record again
    const outliving = await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [{ ...CART, tokenTtlDays: 60 }] });
    expect(outliving.status).toBe(400);
    expect(((await outliving.json()) as { error: { message: string } }).error.message).toMatch(
      /^triggers\[0\]\.tokenTtlDays: 60 days is not shorter than ERASURE_TOMBSTONE_DAYS \(45\)/,
    );
    const dup = await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART, CART] });
    expect(((await dup.json()) as { error: { message: string } }).error.message).toMatch(/^triggers: each trigger id/);
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [{ ...CART, enabled: false }] })).status).toBe(
      200,
    );
    expect(await (await send("/v1/admin/triggers", "GET")).json()).toMatchObject({ triggers: [{ enabled: false }] });
    resetTriggersCache();
    const user = "trig-f";
    await consume([event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await triggerRow(user)).toEqual([]);
  });

  it("a purchase cancels a pending wait even when the trigger has since been removed from the configuration", async () => {
    const user = "trig-g";
    await consume([event(user, "cart_add", 10, "p1")]);
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [] })).status).toBe(200);
    resetTriggersCache();
    await consume([event(user, "purchase", 1, "p1")]);
    expect(await triggerRow(user)).toMatchObject([{ state: "cancelled", reason: "purchased" }]);
  });

  it("a delivery that could not be tried for over a day after its due time is dropped, not sent that late", async () => {
    const [late, lateToo] = ["trig-late", "trig-late-2"];
    // due in 30 s: the runtime's own alarm stays away while the test plays its part
    await consume([event(late, "cart_add", 29.5, "p1"), event(lateToo, "cart_add", 29.5, "p2")]);
    // as if each had waited since (the webhook secret missing, the configuration unreadable): 25 h and 20 h
    await dueHoursAgo(late, 25);
    await dueHoursAgo(lateToo, 20);
    await alarmUntil(late, 1);
    expect(calls).toHaveLength(0);
    expect(await triggerRow(late)).toMatchObject([{ state: "cancelled", reason: "stale" }]);
    await alarmUntil(lateToo, 1);
    expect(calls).toHaveLength(1);
    expect(await triggerRow(lateToo)).toMatchObject([{ state: "delivered" }]);
  });

  it("a delivery whose trigger was switched off since is cancelled when due, saying so", async () => {
    const user = "trig-off";
    await consume([event(user, "cart_add", 10, "p1")]);
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [{ ...CART, enabled: false }] })).status).toBe(
      200,
    );
    resetTriggersCache();
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await triggerRow(user)).toMatchObject([{ state: "cancelled", reason: "trigger-off" }]);
  });

  it("a later cart add while a delivery is in flight: the answer marks only its own delivery, and starts the cooldown", async () => {
    const user = "trig-h";
    // due in 30 s: the runtime's own alarm stays away while the test plays the alarm's part
    await consume([event(user, "cart_add", 29.5, "p1")]);
    // the alarm took the due delivery and is waiting for the webhook's answer ...
    const inFlight = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      dueDeliveries(state.storage.sql, Date.now() + 60_000, 10),
    );
    expect(inFlight).toHaveLength(1);
    // ... when the reader adds another item: a new wait, with a new delivery id
    await consume([event(user, "cart_add", 0, "p2")]);
    const [moved] = (await triggerRow(user)) as { delivery: string }[];
    expect(moved?.delivery).not.toBe(inFlight[0]?.delivery);
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      recordAttempt(
        state.storage.sql,
        inFlight[0] as DueDelivery,
        { kind: "delivered", cooldownHours: 24 },
        Date.now(),
      );
    });
    const after = (await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT state, due_at, delivered_at FROM triggers WHERE user = ?", user).toArray(),
    )) as { state: string; due_at: number; delivered_at: number }[];
    expect(after[0]?.state).toBe("pending");
    expect(after[0]?.due_at).toBeGreaterThanOrEqual(nowS() + 24 * 3600 - 5);
    expect(after[0]?.delivered_at).toBeGreaterThan(0);
  });

  it("a late failure or refusal of a delivery whose row moved leaves the new wait as it is", async () => {
    const [failed, refused] = ["trig-late-fail", "trig-late-refused"];
    // due in 30 s: the runtime's own alarm stays away while the test plays the alarm's part
    await consume([event(failed, "cart_add", 29.5, "p1"), event(refused, "cart_add", 29.5, "p1")]);
    const row = (user: string) =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql
          .exec("SELECT state, reason, attempts, items, delivery, due_at, next_at FROM triggers WHERE user = ?", user)
          .toArray(),
      );
    for (const [user, outcome] of [
      [failed, { kind: "failed", retryAfterS: 3600 }],
      [refused, { kind: "refused" }],
    ] as const) {
      const [inFlight] = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        dueDeliveries(state.storage.sql, Date.now() + 60_000, 10).filter((d) => d.user === user),
      );
      await consume([event(user, "cart_add", 0, "p2")]);
      const moved = await row(user);
      expect(moved).toMatchObject([{ state: "pending", attempts: 0, items: '["p2","p1"]' }]);
      const gaveUp = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        recordAttempt(state.storage.sql, inFlight as DueDelivery, outcome, Date.now()),
      );
      expect(gaveUp).toBeNull();
      expect(await row(user)).toEqual(moved);
    }
  });
});

describe("what the webhook's answer does", () => {
  /** Each reader's delivery as stored, with how long until it is tried again (s). */
  const stored = (user: string) =>
    runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql
        .exec<{
          state: string;
          reason: string | null;
          attempts: number;
          items: string;
          delivery: string;
          next_at: number;
        }>("SELECT state, reason, attempts, items, delivery, next_at FROM triggers WHERE user = ?", user)
        .toArray()
        .map(({ next_at, ...row }) => ({ ...row, waitS: (next_at - Date.now()) / 1000 })),
    );
  /** One cart due now for each reader, each reader's webhook call answered by `answers[user]`, once. */
  async function answered(answers: Record<string, () => Response>): Promise<void> {
    answer = () => {
      const { user } = JSON.parse((calls.at(-1) as Call).body) as TriggerDelivery;
      return (answers[user] as () => Response)();
    };
    const users = Object.keys(answers);
    await consume(users.map((user) => event(user, "cart_add", 31, "p000417")));
    const called = (user: string) => () => calls.some((c) => c.body.includes(`"user":"${user}"`));
    for (const user of users) await runAlarmsUntil(user, called(user));
    expect(calls).toHaveLength(users.length);
  }

  it("a 4xx that refuses the body is given up at once, saying why; 401, 403, 404, 408, 409, 425, 429, 5xx are retried", async () => {
    const refused = [400, 410, 413, 422];
    const retried = [401, 403, 404, 408, 409, 425, 429, 500, 502, 503, 504];
    const status = (s: number) => () => new Response("no", { status: s });
    await answered(Object.fromEntries([...refused, ...retried].map((s) => [`trig-${s}`, status(s)])));
    for (const s of refused) {
      const [row] = await stored(`trig-${s}`);
      expect(row, String(s)).toMatchObject({ state: "failed", reason: "refused", attempts: 1, items: "[]" });
    }
    for (const s of retried) {
      const [row] = await stored(`trig-${s}`);
      expect(row, String(s)).toMatchObject({ state: "pending", reason: null, attempts: 1, items: '["p000417"]' });
    }
    // nothing retries a refused delivery
    for (const s of refused) {
      await timePasses(`trig-${s}`);
      await runInDurableObject(readerStub(env, `trig-${s}`), (instance: ReaderShard) => instance.alarm());
    }
    expect(calls).toHaveLength(refused.length + retried.length);
    // the right of access says why
    const access = (await (await send("/v1/users/trig-410", "GET")).json()) as { triggers: unknown[] };
    expect(access.triggers).toMatchObject([{ trigger: "cart-30", state: "failed", reason: "refused", items: "[]" }]);
    // with the delivery id the receiver was given, and when the first call began
    const sent = calls.map((c) => JSON.parse(c.body) as TriggerDelivery).find((b) => b.user === "trig-410");
    expect(access.triggers).toMatchObject([{ delivery: sent?.id, sent_at: expect.any(Number), next_at: null }]);
    // a retried one says when its next call is due (ms), after its first began
    const retrying = (await (await send("/v1/users/trig-500", "GET")).json()) as {
      triggers: { sent_at: number; next_at: number | null }[];
    };
    const [row] = retrying.triggers;
    expect(row?.next_at).toBeGreaterThan(row?.sent_at ?? Number.POSITIVE_INFINITY);
  });

  it("a delivery whose every attempt fails is given up after the seventh, saying why, and never called again", async () => {
    const user = "trig-exhausted";
    answer = () => new Response("down", { status: 500 });
    const warned = vi.spyOn(console, "warn");
    const errored = vi.spyOn(console, "error");
    await consume([event(user, "cart_add", 31, "p000417")]);
    for (let n = 1; n <= RETRY_DELAYS_S.length + 1; n++) {
      await timePasses(user);
      await alarmUntil(user, n);
      expect(calls).toHaveLength(n);
    }
    // each failure and the giving up are logged with the delivery the receiver's logs know (its first 8 characters,
    // as the whole id would be scrubbed as a token), and each attempt's number; never the reader
    const ref = String((calls[0] as Call).delivery).slice(0, 8);
    const lines = [...warned.mock.calls, ...errored.mock.calls]
      .map(([line]) => String(line))
      .filter((line) => line.includes(`"trigger":"cart-30"`) && line.includes(ref))
      .map((line) => JSON.parse(line) as { event: string; delivery: string; attempt?: number; attempts?: number });
    warned.mockRestore();
    errored.mockRestore();
    const failed = lines.filter((l) => l.event === "trigger.webhook_failed");
    expect(failed.map((l) => l.attempt)).toEqual(Array.from({ length: RETRY_DELAYS_S.length + 1 }, (_, i) => i + 1));
    expect(lines.find((l) => l.event === "trigger.given_up")).toMatchObject({
      delivery: ref,
      attempts: RETRY_DELAYS_S.length + 1,
    });
    expect(lines.some((l) => JSON.stringify(l).includes(user))).toBe(false);
    expect(await stored(user)).toMatchObject([
      { state: "failed", reason: "retries-exhausted", attempts: RETRY_DELAYS_S.length + 1, items: "[]" },
    ]);
    // the same delivery every time, and nothing after the last
    expect(new Set(calls.map((c) => c.delivery)).size).toBe(1);
    await timePasses(user);
    await runInDurableObject(readerStub(env, user), (instance: ReaderShard) => instance.alarm());
    expect(calls).toHaveLength(RETRY_DELAYS_S.length + 1);
    const access = (await (await send(`/v1/users/${user}`, "GET")).json()) as { triggers: unknown[] };
    expect(access.triggers).toMatchObject([{ state: "failed", reason: "retries-exhausted" }]);
  });

  it("a 429 or 503 with Retry-After waits at least that long (seconds or a date), at most a day", async () => {
    const later = (status: number, value: string) => () =>
      new Response("later", { status, headers: { "Retry-After": value } });
    const inTwoHours = new Date(Date.now() + 7200_000).toUTCString();
    await answered({
      "trig-ra-s": later(429, "120"),
      "trig-ra-date": later(503, inTwoHours),
      "trig-ra-huge": later(503, "9999999"),
      "trig-ra-short": later(429, "5"),
      "trig-ra-500": later(500, "3600"),
      "trig-ra-bad": later(429, "soon"),
    });
    const waitOf = async (user: string) => ((await stored(user))[0] as { waitS: number }).waitS;
    expect(await waitOf("trig-ra-s")).toBeGreaterThan(118);
    expect(await waitOf("trig-ra-s")).toBeLessThanOrEqual(120);
    expect(await waitOf("trig-ra-date")).toBeGreaterThan(7190);
    expect(await waitOf("trig-ra-date")).toBeLessThanOrEqual(7200);
    expect(await waitOf("trig-ra-huge")).toBeGreaterThan(86_390);
    expect(await waitOf("trig-ra-huge")).toBeLessThanOrEqual(86_400);
    // shorter than the back-off, not 429 or 503, or unreadable: the back-off (half a minute to a minute)
    for (const user of ["trig-ra-short", "trig-ra-500", "trig-ra-bad"]) {
      expect(await waitOf(user), user).toBeGreaterThan(25);
      expect(await waitOf(user), user).toBeLessThan(60);
    }
  });

  it("the back-off is jittered: half to all of its step, the same for the same delivery and attempt", async () => {
    const busy = () => new Response("busy", { status: 503 });
    const users = Array.from({ length: 6 }, (_, i) => `trig-jit-${i}`);
    await answered(Object.fromEntries(users.map((u) => [u, busy])));
    const rows = await Promise.all(users.map(async (u) => (await stored(u))[0] as { delivery: string; waitS: number }));
    for (const { delivery, waitS } of rows) {
      expect(waitS).toBeGreaterThan(25);
      expect(waitS).toBeLessThan(60);
      // as the delivery id and attempt give it
      expect(waitS).toBeLessThanOrEqual((retryDelayMs(delivery, 0, null) as number) / 1000);
      expect(waitS).toBeGreaterThan((retryDelayMs(delivery, 0, null) as number) / 1000 - 5);
    }
    // six deliveries, not one instant: the retries of a receiver's outage spread out
    expect(new Set(rows.map((r) => Math.round(r.waitS))).size).toBeGreaterThan(1);
  });
});

describe("an opt-out that stops triggers", () => {
  /** Everything the reader's trigger rows hold, as stored. */
  const stored = (user: string) =>
    runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql
        .exec("SELECT trigger, state, reason, items, changes FROM triggers WHERE user = ? ORDER BY trigger", user)
        .toArray(),
    );

  it("tracking off or unsubscribing empties the reader's pending deliveries in the same transaction: no item id stays, nothing is sent", async () => {
    const [untracked, quits] = ["trig-opt-t", "trig-opt-u"];
    await consume([event(untracked, "cart_add", 10, "p000417"), event(quits, "cart_add", 10, "p000418")]);
    expect(await stored(untracked)).toMatchObject([{ state: "pending", items: '["p000417"]' }]);
    await consume([consent(untracked, { tracking: false })]);
    await consume([consent(quits, { unsubscribed: true })]);
    // before any alarm: the batch that applied the opt-out emptied them
    expect(await stored(untracked)).toEqual([
      { trigger: "cart-30", state: "cancelled", reason: "tracking-off", items: "[]", changes: null },
    ]);
    expect(await stored(quits)).toEqual([
      { trigger: "cart-30", state: "cancelled", reason: "unsubscribed", items: "[]", changes: null },
    ]);
    // an unsubscribed reader (tracking still on) who adds to their cart again: nothing is kept for triggers
    await consume([event(quits, "cart_add", 1, "p000419")]);
    expect(JSON.stringify(await stored(quits))).not.toMatch(/p0004/);
    const access = (await (await send(`/v1/users/${quits}`, "GET")).json()) as { triggers: unknown[] };
    expect(JSON.stringify(access.triggers)).not.toMatch(/p0004/);
    for (const user of [untracked, quits]) {
      await timePasses(user);
      await alarmUntil(user, 1);
    }
    expect(calls).toHaveLength(0);
  });

  it("an opt-out and an opt-in in one batch still empties them; a cart add after the opt-in schedules again", async () => {
    const [user, sameBatch] = ["trig-opt-back", "trig-opt-back-2"];
    await consume([event(user, "cart_add", 10, "p1")]);
    const off = consent(user, { tracking: false });
    await consume([off, { ...consent(user, { tracking: true }), ts: off.ts + 1 }]);
    expect(await stored(user)).toMatchObject([{ state: "cancelled", reason: "tracking-off", items: "[]" }]);
    await consume([{ ...event(user, "cart_add", 0, "p2"), ts: off.ts + 2 }]);
    expect(await stored(user)).toMatchObject([{ state: "pending", reason: null, items: '["p2"]' }]);
    // all in one batch: the cart add before the opt-out is forgotten, the one after the opt-in waits
    const off2 = consent(sameBatch, { tracking: false });
    await consume([
      event(sameBatch, "cart_add", 10, "p3"),
      off2,
      { ...consent(sameBatch, { tracking: true }), ts: off2.ts + 1 },
      { ...event(sameBatch, "cart_add", 0, "p4"), ts: off2.ts + 2 },
    ]);
    expect(await stored(sameBatch)).toMatchObject([{ state: "pending", reason: null, items: '["p4"]' }]);
  });

  it("personalization off empties the reader's viewed-* deliveries (what they viewed is personal) and keeps their cart", async () => {
    const user = "trig-opt-p";
    const back = TriggerSchema.parse({
      id: "back",
      type: "viewed-back-in-stock",
      campaign: "back",
      webhook: HOOK,
    }) as ViewedTrigger;
    await consume([event(user, "cart_add", 10, "p1")]);
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      const change = { seq: 1, item: "p7", kind: "back-in-stock", at: nowS() } as const;
      scheduleViewed(state.storage.sql, user, back, change, nowS() - 60, Date.now(), new Set());
    });
    expect(await stored(user)).toMatchObject([{ trigger: "back", state: "pending" }, { trigger: "cart-30" }]);
    await consume([consent(user, { personalization: false })]);
    expect(await stored(user)).toEqual([
      { trigger: "back", state: "cancelled", reason: "personalization-off", items: "[]", changes: "[]" },
      { trigger: "cart-30", state: "pending", reason: null, items: '["p1"]', changes: null },
    ]);
  });
});

describe("the reader's frequency preference", () => {
  const CART_60 = { ...CART, id: "cart-60", afterMinutes: 60 };
  const prefer = (user: string, frequency: "daily" | "weekly" | "monthly"): QueuedEvent => ({
    id: `f${seq++}`,
    type: "consent",
    user,
    ts: nowS(),
    consent: { frequency },
  });
  const rows = (user: string) =>
    runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql
        .exec("SELECT trigger, state, reason, items FROM triggers WHERE user = ? ORDER BY trigger", user)
        .toArray(),
    );
  /** The reader's last triggered send acknowledged `days` ago (time passed since it). */
  const deliveredDaysAgo = (user: string, days: number) =>
    runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      state.storage.sql.exec(
        "UPDATE triggers SET delivered_at = ? WHERE user = ? AND delivered_at IS NOT NULL",
        nowS() - days * 86_400,
        user,
      );
    });

  beforeEach(async () => {
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART, CART_60] })).status).toBe(200);
    resetTriggersCache();
  });

  it("weekly: two triggers due at once send one email; the other is cancelled saying why, its items emptied", async () => {
    const user = "trig-freq-w";
    await consume([prefer(user, "weekly"), event(user, "cart_add", 61, "p000417")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    const sent = (JSON.parse((calls[0] as Call).body) as TriggerDelivery).trigger;
    const other = sent === "cart-30" ? "cart-60" : "cart-30";
    expect(await rows(user)).toEqual(
      expect.arrayContaining([
        { trigger: sent, state: "delivered", reason: null, items: "[]" },
        { trigger: other, state: "cancelled", reason: "frequency", items: "[]" },
      ]),
    );
  });

  it("weekly counts every trigger's sends: a cart abandoned 3 days after one is dropped, 8 days after one goes", async () => {
    const user = "trig-freq-w2";
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    await consume([prefer(user, "weekly"), event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    // another trigger now: its own cooldown is no help, the reader's preference is
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART_60] })).status).toBe(200);
    resetTriggersCache();
    await deliveredDaysAgo(user, 3);
    await consume([event(user, "cart_add", 61, "p2")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    expect(await rows(user)).toMatchObject([
      { trigger: "cart-30", state: "delivered" },
      { trigger: "cart-60", state: "cancelled", reason: "frequency", items: "[]" },
    ]);
    await deliveredDaysAgo(user, 8);
    await consume([event(user, "cart_add", 61, "p3")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(2);
    expect((JSON.parse((calls[1] as Call).body) as TriggerDelivery).items).toEqual(["p3"]);
  });

  it("a send begun and cancelled before its retry counts (the receiver may hold it): another trigger due that week is dropped", async () => {
    const user = "trig-freq-begun";
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    // the first call fails (the receiver may have taken it all the same): a retry waits
    answer = () => new Response("busy", { status: 500 });
    await consume([prefer(user, "weekly"), event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    // the reader empties their cart before the retry: cancelled, after its first call
    await consume([event(user, "cart_remove", 1, "p1")]);
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "cancelled", reason: "cart-emptied" }]);
    answer = () => new Response("ok");
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART_60] })).status).toBe(200);
    resetTriggersCache();
    await consume([event(user, "cart_add", 61, "p2")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    expect(await rows(user)).toMatchObject([
      { trigger: "cart-30", state: "cancelled" },
      { trigger: "cart-60", state: "cancelled", reason: "frequency", items: "[]" },
    ]);
  });

  it("a send begun and waiting for its retry still counts once a later cart add moves its row to a new wait", async () => {
    const user = "trig-freq-moved";
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    // the first call fails (the receiver may have sent the email all the same): its retry waits
    answer = () => new Response("busy", { status: 500 });
    await consume([prefer(user, "weekly"), event(user, "cart_add", 32, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    // a later cart add: a new wait of the same trigger (a new id) takes the row, due now
    answer = () => new Response("ok");
    await consume([event(user, "cart_add", 31, "p2")]);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(1);
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "cancelled", reason: "frequency" }]);
    // and so does the suppression check of npm run email (one count serves both)
    const check = await send("/v1/admin/suppressions", "POST", { users: [user], campaign: "newsletter" });
    expect(await check.json()).toMatchObject({ suppressed: [{ user, reason: "frequency" }] });
    // the right of access shows the earlier first call the row keeps
    const access = (await (await send(`/v1/users/${user}`, "GET")).json()) as {
      triggers: { earlier_sent_at: number }[];
    };
    expect(access.triggers[0]?.earlier_sent_at).toBeGreaterThan(0);
  });

  it("a delivery cancelled at its call for items bought since was never sent: it counts for no frequency", async () => {
    const user = "trig-freq-bought";
    const BACK = { id: "back", type: "viewed-back-in-stock", campaign: "back", webhook: HOOK };
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART, BACK] })).status).toBe(200);
    resetTriggersCache();
    await consume([prefer(user, "weekly"), event(user, "view", 60, "p7")]);
    const stub = readerStub(env, user);
    await runInDurableObject(stub, (_: ReaderShard, state) => {
      const back = TriggerSchema.parse(BACK) as ViewedTrigger;
      const change = { seq: 1, item: "p7", kind: "back-in-stock", at: nowS() } as const;
      scheduleViewed(state.storage.sql, user, back, change, nowS() - 3600, Date.now(), new Set());
    });
    // bought before it went: cancelled when due, no call
    await consume([event(user, "purchase", 40, "p7")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await rows(user)).toMatchObject([{ trigger: "back", state: "cancelled", reason: "purchased" }]);
    // so a cart abandoned now is the reader's first triggered email this week
    await consume([event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    expect(JSON.parse((calls[0] as Call).body)).toMatchObject({ trigger: "cart-30", user });
  });

  it("a campaign's send npm run email recorded counts too: a cart abandoned just after the newsletter is dropped", async () => {
    const user = "trig-freq-campaign";
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    expect((await send("/v1/admin/sends", "POST", { campaign: "newsletter", users: [user] })).status).toBe(200);
    await consume([prefer(user, "weekly"), event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "cancelled", reason: "frequency" }]);
  });

  it("a call still in flight counts, even after a cart add moved its row: a viewed-* delivery due meanwhile waits its week", async () => {
    const user = "trig-freq-fly";
    const BACK = { id: "back", type: "viewed-back-in-stock", campaign: "back", webhook: HOOK };
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART, BACK] })).status).toBe(200);
    resetTriggersCache();
    // the webhook holds its first answer until the test lets it go
    let release: () => void = () => {};
    const held = new Promise<void>((r) => {
      release = r;
    });
    vi.restoreAllMocks();
    vi.spyOn(globalThis, "fetch").mockImplementation(async (input, init) => {
      const req = new Request(input as RequestInfo, init);
      calls.push({ body: await req.text(), signature: null, delivery: null });
      if (calls.length === 1) await held;
      return new Response("ok");
    });
    // due in 30 s: the runtime's own alarm stays away while the test plays its part
    await consume([prefer(user, "weekly"), event(user, "cart_add", 29.5, "p1")]);
    await timePasses(user);
    const stub = readerStub(env, user);
    const first = runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    await vi.waitFor(() => expect(calls).toHaveLength(1), { timeout: 15_000, interval: 20 });
    // while it waits: a cart add moves the cart row (a new id), and a back-in-stock delivery is due now
    await consume([event(user, "cart_add", 0, "p2")]);
    await runInDurableObject(stub, (_: ReaderShard, state) => {
      const back = TriggerSchema.parse(BACK) as ViewedTrigger;
      const change = { seq: 1, item: "p7", kind: "back-in-stock", at: nowS() } as const;
      scheduleViewed(state.storage.sql, user, back, change, nowS() - 60, Date.now(), new Set());
    });
    await runInDurableObject(stub, (instance: ReaderShard) => instance.alarm());
    expect(calls).toHaveLength(1);
    expect(await rows(user)).toMatchObject([
      { trigger: "back", state: "cancelled", reason: "frequency", items: "[]" },
      { trigger: "cart-30", state: "pending" },
    ]);
    release();
    await first;
    expect(calls).toHaveLength(1);
  });

  it("a send given up after its last retry counts (the receiver may hold it); one refused at its only call does not", async () => {
    const [exhausted, refused] = ["trig-freq-exhausted", "trig-freq-refused"];
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    // every call times out or fails on the receiver's side: given up after the seventh
    answer = () => new Response("down", { status: 500 });
    await consume([prefer(exhausted, "weekly"), event(exhausted, "cart_add", 31, "p1")]);
    for (let n = 1; n <= RETRY_DELAYS_S.length + 1; n++) {
      await timePasses(exhausted);
      await alarmUntil(exhausted, n);
    }
    expect(await rows(exhausted)).toMatchObject([{ trigger: "cart-30", state: "failed", reason: "retries-exhausted" }]);
    // the receiver refuses the only call: it did not take it
    answer = () => new Response("bad", { status: 400 });
    await consume([prefer(refused, "weekly"), event(refused, "cart_add", 31, "p1")]);
    await alarmUntil(refused, RETRY_DELAYS_S.length + 2);
    expect(await rows(refused)).toMatchObject([{ trigger: "cart-30", state: "failed", reason: "refused" }]);
    const before = calls.length;
    answer = () => new Response("ok");
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART_60] })).status).toBe(200);
    resetTriggersCache();
    await consume([event(exhausted, "cart_add", 61, "p2"), event(refused, "cart_add", 61, "p2")]);
    await alarmUntil(exhausted, before + 1);
    await alarmUntil(refused, before + 1);
    expect(calls).toHaveLength(before + 1);
    expect(JSON.parse((calls[before] as Call).body)).toMatchObject({ trigger: "cart-60", user: refused });
    expect(await rows(exhausted)).toMatchObject([
      { trigger: "cart-30", state: "failed" },
      { trigger: "cart-60", state: "cancelled", reason: "frequency", items: "[]" },
    ]);
  });

  it("daily allows one a day; a delivery begun already is retried whatever the preference (the same send)", async () => {
    const user = "trig-freq-d";
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
    resetTriggersCache();
    let attempts = 0;
    answer = () => (++attempts === 1 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([prefer(user, "daily"), event(user, "cart_add", 31, "p1")]);
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(1);
    await timePasses(user);
    await alarmUntil(user, 2);
    expect(calls).toHaveLength(2);
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30", state: "delivered" }]);
    // another trigger: 23 hours after that send it is dropped, 25 hours after it goes
    expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART_60] })).status).toBe(200);
    resetTriggersCache();
    await deliveredDaysAgo(user, 23 / 24);
    await consume([event(user, "cart_add", 61, "p2")]);
    await alarmUntil(user, 3);
    expect(calls).toHaveLength(2);
    expect(await rows(user)).toMatchObject([{ trigger: "cart-30" }, { trigger: "cart-60", reason: "frequency" }]);
    await deliveredDaysAgo(user, 25 / 24);
    await consume([event(user, "cart_add", 61, "p3")]);
    await alarmUntil(user, 3);
    expect(calls).toHaveLength(3);
    expect((JSON.parse((calls[2] as Call).body) as TriggerDelivery).trigger).toBe("cart-60");
  });
});

describe("the global holdout", () => {
  const SEED = "gh-triggers";
  const SHARE = 0.2;
  const heldByHash = (user: string) => bucket(SEED, "global", user) < SHARE;
  /** Readers `trig-gh-<n>` the hash holds (`held`) or not, `skip` of each passed over. */
  const reader = (held: boolean, skip = 0) =>
    Array.from({ length: 200 }, (_, i) => `trig-gh-${i}`).filter((u) => heldByHash(u) === held)[skip] as string;
  const holdoutPut = async (body: object) => {
    expect((await send("/v1/admin/holdout", "PUT", body)).status).toBe(200);
    resetExperimentCache();
  };
  /** The reader's first open recorded this arm of the global holdout (what an open's exposure event does). */
  const exposedTo = (user: string, arm: string): QueuedEvent => ({
    id: exposureEventId(GLOBAL_HOLDOUT_ID),
    type: "exposure",
    user,
    ts: nowS() - 3600,
    exposure: { experiment: GLOBAL_HOLDOUT_ID, arm, campaign: ANY_CAMPAIGN, days: GLOBAL_ATTRIBUTION_DAYS },
  });
  const stored = (user: string) =>
    runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT state, reason, items, attempts FROM triggers WHERE user = ?", user).toArray(),
    );
  const userOf = (c: Call) => (JSON.parse(c.body) as TriggerDelivery).user;

  beforeEach(async () => {
    resetExperimentCache();
    await holdoutPut({ share: SHARE, seed: SEED });
  });

  afterEach(async () => {
    await holdoutPut({ share: 0 });
  });

  it("a reader it holds gets no triggered email: cancelled saying `holdout`, items emptied, shown by the right of access; the others' go", async () => {
    const [held, rest] = [reader(true), reader(false)];
    await consume([event(held, "cart_add", 10, "p000417"), event(rest, "cart_add", 10, "p000418")]);
    await timePasses(held);
    await timePasses(rest);
    await alarmUntil(held, 1);
    await alarmUntil(rest, 1);
    expect(calls.map(userOf)).toEqual([rest]);
    expect(await stored(held)).toMatchObject([{ state: "cancelled", reason: "holdout", items: "[]" }]);
    expect(await stored(rest)).toMatchObject([{ state: "delivered" }]);
    const access = (await (await send(`/v1/users/${held}`, "GET")).json()) as { triggers: unknown[] };
    expect(access.triggers).toMatchObject([{ trigger: "cart-30", state: "cancelled", reason: "holdout", items: "[]" }]);
  });

  it("counts both readers in the holdout's report when their triggered email is decided, sent or withheld, not only at an open", async () => {
    const [held, rest, buyer] = [reader(true, 3), reader(false, 3), reader(true, 4)];
    const arm = async (user: string) =>
      (await runInDurableObject(readerStub(env, user), (instance: ReaderShard) => instance.read(user)))?.experiments[
        GLOBAL_HOLDOUT_ID
      ];
    await consume([
      event(held, "cart_add", 10, "p000417"),
      event(rest, "cart_add", 10, "p000418"),
      event(buyer, "cart_add", 10, "p000419"),
    ]);
    // the third bought before the email was due: its purchase cancels the delivery at once, and nobody is counted
    await consume([{ ...event(buyer, "purchase", 5, "p000419"), value: 10 }]);
    for (const user of [held, rest, buyer]) {
      expect(await arm(user), user).toBeUndefined();
      await timePasses(user);
    }
    await alarmUntil(held, 1);
    await alarmUntil(rest, 1);
    await alarmUntil(buyer, 1);
    expect(calls.map(userOf)).toEqual([rest]);
    expect(await arm(held)).toMatchObject({ arm: GLOBAL_HOLDOUT_ARMS.held, campaign: ANY_CAMPAIGN });
    expect(await arm(rest)).toMatchObject({ arm: GLOBAL_HOLDOUT_ARMS.rest, campaign: ANY_CAMPAIGN });
    expect(await stored(buyer)).toMatchObject([{ state: "cancelled", reason: "purchased" }]);
    expect(await arm(buyer)).toBeUndefined();
    // one due more than a day ago would be dropped as stale for anyone: withheld, it counts nobody either
    const late = reader(true, 5);
    await consume([event(late, "cart_add", 10, "p000420")]);
    // its due time 25 hours back, as an outage that long would leave it
    await dueHoursAgo(late, 25);
    await runAlarmsUntil(late, () => false);
    expect(await stored(late)).toMatchObject([{ state: "cancelled", reason: "stale" }]);
    expect(await arm(late)).toBeUndefined();
  });

  it("the exposure a delivery records spends none of its alarm run's KV operations: the reader's snapshot goes in the next run", async () => {
    const held = reader(true, 6);
    const snapshotArm = async () =>
      ((await env.OPENTIME_KV.get(kvKeys.profile(held), "json")) as Profile | null)?.experiments[GLOBAL_HOLDOUT_ID];
    await consume([event(held, "cart_add", 10, "p000421")]);
    // past the snapshot interval since the cart add's own publish: a publish now would not wait for the interval
    await new Promise((r) => setTimeout(r, PUBLISH_INTERVAL_MS + 100));
    await timePasses(held);
    // the shard's snapshot interval made long for this run: the alarm it sets for the snapshot then cannot fire on its
    // own (a second on) before the row is read below, however loaded the machine
    const interval = (ms: number) =>
      runInDurableObject(readerStub(env, held), (shard: ReaderShard) => {
        (shard as unknown as { interval: number }).interval = ms;
      });
    await interval(60_000);
    expect(await runDurableObjectAlarm(readerStub(env, held))).toBe(true);
    expect(await stored(held)).toMatchObject([{ state: "cancelled", reason: "holdout" }]);
    // recorded in the shard, its row behind; not yet in KV
    const behind = () =>
      runInDurableObject(readerStub(env, held), (_: ReaderShard, state) =>
        state.storage.sql
          .exec<{ behind: number }>("SELECT version <> published_version AS behind FROM readers WHERE user = ?", held)
          .one(),
      );
    expect(await behind()).toEqual({ behind: 1 });
    expect(await snapshotArm()).toBeUndefined();
    await interval(PUBLISH_INTERVAL_MS);
    expect(await runDurableObjectAlarm(readerStub(env, held))).toBe(true);
    expect(await snapshotArm()).toMatchObject({ arm: GLOBAL_HOLDOUT_ARMS.held });
    expect(await behind()).toEqual({ behind: 0 });
  });

  it("decides as opens do: the arm a reader's first open recorded wins over the hash; turned off, it holds nobody", async () => {
    // the hash holds the first and not the second, but their opens recorded the other arm (share or seed moved since)
    const [wasServed, wasHeld] = [reader(true, 1), reader(false, 1)];
    await consume([exposedTo(wasServed, GLOBAL_HOLDOUT_ARMS.rest), exposedTo(wasHeld, GLOBAL_HOLDOUT_ARMS.held)]);
    await consume([event(wasServed, "cart_add", 31, "p1"), event(wasHeld, "cart_add", 31, "p2")]);
    await alarmUntil(wasServed, 1);
    await alarmUntil(wasHeld, 1);
    expect(calls.map(userOf)).toEqual([wasServed]);
    expect(await stored(wasHeld)).toMatchObject([{ state: "cancelled", reason: "holdout" }]);
    // off ({"share":0}, which remembers what it was): a reader the hash would hold gets theirs
    await holdoutPut({ share: 0 });
    const later = reader(true, 2);
    await consume([event(later, "cart_add", 31, "p3")]);
    await alarmUntil(later, 2);
    expect(calls.map(userOf)).toEqual([wasServed, later]);
  });

  it("unknown (KV unreadable, none known): the delivery waits, no attempt counted, and goes once the holdout reads", async () => {
    const user = reader(false, 3);
    await consume([event(user, "cart_add", 10, "p1")]);
    await timePasses(user);
    resetExperimentCache();
    let down = true;
    await runInDurableObject(readerStub(env, user), (shard: ReaderShard) => {
      const bindings = (shard as unknown as { env: { OPENTIME_KV: KVNamespace } }).env;
      const kv = bindings.OPENTIME_KV;
      const real = (kv.get as unknown as (...a: unknown[]) => Promise<unknown>).bind(kv);
      // only the holdout's key fails: the triggers' configuration still reads
      vi.spyOn(kv, "get").mockImplementation(((key: string, ...rest: unknown[]) =>
        down && key === kvKeys.globalHoldout
          ? Promise.reject(new Error("KV GET failed: 503"))
          : real(key, ...rest)) as KVNamespace["get"]);
    });
    await alarmUntil(user, 1);
    expect(calls).toHaveLength(0);
    expect(await stored(user)).toMatchObject([{ state: "pending", reason: null, attempts: 0 }]);
    down = false;
    resetExperimentCache();
    await timePasses(user);
    await alarmUntil(user, 1);
    expect(calls.map(userOf)).toEqual([user]);
  });
});
