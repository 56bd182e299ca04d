/**
 * Trigger scheduling and webhook signatures (core/triggers.ts, core/webhook-signature.ts), and the README's
 * receiver in Node, run as written.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { fieldPath } from "../../core/field-path";
import {
  CartAbandonedSchema,
  type CartAbandonedTrigger,
  type CartTimes,
  consentStops,
  consentStopsNew,
  frequencyAllows,
  itemsAfterPurchase,
  itemsAfterRemoval,
  LATE_AFTER_SECONDS,
  MAX_RETRY_AFTER_S,
  MAX_TRIGGER_ITEMS,
  nextTriggerState,
  nextViewedStep,
  RETRY_DELAYS_S,
  retryAfterSeconds,
  retryDelayMs,
  TriggerSchema,
  type TriggerState,
  TriggersConfigSchema,
  type ViewedTrigger,
  webhookVerdict,
} from "../../core/triggers";
import { signWebhook, verifyWebhook } from "../../core/webhook-signature";

const NOW = 1_800_000_000;
/** A cart wait its removes emptied: nothing to tell of. */
const EMPTIED = { items: [], state: "cancelled", reason: "cart-emptied" };
const trigger: CartAbandonedTrigger = CartAbandonedSchema.parse({
  id: "cart-30",
  type: "cart-abandoned",
  afterMinutes: 30,
  campaign: "cart",
  webhook: "https://hooks.shop.example/x",
});
const ev = (type: QueuedEvent["type"], ts: number, item?: string): QueuedEvent => ({
  id: `${type}-${ts}-${item}`,
  type,
  user: "u1",
  ts,
  ...(item && { item }),
});

