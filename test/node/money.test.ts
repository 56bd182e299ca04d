/** core/money.ts: sums of money in their currency's minor unit. */
import { describe, expect, it } from "vitest";
import { minorUnitDigits, roundMoney } from "../../core/money";

describe("money in its currency's minor unit", () => {
  it("takes each currency's digits (yen none, dinars three), two for none or one unknown", () => {
    expect(["GBP", "JPY", "BHD", null, "ZZZ"].map((c) => minorUnitDigits(c))).toEqual([2, 0, 3, 2, 2]);
  });
  it("rounds a float sum's noise away, half away from zero, never to -0", () => {
    expect(roundMoney(42.1 + 42.1 + 42.1, "GBP")).toBe(126.3);
    expect(roundMoney(0.1 + 0.2, "BHD")).toBe(0.3);
    expect(roundMoney(1000.5, "JPY")).toBe(1001);
    expect(roundMoney(-2.5, "JPY")).toBe(-3);
    expect(Object.is(roundMoney(-0.001, "GBP"), 0)).toBe(true);
  });
});
