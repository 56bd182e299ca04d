/**
 * What a burst of clicks on one email is (core/click-bursts.ts): slots, span, suspect clicks, in any order. (Which
 * requests are a scanner's or suspect is tested in workerd: test/workerd/scanner-clicks.test.ts.)
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BURST_SLOTS, BURST_WINDOW_MS, burstReasons, type ClickMark } from "../../core/click-bursts";

const mark = (slot: string, ms: number, suspect = false): ClickMark => ({ slot, ms, suspect });

describe("bursts", () => {
  it("three different slots within the window are a burst, whoever sent them; two are not", () => {
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400), mark("row-2", BURST_WINDOW_MS)])).toEqual([
      "burst",
      "burst",
      "burst",
    ]);
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400)])).toEqual([null, null]);
    // one past the window: no span of it holds the three
    expect(burstReasons([mark("row-0", 0), mark("row-1", 400), mark("row-2", BURST_WINDOW_MS + 1)])).toEqual([
      null,
      null,
      null,
    ]);
  });

  it("the same slot clicked again is no burst (the reader's click after a scanner's time-of-click check)", () => {
    expect(burstReasons([mark("row-0", 0, true), mark("row-0", 10), mark("row-0", 20)])).toEqual([null, null, null]);
  });

  it("two different slots within the window are a burst when one of them is suspect", () => {
    expect(burstReasons([mark("row-0", 0, true), mark("row-1", 900)])).toEqual(["suspect-burst", "suspect-burst"]);
    expect(burstReasons([mark("row-0", 0, true), mark("row-1", BURST_WINDOW_MS + 1)])).toEqual([null, null]);
  });

  it("only the clicks within the span are in it: a reader's click later stays theirs", () => {
    const marks = [mark("row-0", 0), mark("row-1", 100), mark("row-2", 200), mark("row-1", 60_000)];
    expect(burstReasons(marks)).toEqual(["burst", "burst", "burst", null]);
  });

  it("does not depend on the order the clicks arrive in", () => {
    const marks = fc.array(
      fc.record({
        slot: fc.constantFrom("row-0", "row-1", "row-2", "grid-3"),
        ms: fc.integer({ min: 0, max: 5000 }),
        suspect: fc.boolean(),
      }),
      { maxLength: 8 },
    );
    fc.assert(
      fc.property(marks, fc.integer(), (list, seed) => {
        const order = list.map((_, i) => i).sort((a, b) => ((a * 7919 + seed) % 13) - ((b * 7919 + seed) % 13));
        const shuffled = burstReasons(order.map((i) => list[i] as ClickMark));
        const straight = burstReasons(list);
        expect(order.map((i) => straight[i])).toEqual(shuffled);
        // and a click is in a burst only with BURST_SLOTS different slots within the window, or a suspect one
        for (const [i, r] of straight.entries()) {
          if (r === null) continue;
          const me = list[i] as ClickMark;
          const near = list.filter((m) => Math.abs(m.ms - me.ms) <= BURST_WINDOW_MS);
          const slots = new Set(near.map((m) => m.slot)).size;
          expect(slots >= BURST_SLOTS || (slots >= 2 && near.some((m) => m.suspect))).toBe(true);
        }
      }),
    );
  });
});
