/**
 * A campaign or an experiment just saved, checked against the segment names of the model its opens read (a
 * campaign's own `model`, else the active one; for an experiment, each variant's): the save's answer lists each
 * condition naming a segment that model lacks (core/campaign-segments.ts), so a slip such as "Champion" is seen
 * when it is written. Never a reason to refuse the save; a model that cannot be read leaves the list empty, and
 * says so in the log.
 */
import type { Campaign } from "../../core/campaign";
import {
  type CampaignSource,
  campaignSource,
  describeMissing,
  type MissingSegment,
  missingSegments,
  variantSources,
} from "../../core/campaign-segments";
import type { Experiment } from "../../core/experiments/experiment";
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
 * The conditions of `sources` naming a segment the model each one's opens read lacks, in source order. The active
 * pointer is KV's (up to a minute behind a move made elsewhere); a pinned version not stored serves the active
 * one, and is checked as such. Each version's manifest is read once.
 */
async function sourcesSegmentsMissing(
  kv: KVNamespace,
  sources: readonly CampaignSource[],
  subject: { campaign: string; experiment?: string },
): Promise<MissingSegment[]> {
  try {
    const pointer = ActivePointerSchema.safeParse(await kv.get(kvKeys.activeModel, "json"));
    const active = pointer.success ? pointer.data.version : null;
    const read = new Map<string, Promise<string[] | null>>();
    const namesOf = (version: string) => {
      const known = read.get(version) ?? segmentNames(kv, version);
      read.set(version, known);
      return known;
    };
    const out: MissingSegment[] = [];
    for (const source of sources) {
      for (const version of [source.config.model, active]) {
        if (version === undefined || version === null) continue;
        const names = await namesOf(version);
        // checked as the model its opens read: a pinned one, whatever the active one is
        if (names === null) continue;
        const config = { ...source.config, model: version };
        const missing = missingSegments([{ ...source, config }], { version, names });
        if (missing.length > 0)
          logEvent("warn", "campaign.segments_missing", {
            ...subject,
            version,
            conditions: missing.map(describeMissing),
          });
        out.push(...missing);
        break;
      }
    }
    return out;
  } catch (e) {
    logEvent("warn", "campaign.segments_unchecked", { ...subject, detail: errorMessage(e) });
    return [];
  }
}

/** The conditions of `campaign` naming a segment its model lacks. */
export function campaignSegmentsMissing(kv: KVNamespace, id: string, campaign: Campaign): Promise<MissingSegment[]> {
  return sourcesSegmentsMissing(kv, [campaignSource(id, campaign)], { campaign: id });
}

/**
 * The conditions of an experiment's variant campaigns naming a segment the model each variant's opens read lacks
 * (paths `variants[1].content.blocks[0].when.segment`). A stopped experiment's variants are checked too: they are
 * what a start serves.
 */
export function experimentSegmentsMissing(kv: KVNamespace, experiment: Experiment): Promise<MissingSegment[]> {
  return sourcesSegmentsMissing(kv, variantSources(experiment), {
    campaign: experiment.campaign,
    experiment: experiment.id,
  });
}
