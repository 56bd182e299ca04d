/**
 * Experiments (core/experiments/experiment.ts) in KV, as their one writer publishes them (the experiment
 * registry, worker/state/experiment-registry.ts, which decides every change of the admin API): `experiment:<id>`
 * holds every experiment, running or stopped (reports read it), and `experiment-of:<campaign>` a copy of the
 * one running on a campaign, which is what opens read: through a per-isolate cache of a minute, like campaigns
 * (worker/decisions/campaign-store.ts), so a change reaches every open within about a minute. A bandit's
 * weights are the bandit job's own key (`experiment-weights:<id>`, worker/experiments/bandit-job.ts), read with
 * the experiment and laid over its variants: the two writers never write the same key. The global holdout
 * is one key (the admin API's, replaced whole), cached the same way, for opens and for the reader shards' trigger
 * deliveries (knownGlobalHoldout). Invalid entries mean "no experiment": an email never fails over one. A read
 * that fails keeps what the isolate had (worker/lib/isolate-cache.ts), tried again 5 s later: an outage neither
 * moves readers out of their arm nor the holdout's into personalization.
 */

import { z } from "zod";
import {
  type Experiment,
  ExperimentSchema,
  GLOBAL_ATTRIBUTION_DAYS,
  GLOBAL_HOLDOUT_ID,
  type GlobalHoldout,
  GlobalHoldoutSchema,
  globalHoldoutExperiment,
} from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { floorShares } from "../../core/stats/thompson";
import { IsolateCache } from "../lib/isolate-cache";
import { errorMessage, logEvent } from "../lib/log";
import { describeIssues } from "../lib/zod-issues";

/** How long an isolate keeps an experiment it read (opens in the minute after a stop may still expose readers). */
export const EXPERIMENT_CACHE_MS = 60_000;
const MAX_CACHED = 500;
const cache = new IsolateCache<Experiment | null>(EXPERIMENT_CACHE_MS, MAX_CACHED);
/** one entry, HOLDOUT; undefined: a failed read with nothing known (opens take it as none, triggers wait) */
const holdoutCache = new IsolateCache<GlobalHoldout | null | undefined>(EXPERIMENT_CACHE_MS, 1);
const HOLDOUT = "";

export function resetExperimentCache(): void {
  cache.clear();
  holdoutCache.clear();
}

/** `strict`: a failed read throws (the registry must not take an outage for "none"); else it is logged, null. */
async function readJson<T>(kv: KVNamespace, key: string, schema: z.ZodType<T>, strict = false): Promise<T | null> {
  let text: string | null;
  try {
    text = await kv.get(key, "text");
  } catch (e) {
    if (strict) throw e;
    logEvent("error", "experiment.read_failed", { key, detail: errorMessage(e) });
    return null;
  }
  if (text === null) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    logEvent("error", "experiment.invalid", { key, detail: errorMessage(e) });
    return null;
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  logEvent("error", "experiment.invalid", { key, detail: describeIssues(parsed.error) });
  return null;
}

/** The experiment running on a campaign (an open's read: the isolate's cache, a minute), or null. */
export async function runningExperiment(
  kv: KVNamespace,
  campaign: string,
  now = Date.now(),
): Promise<Experiment | null> {
  return cache.get(campaign, now, async () => {
    let running: Experiment | null;
    try {
      running = await readServedExperiment(kv, campaign, true);
    } catch (e) {
      // readers keep the arms this isolate knew: an outage is not "no experiment" (their content would leave their arm)
      logEvent("error", "experiment.read_failed", { campaign, detail: errorMessage(e) });
      return { ok: false, fallback: null };
    }
    if (!running?.bandit) return { ok: true, value: running };
    try {
      return { ok: true, value: withBanditWeights(running, await readBanditWeights(kv, running.id, true)) };
    } catch (e) {
      // the bandit's weights unread: the weights this isolate knew, else the experiment's own
      logEvent("error", "experiment.read_failed", { campaign, detail: errorMessage(e) });
      return { ok: false, fallback: running };
    }
  });
}

/** The global holdout (an open's read, cached a minute), or null when none is set. */
export async function globalHoldout(kv: KVNamespace, now = Date.now()): Promise<GlobalHoldout | null> {
  return (await knownGlobalHoldout(kv, now)) ?? null;
}

/**
 * The global holdout as globalHoldout reads it (the same cache), but undefined when it is unknown: KV could not be
 * read and this isolate knew none. The reader shards' trigger deliveries wait then (worker/state/reader-shard.ts).
 * An entry that does not parse is none, as it is for opens.
 */
export function knownGlobalHoldout(kv: KVNamespace, now = Date.now()): Promise<GlobalHoldout | null | undefined> {
  return holdoutCache.get(HOLDOUT, now, async () => {
    try {
      return { ok: true, value: await readGlobalHoldout(kv, true) };
    } catch (e) {
      // the holdout's readers stay held out through an outage, as this isolate last knew them
      logEvent("error", "experiment.read_failed", { key: kvKeys.globalHoldout, detail: errorMessage(e) });
      return { ok: false, fallback: undefined };
    }
  });
}

/** The global holdout as stored now (the admin API), or null; `strict`: a failed read throws. */
export function readGlobalHoldout(kv: KVNamespace, strict = false): Promise<GlobalHoldout | null> {
  return readJson(kv, kvKeys.globalHoldout, GlobalHoldoutSchema, strict);
}

/** Experiments listed at most in a page (the dashboard, the admin API's list). */
export const MAX_LISTED_EXPERIMENTS = 1000;

