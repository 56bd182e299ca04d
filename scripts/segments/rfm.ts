/**
 * Per-customer purchase features at a cutoff, from purchases strictly before it: RFM and the richer
 * set the propensity model uses. Customers without a purchase before the cutoff are absent.
 */
import type { PurchaseLog } from "../data/purchase-log";

const DAY = 86400;

export interface CustomerFeatures {
  /** index into log.customerIds */
  customer: number;
  recencyDays: number;
  /** distinct invoices */
  frequency: number;
  /** sum of quantity x unit price */
  monetary: number;
  tenureDays: number;
  avgBasketValue: number;
  avgBasketLines: number;
  invoicesLast30d: number;
  invoicesLast90d: number;
  invoicesPrior90d: number;
  distinctItems: number;
  avgDaysBetween: number;
}

export const RFM_FEATURES = ["recency_days", "frequency", "monetary"] as const;

export function customerFeatures(log: PurchaseLog, cutoff: number): CustomerFeatures[] {
  interface Acc {
    first: number;
    last: number;
    invoices: Map<number, number>;
    value: number;
    lines: number;
    items: Set<number>;
  }
  const acc = new Map<number, Acc>();
  for (let i = 0; i < log.rows; i++) {
    const t = log.time[i] as number;
    if (t >= cutoff) continue;
    const c = log.customer[i] as number;
    let a = acc.get(c);
    if (!a) {
      a = { first: t, last: t, invoices: new Map(), value: 0, lines: 0, items: new Set() };
      acc.set(c, a);
    }
    a.first = Math.min(a.first, t);
    a.last = Math.max(a.last, t);
    a.invoices.set(log.invoice[i] as number, t);
    a.value += (log.quantity[i] as number) * (log.price[i] as number);
    a.lines++;
    a.items.add(log.item[i] as number);
  }
  const out: CustomerFeatures[] = [];
  for (const [customer, a] of [...acc].sort((x, y) => x[0] - y[0])) {
    const times = [...a.invoices.values()];
    const f = times.length;
    const count = (from: number, to: number) =>
      times.filter((t) => t >= cutoff - from * DAY && t < cutoff - to * DAY).length;
    out.push({
      customer,
      recencyDays: (cutoff - a.last) / DAY,
      frequency: f,
      monetary: a.value,
      tenureDays: (cutoff - a.first) / DAY,
      avgBasketValue: a.value / f,
      avgBasketLines: a.lines / f,
      invoicesLast30d: count(30, 0),
      invoicesLast90d: count(90, 0),
      invoicesPrior90d: count(180, 90),
      distinctItems: a.items.size,
      avgDaysBetween: f > 1 ? (a.last - a.first) / DAY / (f - 1) : 0,
    });
  }
  return out;
}

/** log(1 + x) of recency, frequency and monetary: the space segments are computed in. */
export function logRfm(f: CustomerFeatures): [number, number, number] {
  return [Math.log1p(f.recencyDays), Math.log1p(f.frequency), Math.log1p(Math.max(0, f.monetary))];
}
