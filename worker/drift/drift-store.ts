/**
 * The drift job's results in D1 (binding `DB`, beside the experiment store): one row per day and model version,
 * written by the daily Cron Trigger (worker/drift/drift-job.ts; a second run the same day replaces it) and read
 * by the dashboard; and each model version's complete calibration figure, written once (the first run past its
 * window) and reused by every later run. The Worker creates the tables itself.
 */

import {
  CALIBRATION_MIN_READERS,
  type CalibrationWindow,
  type DriftFeature,
  type DriftNotJudged,
  type FeatureDrift,
} from "../../core/drift";
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
  calibration: Calibration | null;
  /** what was above its threshold (logged as an alert) */
  alerts: string[];
}

/** A calibration figure; runs stored before `window` have neither it nor `measuredAt`. */
export interface Calibration {
  ece: number;
  n: number;
  /** under CALIBRATION_MIN_READERS pairs: shown, never alerted on nor kept as the model's figure */
  notJudged?: DriftNotJudged;
  /** `partial`: measured before the 30 days were over (never alerts); `complete`: the model's frozen figure */
  window?: CalibrationWindow;
  /** ISO time of the run that measured it (a complete figure is reused from its first run) */
  measuredAt?: string;
}

const MIGRATIONS = [
  [
    `CREATE TABLE IF NOT EXISTS drift_runs (
  day TEXT NOT NULL, model TEXT NOT NULL, at TEXT NOT NULL, result TEXT NOT NULL,
  PRIMARY KEY (day, model)) WITHOUT ROWID`,
  ],
  [
    `CREATE TABLE IF NOT EXISTS drift_calibration (
  model TEXT PRIMARY KEY, result TEXT NOT NULL) WITHOUT ROWID`,
  ],
];

export async function saveDriftRun(db: D1Database, run: DriftRun): Promise<void> {
  await ensureTables(db, "drift", MIGRATIONS);
  await db
    .prepare(
      "INSERT INTO drift_runs (day, model, at, result) VALUES (?, ?, ?, ?) ON CONFLICT (day, model) DO UPDATE SET at = excluded.at, result = excluded.result",
    )
    .bind(run.day, run.model, run.at, JSON.stringify(run))
    .run();
}

/** The latest runs, newest first (the dashboard's chart and table). */
export async function recentDriftRuns(db: D1Database, limit = 60): Promise<DriftRun[]> {
  await ensureTables(db, "drift", MIGRATIONS);
  const { results } = await db
    .prepare("SELECT result FROM drift_runs ORDER BY day DESC, at DESC LIMIT ?")
    .bind(limit)
    .all<{ result: string }>();
  return results.map((r) => JSON.parse(r.result) as DriftRun);
}

/**
 * A model version's complete calibration figure, as its first run past the window stored it, or null. One of fewer
 * than CALIBRATION_MIN_READERS readers (kept by a version before that minimum) is none: it is measured again.
 */
export async function frozenCalibration(db: D1Database, model: string): Promise<Calibration | null> {
  await ensureTables(db, "drift", MIGRATIONS);
  const row = await db
    .prepare("SELECT result FROM drift_calibration WHERE model = ?")
    .bind(model)
    .first<{ result: string }>();
  const kept = row ? (JSON.parse(row.result) as Calibration) : null;
  return kept && kept.n >= CALIBRATION_MIN_READERS ? kept : null;
}

/**
 * Stores a model version's complete calibration figure unless one is stored (one of too few readers, an earlier
 * version's, is replaced); answers the stored one.
 */
export async function freezeCalibration(db: D1Database, model: string, calibration: Calibration): Promise<Calibration> {
  await ensureTables(db, "drift", MIGRATIONS);
  await db
    .prepare(
      `INSERT INTO drift_calibration (model, result) VALUES (?1, ?2) ON CONFLICT (model) DO UPDATE SET
         result = excluded.result WHERE coalesce(json_extract(drift_calibration.result, '$.n'), 0) < ?3`,
    )
    .bind(model, JSON.stringify(calibration), CALIBRATION_MIN_READERS)
    .run();
  return (await frozenCalibration(db, model)) ?? calibration;
}
