/**
 * The drift job's results in D1 (binding `DB`, beside the experiment store): one row per day and model version,
 * written by the daily Cron Trigger (worker/drift/drift-job.ts; a second run the same day replaces it) and read
 * by the dashboard. The Worker creates the table itself.
 */

import type { DriftFeature, FeatureDrift } from "../../core/drift";
import { ensureTables } from "../lib/d1-schema";

export interface DriftRun {
  /** UTC day of the run */
  day: string;
  /** ISO time of the run */
  at: string;
  model: string;
  /** readers sampled */
  readers: number;
  /**
   * PSI of each feature (and the top score) against the training manifest's reference; `notJudged` (runs
   * before it have none): stored, never alerted on
   */
  features: Partial<Record<DriftFeature, FeatureDrift>>;
  /** the propensity's calibration against purchases seen since training: null without a propensity or buyers */
  calibration: { ece: number; n: number } | null;
  /** what was above its threshold (logged as an alert) */
  alerts: string[];
}

const SCHEMA = `CREATE TABLE IF NOT EXISTS drift_runs (
  day TEXT NOT NULL, model TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (day, model)) WITHOUT ROWID`;

export async function saveDriftRun(db: D1Database, run: DriftRun): Promise<void> {
  await ensureTables(db, "drift", [[SCHEMA]]);
  await db
    .prepare(
      "INSERT INTO drift_runs (day, model, at, result) VALUES (?, ?, ?, ?) ON CONFLICT (day, model) DO UPDATE SET at = excluded.at, result = excluded.result",
    )
    .bind(run.day, run.model, run.at, JSON.stringify(run))
    .run();
}

/** The latest runs, newest first (the dashboard's chart and table). */
export async function recentDriftRuns(db: D1Database, limit = 60): Promise<DriftRun[]> {
  await ensureTables(db, "drift", [[SCHEMA]]);
  const { results } = await db
    .prepare("SELECT result FROM drift_runs ORDER BY day DESC, at DESC LIMIT ?")
    .bind(limit)
    .all<{ result: string }>();
  return results.map((r) => JSON.parse(r.result) as DriftRun);
}
