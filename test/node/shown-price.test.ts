/**
 * Prices on cards, in the AMP list and in block copy: each currency's local symbol where the open-time images' font
 * draws it ($12.00 for dollars, kr 12.00), else en-GB's symbol, else the code; never a character the font lacks.
 */
import { describe, expect, it } from "vitest";
import metrics from "../../worker/images/font-metrics.json";
import { formatPrice } from "../../worker/recs/amp-items";

const NBSP = "\u00a0";

describe("formatPrice", () => {
  it("writes a currency's local symbol, as the shop's own readers read it", () => {
    expect(formatPrice(12, "USD")).toBe("$12.00");
    expect(formatPrice(12, "CAD")).toBe("$12.00");
    expect(formatPrice(1234.5, "GBP")).toBe("£1,234.50");
    expect(formatPrice(12, "EUR")).toBe("€12.00");
    expect(formatPrice(1234.5, "JPY")).toBe("¥1,235");
    expect(formatPrice(12, "SEK")).toBe(`kr${NBSP}12.00`);
    expect(formatPrice(12, "PLN")).toBe(`zł${NBSP}12.00`);
  });

  it("falls back to en-GB's symbol, then the code, where the font lacks the local one", () => {
    expect(formatPrice(12, "GEL")).toBe(`GEL${NBSP}12.00`); // ₾ is not in the font
    expect(formatPrice(12, "GHS")).toBe(`GHS${NBSP}12.00`); // nor ₵
    expect(formatPrice(12, "XOF")).toBe(`XOF${NBSP}12`); // F CFA holds a narrow no-break space the font lacks
  });

  it("never writes a character the images' font does not draw, in any currency Intl knows", () => {
    const drawable = new Set(metrics.chars);
    for (const currency of Intl.supportedValuesOf("currency")) {
      const text = formatPrice(-1234.5, currency);
      expect([currency, [...text].filter((ch) => !drawable.has(ch))]).toEqual([currency, []]);
    }
  });

  it("a currency Intl does not know: the number alone", () => {
    expect(formatPrice(12, "not-a-currency")).toBe("12.00");
  });
});
