/**
 * What the dashboard says after one of its model buttons (POST /dashboard/models/<action>,
 * worker/routes/dashboard-model-action.ts): the move's outcome travels in the redirect as a code of a closed list
 * (`?model=<code>&version=<v>&segments=<n>`), and the page (worker/routes/dashboard.ts) writes the text from the
 * code, so a link cannot make the staff page say anything else. A version is named only when the page's own reads
 * bear it out (the active one after a move, a stored one after a refusal); the campaigns whose conditions name a
 * segment the active version lacks are read again from KV, never taken from the URL.
 */
import { z } from "zod";
import { cutWhole } from "../../core/cut-text";
import { kvKeys } from "../../core/kv-keys";
import { ModelVersionSchema } from "../../core/manifest";
import { campaignSegments } from "../../core/model-versions";
import { bindingKvClient } from "../model/binding-kv-client";
import { MODEL_OUTCOMES, type ModelOutcome } from "./model-outcomes";

/** The outcomes after which the version named is the active one. */
const MOVED: ReadonlySet<ModelOutcome> = new Set(["activated", "already-active", "rolled-back"]);

/** The longest list of campaign conditions the message repeats (campaign ids and segment names are free text). */
const MAX_NAMES = 300;

/** What of a version's manifest names its segments (core/manifest.ts: the rest is checked when it loads). */
const SegmentNames = z.object({ segments: z.object({ names: z.array(z.string()) }).optional() });

/** Where the redirect after a model button goes. */
export function modelRedirect(outcome: ModelOutcome, version: string | null, segmentsMissing: number): string {
  const query = new URLSearchParams({ model: outcome });
  if (version !== null) query.set("version", version);
  if (segmentsMissing > 0) query.set("segments", String(segmentsMissing));
  return `/dashboard?${query}`;
}

/** The redirect's query as the page reads it: anything outside the closed list is nothing. */
export const ModelMessageQuery = z.object({
  model: z.enum(MODEL_OUTCOMES).optional().catch(undefined),
  version: ModelVersionSchema.optional().catch(undefined),
  segments: z.coerce.number().int().positive().optional().catch(undefined),
});
export type ModelMessageQuery = z.infer<typeof ModelMessageQuery>;

/**
 * The page's message for a redirect's query, or null. `active`: the version serving now; `stored`: every version
 * stored. A move's message shows only while the version it names is the active one (a link from before another
 * move, or made up, says nothing); a refusal names its version only when it is stored.
 */
export async function modelMessage(
  kv: KVNamespace,
  query: ModelMessageQuery,
  active: string | null,
  stored: readonly string[],
): Promise<string | null> {
  const { model: outcome, version } = query;
  if (outcome === undefined) return null;
  if (outcome === "rollback-refused")
    return "Nothing was rolled back: there is no earlier version, it fails its check, or the models moved since the page was shown (its button returns only to the version it names: look at it again). The pointer is unchanged; GET /v1/admin/models (or npm run models -- list) gives each version's check.";
  if (outcome === "refused") {
    const named = version !== undefined && stored.includes(version) ? version : "The version asked for";
    return `${named} was refused: it fails its check, or is not stored. The pointer is unchanged; GET /v1/admin/models (or npm run models -- list) gives each version's check.`;
  }
  if (!MOVED.has(outcome) || version === undefined || version !== active) return null;
  const said =
    outcome === "activated"
      ? `Activated ${version}.`
      : outcome === "already-active"
        ? `${version} was already active.`
        : `Rolled back to ${version}.`;
  return query.segments === undefined ? said : `${said}${await segmentsWarning(kv, version)}`;
}

/** The campaign conditions naming a segment `version` lacks, read again (core/model-versions.ts campaignSegments). */
async function segmentsWarning(kv: KVNamespace, version: string): Promise<string> {
  const manifest = SegmentNames.safeParse(await kv.get(kvKeys.manifest(version), "json").catch(() => null));
  if (!manifest.success) return "";
  const { campaignSegmentsMissing: missing } = await campaignSegments(bindingKvClient(kv), {
    version,
    names: manifest.data.segments?.names ?? [],
  });
  if (missing.length === 0) return "";
  const names = [...new Set(missing.map((m) => `${m.campaign}: "${m.segment}"`))].join(", ");
  const shown = names.length > MAX_NAMES ? `${cutWhole(names, MAX_NAMES)}…` : names;
  return ` WARNING: ${missing.length} campaign condition(s) name a segment this model lacks (${shown})`;
}
