/**
 * The daily drift job (Cron Trigger `30 4 * * *`): a sample of today's readers, as the active model sees them
 * (their profile snapshot and the model's features), against the reference the training wrote into the model's
 * manifest (core/drift.ts): PSI per feature (propensity, days since the last purchase, items bought, the top
 * score of the int8 ALS graph over every item; judged only with DRIFT_MIN_READERS readers with a value, else
 * stored as `too-few-readers`), and the propensity's calibration against what the readers bought within 30 days
 * of the training cutoff: `partial` until those 30 days have passed (never alerts), then measured once, at the
 * first run past them with CALIBRATION_MIN_READERS readers (fewer: `too-few-readers`, shown, not judged nor kept),
 * and reused (the purchase summaries lose a window purchase the reader repeats later).
 * Above its threshold (DRIFT_PSI_ALERT, DRIFT_ECE_ALERT) a measure is logged as an alert (`drift.alert`); the
 * run is stored for the dashboard. At most DRIFT_SAMPLE readers: two KV reads each, within a Worker's 1,000 KV
 * operations with the listing.
 */
import { base64ToFloat32 } from "../../core/base64";
import {
  boughtWithinHorizon,
  CALIBRATION_MIN_READERS,
  calibrationBins,
  calibrationWindow,
  featureDrift,
  isDriftAlert,
  type ReaderDriftFeatures,
  readerDriftFeatures,
} from "../../core/drift";
import { kvKeys } from "../../core/kv-keys";
import { modelOutputs } from "../../core/profile";
import { type Bindings, getConfig } from "../env";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { getModel } from "../model/model-store";
import { readFeatures, readProfile } from "../profile/profile-store";
import { type Calibration, type DriftRun, freezeCalibration, frozenCalibration, saveDriftRun } from "./drift-store";

export const DRIFT_SAMPLE = 400;
/** Profile keys listed to draw the sample from (1,000 a page). */
const LIST_PAGES = 5;
const CONCURRENCY = 16;

export async function runDrift(env: Bindings, now: number, waitUntil: WaitUntil): Promise<DriftRun | null> {
  const kv = env.OPENTIME_KV;
  const config = getConfig(env);
  const state = await getModel(kv, config.modelRefreshSeconds, now, waitUntil);
  if (!state.ok) {
    logEvent("warn", "drift.skipped", { detail: `no model: ${state.reason}` });
    return null;
  }
  const model = state.model;
  const version = model.manifest.version;
  const reference = model.manifest.reference;
  if (!reference) {
    logEvent("warn", "drift.skipped", {
      model: version,
      detail: "the manifest has no reference (trained before drift)",
    });
    return null;
  }
  // up to LIST_PAGES pages of profile keys, evenly thinned to the sample (KV lists in key order; past
  // LIST_PAGES x 1,000 readers the sample is of the first ones in that order, which pseudonymous ids, hashes,
  // spread over the whole base)
  const prefix = kvKeys.profile("");
  const keys: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < LIST_PAGES; page++) {
    const listed = await kv.list({ prefix, limit: 1000, ...(cursor && { cursor }) });
    keys.push(...listed.keys.map((k) => k.name.slice(prefix.length)));
    if (listed.list_complete) break;
    cursor = listed.cursor;
  }
  const step = Math.max(1, keys.length / DRIFT_SAMPLE);
  const users = Array.from(
    { length: Math.min(DRIFT_SAMPLE, keys.length) },
    (_, i) => keys[Math.floor(i * step)] as string,
  );
  const nowSec = Math.floor(now / 1000);
  const readers: ReaderDriftFeatures[] = [];
  const pairs: { p: number; y: 0 | 1 }[] = [];
  let next = 0;
  const worker = async () => {
    while (next < users.length) {
      const user = users[next++] as string;
      try {
        const [read, features] = await Promise.all([readProfile(kv, user), readFeatures(kv, user, version)]);
        if (!read.ok) continue;
        const outputs = modelOutputs(read.profile, features, version);
        const vector = outputs.factors ? base64ToFloat32(outputs.factors.vector) : null;
        const top =
          vector && vector.length === model.manifest.dims ? (await model.session.topK(vector, 1)).scores[0] : undefined;
        readers.push(
          readerDriftFeatures(
            { propensity: outputs.propensity, purchases: read.profile.purchases },
            top ?? null,
            nowSec,
          ),
        );
        if (outputs.propensity !== null) {
          const bought = boughtWithinHorizon(read.profile.purchases, reference.asOf);
          pairs.push({ p: outputs.propensity, y: bought ? 1 : 0 });
        }
      } catch (e) {
        logEvent("error", "drift.reader_failed", { detail: errorMessage(e) });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const features = featureDrift(reference, readers);
  const window = calibrationWindow(reference.asOf, nowSec);
  const measured: Calibration | null =
    pairs.length > 0
      ? {
          ece: calibrationBins(pairs).ece,
          n: pairs.length,
          window,
          measuredAt: new Date(now).toISOString(),
          ...(pairs.length < CALIBRATION_MIN_READERS && { notJudged: "too-few-readers" as const }),
        }
      : null;
  // past the window, the model's figure is the first judged one measured there (stored once, then reused)
  let calibration = measured;
  if (window === "complete" && env.DB) {
    const frozen = await frozenCalibration(env.DB, version);
    calibration =
      frozen ?? (measured && !measured.notJudged ? await freezeCalibration(env.DB, version, measured) : measured);
  }
  const alerts: string[] = [];
  for (const [name, f] of Object.entries(features)) {
    if (f && isDriftAlert(f, config.driftPsiAlert)) alerts.push(name);
  }
  if (calibration?.window === "complete" && !calibration.notJudged && calibration.ece > config.driftEceAlert)
    alerts.push("calibration");
  const run: DriftRun = {
    day: new Date(now).toISOString().slice(0, 10),
    at: new Date(now).toISOString(),
    model: version,
    readers: readers.length,
    features,
    calibration,
    alerts,
  };
  for (const measure of alerts) {
    const value = measure === "calibration" ? calibration?.ece : features[measure as keyof typeof features]?.psi;
    logEvent("warn", "drift.alert", { model: version, measure, value });
  }
  if (env.DB) await saveDriftRun(env.DB, run);
  return run;
}
