/**
 * Viewed-* triggers end to end in workerd: views reach the reader's shard through the real queue consumer; a
 * PATCH of the live catalog goes through its one writer, whose outbox fans the change out to the 16 reader
 * shards; the shard that holds a viewer schedules a delivery due now, and its alarm calls the webhook
 * (globalThis.fetch, answered by the test), signed, with a token that verifies. Views' ages are set by the
 * events' own timestamps; a retry's back-off is passed by moving the delivery's stored time.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { CatalogChange } from "../../core/catalog-changes";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import { sendKey, type TokenClaims, verifyToken } from "../../core/token";
import { type TriggerDelivery, TriggerDeliverySchema } from "../../core/triggers";
import { verifyWebhook } from "../../core/webhook-signature";
import { resetBasePrices } from "../../worker/catalog/base-prices";
import { catalogWriter } from "../../worker/catalog/catalog-stub";
import { resetLiveCatalogCache } from "../../worker/catalog/live-catalog";
import { pruneOutbox } from "../../worker/state/catalog-outbox";
import type { CatalogWriter } from "../../worker/state/catalog-writer";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { READER_SHARDS, readerStub } from "../../worker/state/shard-routing";
import { PRUNE_SLACK_MS } from "../../worker/state/sql-tables";
import {
  type DueDelivery,
  dueDeliveries,
  markBegun,
  pendingDelivery,
  scheduleViewed,
} from "../../worker/state/trigger-table";
import { resetTriggersCache } from "../../worker/triggers/trigger-config";
import { TEST_TOKEN_SECRET, TEST_WEBHOOK_SECRET } from "./fixture";
import { clearKv, consume, decisionKeyOf, fixture, recordingQueue, seedModel, send } from "./support/harness";
import { adminRequest, type Call, receiveWebhooks, runAlarmsUntil, timePasses } from "./support/webhook-receiver";

const HOOK = "https://hooks.shop.test/viewed";

/**
 * How long a wait below gives the writer's round or a shard's apply before it calls it lost. Generous on purpose: a
 * loaded machine takes seconds for one request; how soon a change is sent is not what these tests are about.
 */
const LOST_AFTER_MS = 15_000;

const BACK = { id: "back", type: "viewed-back-in-stock", campaign: "back", webhook: HOOK };
const DROP = { id: "drop", type: "viewed-price-drop", minDropPercent: 5, campaign: "drop", webhook: HOOK };

let calls: Call[] = [];
let answer: () => Response = () => new Response("ok");
const bodies = () => calls.map((c) => JSON.parse(c.body) as TriggerDelivery);

const nowS = () => Math.floor(Date.now() / 1000);
let seq = 0;
const event = (user: string, type: QueuedEvent["type"], daysAgo: number, item?: string): QueuedEvent => ({
  id: `v${seq++}`,
  type,
  user,
  ts: Math.floor(nowS() - daysAgo * 86_400),
  ...(item && { item }),
});

const patch = async (items: { id: string; [field: string]: unknown }[]) => {
  const res = await adminRequest("/v1/admin/catalog", "PATCH", { items });
  expect(res.status).toBe(200);
};
const configure = async (...triggers: object[]) => {
  const res = await adminRequest("/v1/admin/triggers", "PUT", { v: 1, triggers });
  expect(res.status).toBe(200);
};

/** The last catalog change the reader's shard applied (worker/state/catalog-inbox.ts appliedSeq). */
function seqOf(user: string) {
  return runInDurableObject(
    readerStub(env, user),
    (_: ReaderShard, state) =>
      state.storage.sql.exec<{ n: number }>("SELECT coalesce(max(seq), 0) AS n FROM catalog_seq").one().n,
  );
}

function rowsOf(user: string) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql
      .exec("SELECT trigger, state, attempts, items, delivery FROM triggers WHERE user = ?", user)
      .toArray(),
  );
}

function viewsOf(user: string) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql.exec("SELECT item, ts FROM views WHERE user = ?", user).toArray(),
  );
}

