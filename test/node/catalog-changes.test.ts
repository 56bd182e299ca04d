/** What a live-catalog change announces to viewed-* triggers (core/catalog-changes.ts). */
import { describe, expect, it } from "vitest";
import {
  announces,
  dropPercent,
  itemTransitions,
  stillHolds,
  type WatchedChanges,
  watchedChanges,
} from "../../core/catalog-changes";
import { type ItemOverlay, mergeOverlay } from "../../core/live-catalog";
import { type Trigger, TriggerSchema, type ViewedTrigger } from "../../core/triggers";

const ALL: WatchedChanges = { backInStock: true, minDropPercent: 1 };
const base = { price: 40, currency: "GBP" };
const hook = { campaign: "c", webhook: "https://hooks.shop.example/x" };
const parse = (t: Record<string, unknown>) => TriggerSchema.parse({ ...hook, ...t });

describe("back in stock", () => {
  const kinds = (before: ItemOverlay | undefined, after: ItemOverlay | undefined) =>
    itemTransitions("p1", before, after, undefined, ALL).map((c) => c.kind);

  it("is unavailable before and available after: stock 0 -> more, inactive -> active, a field cleared", () => {
    expect(kinds({ stock: 0 }, { stock: 5 })).toEqual(["back-in-stock"]);
    expect(kinds({ stock: -2 }, { stock: 1 })).toEqual(["back-in-stock"]);
    expect(kinds({ active: false }, { active: true })).toEqual(["back-in-stock"]);
    // cleared back to the model's catalog (null in a PATCH): unknown stock counts as in stock
    const cleared = mergeOverlay({ stock: 0 }, { id: "p1", stock: null });
    expect(itemTransitions("p1", { stock: 0 }, cleared, base, ALL).map((c) => c.kind)).toEqual(["back-in-stock"]);
    // with no live fields left, only an item the model's catalog holds exists to come back
    expect(itemTransitions("p1", { stock: 0 }, undefined, base, ALL).map((c) => c.kind)).toEqual(["back-in-stock"]);
    expect(kinds({ stock: 0 }, undefined)).toEqual([]);
  });

  it("is nothing when it was available already, or is still unavailable", () => {
    expect(kinds(undefined, { stock: 5 })).toEqual([]);
    expect(kinds({ stock: 2 }, { stock: 5 })).toEqual([]);
    expect(kinds({ stock: 0 }, { stock: 0 })).toEqual([]);
    // in stock again but switched off, or switched on but out of stock
    expect(kinds({ stock: 0, active: false }, { stock: 5, active: false })).toEqual([]);
    expect(kinds({ stock: 0, active: false }, { stock: 0, active: true })).toEqual([]);
    expect(kinds({ stock: 5 }, { stock: 0 })).toEqual([]);
  });
});

describe("price drops", () => {
  it("compare the effective price before and after: the overlay's, else the model catalog's", () => {
    // a first live price is compared with the model's
    expect(itemTransitions("p1", undefined, { price: 30 }, base, ALL)).toEqual([
      { item: "p1", kind: "price-drop", oldPrice: 40, newPrice: 30, currency: "GBP" },
    ]);
    // a live price cleared falls back to the model's
    expect(itemTransitions("p1", { price: 50 }, undefined, base, ALL)).toMatchObject([{ oldPrice: 50, newPrice: 40 }]);
    // the previous live price, not the model's, is the baseline
    expect(itemTransitions("p1", { price: 20 }, { price: 19 }, base, ALL)).toMatchObject([
      { oldPrice: 20, newPrice: 19, currency: "GBP" },
    ]);
    // without the model's price (a new item, or the catalog unreadable) a first live price compares with nothing
    expect(itemTransitions("p1", undefined, { price: 30 }, undefined, ALL)).toEqual([]);
    expect(itemTransitions("p1", { price: 40 }, { price: 30 }, undefined, ALL)).toMatchObject([
      { oldPrice: 40, newPrice: 30, currency: null },
    ]);
  });

  it("need the watched threshold, one currency, and an item that can be bought", () => {
    const at = (min: number) => ({ backInStock: false, minDropPercent: min });
    expect(dropPercent(20, 19)).toBe(5);
    expect(dropPercent(19.99, 18.99)).toBeCloseTo(5.0025, 4);
    expect(itemTransitions("p1", { price: 20 }, { price: 19 }, base, at(5))).toHaveLength(1);
    expect(itemTransitions("p1", { price: 20 }, { price: 19.01 }, base, at(5))).toEqual([]);
    expect(itemTransitions("p1", { price: 20 }, { price: 21 }, base, ALL)).toEqual([]);
    expect(itemTransitions("p1", { price: 20 }, { price: 10, currency: "EUR" }, base, ALL)).toEqual([]);
    // a catalog file may spell its code in lower case (the live catalog's are upper case): one currency still
    const lower = { price: 40, currency: "gbp" };
    expect(itemTransitions("p1", undefined, { price: 30, currency: "GBP" }, lower, ALL)).toMatchObject([
      { kind: "price-drop", oldPrice: 40, newPrice: 30, currency: "GBP" },
    ]);
    expect(itemTransitions("p1", undefined, { price: 30, currency: "EUR" }, lower, ALL)).toEqual([]);
    expect(itemTransitions("p1", { price: 20 }, { price: 10, stock: 0 }, base, ALL)).toEqual([]);
    expect(itemTransitions("p1", { price: 20 }, { price: 10 }, base, { ...ALL, minDropPercent: null })).toEqual([]);
    // back in stock and cheaper at once: both
    expect(itemTransitions("p1", { stock: 0 }, { stock: 3, price: 20 }, base, ALL).map((c) => c.kind)).toEqual([
      "back-in-stock",
      "price-drop",
    ]);
  });

  it("are announced by each trigger at its own threshold", () => {
    const drop = parse({ id: "d", type: "viewed-price-drop", minDropPercent: 10 }) as ViewedTrigger;
    const change = (oldPrice: number, newPrice: number) => ({ kind: "price-drop" as const, oldPrice, newPrice });
    expect(announces(drop, change(100, 90))).toBe(true);
    expect(announces(drop, change(100, 90.01))).toBe(false);
    expect(announces(drop, { kind: "back-in-stock" })).toBe(false);
    expect(announces({ ...drop, enabled: false }, change(100, 50))).toBe(false);
    const back = parse({ id: "b", type: "viewed-back-in-stock" }) as ViewedTrigger;
    expect(announces(back, { kind: "back-in-stock" })).toBe(true);
    expect(announces(back, change(100, 50))).toBe(false);
  });
});

