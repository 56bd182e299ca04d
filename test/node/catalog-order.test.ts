// The live catalog's ordering guard, pure: which fields of timed PATCH items apply, which are stale, what is stamped.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { catalogPatchSchemaAt, MAX_AT_AHEAD_MS, MAX_STAMPS, orderChanges } from "../../core/catalog-order";
import { ZonedTimeSchema, zonedIsoMillis } from "../../core/events";
import { mergeOverlay } from "../../core/live-catalog";

const T = Date.parse("2026-11-22T10:00:00Z");
const none = () => new Map<string, number>();

describe("catalog order", () => {
  it("reads ISO-8601 times with their zone as the events API reads them, and nothing else", () => {
    expect(zonedIsoMillis("2026-11-22T10:00:00Z")).toBe(T);
    expect(zonedIsoMillis("2026-11-22T11:00:00+01:00")).toBe(T);
    expect(zonedIsoMillis("2026-11-22 11:00:00+0100")).toBe(T);
    expect(zonedIsoMillis("2026-11-22t10:00z")).toBe(T);
    expect(zonedIsoMillis("2026-11-22T10:00:00.123456Z")).toBe(T + 123);
    for (const bad of ["2026-11-22", "2026-11-22T10:00:00", "2026-02-31T10:00:00Z", "Sun, 22 Nov 2026 10:00:00 GMT"]) {
      expect(zonedIsoMillis(bad), bad).toBeNaN();
      expect(ZonedTimeSchema.safeParse(bad).success, bad).toBe(false);
    }
    expect(ZonedTimeSchema.safeParse(T).success).toBe(false);
    expect(ZonedTimeSchema.safeParse(`2026-11-22T10:00:00.${"1".repeat(60)}Z`).success).toBe(false);
  });

  it("refuses an `at` more than MAX_AT_AHEAD_MS past the clock, or before 1970, by its path", () => {
    const at = (ms: number) => ({
      items: [
        { id: "p1", stock: 1 },
        { id: "p2", stock: 1, at: new Date(ms).toISOString() },
      ],
    });
    expect(catalogPatchSchemaAt(T).safeParse(at(T + MAX_AT_AHEAD_MS)).success).toBe(true);
    const ahead = catalogPatchSchemaAt(T).safeParse(at(T + MAX_AT_AHEAD_MS + 1000));
    expect(ahead.success).toBe(false);
    expect(ahead.error?.issues[0]?.path).toEqual(["items", 1, "at"]);
    expect(ahead.error?.issues[0]?.message).toContain("more than 5 minutes ahead");
    // before 1970 no change was made: a clock or zone gone wrong, said so rather than answered as stale
    expect(catalogPatchSchemaAt(T).safeParse(at(0)).success).toBe(true);
    const before = catalogPatchSchemaAt(T).safeParse({ items: [{ id: "p1", stock: 1, at: "1969-12-31T23:59:59Z" }] });
    expect(before.error?.issues[0]?.path).toEqual(["items", 0, "at"]);
    expect(before.error?.issues[0]?.message).toContain("is before 1970");
  });

  it("leaves out the fields older than their stamps, field by field; equal times apply", () => {
    const stamps = new Map([
      [
        "p1",
        new Map([
          ["stock", T + 60_000],
          ["price", T - 60_000],
        ]),
      ],
    ]);
    const at = new Date(T).toISOString();
    const order = orderChanges(
      [
        { id: "p1", stock: 5, price: 9, title: "Lamp", at },
        { id: "p2", stock: 1 },
        { id: "p3", price: 2, at: new Date(T + 60_000).toISOString() },
      ],
      (id) => stamps.get(id) ?? new Map(),
      0,
    );
    expect(order.apply).toEqual([
      { id: "p1", price: 9, title: "Lamp" },
      { id: "p2", stock: 1 },
      { id: "p3", price: 2 },
    ]);
    expect(order.stale).toEqual([{ id: "p1", fields: ["stock"] }]);
    expect(order.stamps).toEqual([
      { id: "p1", field: "price", at: T },
      { id: "p1", field: "title", at: T },
      { id: "p3", field: "price", at: T + 60_000 },
    ]);
    const again = orderChanges(
      [{ id: "p1", stock: 0, at: new Date(T + 60_000).toISOString() }],
      (id) => stamps.get(id) ?? new Map(),
      0,
    );
    expect(again.stale).toEqual([]);
  });

  it("stamps a null as a value; takes no timed change older than the floor; asks no stamps for untimed items", () => {
    const cleared = orderChanges([{ id: "p1", stock: null, at: new Date(T).toISOString() }], none, 0);
    expect(cleared.stamps).toEqual([{ id: "p1", field: "stock", at: T }]);
    const floor = orderChanges([{ id: "p1", stock: 1, url: null, at: new Date(T - 1).toISOString() }], none, T);
    expect(floor.stale).toEqual([{ id: "p1", fields: ["stock", "url"] }]);
    expect(floor.apply).toEqual([{ id: "p1" }]);
    const asked: string[] = [];
    const ask = (id: string) => {
      asked.push(id);
      return new Map<string, number>();
    };
    orderChanges([{ id: "p1", stock: 1 }], ask, T);
    expect(asked).toEqual([]);
  });

  it("the README states the bounds as the code sets them", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    expect(readme).toContain(`more than ${MAX_AT_AHEAD_MS / 60_000} minutes ahead of the Worker's clock`);
    expect(readme).toContain(`at most ${MAX_STAMPS.toLocaleString("en")} of them`);
    // the times are kept however old (bounded by their count alone): no age makes an `at` stale
    expect(readme).not.toMatch(/`at` is (over|older than) \d+ days/);
  });

  it("an `at` is never a live field", () => {
    expect(mergeOverlay(undefined, { id: "p1", stock: 1, at: "2026-11-22T10:00:00Z" })).toEqual({ stock: 1 });
  });
});
