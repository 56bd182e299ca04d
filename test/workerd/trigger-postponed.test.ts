/**
 * Trigger deliveries put off by what the shop left unset (the webhook secret, a readable configuration): one alarm
 * run puts off every due delivery of the shard a minute, however many wait, and ends those kept past their use, so
 * the alarm wakes once a minute, not again at once for each batch of 25.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { kvKeys } from "../../core/kv-keys";
import type { ReaderShard } from "../../worker/state/reader-shard";
import { readerStub, shardOf } from "../../worker/state/shard-routing";
import { resetTriggersCache } from "../../worker/triggers/trigger-config";
import { clearKv, consume } from "./support/harness";
import { withObjectEnv } from "./support/object-env";
import { type Call, receiveWebhooks, adminRequest as send } from "./support/webhook-receiver";

const HOOK = "https://hooks.shop.test/postponed";
const CART = { id: "cart-30", type: "cart-abandoned", afterMinutes: 30, campaign: "cart", webhook: HOOK };
/** more than an alarm run's batch (25) */
const WAITING = 60;

let calls: Call[] = [];
const nowS = () => Math.floor(Date.now() / 1000);

/**
 * `n` readers of one shard, each with a cart added 20 minutes ago: due in 10 minutes, so the shard's own alarm (which
 * Miniflare runs when its time comes) cannot deliver them before a test has put off what it puts off; `makeDue` makes
 * them due.
 */
async function waitingCarts(prefix: string, n: number): Promise<string[]> {
  const shard = shardOf(`${prefix}-0`);
  const users: string[] = [];
  for (let i = 0; users.length < n; i++) if (shardOf(`${prefix}-${i}`) === shard) users.push(`${prefix}-${i}`);
  const events = users.map(
    (user, i): QueuedEvent => ({
      id: `${prefix}-e${i}`,
      type: "cart_add",
      user,
      ts: nowS() - 20 * 60,
      item: "p000417",
    }),
  );
  await consume(events);
  return users;
}

function rows(user: string) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) =>
    state.storage.sql
      .exec<{ user: string; state: string; reason: string | null; next_at: number; attempts: number }>(
        "SELECT user, state, reason, next_at, attempts FROM triggers",
      )
      .toArray(),
  );
}

/** Every delivery of `user`'s shard due 10 minutes ago, `late` ones 25 hours ago (never tried within their day). */
function makeDue(user: string, late: ReadonlySet<string> = new Set()) {
  return runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => {
    for (const row of state.storage.sql.exec<{ user: string }>("SELECT user FROM triggers").toArray()) {
      const due = nowS() - (late.has(row.user) ? 25 * 3600 : 10 * 60);
      state.storage.sql.exec("UPDATE triggers SET due_at = ?, next_at = ? WHERE user = ?", due, due * 1000, row.user);
    }
  });
}

const alarmOf = (user: string) =>
  runInDurableObject(readerStub(env, user), (_: ReaderShard, state) => state.storage.getAlarm());

beforeEach(async () => {
  await clearKv();
  resetTriggersCache();
  calls = [];
  receiveWebhooks(HOOK, calls, () => new Response("ok"));
  expect((await send("/v1/admin/triggers", "PUT", { v: 1, triggers: [CART] })).status).toBe(200);
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("due deliveries put off", () => {
  it("the secret missing: one alarm run puts off every due delivery a minute, and the alarm wakes a minute later", async () => {
    const users = await waitingCarts("postponed-secret", WAITING);
    const stub = readerStub(env, users[0] as string);
    await withObjectEnv(
      stub,
      (real) => ({ ...real, TRIGGER_WEBHOOK_SECRET: "" }),
      async () => {
        const before = Date.now();
        await makeDue(users[0] as string);
        await runDurableObjectAlarm(stub);
        const pending = await rows(users[0] as string);
        expect(pending).toHaveLength(WAITING);
        for (const r of pending) {
          expect(r).toMatchObject({ state: "pending", attempts: 0 });
          expect(r.next_at).toBeGreaterThanOrEqual(before + 59_000);
        }
        expect(await alarmOf(users[0] as string)).toBeGreaterThanOrEqual(before + 59_000);
      },
    );
    expect(calls).toHaveLength(0);
  });

  it("the configuration unreadable: the same, and those past their day are dropped as stale in that run", async () => {
    const users = await waitingCarts("postponed-config", WAITING);
    const first = users[0] as string;
    // a configuration this version cannot read (a newer one, after a rollback), before any is due
    await env.OPENTIME_KV.put(kvKeys.triggers, JSON.stringify({ v: 2, triggers: [] }));
    resetTriggersCache();
    const before = Date.now();
    // a third of them due more than a day ago: never tried in time
    const late = new Set(users.filter((_, i) => i % 3 === 0));
    await makeDue(first, late);
    await runDurableObjectAlarm(readerStub(env, first));
    for (const r of await rows(first)) {
      if (late.has(r.user)) expect(r).toMatchObject({ state: "cancelled", reason: "stale" });
      else {
        expect(r).toMatchObject({ state: "pending", attempts: 0 });
        expect(r.next_at).toBeGreaterThanOrEqual(before + 59_000);
      }
    }
    expect(await alarmOf(first)).toBeGreaterThanOrEqual(before + 59_000);
    expect(calls).toHaveLength(0);
  });
});