/**
 * What a report is made for: a stored experiment, or the global holdout (`global-holdout`: its arms from the
 * holdout as it is now, or as it was when turned off), or null. Read strictly: a KV read that fails throws (the
 * error handler's 503 KV_UNAVAILABLE), never taken for no experiment (a 404) nor for a global holdout that is off.
 */
export async function reportedExperiment(kv: KVNamespace, id: string): Promise<Experiment | null> {
  if (id !== GLOBAL_HOLDOUT_ID) return readExperiment(kv, id, true);
  return globalHoldoutExperiment(await readGlobalHoldout(kv, true), GLOBAL_ATTRIBUTION_DAYS);
}

/**
 * An experiment as KV holds it (reports, the registry for one it has not seen), or null.
 * `strict`: a failed read throws instead of answering null.
 */
export function readExperiment(kv: KVNamespace, id: string, strict = false): Promise<Experiment | null> {
  return readJson(kv, kvKeys.experiment(id), ExperimentSchema, strict);
}

/** Drops this isolate's cached experiment of a campaign (the admin API, after the registry changed it). */
export function forgetRunningExperiment(campaign: string): void {
  cache.delete(campaign);
}

/**
 * The experiment KV's copy serves on a campaign now (opens, through runningExperiment; the registry's adoption):
 * a copy that runs and names the campaign, else null. `strict`: a failed read throws instead of answering null.
 */
export async function readServedExperiment(
  kv: KVNamespace,
  campaign: string,
  strict = false,
): Promise<Experiment | null> {
  const copy = await readJson(kv, kvKeys.campaignExperiment(campaign), ExperimentSchema, strict);
  return copy?.status === "running" && copy.campaign === campaign ? copy : null;
}

/** After a change of the global holdout (the registry writes it): this isolate reads it again at its next open. */
export function forgetGlobalHoldout(): void {
  holdoutCache.clear();
}

/**
 * Up to `limit` stored experiment ids after `after`, in key order (KV list: a minute behind at most). KV lists
 * from the start only, so the pages before `after` are listed again: one list per 1,000 ids up to the page.
 */
export async function listExperimentIds(kv: KVNamespace, limit: number, after = ""): Promise<string[]> {
  const prefix = kvKeys.experiment("");
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await kv.list({ prefix, ...(cursor && { cursor }) });
    for (const key of page.keys) {
      const id = key.name.slice(prefix.length);
      if (id > after) ids.push(id);
      if (ids.length === limit) return ids;
    }
    if (page.list_complete) return ids;
    cursor = page.cursor;
  }
}

/** A bandit's weights by variant, as the bandit job last wrote them. */
export const BanditWeightsSchema = z.object({
  at: z.string().max(64),
  weights: z.record(z.string().max(32), z.number().positive().max(1000)),
});
export type BanditWeights = z.infer<typeof BanditWeightsSchema>;

/** A bandit's weights as the job last wrote them, or null; `strict`: a failed read throws. */
export function readBanditWeights(kv: KVNamespace, id: string, strict = false): Promise<BanditWeights | null> {
  return readJson(kv, kvKeys.banditWeights(id), BanditWeightsSchema, strict);
}

/** The bandit job's only write. */
export async function putBanditWeights(kv: KVNamespace, id: string, weights: BanditWeights): Promise<void> {
  await kv.put(kvKeys.banditWeights(id), JSON.stringify(weights));
}

/**
 * The experiment with the bandit's weights over its variants'. A variant added since the bandit's last update gets
 * the mean of the others' bandit weights, so an equal share (1/k of the arms' traffic, the bandit's own prior
 * before any data) until the next hourly update weighs it: its weight as set would be read against the bandit's,
 * which sum to 100 (a weight of 1 beside two arms would get about 1%). The floor holds in between too: an arm
 * that share (or a floor raised since) would put under it is raised to it, the bandit's other arms giving it up
 * in proportion (core/stats/thompson.ts, floorShares).
 */
export function withBanditWeights(experiment: Experiment, bandit: BanditWeights | null): Experiment {
  if (!bandit) return experiment;
  const known = experiment.variants.flatMap((v) => {
    const w = bandit.weights[v.id];
    return w === undefined ? [] : [w];
  });
  if (known.length === 0) return experiment;
  const fresh = known.reduce((a, b) => a + b, 0) / known.length;
  let weights = experiment.variants.map((v) => bandit.weights[v.id] ?? fresh);
  const floor = experiment.bandit?.floor ?? 0;
  const sum = weights.reduce((a, b) => a + b, 0);
  // (the job's own shares are at the floor or above it: read as written)
  if (weights.some((w) => w / sum < floor - FLOOR_TOLERANCE)) {
    // the added variants keep their 1/k; the bandit's arms share the rest, each at its floor at least
    const k = weights.length;
    const shares = floorShares(known, floor, known.length / k);
    let next = 0;
    weights = experiment.variants.map((v) =>
      bandit.weights[v.id] === undefined ? SHARE_SCALE / k : (shares[next++] as number) * SHARE_SCALE,
    );
  }
  return { ...experiment, variants: experiment.variants.map((v, i) => ({ ...v, weight: weights[i] as number })) };
}

/** Shares rewritten to hold the floor are weights on this scale (the bandit job's). */
const SHARE_SCALE = 100;
/** A share this little under the floor is the job's rounding, not an arm under it. */
const FLOOR_TOLERANCE = 1e-9;