describe("what the catalog writer records", () => {
  it("only what an enabled viewed-* trigger watches, down to the smallest threshold; everything when unknown", () => {
    const triggers: Trigger[] = [
      parse({ id: "cart", type: "cart-abandoned", afterMinutes: 30 }),
      parse({ id: "d10", type: "viewed-price-drop", minDropPercent: 10 }),
      parse({ id: "d3", type: "viewed-price-drop", minDropPercent: 3 }),
      parse({ id: "b", type: "viewed-back-in-stock", enabled: false }),
    ];
    expect(watchedChanges(triggers)).toEqual({ backInStock: false, minDropPercent: 3 });
    expect(watchedChanges(triggers.slice(0, 1))).toEqual({ backInStock: false, minDropPercent: null });
    expect(watchedChanges(null)).toEqual({ backInStock: true, minDropPercent: 1 });
    const watched = watchedChanges(triggers);
    expect(itemTransitions("p1", { stock: 0 }, { stock: 5 }, base, watched)).toEqual([]);
    expect(itemTransitions("p1", { price: 100 }, { price: 97 }, base, watched)).toHaveLength(1);
    expect(itemTransitions("p1", { price: 100 }, { price: 98 }, base, watched)).toEqual([]);
  });
});

describe("what a delivery announced, when it is sent", () => {
  const drop = { newPrice: 30, currency: "GBP", version: 10 };
  it("holds while the item can be bought and its price is at most the one announced", () => {
    expect(stillHolds("back-in-stock", { version: 10 }, 10, { stock: 3 }, undefined)).toBe(true);
    expect(stillHolds("back-in-stock", { version: 10 }, 11, { stock: 0 }, undefined)).toBe(false);
    expect(stillHolds("back-in-stock", { version: 10 }, 11, { active: false }, undefined)).toBe(false);
    expect(stillHolds("price-drop", drop, 11, { price: 30 }, base)).toBe(true);
    expect(stillHolds("price-drop", drop, 11, { price: 25 }, base)).toBe(true);
    expect(stillHolds("price-drop", drop, 11, { price: 31 }, base)).toBe(false);
    expect(stillHolds("price-drop", drop, 11, { price: 20, stock: 0 }, base)).toBe(false);
    // the live price cleared: the model catalog's counts (40, dearer than announced)
    expect(stillHolds("price-drop", drop, 11, undefined, base)).toBe(false);
  });

  it("is taken as announced by a copy older than the change, or a price it cannot compare", () => {
    expect(stillHolds("back-in-stock", { version: 10 }, 9, { stock: 0 }, undefined)).toBe(true);
    expect(stillHolds("back-in-stock", {}, 11, { stock: 0 }, undefined)).toBe(true);
    expect(stillHolds("price-drop", drop, 11, { price: 35, currency: "EUR" }, base)).toBe(true);
    // a live price with no currency of its own (the model catalog's unread): in the announced one
    expect(stillHolds("price-drop", drop, 11, { price: 35 }, undefined)).toBe(false);
    expect(stillHolds("price-drop", drop, 11, { price: 29 }, undefined)).toBe(true);
    expect(stillHolds("price-drop", drop, 11, undefined, undefined)).toBe(true);
  });
});