/** The first of `prefix`-0, -1, ... whose shard holds no trigger, tombstone or sweep of an earlier test. */
async function quietShardUser(prefix: string): Promise<string> {
  for (let i = 0; ; i++) {
    const user = `${prefix}-${i}`;
    const held = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      ["triggers", "tombstones", "decision_sweeps"].reduce(
        (n, table) => n + state.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM ${table}`).one().n,
        0,
      ),
    );
    if (held === 0) return user;
  }
}

/** Runs the shard alarms of `users` until `n` calls came (or a second passed for each). */
async function deliveredTo(n: number, ...users: string[]): Promise<void> {
  for (const user of users) await runAlarmsUntil(user, () => calls.length >= n);
}

beforeEach(async () => {
  await clearKv();
  resetTriggersCache();
  resetBasePrices();
  calls = [];
  answer = () => new Response("ok");
  receiveWebhooks(HOOK, calls, () => answer());
  await configure(BACK, DROP);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("viewed-back-in-stock", () => {
  it("calls the webhook once for a reader who viewed the item, signed, with a token and the item", async () => {
    const [viewer, other, longAgo, buyer, quit] = ["vw-a", "vw-b", "vw-c", "vw-d", "vw-e"];
    await consume([
      event(viewer, "view", 2, "bis-1"),
      event(other, "view", 1, "bis-other"),
      event(longAgo, "view", 40, "bis-1"), // outside the 30 days
      event(buyer, "view", 3, "bis-1"),
      event(buyer, "purchase", 2, "bis-1"),
      event(quit, "view", 1, "bis-1"),
    ]);
    await consume([{ id: "quit", type: "consent", user: quit, ts: nowS(), consent: { unsubscribed: true } }]);
    await patch([{ id: "bis-1", stock: 0 }]);
    await patch([{ id: "bis-1", stock: 5 }]);
    await deliveredTo(1, viewer);
    await deliveredTo(2, quit, other, longAgo, buyer);
    expect(calls).toHaveLength(1);
    const call = calls[0] as Call;
    expect(await verifyWebhook(TEST_WEBHOOK_SECRET, call.body, call.signature, nowS())).toBe(true);
    const body = JSON.parse(call.body) as TriggerDelivery;
    expect(body).toMatchObject({
      trigger: "back",
      type: "viewed-back-in-stock",
      user: viewer,
      campaign: "back",
      items: ["bis-1"],
      changes: [{ item: "bis-1" }],
      attempt: 1,
    });
    expect(call.delivery).toBe(body.id);
    if (body.type === "cart-abandoned") throw new Error("a viewed-* delivery");
    // what changed, not when the reader looked: their browsing times stay in the shard
    expect(body.changes[0]).toEqual({ item: "bis-1" });
    expect(Math.abs(Date.parse(body.changedAt) / 1000 - nowS())).toBeLessThan(60);
    expect(await verifyToken([TEST_TOKEN_SECRET], body.token, nowS())).toMatchObject({
      ok: true,
      claims: { u: viewer, c: "back" },
    });
    // nothing was scheduled for the others, nor for the unsubscribed reader (nothing of theirs kept for it)
    for (const user of [other, longAgo, buyer, quit]) expect(await rowsOf(user)).toEqual([]);
    // within the cooldown (24 h) the same item gone and back again sends nothing more
    await patch([{ id: "bis-1", stock: 0 }]);
    await patch([{ id: "bis-1", stock: 3 }]);
    await deliveredTo(2, viewer);
    expect(calls).toHaveLength(1);
    expect(await rowsOf(viewer)).toMatchObject([{ state: "delivered", attempts: 1 }]);
  });

  it("an item switched back on counts; one still out of stock, or never gone, does not", async () => {
    const user = "vw-f";
    await consume([event(user, "view", 1, "bis-2"), event(user, "view", 1, "bis-3"), event(user, "view", 1, "bis-4")]);
    await patch([
      { id: "bis-2", active: false },
      { id: "bis-3", stock: 0, active: false },
    ]);
    await patch([
      { id: "bis-2", active: true },
      { id: "bis-3", active: true }, // still out of stock
      { id: "bis-4", stock: 9 }, // was never unavailable
    ]);
    await deliveredTo(1, user);
    expect(bodies()).toMatchObject([{ user, items: ["bis-2"] }]);
  });

  it("a failing webhook is retried after a back-off with the same delivery id, and delivered once", async () => {
    const user = "vw-g";
    let attempts = 0;
    answer = () => (++attempts === 1 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([event(user, "view", 1, "bis-5")]);
    await patch([{ id: "bis-5", stock: 0 }]);
    await patch([{ id: "bis-5", stock: 2 }]);
    await deliveredTo(1, user);
    expect(await rowsOf(user)).toMatchObject([{ state: "pending", attempts: 1 }]);
    await deliveredTo(2, user);
    expect(calls).toHaveLength(1); // the back-off (half a minute to a minute) has not passed
    await timePasses(user);
    await deliveredTo(2, user);
    const [first, second] = bodies();
    expect(second?.id).toBe(first?.id);
    expect([first?.attempt, second?.attempt]).toEqual([1, 2]);
    await timePasses(user);
    await deliveredTo(3, user);
    expect(calls).toHaveLength(2);
    expect(await rowsOf(user)).toMatchObject([{ state: "delivered", attempts: 2 }]);
  });

  it("a webhook that refuses the body (a 4xx) gives it up at once: its items and details emptied", async () => {
    const user = "vw-refused";
    answer = () => new Response("unknown trigger", { status: 422 });
    await consume([event(user, "view", 1, "bis-r")]);
    await patch([{ id: "bis-r", stock: 0 }]);
    await patch([{ id: "bis-r", stock: 2 }]);
    await deliveredTo(1, user);
    const stored = () =>
      runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
        state.storage.sql
          .exec("SELECT state, reason, attempts, items, changes FROM triggers WHERE user = ?", user)
          .toArray(),
      );
    expect(await stored()).toEqual([{ state: "failed", reason: "refused", attempts: 1, items: "[]", changes: "[]" }]);
    await timePasses(user);
    await deliveredTo(2, user);
    expect(calls).toHaveLength(1);
  });

  it("a trigger id now of the other viewed type cancels the pending delivery (trigger-off), never sends it as that type", async () => {
    const user = "vw-retyped";
    answer = () => new Response("busy", { status: 503 });
    await configure({ ...BACK, id: "viewed" }, DROP);
    await consume([event(user, "view", 1, "bis-t"), event(user, "view", 1, "bis-t2")]);
    await patch([{ id: "bis-t", stock: 0 }]);
    await patch([{ id: "bis-t", stock: 2 }]);
    await deliveredTo(1, user);
    expect(await rowsOf(user)).toMatchObject([{ trigger: "viewed", state: "pending", attempts: 1 }]);
    // the id now names a price drop: the back-in-stock delivery is not sent as one, without its prices
    answer = () => new Response("ok");
    await configure({ ...DROP, id: "viewed" });
    resetTriggersCache();
    await timePasses(user);
    await deliveredTo(2, user);
    expect(calls).toHaveLength(1);
    expect(await rowsOf(user)).toMatchObject([{ trigger: "viewed", state: "cancelled" }]);
    // nor does a price drop join a back-in-stock delivery of that id: it starts its own, with its prices
    const common = { id: "viewed", campaign: "back", webhook: HOOK, viewedWithinDays: 30, cooldownHours: 24 };
    const base = { ...common, tokenTtlDays: 7, enabled: true };
    const back = { ...base, type: "viewed-back-in-stock" as const };
    const drop = { ...base, type: "viewed-price-drop" as const, minDropPercent: 5 };
    const changes = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      const sql = state.storage.sql;
      const at = nowS();
      scheduleViewed(sql, user, back, { seq: 1, item: "bis-t2", kind: "back-in-stock", at }, at, Date.now(), new Set());
      const dropped = { seq: 2, item: "bis-t", kind: "price-drop" as const, at, oldPrice: 2, newPrice: 1 };
      scheduleViewed(sql, user, drop, { ...dropped, currency: "EUR" }, at, Date.now(), new Set());
      return sql.exec<{ changes: string }>("SELECT changes FROM triggers WHERE user = ?", user).one().changes;
    });
    expect(JSON.parse(changes)).toMatchObject([{ item: "bis-t", oldPrice: 2, newPrice: 1, currency: "EUR" }]);
    expect(JSON.parse(changes)).toHaveLength(1);
  });

  it("the same fan-out sequence number sent to a shard again schedules nothing; the outbox empties", async () => {
    const user = "vw-h";
    // no cooldown: a change applied twice would start a second delivery
    await configure({ ...BACK, cooldownHours: 0 });
    await consume([event(user, "view", 1, "bis-6")]);
    await patch([{ id: "bis-6", stock: 0 }]);
    await patch([{ id: "bis-6", stock: 4 }]);
    await deliveredTo(1, user);
    expect(calls).toHaveLength(1);
    const shard = readerStub(env, user);
    const applied = await runInDurableObject(
      shard,
      (_: ReaderShard, state) => state.storage.sql.exec<{ seq: number }>("SELECT seq FROM catalog_seq").one().seq,
    );
    const again: CatalogChange = { seq: applied, item: "bis-6", kind: "back-in-stock", at: nowS() };
    expect(await shard.catalogChanged([again])).toBe(applied);
    await deliveredTo(2, user);
    expect(calls).toHaveLength(1);
    expect(await rowsOf(user)).toMatchObject([{ state: "delivered" }]);
    // every shard acknowledged the change: the writer deleted it (its round runs beside the PATCH's answer)
    const outboxOf = () =>
      runInDurableObject(catalogWriter(env), (_: CatalogWriter, state) => ({
        outbox: state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n,
        acked: state.storage.sql.exec<{ acked: number }>("SELECT acked FROM fanout").toArray(),
      }));
    await vi.waitFor(async () => expect((await outboxOf()).outbox).toBe(0), { timeout: LOST_AFTER_MS, interval: 50 });
    const writer = await outboxOf();
    expect(writer.outbox).toBe(0);
    expect(writer.acked).toHaveLength(READER_SHARDS);
    expect(Math.min(...writer.acked.map((a) => a.acked))).toBeGreaterThanOrEqual(applied);
    // without the cooldown, the next time the item comes back is a new delivery
    await patch([{ id: "bis-6", stock: 0 }]);
    await patch([{ id: "bis-6", stock: 4 }]);
    await deliveredTo(2, user);
    expect(calls).toHaveLength(2);
    expect(bodies()[1]?.id).not.toBe(bodies()[0]?.id);
  });
});

/** Until KV holds the writer's latest version (its alarm publishes a change within a second of the last). */
async function published() {
  const writer = catalogWriter(env);
  const version = await runInDurableObject(
    writer,
    (_: CatalogWriter, state) =>
      state.storage.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'version'").one().value,
  );
  for (const start = Date.now(); ; ) {
    const held = await env.OPENTIME_KV.get<{ version: number }>(kvKeys.liveCatalogVersion, "json");
    if ((held?.version ?? 0) >= version) break;
    if (Date.now() - start > LOST_AFTER_MS) throw new Error(`live catalog version ${version} not published`);
    await new Promise((r) => setTimeout(r, 100));
    await runDurableObjectAlarm(writer);
  }
  // the shard reads the catalog as an open does (a copy checked each second): read afresh now
  resetLiveCatalogCache();
}
const reasonOf = (user: string) =>
  runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql.exec("SELECT state, reason, items FROM triggers WHERE user = ?", user).toArray(),
  );

describe("what a delivery announces is checked again when it is sent", () => {
  it("an item out of stock again by a retry is left out, and a delivery whose every item is gone is cancelled", async () => {
    const [user, alone] = ["vw-undone", "vw-undone-all"];
    let attempts = 0;
    answer = () => (++attempts <= 2 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([event(user, "view", 1, "und-1"), event(user, "view", 1, "und-2"), event(alone, "view", 1, "und-3")]);
    await patch([
      { id: "und-1", stock: 0 },
      { id: "und-2", stock: 0 },
      { id: "und-3", stock: 0 },
    ]);
    await patch([
      { id: "und-1", stock: 2 },
      { id: "und-2", stock: 2 },
      { id: "und-3", stock: 2 },
    ]);
    await deliveredTo(2, user, alone);
    expect(
      bodies()
        .flatMap((b) => b.items)
        .sort(),
    ).toEqual(["und-1", "und-2", "und-3"]);
    // sold out again before the retries
    await patch([
      { id: "und-1", stock: 0 },
      { id: "und-3", active: false },
    ]);
    await published();
    for (const u of [user, alone]) await timePasses(u);
    await deliveredTo(3, user, alone);
    await runAlarmsUntil(alone, () => false);
    expect(bodies()).toHaveLength(3);
    expect(bodies()[2]).toMatchObject({ user, items: ["und-2"], attempt: 2 });
    expect(await reasonOf(alone)).toEqual([{ state: "cancelled", reason: "change-undone", items: "[]" }]);
  });

  it("a price drop whose price went back up by a retry is not sent; one cheaper still is", async () => {
    const [up, further] = ["vw-drop-undone", "vw-drop-further"];
    let attempts = 0;
    answer = () => (++attempts <= 2 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([event(up, "view", 1, "pdu-1"), event(further, "view", 1, "pdu-2")]);
    await patch([
      { id: "pdu-1", price: 100, currency: "EUR" },
      { id: "pdu-2", price: 100, currency: "EUR" },
    ]);
    await patch([
      { id: "pdu-1", price: 90 },
      { id: "pdu-2", price: 90 },
    ]);
    await deliveredTo(2, up, further);
    expect(bodies()).toHaveLength(2);
    await patch([
      { id: "pdu-1", price: 99 },
      { id: "pdu-2", price: 85 },
    ]);
    await published();
    for (const u of [up, further]) await timePasses(u);
    await deliveredTo(3, up, further);
    await runAlarmsUntil(up, () => false);
    expect(bodies()).toHaveLength(3);
    // the call says what was announced: the drop to 90 (the receiver shows its price at send time)
    expect(bodies()[2]).toMatchObject({ user: further, items: ["pdu-2"], attempt: 2 });
    expect(await reasonOf(up)).toEqual([{ state: "cancelled", reason: "change-undone", items: "[]" }]);
  });
});

describe("what a delivery announces, in the model catalog's currency", () => {
  it("a drop by a live price alone (its currency the model catalog's) that went back up by a retry is not sent", async () => {
    await seedModel();
    const items = JSON.parse(fixture().catalogJson).items as { id: string; price: number; currency: string }[];
    // (another item than the other tests' on the model catalog's prices: its viewer would be told of their drops)
    const item = items.filter((i) => i.price >= 10)[1] as { id: string; price: number; currency: string };
    const user = "vw-model-currency";
    let attempts = 0;
    answer = () => (++attempts <= 1 ? new Response("busy", { status: 503 }) : new Response("ok"));
    await consume([event(user, "view", 1, item.id)]);
    const half = Math.round(item.price * 50) / 100;
    await patch([{ id: item.id, price: half }]);
    await deliveredTo(1, user);
    expect(bodies()).toMatchObject([{ user, changes: [{ item: item.id, newPrice: half, currency: item.currency }] }]);
    await patch([{ id: item.id, price: item.price }]);
    await published();
    await timePasses(user);
    await deliveredTo(2, user);
    await runAlarmsUntil(user, () => false);
    expect(await reasonOf(user)).toEqual([{ state: "cancelled", reason: "change-undone", items: "[]" }]);
    expect(bodies()).toHaveLength(1);
  });
});

describe("the catalog writer's outbox", () => {
  it("a PATCH committed by a writer reset before its publish ended is still published and sent to the shards", async () => {
    const user = "vw-reset";
    await consume([event(user, "view", 1, "rst-1")]);
    await patch([{ id: "rst-1", stock: 0 }]);
    const before = await seqOf(user);
    await runInDurableObject(catalogWriter(env), async (instance: CatalogWriter, state) => {
      // no alarm standing from earlier calls, and a publish that never ends: then the object is reset
      await state.storage.deleteAlarm();
      // the reset comes once the PATCH has reached its publish and its writes are stored (not after a guessed 100 ms:
      // a loaded machine may not have stored them by then)
      let reached = () => {};
      const publishing = new Promise<void>((resolve) => {
        reached = resolve;
      });
      (instance as unknown as { publish: () => Promise<boolean> }).publish = () => {
        reached();
        return new Promise(() => {});
      };
      void instance.patch([{ id: "rst-1", stock: 3 }]);
      await publishing;
      await state.storage.sync();
      state.abort("reset mid-publish");
    }).catch(() => undefined);
    const alarm = await runInDurableObject(catalogWriter(env), (_: CatalogWriter, state) => state.storage.getAlarm());
    expect(alarm).not.toBeNull();
    await new Promise((r) => setTimeout(r, 1100));
    await runDurableObjectAlarm(catalogWriter(env));
    expect(await seqOf(user)).toBeGreaterThan(before);
    await deliveredTo(1, user);
    expect(bodies()).toMatchObject([{ user, items: ["rst-1"] }]);
  });

  it("changes after the writer lost its storage still reach the shards that applied the earlier ones", async () => {
    const user = "vw-wiped";
    await consume([event(user, "view", 1, "wip-1"), event(user, "view", 1, "wip-2")]);
    for (let i = 0; i < 3; i++) {
      await patch([{ id: "wip-1", stock: 0 }]);
      await patch([{ id: "wip-1", stock: 1 }]);
    }
    await deliveredTo(1, user);
    expect(bodies()).toHaveLength(1);
    const applied = await seqOf(user);
    await runInDurableObject(catalogWriter(env), async (_: CatalogWriter, state) => {
      await state.storage.deleteAll();
      state.abort("storage wiped");
    }).catch(() => undefined);
    await configure({ ...BACK, cooldownHours: 0 }, DROP);
    resetTriggersCache();
    await patch([{ id: "wip-2", stock: 0 }]);
    await patch([{ id: "wip-2", stock: 2 }]);
    await deliveredTo(2, user);
    expect(bodies()[1]).toMatchObject({ user, items: ["wip-2"] });
    expect(await seqOf(user)).toBeGreaterThan(applied);
  });
});

describe("viewed-price-drop", () => {
  it("sends a drop of at least minDropPercent with the old and new price, and nothing for a smaller one", async () => {
    const user = "vw-p";
    await consume([event(user, "view", 1, "pd-1")]);
    await patch([{ id: "pd-1", price: 100, currency: "EUR" }]);
    await patch([{ id: "pd-1", price: 97 }]); // 3%
    await deliveredTo(1, user);
    expect(calls).toHaveLength(0);
    expect(await rowsOf(user)).toEqual([]);
    await patch([{ id: "pd-1", price: 92 }]); // 5.15% below the price just before
    await deliveredTo(1, user);
    expect(bodies()).toMatchObject([
      {
        type: "viewed-price-drop",
        trigger: "drop",
        user,
        items: ["pd-1"],
        changes: [{ item: "pd-1", oldPrice: 97, newPrice: 92, currency: "EUR" }],
      },
    ]);
    // exactly what the OpenAPI description's webhooks say it is
    expect(TriggerDeliverySchema.safeParse(bodies()[0]).error).toBeUndefined();
  });

  it("two triggers of one campaign fired by one catalog change send two emails: two tokens, two sends", async () => {
    await configure({ ...BACK, campaign: "restock" }, { ...DROP, campaign: "restock" });
    const user = await quietShardUser("vw-two");
    await consume([event(user, "view", 1, "two-1")]);
    await patch([{ id: "two-1", price: 100, currency: "EUR", stock: 0 }]);
    // back in stock and 20% cheaper, in one PATCH: both deliveries are due at once, minted in one alarm run
    await patch([{ id: "two-1", price: 80, stock: 4 }]);
    await deliveredTo(2, user);
    const sent = bodies();
    expect(sent.map((b) => b.type).sort()).toEqual(["viewed-back-in-stock", "viewed-price-drop"]);
    const [a, b] = sent as [TriggerDelivery, TriggerDelivery];
    expect(a.token).not.toBe(b.token);
    const claims = await Promise.all(
      [a, b].map(async (d) => {
        const v = await verifyToken([TEST_TOKEN_SECRET], d.token, nowS());
        if (!v.ok) throw new Error(v.reason);
        return v.claims;
      }),
    );
    expect(claims.map((c) => [c.u, c.c])).toEqual([
      [user, "restock"],
      [user, "restock"],
    ]);
    expect(sendKey(claims[0] as TokenClaims)).not.toBe(sendKey(claims[1] as TokenClaims));
    // each email's open is its own: its own open event, its own stored decision
    await seedModel();
    const rec = recordingQueue();
    for (const d of [a, b]) {
      const img = await send(`/v1/img/${d.token}/row-0.png`, {}, { ...env, EVENTS: rec.queue });
      expect(img.status).toBe(200);
    }
    const opens = rec.sent.filter((e) => e.type === "email_open").map((e) => e.id);
    expect(opens).toHaveLength(2);
    expect(new Set(opens).size).toBe(2);
    const keys = await Promise.all([a, b].map((d) => decisionKeyOf(d.token, "row-0")));
    expect(keys[0]).not.toBe(keys[1]);
    for (const key of keys) expect(await env.OPENTIME_KV.get(key)).not.toBeNull();
  });

  it("compares a first live price with the model catalog's", async () => {
    await seedModel();
    const items = JSON.parse(fixture().catalogJson).items as { id: string; price: number; currency: string }[];
    const item = items.find((i) => i.price >= 10) as { id: string; price: number; currency: string };
    const user = "vw-q";
    // no cooldown: a price going back up, taken for a drop, would be sent
    await configure({ ...DROP, cooldownHours: 0 });
    await consume([event(user, "view", 1, item.id)]);
    const half = Math.round(item.price * 50) / 100;
    await patch([{ id: item.id, price: half }]);
    await deliveredTo(1, user);
    expect(bodies()).toMatchObject([
      { user, changes: [{ item: item.id, oldPrice: item.price, newPrice: half, currency: item.currency }] },
    ]);
    const before = await rowsOf(user);
    await patch([{ id: item.id, price: null }]); // back to the model's: dearer, nothing
    await deliveredTo(2, user);
    expect(calls).toHaveLength(1);
    expect(await rowsOf(user)).toEqual(before);
  });
});

describe("views", () => {
  it("are listed by the right of access, and deleted by erasure and by tracking turned off", async () => {
    const [erased, untracked] = ["vw-x", "vw-y"];
    await consume([event(erased, "view", 1, "vw-item"), event(untracked, "view", 1, "vw-item")]);
    const access = await adminRequest(`/v1/users/${erased}`, "GET");
    expect(((await access.json()) as { views: { item: string }[] }).views).toMatchObject([{ item: "vw-item" }]);
    expect((await adminRequest(`/v1/users/${erased}`, "DELETE")).status).toBe(200);
    await consume([{ id: "off", type: "consent", user: untracked, ts: nowS(), consent: { tracking: false } }]);
    expect(await viewsOf(erased)).toEqual([]);
    expect(await viewsOf(untracked)).toEqual([]);
    await patch([{ id: "vw-item", stock: 0 }]);
    await patch([{ id: "vw-item", stock: 1 }]);
    await deliveredTo(1, erased, untracked);
    expect(calls).toHaveLength(0);
    expect(await rowsOf(erased)).toEqual([]);
    expect(await rowsOf(untracked)).toEqual([]);
  });

  it("are kept, with the reader's decisions, when an opt-out older than their opt-in arrives late (a retry)", async () => {
    const user = "vw-late-off";
    const consent = (id: string, secondsAgo: number, tracking: boolean): QueuedEvent => ({
      id,
      type: "consent",
      user,
      ts: nowS() - secondsAgo,
      consent: { tracking },
    });
    await consume([consent("on", 10, true)]);
    await consume([event(user, "view", 0, "late-item")]);
    // a decision an open stored for them
    const decision = kvKeys.decision(user, "late", 1767225600, "row-0");
    await env.OPENTIME_KV.put(decision, JSON.stringify({ item: "late-item" }));
    await consume([consent("old-off", 20, false)]);
    expect((await viewsOf(user)).map((v) => v.item)).toEqual(["late-item"]);
    expect(await env.OPENTIME_KV.get(decision)).not.toBeNull();
    // nothing to sweep: no decision of theirs is deleted again
    const sweeps = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
      state.storage.sql.exec("SELECT user FROM decision_sweeps WHERE user = ?", user).toArray(),
    );
    expect(sweeps).toEqual([]);
    // a newer opt-out does, and deletes their decisions before the consumer acknowledges it
    await consume([consent("new-off", 0, false)]);
    expect(await viewsOf(user)).toEqual([]);
    expect(await env.OPENTIME_KV.get(decision)).toBeNull();
  });

  it("keep each reader's latest 50 items, and a view after a purchase counts again", async () => {
    const user = "vw-z";
    await consume(Array.from({ length: 55 }, (_, i) => event(user, "view", 1 - i / 1000, `many-${i}`)));
    const kept = (await viewsOf(user)).map((v) => v.item as string);
    expect(kept).toHaveLength(50);
    expect(kept).not.toContain("many-0");
    expect(kept).toContain("many-54");
    await consume([event(user, "purchase", 0.5, "many-54")]);
    expect((await viewsOf(user)).map((v) => v.item)).not.toContain("many-54");
    await consume([event(user, "view", 0.1, "many-54")]);
    expect((await viewsOf(user)).map((v) => v.item)).toContain("many-54");
  });
});

describe("what a delivery holds, and how much one change may cost", () => {
  const change = (seq: number, item: string): CatalogChange => ({ seq, item, kind: "back-in-stock", at: nowS() });

  it("a change joins a delivery until its webhook call begins; after that it waits", async () => {
    const user = "vw-claim";
    await consume([event(user, "view", 1, "cl-1"), event(user, "view", 1, "cl-2"), event(user, "view", 1, "cl-3")]);
    const trigger = {
      ...BACK,
      type: "viewed-back-in-stock" as const,
      viewedWithinDays: 30,
      cooldownHours: 24,
      tokenTtlDays: 7,
      enabled: true,
    };
    const held = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      const sql = state.storage.sql;
      const now = Date.now();
      scheduleViewed(sql, user, trigger, change(1, "cl-1"), nowS(), now, new Set());
      const due = dueDeliveries(sql, now, 5).find((d) => d.user === user) as DueDelivery;
      // read by the alarm, then a change arrives before the call: the call carries it
      scheduleViewed(sql, user, trigger, change(2, "cl-2"), nowS(), now, new Set());
      // as the shard does: the row as it is now, marked begun as its call leaves
      const claimed = pendingDelivery(sql, due);
      if (claimed) markBegun(sql, claimed, now);
      // the call has begun (marked before it leaves): a later change does not join it
      const late = scheduleViewed(sql, user, trigger, change(3, "cl-3"), nowS(), now, new Set());
      return {
        claimed,
        late,
        items: sql.exec<{ items: string }>("SELECT items FROM triggers WHERE user = ?", user).one().items,
      };
    });
    expect(JSON.parse(held.claimed?.items as string)).toEqual(["cl-2", "cl-1"]);
    expect(held.late).toBeNull();
    expect(JSON.parse(held.items)).toEqual(["cl-2", "cl-1"]);
  });

  it("a reader who turned personalization off, or paused sends, is not told what they viewed, and nothing is kept for it", async () => {
    const [user, paused] = ["vw-np", "vw-pause"];
    await consume([event(user, "view", 1, "np-1"), event(paused, "view", 1, "np-1")]);
    await consume([
      { id: "np", type: "consent", user, ts: nowS(), consent: { personalization: false } },
      { id: "pz", type: "consent", user: paused, ts: nowS(), consent: { pausedUntil: nowS() + 86_400 } },
    ]);
    const before = [await seqOf(user), await seqOf(paused)];
    await patch([{ id: "np-1", stock: 0 }]);
    await patch([{ id: "np-1", stock: 2 }]);
    // both shards applied the change, and scheduled nothing for them
    await vi.waitFor(
      async () => {
        expect(await seqOf(user)).toBeGreaterThan(before[0] as number);
        expect(await seqOf(paused)).toBeGreaterThan(before[1] as number);
      },
      { timeout: LOST_AFTER_MS, interval: 50 },
    );
    expect(await rowsOf(user)).toEqual([]);
    expect(await rowsOf(paused)).toEqual([]);
    await deliveredTo(1, user, paused);
    expect(calls).toHaveLength(0);
  });

  it("a reader whose pause ends within the day is told when it ends, as a pending delivery waits for it", async () => {
    const [short, long] = ["vw-pause-short", "vw-pause-long"];
    const until = nowS() + 3600;
    await consume([event(short, "view", 1, "ps-1"), event(long, "view", 1, "ps-1")]);
    await consume([
      { id: "ps", type: "consent", user: short, ts: nowS(), consent: { pausedUntil: until } },
      { id: "pl", type: "consent", user: long, ts: nowS(), consent: { pausedUntil: nowS() + 2 * 86_400 } },
    ]);
    await patch([{ id: "ps-1", stock: 0 }]);
    await patch([{ id: "ps-1", stock: 2 }]);
    await vi.waitFor(async () => expect(await rowsOf(short)).toMatchObject([{ trigger: "back", state: "pending" }]), {
      timeout: LOST_AFTER_MS,
      interval: 50,
    });
    // the longer pause's shard has applied the change too (the fan-out may reach it after short's): nothing kept
    const applied = await seqOf(short);
    await vi.waitFor(async () => expect(await seqOf(long)).toBeGreaterThanOrEqual(applied), {
      timeout: LOST_AFTER_MS,
      interval: 50,
    });
    expect(await rowsOf(long)).toEqual([]);
    // due now, it waits for the pause's end (no call, no attempt)
    await deliveredTo(1, short);
    expect(calls).toHaveLength(0);
    expect(await rowsOf(short)).toMatchObject([{ trigger: "back", state: "pending", attempts: 0, items: '["ps-1"]' }]);
    const nextAt = await runInDurableObject(readerStub(env, short), (_: ReaderShard, state) =>
      state.storage.sql.exec<{ next_at: number }>("SELECT next_at FROM triggers WHERE user = ?", short).one(),
    );
    expect(nextAt.next_at).toBe(until * 1000);
  });

  it("one call stops at its row bound and acknowledges what it applied; the rest comes with the next", async () => {
    const user = "vw-bound";
    const shard = readerStub(env, user);
    // 11 items with 500 viewers each (written straight into the index): 5,500 rows, past the 5,000 of a call
    const items = Array.from({ length: 11 }, (_, i) => `rb-${i}`);
    const applied = await runInDurableObject(shard, async (instance: ReaderShard, state) => {
      const sql = state.storage.sql;
      const ts = nowS() - 3600;
      for (const item of items)
        for (let i = 0; i < 500; i++)
          sql.exec("INSERT INTO views (user, item, ts) VALUES (?, ?, ?)", `rb-u${i}`, item, ts);
      const base = sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM catalog_seq").one().seq;
      const all = items.map((item, i) => change(base + 1 + i, item));
      const first = await instance.catalogChanged(all);
      const pending = () =>
        sql.exec<{ n: number }>("SELECT count(*) AS n FROM triggers WHERE state = 'pending'").one().n;
      const afterFirst = pending();
      const second = await instance.catalogChanged(all);
      return { base, first, second, afterFirst, afterSecond: pending() };
    });
    // one trigger (back in stock): 500 rows a change, so ten changes fill the first call
    expect(applied.first).toBe(applied.base + 10);
    expect(applied.second).toBe(applied.base + 11);
    // each viewer's one pending delivery (items merge into it): 500 rows, the 11th change merged in the second call
    expect(applied.afterFirst).toBe(500);
    expect(applied.afterSecond).toBe(500);
  });

  it("a stale change is passed over, and the writer's outbox drops what no shard would act on", async () => {
    const user = "vw-stale";
    await consume([event(user, "view", 1, "st-1")]);
    const shard = readerStub(env, user);
    const base = await runInDurableObject(
      shard,
      (_: ReaderShard, state) =>
        state.storage.sql.exec<{ seq: number }>("SELECT coalesce(max(seq), 0) AS seq FROM catalog_seq").one().seq,
    );
    const old: CatalogChange = { seq: base + 1, item: "st-1", kind: "back-in-stock", at: nowS() - 2 * 3600 };
    expect(await shard.catalogChanged([old])).toBe(base + 1);
    expect(await rowsOf(user)).toEqual([]);
    const left = await runInDurableObject(catalogWriter(env), (_: CatalogWriter, state) => {
      const sql = state.storage.sql;
      // past any sequence number a shard acknowledged
      const [older, newer] = [Number.MAX_SAFE_INTEGER - 2, Number.MAX_SAFE_INTEGER - 1];
      sql.exec("INSERT INTO outbox (seq, at, change) VALUES (?, ?, '{}')", older, nowS() - 3 * 3600);
      sql.exec("INSERT INTO outbox (seq, at, change) VALUES (?, ?, '{}')", newer, nowS());
      const left = pruneOutbox(sql, READER_SHARDS, nowS());
      // (not left for the writer to send to every shard for two hours)
      sql.exec("DELETE FROM outbox WHERE seq = ?", newer);
      return left;
    });
    // no shard acknowledged either: the old one goes all the same, the new one waits
    expect(left).toBe(1);
  });

  it("views past 90 days are deleted by the shard's alarm, however quiet the reader", async () => {
    const user = "vw-old";
    await consume([event(user, "view", 1, "old-1")]);
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      state.storage.sql.exec("INSERT INTO views (user, item, ts) VALUES (?, 'old-2', ?)", user, nowS() - 91 * 86_400);
    });
    await runAlarmsUntil(user, () => false);
    expect((await viewsOf(user)).map((v) => v.item)).toEqual(["old-1"]);
  });

  it("the alarm prunes views an hour after the oldest expires, not at each view's expiry", async () => {
    // a reader whose shard has nothing else due, so that its alarm is the views' own
    const user = await quietShardUser("vw-slack");
    await consume([event(user, "view", 1, "slack-1")]);
    // a view that expires in ten minutes, and one a second after it: one wake an hour later prunes both
    const expiresMs = (nowS() + 600) * 1000;
    await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
      const ts = nowS() + 600 - 90 * 86_400;
      const insert = "INSERT INTO views (user, item, ts) VALUES (?, 'slack-2', ?), (?, 'slack-3', ?)";
      state.storage.sql.exec(insert, user, ts, user, ts + 1);
    });
    await runAlarmsUntil(user, () => false);
    const alarm = await runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => state.storage.getAlarm());
    expect(alarm).toBeGreaterThanOrEqual(expiresMs + PRUNE_SLACK_MS);
    expect(alarm).toBeLessThanOrEqual(expiresMs + PRUNE_SLACK_MS + 1000);
    expect((await viewsOf(user)).map((v) => v.item).sort()).toEqual(["slack-1", "slack-2", "slack-3"]);
  });
});
