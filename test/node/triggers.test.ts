/** Trigger scheduling and webhook signatures (core/triggers.ts, core/webhook-signature.ts). */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { QueuedEvent } from "../../core/events";
import { nextTriggerState, type Trigger, TriggerSchema, type TriggerState } from "../../core/triggers";
import { signWebhook, verifyWebhook } from "../../core/webhook-signature";

const NOW = 1_800_000_000;
const trigger: Trigger = TriggerSchema.parse({
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
    expect(nextTriggerState({ ...trigger, enabled: false }, null, [ev("cart_add", NOW, "a")], null, NOW)).toBeNull();
  });

  it("the result does not depend on the order events arrive in within a batch", () => {
    const events = fc.array(
      fc.record({
        type: fc.constantFrom("cart_add", "purchase", "view") as fc.Arbitrary<QueuedEvent["type"]>,
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
});
