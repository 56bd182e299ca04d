/**
 * Deleting a model version's keys (`model:<version>:*`) from KV, only when nothing can serve it any more: not the
 * active version, not in `model:history` (a rollback can return to it), not named by a stored campaign or a running
 * experiment's variant (`model` in their settings: core/campaign.ts), and not within DELETE_SETTLE_MS of the
 * pointer's last move (an open elsewhere may read the pointer from before it for up to 60 s and load the version it
 * replaced). Shared by `npm run models -- delete` (KV through wrangler) and the Worker's admin API, whose deletions
 * run in the ModelMover beside the moves, so a delete and an activation of one version cannot interleave. The
 * readers' `features:<user>:<version>` keys are left to expire (scripts/seed/kv-entries.ts FEATURES_TTL_SECONDS).
 */
import { z } from "zod";
import { parseCampaign } from "./campaign";
import { campaignSource, experimentSources } from "./campaign-segments";
import { ExperimentSchema } from "./experiments/experiment";
import type { KvClient } from "./kv-client";
import { kvKeys } from "./kv-keys";
import { ModelVersionSchema } from "./manifest";
import { MAX_CAMPAIGNS_CHECKED, MAX_EXPERIMENTS_CHECKED, ModelsError, modelState } from "./model-versions";

/** How long after the pointer's last move no version is deleted: KV's 60 s of staleness elsewhere, and then some. */
export const DELETE_SETTLE_MS = 5 * 60_000;
/**
 * Campaigns and running experiments read for a version they name; past these a delete is refused, not guessed. The
 * Worker reads each value with one KV operation, and an invocation has 1,000 (its limits are a move's:
 * MAX_CAMPAIGNS_CHECKED); the CLI reads 100 at a time through wrangler, and takes more.
 */
export interface ReadLimits {
  campaigns: number;
  experiments: number;
}
export const WORKER_READ_LIMITS: ReadLimits = {
  campaigns: MAX_CAMPAIGNS_CHECKED,
  experiments: MAX_EXPERIMENTS_CHECKED,
};
export const CLI_READ_LIMITS: ReadLimits = { campaigns: 10_000, experiments: 1_000 };
/** Values read at once (KV's bulk get through wrangler takes at most 100 keys). */
const READ_BATCH = 100;

export const DeletionSchema = z.object({
  version: z.string(),
  /** the keys deleted, the manifest last (a delete cut short leaves the version listed, failing its check) */
  deleted: z.array(z.string()),
});
export type Deletion = z.infer<typeof DeletionSchema>;

/** Where a stored campaign or running experiment names `version` (`campaign`, or `campaign (experiment <id>)`). */
async function namedBy(kv: KvClient, version: string, limits: ReadLimits): Promise<string[]> {
  const [campaignKeys, experimentKeys] = await Promise.all([
    kv.list(kvKeys.campaign(""), limits.campaigns + 1),
    kv.list(kvKeys.campaignExperiment(""), limits.experiments + 1),
  ]);
  if (campaignKeys.length > limits.campaigns || experimentKeys.length > limits.experiments)
    throw new ModelsError(
      `more than ${limits.campaigns} campaigns or ${limits.experiments} running experiments are stored: not all ` +
        `could be read for one naming ${version}, so nothing was deleted (npm run models -- delete reads ` +
        `${CLI_READ_LIMITS.campaigns} and ${CLI_READ_LIMITS.experiments}; past those, delete its model:${version}:* keys by hand)`,
    );
  const names: string[] = [];
  const keys = [...campaignKeys, ...experimentKeys];
  for (let i = 0; i < keys.length; i += READ_BATCH) {
    for (const [key, text] of await kv.getTexts(keys.slice(i, i + READ_BATCH))) {
      if (text === null) continue;
      let raw: unknown;
      try {
        raw = JSON.parse(text);
      } catch {
        continue; // serves nothing: names nothing
      }
      if (key.startsWith(kvKeys.campaign(""))) {
        const parsed = parseCampaign(raw);
        const id = key.slice(kvKeys.campaign("").length);
        if (parsed.success && campaignSource(id, parsed.data).config.model === version) names.push(id);
      } else {
        const parsed = ExperimentSchema.safeParse(raw);
        if (!parsed.success) continue;
        for (const s of experimentSources(parsed.data))
          if (s.config.model === version) names.push(`${s.campaign} (experiment ${s.experiment})`);
      }
    }
  }
  return [...new Set(names)];
}

/** Deletes `version`'s keys when nothing can serve it (see the file's comment); refused with a ModelsError. */
export async function deleteVersion(
  kv: KvClient,
  version: string,
  limits: ReadLimits,
  now = new Date(),
): Promise<Deletion> {
  if (!ModelVersionSchema.safeParse(version).success)
    throw new ModelsError(`"${version}" is not a model version (1-64 of A-Z a-z 0-9 . _ -)`);
  const { pointer, history } = await modelState(kv);
  const kept = "nothing was deleted";
  if (pointer?.version === version)
    throw new ModelsError(`${version} is the active version: activate another first; ${kept}`);
  if (history.some((h) => h.version === version))
    throw new ModelsError(`${version} is in the history (model:history): a rollback can return to it; ${kept}`);
  // a name with no keys is said so first, whatever else would keep it
  const keys = await kv.list(`model:${version}:`);
  if (keys.length === 0)
    throw new ModelsError(`${version} is not stored: \`npm run models -- list\` names the versions stored`);
  const moved = pointer ? Date.parse(pointer.activatedAt) : Number.NaN;
  if (now.getTime() - moved < DELETE_SETTLE_MS)
    throw new ModelsError(
      `the active pointer moved at ${pointer?.activatedAt}, less than ${DELETE_SETTLE_MS / 60_000} minutes ago: an ` +
        `open elsewhere may still read the pointer from before it; try again after ${new Date(moved + DELETE_SETTLE_MS).toISOString()}; ${kept}`,
    );
  const users = await namedBy(kv, version, limits);
  if (users.length > 0)
    throw new ModelsError(
      `${version} is named by ${users.slice(0, 10).join(", ")}${users.length > 10 ? ` and ${users.length - 10} more` : ""}: ` +
        `their opens are scored with it (\`model\` in their settings); change them first; ${kept}`,
    );
  const manifest = kvKeys.manifest(version);
  const parts = keys.filter((k) => k !== manifest);
  await kv.delete(parts);
  // the manifest last, on its own: a delete cut short leaves the version listed (failing its check), to delete again
  if (parts.length < keys.length) await kv.delete([manifest]);
  return { version, deleted: [...parts, ...keys.filter((k) => k === manifest)] };
}