describe("cart-abandoned scheduling", () => {
  it("a cart add is due its minutes later; a later one moves it and leads the items", () => {
    const first = nextTriggerState(trigger, null, [ev("cart_add", NOW - 60, "a")], null, NOW) as TriggerState;
    expect(first).toEqual({
      cartTs: NOW - 60,
      items: ["a"],
      dueAt: NOW - 60 + 1800,
      state: "pending",
      deliveredAt: null,
    });
    const moved = nextTriggerState(trigger, first, [ev("cart_add", NOW, "b")], null, NOW);
    expect(moved).toMatchObject({ cartTs: NOW, items: ["b", "a"], dueAt: NOW + 1800, state: "pending" });
    // an older cart add arriving late adds its item, the timer stays
    expect(nextTriggerState(trigger, moved, [ev("cart_add", NOW - 120, "c")], null, NOW)).toMatchObject({
      cartTs: NOW,
      items: ["b", "a", "c"],
      dueAt: NOW + 1800,
    });
  });

  it("a purchase at or after the cart add cancels it; one before it does not", () => {
    const pending = nextTriggerState(trigger, null, [ev("cart_add", NOW - 600, "a")], null, NOW) as TriggerState;
    expect(nextTriggerState(trigger, pending, [ev("purchase", NOW - 300, "a")], NOW - 300, NOW)?.state).toBe(
      "cancelled",
    );
    expect(nextTriggerState(trigger, pending, [ev("purchase", NOW - 900, "z")], NOW - 900, NOW)).toBeNull();
    // a purchase at the very time of the cart add counts as after it
    expect(nextTriggerState(trigger, pending, [ev("purchase", NOW - 600, "a")], NOW - 600, NOW)?.state).toBe(
      "cancelled",
    );
    // the purchase arrived first: the cart add it answers never schedules
    expect(nextTriggerState(trigger, null, [ev("cart_add", NOW - 600, "a")], NOW - 300, NOW)?.state).toBe("cancelled");
  });

  it("after a delivery, the next waits out the cooldown; stale and switched-off triggers schedule nothing", () => {
    const delivered: TriggerState = {
      cartTs: NOW - 7200,
      items: ["a"],
      dueAt: NOW - 5400,
      state: "delivered",
      deliveredAt: NOW - 3600,
    };
    expect(nextTriggerState(trigger, delivered, [ev("cart_add", NOW, "b")], null, NOW)).toMatchObject({
      items: ["b"],
      state: "pending",
      dueAt: NOW - 3600 + 24 * 3600,
    });
    expect(nextTriggerState(trigger, null, [ev("cart_add", NOW - 3 * 3600, "a")], null, NOW)).toBeNull();
    // a stale cart add is stale within the cooldown too: it is not kept for the cooldown's end
    expect(nextTriggerState(trigger, delivered, [ev("cart_add", NOW - 6000, "b")], null, NOW)).toBeNull();
    expect(nextTriggerState({ ...trigger, enabled: false }, null, [ev("cart_add", NOW, "a")], null, NOW)).toBeNull();
  });

  it("a cart remove takes its item out of the pending delivery, and cancels it once it names none", () => {
    const two = nextTriggerState(
      trigger,
      null,
      [ev("cart_add", NOW - 600, "a"), ev("cart_add", NOW - 500, "b")],
      null,
      NOW,
    ) as TriggerState;
    expect(two.items).toEqual(["b", "a"]);
    // one of two: the other stays, the timer stays with the latest add
    const one = nextTriggerState(trigger, two, [ev("cart_remove", NOW - 400, "a")], null, NOW) as TriggerState;
    expect(one).toMatchObject({ items: ["b"], state: "pending", dueAt: NOW - 500 + 1800, cartTs: NOW - 500 });
    // an item the delivery does not name changes nothing
    expect(nextTriggerState(trigger, one, [ev("cart_remove", NOW - 300, "z")], null, NOW)).toBeNull();
    // the last: nothing left to tell of
    expect(nextTriggerState(trigger, one, [ev("cart_remove", NOW - 300, "b")], null, NOW)).toMatchObject(EMPTIED);
    // added, removed, and another added, in one batch: the new wait names only the new item
    expect(
      nextTriggerState(
        trigger,
        null,
        [ev("cart_add", NOW - 600, "a"), ev("cart_remove", NOW - 500, "a"), ev("cart_add", NOW - 400, "c")],
        null,
        NOW,
      ),
    ).toMatchObject({ items: ["c"], state: "pending", cartTs: NOW - 400 });
    // removed, then added again: it stays; a remove of the latest add's item arriving late (older) changes nothing
    const again = nextTriggerState(
      trigger,
      null,
      [ev("cart_add", NOW - 600, "a"), ev("cart_remove", NOW - 500, "a"), ev("cart_add", NOW - 400, "a")],
      null,
      NOW,
    ) as TriggerState;
    expect(again).toMatchObject({ items: ["a"], state: "pending" });
    expect(nextTriggerState(trigger, again, [ev("cart_remove", NOW - 450, "a")], null, NOW)).toBeNull();
    // a switched-off trigger's pending row is still emptied (it is cancelled when due)
    expect(
      nextTriggerState({ ...trigger, enabled: false }, one, [ev("cart_remove", NOW - 300, "b")], null, NOW)?.state,
    ).toBe("cancelled");
    // a purchase cancels saying so
    expect(nextTriggerState(trigger, one, [ev("purchase", NOW - 300, "b")], NOW - 300, NOW)?.reason).toBe("purchased");
  });

  it("an item in the cart at the latest purchase is left out of a wait on a later add (the purchase bought it)", () => {
    const cart = new Map<string, CartTimes>([
      ["a", { added: NOW - 900 }],
      ["b", { added: NOW - 600 }],
    ]);
    const batch = [ev("cart_add", NOW - 900, "a"), ev("purchase", NOW - 800, "a"), ev("cart_add", NOW - 600, "b")];
    expect(nextTriggerState(trigger, null, batch, NOW - 800, NOW, cart)).toMatchObject({
      items: ["b"],
      state: "pending",
      cartTs: NOW - 600,
    });
    // a pending wait named both: the purchase arriving late leaves the later add alone
    const both = nextTriggerState(trigger, null, [batch[0], batch[2]] as QueuedEvent[], null, NOW, cart);
    expect(both?.items).toEqual(["b", "a"]);
    const added = nextTriggerState(trigger, both, [ev("cart_add", NOW - 500, "c")], NOW - 800, NOW, cart);
    expect(added?.items).toEqual(["c", "b"]);
    // added again after the purchase: named; an add the shard knows nothing of stays
    const again = new Map<string, CartTimes>([["a", { added: NOW - 700 }]]);
    expect(nextTriggerState(trigger, null, batch, NOW - 800, NOW, again)?.items).toEqual(["b", "a"]);
    expect(itemsAfterPurchase(["b", "z"], NOW - 800, cart)).toBeNull();
    expect(itemsAfterPurchase(["b", "a"], null, cart)).toBeNull();
  });

  it("itemsAfterRemoval: the item goes, unless it is the latest add's and that add came after the removal", () => {
    const remove = (ts: number, item: string) => ev("cart_remove", ts, item);
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW + 1, "a"))).toEqual(["b"]);
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW - 1, "a"))).toEqual(["b"]);
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW, "b"))).toEqual(["a"]);
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW - 1, "b"))).toBeNull();
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW, "z"))).toBeNull();
  });

  it("itemsAfterRemoval with the item's latest add known: it goes unless added again after the removal, wherever it stands", () => {
    const remove = (ts: number, item: string) => ev("cart_remove", ts, item);
    // added again after the removal, though another add came after that (the delivery's latest is b's): it stays
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW - 10, "a"), NOW - 5)).toBeNull();
    // its latest add before the removal: it goes, even the delivery's latest add's item
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW - 10, "a"), NOW - 20)).toEqual(["b"]);
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW + 1, "b"), NOW)).toEqual(["a"]);
    // an add and a remove of the same second: the remove is the later
    expect(itemsAfterRemoval(NOW, ["b", "a"], remove(NOW, "b"), NOW)).toEqual(["a"]);
  });

  it("a remove that arrived before its own add takes the item out once the add arrives (the shard's cart record)", () => {
    const cart = new Map<string, CartTimes>([
      ["a", { added: NOW - 600, removed: NOW - 500 }],
      ["b", { added: NOW - 550 }],
    ]);
    // the only item: the wait is cancelled, nothing to tell of
    expect(nextTriggerState(trigger, null, [ev("cart_add", NOW - 600, "a")], null, NOW, cart)).toMatchObject(EMPTIED);
    // with another: the other is named, the timer stays with the latest add
    expect(
      nextTriggerState(
        trigger,
        null,
        [ev("cart_add", NOW - 600, "a"), ev("cart_add", NOW - 550, "b")],
        null,
        NOW,
        cart,
      ),
    ).toMatchObject({ items: ["b"], state: "pending", cartTs: NOW - 550 });
    // a remove older than the add it arrives before changes nothing
    const older = new Map<string, CartTimes>([["a", { added: NOW - 600, removed: NOW - 700 }]]);
    expect(nextTriggerState(trigger, null, [ev("cart_add", NOW - 600, "a")], null, NOW, older)).toMatchObject({
      items: ["a"],
      state: "pending",
    });
  });

  it("a cart's adds and removes give the same wait however they are batched and whatever order the batches come in", () => {
    const events = fc.array(
      fc.record({
        type: fc.constantFrom("cart_add", "cart_remove") as fc.Arbitrary<QueuedEvent["type"]>,
        ago: fc.integer({ min: 0, max: 3000 }),
        item: fc.constantFrom("a", "b", "c"),
        batch: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: 10 },
    );
    const record = (cart: Map<string, CartTimes>, batch: readonly QueuedEvent[]) => {
      for (const e of batch) {
        const times = cart.get(e.item as string) ?? {};
        const kind = e.type === "cart_add" ? "added" : "removed";
        times[kind] = Math.max(times[kind] ?? Number.NEGATIVE_INFINITY, e.ts);
        cart.set(e.item as string, times);
      }
    };
    const run = (batches: QueuedEvent[][]) => {
      const cart = new Map<string, CartTimes>();
      let state: TriggerState | null = null;
      for (const batch of batches) {
        record(cart, batch);
        state = nextTriggerState(trigger, state, batch, null, NOW, cart) ?? state;
      }
      return { pending: state?.state === "pending", items: new Set(state?.state === "pending" ? state.items : []) };
    };
    fc.assert(
      fc.property(events, fc.boolean(), (list, reversed) => {
        const all = list.map((e) => ({ ...ev(e.type, NOW - e.ago, e.item), batch: e.batch }));
        // as they happened: one at a time, in time order (an add before a remove of the same second)
        const inOrder = [...all]
          .sort((a, b) => a.ts - b.ts || (a.type === b.type ? 0 : a.type === "cart_add" ? -1 : 1))
          .map((e) => [e]);
        const order = reversed ? [3, 2, 1, 0] : [0, 1, 2, 3];
        const arrived = order.map((n) => all.filter((e) => e.batch === n));
        expect(run(arrived)).toEqual(run(inOrder));
      }),
      { numRuns: 1000 },
    );
  });

  it("the result does not depend on the order events arrive in within a batch", () => {
    const events = fc.array(
      fc.record({
        type: fc.constantFrom("cart_add", "cart_remove", "purchase", "view") as fc.Arbitrary<QueuedEvent["type"]>,
        ago: fc.integer({ min: 0, max: 3000 }),
        item: fc.constantFrom("a", "b", "c"),
      }),
      { minLength: 1, maxLength: 8 },
    );
    fc.assert(
      fc.property(events, (list) => {
        const batch = list.map((e) => ev(e.type, NOW - e.ago, e.item));
        const purchases = batch.filter((e) => e.type === "purchase").map((e) => e.ts);
        const last = purchases.length ? Math.max(...purchases) : null;
        const a = nextTriggerState(trigger, null, batch, last, NOW);
        const b = nextTriggerState(trigger, null, [...batch].reverse(), last, NOW);
        expect(b?.state).toEqual(a?.state);
        expect(b?.dueAt).toEqual(a?.dueAt);
        expect(new Set(b?.items)).toEqual(new Set(a?.items));
      }),
      { numRuns: 300 },
    );
  });
});

