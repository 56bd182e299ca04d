/**
 * What an experiment's report reads from the experiment store (worker/experiments/experiment-db.ts): counts per
 * arm (each exposed reader once, with their attributed clicks, purchases and revenue), per block served, clicks per slot, the
 * items clicked and bought most, and the daily aggregates. Read-only; D1 reads see every committed write.
 */
import type { ArmCounts } from "../../core/experiments/report";
import { ensureSchema } from "./experiment-db";

export interface SlotCounts {
  arm: string;
  slot: string;
  clicks: number;
  clickers: number;
}

export interface BlockCounts {
  arm: string;
  block: string;
  exposed: number;
  clickers: number;
  buyers: number;
}

export interface ItemCounts {
  arm: string;
  item: string;
  clicks: number;
  purchases: number;
  revenue: number;
}

export interface DailyCounts {
  day: string;
  arm: string;
  exposures: number;
  clicks: number;
  purchases: number;
  revenue: number;
}

/** Readers exposed per arm at or after `sinceS` (unix seconds): the sample-ratio check of a phase. */
export async function exposedSince(db: D1Database, experiment: string, sinceS: number): Promise<Map<string, number>> {
  await ensureSchema(db);
  const { results } = await db
    .prepare("SELECT arm, count(*) AS n FROM exposures WHERE experiment = ? AND at >= ? GROUP BY arm")
    .bind(experiment, sinceS)
    .all<{ arm: string; n: number }>();
  return new Map(results.map((r) => [r.arm, r.n]));
}

/** Items listed per report: the most clicked and bought. */
export const TOP_ITEMS = 50;

export async function armCounts(db: D1Database, experiment: string): Promise<ArmCounts[]> {
  await ensureSchema(db);
  const { results } = await db
    .prepare(
      `SELECT e.arm AS arm, count(*) AS exposed,
              sum(coalesce(o.clicks, 0) > 0) AS clickers, sum(coalesce(o.clicks, 0)) AS clicks,
              sum(coalesce(o.purchases, 0) > 0) AS buyers, sum(coalesce(o.purchases, 0)) AS purchases,
              sum(coalesce(o.revenue, 0)) AS revenue, sum(coalesce(o.revenue, 0) * coalesce(o.revenue, 0)) AS revenueSquares
       FROM exposures e LEFT JOIN (
         SELECT user, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases, sum(value) AS revenue
         FROM outcomes WHERE experiment = ?1 GROUP BY user) o ON o.user = e.user
       WHERE e.experiment = ?1 GROUP BY e.arm ORDER BY e.arm`,
    )
    .bind(experiment)
    .all<ArmCounts>();
  return results;
}

/** Per arm and the block each reader's first open served: exposed readers, and those who clicked or bought. */
export async function blockCounts(db: D1Database, experiment: string): Promise<BlockCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT e.arm AS arm, coalesce(e.block, '') AS block, count(*) AS exposed,
              sum(coalesce(o.clicks, 0) > 0) AS clickers, sum(coalesce(o.purchases, 0) > 0) AS buyers
       FROM exposures e LEFT JOIN (
         SELECT user, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases
         FROM outcomes WHERE experiment = ?1 GROUP BY user) o ON o.user = e.user
       WHERE e.experiment = ?1 GROUP BY e.arm, e.block ORDER BY e.arm, block`,
    )
    .bind(experiment)
    .all<BlockCounts>();
  return results;
}

export async function slotCounts(db: D1Database, experiment: string): Promise<SlotCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT arm, coalesce(slot, '') AS slot, count(*) AS clicks, count(DISTINCT user) AS clickers
       FROM outcomes WHERE experiment = ? AND kind = 'click' GROUP BY arm, slot ORDER BY arm, slot`,
    )
    .bind(experiment)
    .all<SlotCounts>();
  return results;
}

export async function itemCounts(db: D1Database, experiment: string): Promise<ItemCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT arm, item, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases, sum(value) AS revenue
       FROM outcomes WHERE experiment = ? AND item IS NOT NULL GROUP BY arm, item
       ORDER BY clicks + purchases DESC, item LIMIT ?`,
    )
    .bind(experiment, TOP_ITEMS)
    .all<ItemCounts>();
  return results;
}

export async function dailyCounts(db: D1Database, experiment: string): Promise<DailyCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT day, arm, sum(exposures) AS exposures, sum(clicks) AS clicks, sum(purchases) AS purchases,
              sum(revenue) AS revenue
       FROM daily WHERE experiment = ? GROUP BY day, arm ORDER BY day, arm`,
    )
    .bind(experiment)
    .all<DailyCounts>();
  return results;
}
