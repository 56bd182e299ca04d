/**
 * Best send time: per customer, a distribution over the 168 hours of the week from their past invoice
 * (or open) times, smoothed toward their segment's distribution and the shop's (hierarchical
 * Dirichlet smoothing), with a small spread to neighbouring hours. Strengths tuned on validation.
 */
import { HOURS_OF_WEEK } from "../../core/send-time";

export interface SendTimeOptions {
  /** pseudo-count pulling a customer toward their segment */
  customerPrior: number;
  /** pseudo-count pulling a segment toward the shop */
  segmentPrior: number;
  /** share of each event spread to the neighbouring hours (each side) */
  spread: number;
}

export const DEFAULT_SEND_TIME_OPTIONS: SendTimeOptions = { customerPrior: 4, segmentPrior: 50, spread: 0.25 };

function normalize(v: Float64Array): Float64Array {
  const s = v.reduce((a, b) => a + b, 0);
  return s > 0 ? v.map((x) => x / s) : v.fill(1 / v.length);
}

function spreadCounts(hours: readonly number[], spread: number): Float64Array {
  const c = new Float64Array(HOURS_OF_WEEK);
  for (const h of hours) {
    c[h] = (c[h] as number) + 1 - 2 * spread;
    const prev = (h + HOURS_OF_WEEK - 1) % HOURS_OF_WEEK;
    const next = (h + 1) % HOURS_OF_WEEK;
    c[prev] = (c[prev] as number) + spread;
    c[next] = (c[next] as number) + spread;
  }
  return c;
}

export interface SendTimeModel {
  shop: Float64Array;
  segments: Float64Array[];
  customer(hours: readonly number[], segment: number): Float64Array;
}

/** `hoursByCustomer`: hour-of-week of each past event; `segmentOf`: the customer's segment (or -1). */
export function fitSendTime(
  hoursByCustomer: ReadonlyMap<number, readonly number[]>,
  segmentOf: (customer: number) => number,
  segmentCount: number,
  options: Partial<SendTimeOptions> = {},
): SendTimeModel {
  const o = { ...DEFAULT_SEND_TIME_OPTIONS, ...options };
  const shopCounts = new Float64Array(HOURS_OF_WEEK).fill(1);
  const segCounts = Array.from({ length: segmentCount }, () => new Float64Array(HOURS_OF_WEEK));
  for (const [c, hours] of hoursByCustomer) {
    const counts = spreadCounts(hours, o.spread);
    const seg = segmentOf(c);
    for (let h = 0; h < HOURS_OF_WEEK; h++) {
      shopCounts[h] = (shopCounts[h] as number) + (counts[h] as number);
      if (seg >= 0)
        (segCounts[seg] as Float64Array)[h] = ((segCounts[seg] as Float64Array)[h] as number) + (counts[h] as number);
    }
  }
  const shop = normalize(shopCounts);
  const segments = segCounts.map((sc) => {
    const n = sc.reduce((a, b) => a + b, 0);
    return Float64Array.from(sc, (x, h) => (x + o.segmentPrior * (shop[h] as number)) / (n + o.segmentPrior));
  });
  return {
    shop,
    segments,
    customer(hours, segment) {
      const prior = segment >= 0 && segments[segment] ? (segments[segment] as Float64Array) : shop;
      const counts = spreadCounts(hours, o.spread);
      const n = hours.length;
      return Float64Array.from(counts, (x, h) => (x + o.customerPrior * (prior[h] as number)) / (n + o.customerPrior));
    },
  };
}