describe("viewed-* triggers", () => {
  const backInStock = TriggerSchema.parse({
    id: "back",
    type: "viewed-back-in-stock",
    campaign: "back",
    webhook: "https://hooks.shop.example/x",
  }) as ViewedTrigger;

  it("take their defaults, and the configuration refuses bad values naming the field", () => {
    expect(backInStock).toMatchObject({ viewedWithinDays: 30, cooldownHours: 24, tokenTtlDays: 7, enabled: true });
    const drop = TriggerSchema.parse({ ...backInStock, id: "drop", type: "viewed-price-drop" });
    expect(drop).toMatchObject({ type: "viewed-price-drop", minDropPercent: 5, viewedWithinDays: 30 });
    const paths = (triggers: unknown[]) => {
      const r = TriggersConfigSchema.safeParse({ v: 1, triggers });
      return r.success ? [] : r.error.issues.map((i) => fieldPath(i.path));
    };
    expect(paths([{ ...backInStock, viewedWithinDays: 91 }])).toEqual(["triggers[0].viewedWithinDays"]);
    expect(paths([{ ...drop, minDropPercent: 0.5 }])).toEqual(["triggers[0].minDropPercent"]);
    expect(paths([{ ...drop, minDropPercent: 91 }])).toEqual(["triggers[0].minDropPercent"]);
    // a field of another type is refused, and an unknown type is named at `type`
    expect(paths([{ ...backInStock, minDropPercent: 10 }])).toEqual(["triggers[0]"]);
    expect(paths([{ ...backInStock, afterMinutes: 30 }])).toEqual(["triggers[0]"]);
    expect(paths([{ ...backInStock, type: "viewed-anything" }])).toEqual(["triggers[0].type"]);
    // cart-abandoned keeps its fields as they were
    expect(paths([{ ...trigger }])).toEqual([]);
    expect(paths([{ ...trigger, afterMinutes: undefined }])).toEqual(["triggers[0].afterMinutes"]);
  });

  it("a change starts a delivery, joins a pending one not tried yet, and waits out nothing", () => {
    expect(nextViewedStep(backInStock, null, "a", NOW, NOW)).toBe("new");
    const pending = { state: "pending" as const, items: ["a"], deliveredAt: null, tried: false };
    expect(nextViewedStep(backInStock, pending, "b", NOW, NOW)).toBe("merge");
    expect(nextViewedStep(backInStock, pending, "a", NOW, NOW)).toBe("merge");
    // tried already (its receiver may hold that id): the content stays as sent
    expect(nextViewedStep(backInStock, { ...pending, tried: true }, "b", NOW, NOW)).toBe("skip");
    const full = { ...pending, items: Array.from({ length: MAX_TRIGGER_ITEMS }, (_, i) => `i${i}`) };
    expect(nextViewedStep(backInStock, full, "b", NOW, NOW)).toBe("skip");
    expect(nextViewedStep(backInStock, full, "i3", NOW, NOW)).toBe("merge");
    // a change more than an hour old when it arrives, or a trigger switched off: nothing
    expect(nextViewedStep(backInStock, null, "a", NOW - 3601, NOW)).toBe("skip");
    expect(nextViewedStep(backInStock, null, "a", NOW - 3600, NOW)).toBe("new");
    expect(nextViewedStep({ ...backInStock, enabled: false }, null, "a", NOW, NOW)).toBe("skip");
  });

  it("within the cooldown of the last delivery a change is dropped, after it a new delivery starts", () => {
    const delivered = (hoursAgo: number) => ({
      state: "delivered" as const,
      items: [],
      deliveredAt: NOW - hoursAgo * 3600,
      tried: true,
    });
    expect(nextViewedStep(backInStock, delivered(23), "a", NOW, NOW)).toBe("skip");
    expect(nextViewedStep(backInStock, delivered(24), "a", NOW, NOW)).toBe("new");
    expect(nextViewedStep({ ...backInStock, cooldownHours: 0 }, delivered(0), "a", NOW, NOW)).toBe("new");
    // a cancelled or given-up delivery started no cooldown
    expect(nextViewedStep(backInStock, { ...delivered(1), state: "cancelled", deliveredAt: null }, "a", NOW, NOW)).toBe(
      "new",
    );
  });
});

