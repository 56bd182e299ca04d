/**
 * Money as reports give it: a sum of amounts rounded to its currency's minor unit (ISO 4217: pence and cents 2
 * digits, yen 0, dinars 3), since adding binary floats leaves noise (42.1 three times is 126.30000000000001). A
 * currency the runtime does not know, or none, is taken at 2 digits. Pure.
 */

/** Digits after the point in `currency`'s minor unit (null or unknown: 2). */
export function minorUnitDigits(currency: string | null): number {
  if (currency === null) return 2;
  try {
    return new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
  } catch {
    return 2;
  }
}

/** `amount` rounded to `currency`'s minor unit (half away from zero). */
export function roundMoney(amount: number, currency: string | null): number {
  const scale = 10 ** minorUnitDigits(currency);
  const rounded = Math.sign(amount) * Math.round(Math.abs(amount) * scale);
  return rounded / scale + 0;
}
