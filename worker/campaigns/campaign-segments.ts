/**
 * A campaign just saved, checked against the segment names of the model its opens read (its own `model`, else
 * the active one): the save's answer lists each condition naming a segment that model lacks (core/campaign-segments.ts),
 * so a slip such as "Champion" is seen when it is written. Never a reason to refuse the save; a model that cannot
 * be read leaves the list empty, and says so in the log.
 */
import type { Campaign } from "../../core/campaign";
import { campaignSource, describeMissing, type MissingSegment, missingSegments } from "../../core/campaign-segments";
import { kvKeys } from "../../core/kv-keys";
import { ActivePointerSchema } from "../../core/manifest";
import { errorMessage, logEvent } from "../lib/log";

/** Segment names of `version` (none: the version has no segment model); null when no manifest is stored. */
async function segmentNames(kv: KVNamespace, version: string): Promise<string[] | null> {
  const manifest = await kv.get<{ segments?: { names?: unknown } }>(kvKeys.manifest(version), "json");
  if (manifest === null) return null;
  const names = manifest.segments?.names;
  return Array.isArray(names) ? names.filter((n): n is string => typeof n === "string") : [];
}

/**
 * The conditions of `campaign` naming a segment its model lacks. The active pointer is KV's (up to a minute behind
 * a move made elsewhere); a pinned version not stored serves the active one, and is checked as such.
 */
export async function campaignSegmentsMissing(
  kv: KVNamespace,
  id: string,
  campaign: Campaign,
): Promise<MissingSegment[]> {
  try {
    const pointer = ActivePointerSchema.safeParse(await kv.get(kvKeys.activeModel, "json"));
    const active = pointer.success ? pointer.data.version : null;
    for (const version of [campaign.model, active]) {
      if (version === undefined || version === null) continue;
      const names = await segmentNames(kv, version);
      // checked as the model its opens read: a pinned one, whatever the active one is
      if (names === null) continue;
      const missing = missingSegments([campaignSource(id, { ...campaign, model: version })], { version, names });
      if (missing.length > 0)
        logEvent("warn", "campaign.segments_missing", {
          campaign: id,
          version,
          conditions: missing.map(describeMissing),
        });
      return missing;
    }
    return [];
  } catch (e) {
    logEvent("warn", "campaign.segments_unchecked", { campaign: id, detail: errorMessage(e) });
    return [];
  }
}
