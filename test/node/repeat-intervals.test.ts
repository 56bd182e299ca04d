/**
 * Items' repeat intervals (scripts/data/repeat-intervals.ts): the median gap between a customer's consecutive
 * orders of an item, before the cutoff, ignoring same-day gaps; unknown below MIN_GAPS gaps.
 */
import { describe, expect, it } from "vitest";
import type { PurchaseLog } from "../../scripts/data/purchase-log";
import { repeatIntervals } from "../../scripts/data/repeat-intervals";

const DAY = 86400;

/** The fields repeatIntervals reads: customer, item (log indices) and time per row. */
function log(rows: [customer: number, item: string, day: number][]): PurchaseLog {
  const itemIds = [...new Set(rows.map((r) => r[1]))];
  return {
    rows: rows.length,
    itemIds,
    customer: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => itemIds.indexOf(r[1])),
    time: Float64Array.from(rows, (r) => r[2] * DAY),
  } as unknown as PurchaseLog;
}

describe("repeat intervals", () => {
  it("take the median gap between a customer's orders of an item, before the cutoff and at least a day apart", () => {
    const l = log([
      // customer 0 buys X every 10 days; customer 1 twice within a day (not a repeat), then 29.5 days later
      [0, "X", 0],
      [0, "X", 10],
      [0, "X", 20],
      [1, "X", 0],
      [1, "X", 0.5],
      [1, "X", 30],
      // after the cutoff: not seen
      [0, "X", 200],
      // Y: two gaps only, unknown; Z: never bought twice
      [0, "Y", 0],
      [0, "Y", 5],
      [1, "Y", 0],
      [1, "Y", 7],
      [2, "Z", 3],
    ]);
    // gaps of X: 10, 10, 29.5 -> 10; the split's item order differs from the log's, and holds an item never bought
    const days = repeatIntervals(l, ["Z", "X", "Y", "W"], 100 * DAY);
    expect(Array.from(days)).toEqual([0, 10, 0, 0]);
    // the order after day 100 counts once the cutoff is past it: gaps 10, 10, 29.5, 180 -> the upper middle, 29.5
    expect(repeatIntervals(l, ["X"], 300 * DAY)[0]).toBe(29.5);
  });
});