describe("a webhook's answer", () => {
  it("2xx is delivered; a 4xx but 401, 403, 404, 408, 409, 425, 429 refuses the body; the rest, and no answer, is retried", () => {
    const verdicts = (statuses: (number | null)[]) => statuses.map((s) => webhookVerdict(s));
    expect(verdicts([200, 201, 202, 204, 299])).toEqual(Array(5).fill("delivered"));
    expect(verdicts([400, 405, 410, 413, 415, 422, 451, 499])).toEqual(Array(8).fill("refused"));
    expect(
      verdicts([401, 403, 404, 408, 409, 425, 429, 500, 502, 503, 504, 301, 302, 307, 308, 304, 100, 600, null]),
    ).toEqual(Array(19).fill("retry"));
  });

  it("Retry-After: delay-seconds or an HTTP date (past: 0); anything else is none", () => {
    const now = Date.UTC(2026, 0, 15, 12, 0, 0);
    expect(retryAfterSeconds("120", now)).toBe(120);
    expect(retryAfterSeconds(" 0 ", now)).toBe(0);
    expect(retryAfterSeconds("Thu, 15 Jan 2026 14:00:00 GMT", now)).toBe(7200);
    expect(retryAfterSeconds("Thu, 15 Jan 2026 12:00:00 GMT", now + 500)).toBe(0);
    expect(retryAfterSeconds("Wed, 14 Jan 2026 12:00:00 GMT", now)).toBe(0);
    for (const bad of [null, "", "soon", "-5", "1.5", "12s"])
      expect(retryAfterSeconds(bad, now), String(bad)).toBeNull();
  });

  it("the back-off: half to all of each step, the same for one delivery and attempt; given up past the last", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.integer({ min: 0, max: RETRY_DELAYS_S.length - 1 }), (id, attempts) => {
        const step = (RETRY_DELAYS_S[attempts] as number) * 1000;
        const wait = retryDelayMs(id, attempts, null) as number;
        expect(wait).toBeGreaterThanOrEqual(step / 2);
        expect(wait).toBeLessThan(step);
        expect(retryDelayMs(id, attempts, null)).toBe(wait);
      }),
    );
    expect(retryDelayMs("d1", RETRY_DELAYS_S.length, null)).toBeNull();
    expect(retryDelayMs("d1", RETRY_DELAYS_S.length, 60)).toBeNull();
  });

  it("the jitter spreads one outage's deliveries over the step, and a retry's over its own", () => {
    const ids = Array.from({ length: 2000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`);
    /** how far into the second half of the step each id's wait falls (0..1) */
    const shares = (attempts: number) =>
      ids.map((id) => (retryDelayMs(id, attempts, null) as number) / ((RETRY_DELAYS_S[attempts] as number) * 500) - 1);
    for (const attempts of [0, 3]) {
      const tenths = Array(10).fill(0) as number[];
      for (const share of shares(attempts)) tenths[Math.floor(share * 10)] = (tenths[Math.floor(share * 10)] ?? 0) + 1;
      for (const n of tenths) expect(n).toBeGreaterThan(120); // 200 expected
    }
    // a delivery's attempts draw apart: not the same share of each step
    const [first, second] = [shares(0), shares(1)];
    expect(first.filter((s, i) => Math.abs(s - (second[i] as number)) < 0.005).length).toBeLessThan(60); // 20 expected
  });

  it("a Retry-After waits at least that long, up to the last step and never past LATE_AFTER_SECONDS", () => {
    expect(MAX_RETRY_AFTER_S).toBe(86_400);
    expect(MAX_RETRY_AFTER_S).toBeLessThanOrEqual(LATE_AFTER_SECONDS);
    expect(retryDelayMs("d1", 0, 120)).toBe(120_000);
    expect(retryDelayMs("d1", 0, 10)).toBe(retryDelayMs("d1", 0, null)); // shorter than the back-off
    expect(retryDelayMs("d1", 0, 0)).toBe(retryDelayMs("d1", 0, null));
    expect(retryDelayMs("d1", 2, 10_000_000)).toBe(86_400_000);
  });
});

describe("webhook signatures", () => {
  it("verify over the raw body and timestamp, within the tolerance, and refuse anything changed", async () => {
    const body = '{"id":"d1","user":"u1"}';
    const header = await signWebhook("secret-0123456789abcdef", body, NOW);
    expect(header).toMatch(/^t=1800000000,v1=[0-9a-f]{64}$/);
    expect(await verifyWebhook("secret-0123456789abcdef", body, header, NOW + 60)).toBe(true);
    expect(await verifyWebhook("secret-0123456789abcdef", `${body} `, header, NOW)).toBe(false);
    expect(await verifyWebhook("other-secret-0123456789", body, header, NOW)).toBe(false);
    expect(await verifyWebhook("secret-0123456789abcdef", body, header, NOW + 301)).toBe(false);
    expect(
      await verifyWebhook("secret-0123456789abcdef", body, header.replace("t=1800000000", "t=1800000001"), NOW),
    ).toBe(false);
    expect(await verifyWebhook("secret-0123456789abcdef", body, null, NOW)).toBe(false);
    expect(await verifyWebhook("secret-0123456789abcdef", body, "garbage", NOW)).toBe(false);
  });

  afterEach(() => vi.useRealTimers());

  it("the README's Node receiver, as written, takes what opentime signs and refuses anything changed", async () => {
    const readme = readFileSync("README.md", "utf8");
    const block = /A receiver in Node[\s\S]*?```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toContain("function verifyOpentime");
    const source = (block ?? "").replace(/^import .*\n/m, "");
    type Verify = (secret: string, rawBody: Buffer | string, header: string | null) => boolean;
    const verify = new Function("createHmac", "timingSafeEqual", `${source}\nreturn verifyOpentime;`)(
      createHmac,
      timingSafeEqual,
    ) as Verify;
    vi.useFakeTimers({ now: (NOW + 60) * 1000 });
    const secret = "secret-0123456789abcdef";
    const body = '{"id":"d1","user":"u1","items":["p\u00e9"]}';
    const header = await signWebhook(secret, body, NOW);
    expect(verify(secret, Buffer.from(body, "utf8"), header)).toBe(true);
    expect(verify(secret, body, header)).toBe(true);
    expect(verify(secret, `${body} `, header)).toBe(false);
    expect(verify("other-secret-0123456789", body, header)).toBe(false);
    expect(verify(secret, body, header.replace("t=1800000000", "t=1800000001"))).toBe(false);
    expect(verify(secret, body, header.replace(/v1=[0-9a-f]{8}/, "v1=00000000"))).toBe(false);
    expect(verify(secret, body, null)).toBe(false);
    expect(verify(secret, body, "garbage")).toBe(false);
    vi.setSystemTime((NOW + 301) * 1000);
    expect(verify(secret, body, header)).toBe(false);
  });
});

