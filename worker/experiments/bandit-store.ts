/**
 * The bandit's allocations over time in D1 (beside the experiment store): each hourly update's shares per
 * variant, written by the bandit job (worker/experiments/bandit-job.ts) and drawn by the dashboard.
 */

/** One hourly allocation: each variant's share of new readers. */
export interface BanditPoint {
  at: string;
  shares: Record<string, number>;
}

import { ensureTables } from "../lib/d1-schema";

const SCHEMA = `CREATE TABLE IF NOT EXISTS bandit_shares (
  experiment TEXT NOT NULL, at TEXT NOT NULL, shares TEXT NOT NULL, PRIMARY KEY (experiment, at)) WITHOUT ROWID`;

export async function saveBanditShares(db: D1Database, experiment: string, point: BanditPoint): Promise<void> {
  await ensureTables(db, "bandit", [[SCHEMA]]);
  await db
    .prepare("INSERT OR REPLACE INTO bandit_shares (experiment, at, shares) VALUES (?, ?, ?)")
    .bind(experiment, point.at, JSON.stringify(point.shares))
    .run();
}

/** The last `limit` allocations, oldest first. */
export async function banditHistory(db: D1Database, experiment: string, limit = 24 * 14): Promise<BanditPoint[]> {
  await ensureTables(db, "bandit", [[SCHEMA]]);
  const { results } = await db
    .prepare("SELECT at, shares FROM bandit_shares WHERE experiment = ? ORDER BY at DESC LIMIT ?")
    .bind(experiment, limit)
    .all<{ at: string; shares: string }>();
  return results.reverse().map((r) => ({ at: r.at, shares: JSON.parse(r.shares) as Record<string, number> }));
}
