/**
 * How often an item is bought again by the same customer: per item, the median of the days between a customer's
 * consecutive orders of it, before a cutoff (gaps under a day, the same order split or corrected, are left out).
 * 0 where fewer than MIN_GAPS gaps were seen: unknown. The learned ranker reads it beside how long ago the reader
 * bought the item (core/ranker.ts `own_due`).
 */
import type { PurchaseLog } from "./purchase-log";

/** gaps an item needs before its median says anything */
export const MIN_GAPS = 3;
const DAY = 86400;

/** Per entry of `itemIds` (the split's candidate items): the median repeat interval in days, or 0. */
export function repeatIntervals(log: PurchaseLog, itemIds: readonly string[], cutoff: number): Float64Array {
  const column = new Map(itemIds.map((id, j) => [id, j]));
  const ofLogItem = Int32Array.from(log.itemIds, (id) => column.get(id) ?? -1);
  // each (customer, item)'s order times before the cutoff
  const times = new Map<number, number[]>();
  for (let r = 0; r < log.rows; r++) {
    const t = log.time[r] as number;
    const j = ofLogItem[log.item[r] as number] as number;
    if (t >= cutoff || j < 0) continue;
    const key = (log.customer[r] as number) * itemIds.length + j;
    const list = times.get(key);
    if (list) list.push(t);
    else times.set(key, [t]);
  }
  const gaps: number[][] = itemIds.map(() => []);
  for (const [key, list] of times) {
    if (list.length < 2) continue;
    list.sort((a, b) => a - b);
    const j = key % itemIds.length;
    for (let i = 1; i < list.length; i++) {
      const days = ((list[i] as number) - (list[i - 1] as number)) / DAY;
      if (days >= 1) (gaps[j] as number[]).push(days);
    }
  }
  return Float64Array.from(gaps, (g) => {
    if (g.length < MIN_GAPS) return 0;
    g.sort((a, b) => a - b);
    return g[Math.floor(g.length / 2)] as number;
  });
}