describe("the reader's preferences", () => {
  it("frequency: at most one triggered send per 1, 7 or 30 days, counted from the last; none set, no limit", () => {
    const day = 86_400;
    expect(frequencyAllows(null, NOW - 60, NOW)).toBe(true);
    expect(frequencyAllows("weekly", null, NOW)).toBe(true);
    expect(frequencyAllows("daily", NOW - day + 1, NOW)).toBe(false);
    expect(frequencyAllows("daily", NOW - day, NOW)).toBe(true);
    expect(frequencyAllows("weekly", NOW - 7 * day + 1, NOW)).toBe(false);
    expect(frequencyAllows("weekly", NOW - 7 * day, NOW)).toBe(true);
    expect(frequencyAllows("monthly", NOW - 29 * day, NOW)).toBe(false);
    expect(frequencyAllows("monthly", NOW - 30 * day, NOW)).toBe(true);
  });

  it("consent that stops a delivery: tracking off, unsubscribed, paused (when judged at a time), personalization for viewed-*", () => {
    const on = { tracking: true, unsubscribed: false, personalization: true, pausedUntil: null };
    expect(consentStops(on, true, NOW)).toBeNull();
    expect(consentStops({ ...on, tracking: false }, false, NOW)).toBe("tracking-off");
    expect(consentStops({ ...on, unsubscribed: true }, false, NOW)).toBe("unsubscribed");
    expect(consentStops({ ...on, pausedUntil: NOW + 1 }, false, NOW)).toBe("paused");
    expect(consentStops({ ...on, pausedUntil: NOW + 1 }, false, null)).toBeNull();
    expect(consentStops({ ...on, pausedUntil: NOW }, false, NOW)).toBeNull();
    expect(consentStops({ ...on, personalization: false }, false, NOW)).toBeNull();
    expect(consentStops({ ...on, personalization: false }, true, NOW)).toBe("personalization-off");
  });

  it("a new delivery is held back by a pause only when the pause outlasts what a pending one would wait for", () => {
    const on = { tracking: true, unsubscribed: false, personalization: true, pausedUntil: null };
    expect(consentStopsNew({ ...on, pausedUntil: NOW + 3600 }, true, NOW)).toBeNull();
    expect(consentStopsNew({ ...on, pausedUntil: NOW + LATE_AFTER_SECONDS - 60 }, true, NOW)).toBeNull();
    expect(consentStopsNew({ ...on, pausedUntil: NOW + LATE_AFTER_SECONDS }, true, NOW)).toBe("paused");
    // a pause never hides another stop
    expect(consentStopsNew({ ...on, pausedUntil: NOW + 60, personalization: false }, true, NOW)).toBe(
      "personalization-off",
    );
    expect(consentStopsNew({ ...on, pausedUntil: NOW + 60, unsubscribed: true }, true, NOW)).toBe("unsubscribed");
    expect(consentStopsNew(on, true, NOW)).toBeNull();
  });
});
