/**
 * Experiments (core/experiments/experiment.ts) in KV. The admin API is their only writer: `experiment:<id>`
 * holds every experiment, running or stopped (reports read it), and `experiment-of:<campaign>` a copy of the
 * one running on a campaign, which is what opens read: through a per-isolate cache of a minute, like campaigns
 * (worker/decisions/campaign-store.ts), so a change reaches every open within about a minute. The bandit job
 * (worker/experiments/bandit-job.ts) rewrites a bandit's weights through the same functions. The global holdout
 * is one key, cached the same way. Unreadable entries mean "no experiment": an email never fails over one.
 */
import {
  type Experiment,
  ExperimentSchema,
  type GlobalHoldout,
  GlobalHoldoutSchema,
} from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import { errorMessage, logEvent } from "../lib/log";
import { describeIssues } from "../lib/zod-issues";

const TTL_MS = 60_000;
const MAX_CACHED = 500;
const cache = new Map<string, { at: number; experiment: Experiment | null }>();
let holdoutCache: { at: number; holdout: GlobalHoldout | null } | null = null;

export function resetExperimentCache(): void {
  cache.clear();
  holdoutCache = null;
}

async function readJson<T>(
  kv: KVNamespace,
  key: string,
  parse: (raw: unknown) => { success: true; data: T } | { success: false; error: import("zod").ZodError },
): Promise<T | null> {
  try {
    const raw = await kv.get(key, "json");
    if (raw === null) return null;
    const parsed = parse(raw);
    if (parsed.success) return parsed.data;
    logEvent("error", "experiment.invalid", { key, detail: describeIssues(parsed.error) });
  } catch (e) {
    logEvent("error", "experiment.read_failed", { key, detail: errorMessage(e) });
  }
  return null;
}

/** The experiment running on a campaign (an open's read: the isolate's cache, a minute), or null. */
export async function runningExperiment(
  kv: KVNamespace,
  campaign: string,
  now = Date.now(),
): Promise<Experiment | null> {
  const hit = cache.get(campaign);
  if (hit && now >= hit.at && now - hit.at < TTL_MS) return hit.experiment;
  const found = await readJson(kv, kvKeys.campaignExperiment(campaign), (raw) => ExperimentSchema.safeParse(raw));
  const experiment = found?.status === "running" && found.campaign === campaign ? found : null;
  cache.delete(campaign);
  cache.set(campaign, { at: now, experiment });
  if (cache.size > MAX_CACHED) cache.delete(cache.keys().next().value as string);
  return experiment;
}

/** The global holdout (an open's read, cached a minute), or null when none is set. */
export async function globalHoldout(kv: KVNamespace, now = Date.now()): Promise<GlobalHoldout | null> {
  if (holdoutCache && now >= holdoutCache.at && now - holdoutCache.at < TTL_MS) return holdoutCache.holdout;
  const holdout = await readGlobalHoldout(kv);
  holdoutCache = { at: now, holdout };
  return holdout;
}

/** The global holdout as stored now (the admin API), or null. */
export function readGlobalHoldout(kv: KVNamespace): Promise<GlobalHoldout | null> {
  return readJson(kv, kvKeys.globalHoldout, (raw) => GlobalHoldoutSchema.safeParse(raw));
}

/** An experiment as stored now (the admin API, reports), or null. */
export function readExperiment(kv: KVNamespace, id: string): Promise<Experiment | null> {
  return readJson(kv, kvKeys.experiment(id), (raw) => ExperimentSchema.safeParse(raw));
}

/**
 * Stores an experiment and, while it runs, its campaign's copy (deleted when it stops). The caller has checked
 * that no other experiment runs on the campaign.
 */
export async function putExperiment(kv: KVNamespace, experiment: Experiment): Promise<void> {
  const json = JSON.stringify(experiment);
  await kv.put(kvKeys.experiment(experiment.id), json);
  if (experiment.status === "running") await kv.put(kvKeys.campaignExperiment(experiment.campaign), json);
  else {
    const current = await readJson(kv, kvKeys.campaignExperiment(experiment.campaign), (raw) =>
      ExperimentSchema.safeParse(raw),
    );
    if (current?.id === experiment.id) await kv.delete(kvKeys.campaignExperiment(experiment.campaign));
  }
  cache.delete(experiment.campaign);
}

/** The experiment running on a campaign as stored now (the admin API's conflict check), or null. */
export function readCampaignExperiment(kv: KVNamespace, campaign: string): Promise<Experiment | null> {
  return readJson(kv, kvKeys.campaignExperiment(campaign), (raw) => ExperimentSchema.safeParse(raw));
}

export async function putGlobalHoldout(kv: KVNamespace, holdout: GlobalHoldout | null): Promise<void> {
  if (holdout) await kv.put(kvKeys.globalHoldout, JSON.stringify(holdout));
  else await kv.delete(kvKeys.globalHoldout);
  holdoutCache = null;
}

/** Experiment ids stored, in key order, a page at a time (KV list: a minute behind at most). */
export async function listExperimentIds(kv: KVNamespace, limit: number): Promise<string[]> {
  const prefix = kvKeys.experiment("");
  const page = await kv.list({ prefix, limit });
  return page.keys.map((k) => k.name.slice(prefix.length));
}
