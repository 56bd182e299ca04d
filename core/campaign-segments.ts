/**
 * Conditions that name a segment a model lacks. Segment names come from each training run's segment model
 * (manifest `segments.names`); a retrain can drop or rename one, and then every test naming it reads a name no
 * reader has: `$eq` / `$in` never hold for it, `$ne` / `$nin` exclude nobody by it. Activation, rollback and
 * campaign and experiment saves list them (core/model-versions.ts, worker/campaigns/campaign-segments.ts)
 * without refusing anything. Pure: over campaigns and experiments' variant campaigns already read.
 */
import { z } from "zod";
import type { Campaign } from "./campaign";
import type { Condition } from "./conditions";
import type { Experiment } from "./experiments/experiment";

/** The tests on the `segment` fact that name a segment (`$exists` names none). */
export const SEGMENT_OPS = ["$eq", "$ne", "$in", "$nin"] as const;
export type SegmentOp = (typeof SEGMENT_OPS)[number];

export const MissingSegmentSchema = z.object({
  /** the campaign whose opens test it */
  campaign: z.string(),
  /** the running experiment whose variant holds it; null: the campaign itself */
  experiment: z.string().nullable(),
  /** where the test is, as `block.why` names blocks: `blocks[1].when.$or[0].segment` */
  path: z.string(),
  op: z.enum(SEGMENT_OPS),
  /** the name the model lacks */
  segment: z.string(),
  /** a name the model has that it is likely a slip of (case, or one or two letters), else null */
  nearest: z.string().nullable(),
  /** the version has no segment model: no reader has a segment, so `$ne` / `$nin` hold for no one either */
  noSegmentModel: z.boolean().default(false),
});
export type MissingSegment = z.infer<typeof MissingSegmentSchema>;

/** One campaign configuration whose conditions serve: a campaign's own, or a variant's of a running experiment. */
export interface CampaignSource {
  campaign: string;
  experiment: string | null;
  /** the path of the configuration itself: "" for a campaign, `variants[0].content.` for a variant */
  at: string;
  config: Campaign;
}

/** The segment model of one version: its names (none when the version has no segment model). */
export interface SegmentNames {
  version: string;
  names: readonly string[];
}

export function campaignSource(id: string, config: Campaign): CampaignSource {
  return { campaign: id, experiment: null, at: "", config };
}

/** A running experiment's variants that are campaigns (`popular` tests nothing); a stopped one serves none. */
export function experimentSources(experiment: Experiment): CampaignSource[] {
  return experiment.status === "running" ? variantSources(experiment) : [];
}

/** An experiment's variants that are campaigns, whatever its status (a save checks what a start would serve). */
export function variantSources(experiment: Experiment): CampaignSource[] {
  return experiment.variants.flatMap((v, i) =>
    v.content === "popular"
      ? []
      : [
          {
            campaign: experiment.campaign,
            experiment: experiment.id,
            at: `variants[${i}].content.`,
            config: v.content,
          },
        ],
  );
}

/** Every test on `segment` in a condition, with its path, operator and each name it gives. */
export function segmentTests(cond: Condition, at: string): { path: string; op: SegmentOp; name: string }[] {
  const out: { path: string; op: SegmentOp; name: string }[] = [];
  const test = cond.segment as Partial<Record<string, unknown>> | undefined;
  if (test) {
    for (const op of SEGMENT_OPS) {
      const operand = test[op];
      if (operand === undefined) continue;
      for (const name of Array.isArray(operand) ? operand : [operand])
        if (typeof name === "string") out.push({ path: `${at}.segment`, op, name });
    }
  }
  for (const [i, c] of (cond.$and ?? []).entries()) out.push(...segmentTests(c, `${at}.$and[${i}]`));
  for (const [i, c] of (cond.$or ?? []).entries()) out.push(...segmentTests(c, `${at}.$or[${i}]`));
  if (cond.$not) out.push(...segmentTests(cond.$not, `${at}.$not`));
  return out;
}

/**
 * The tests in `sources` naming a segment `model` lacks, in source order. A configuration pinned to another
 * version (its `model`) is skipped: its opens read that version's segments, whatever `model` is.
 */
export function missingSegments(sources: readonly CampaignSource[], model: SegmentNames): MissingSegment[] {
  const known = new Set(model.names);
  const out: MissingSegment[] = [];
  for (const s of sources) {
    if (s.config.model !== undefined && s.config.model !== model.version) continue;
    const tests = [
      ...s.config.blocks.flatMap((b, i) => segmentTests(b.when, `${s.at}blocks[${i}].when`)),
      ...(s.config.subjects?.rules ?? []).flatMap((r, i) => segmentTests(r.when, `${s.at}subjects.rules[${i}].when`)),
    ];
    for (const t of tests) {
      if (known.has(t.name)) continue;
      out.push({
        campaign: s.campaign,
        experiment: s.experiment,
        path: t.path,
        op: t.op,
        segment: t.name,
        nearest: nearestName(t.name, model.names),
        noSegmentModel: model.names.length === 0,
      });
    }
  }
  return out;
}

/** A look-alike's suffix (scripts/segments/segmenter.ts names a second "Champions" "Champions (B)"). */
const LOOK_ALIKE = / \([A-Z]\)$/;

/**
 * The name `name` is most likely a slip of: the same but for case, else but for a look-alike's suffix (a retrain
 * can fit one "Loyal regulars" where the last had two), else one within two edits of it (suffixes aside); null:
 * none.
 */
export function nearestName(name: string, names: readonly string[]): string | null {
  const folded = name.toLowerCase();
  const sameCase = names.find((n) => n.toLowerCase() === folded);
  if (sameCase !== undefined) return sameCase;
  const base = (n: string) => n.replace(LOOK_ALIKE, "").toLowerCase();
  const sameBase = names.find((n) => base(n) === base(name));
  if (sameBase !== undefined) return sameBase;
  let best: string | null = null;
  let bestD = 3;
  for (const n of names) {
    const d = editDistance(base(name), base(n), bestD);
    if (d < bestD) [best, bestD] = [n, d];
  }
  return best;
}

/** Levenshtein distance, or `cap` as soon as it is known to be `cap` or more (names are at most 200 chars). */
function editDistance(a: string, b: string, cap: number): number {
  if (Math.abs(a.length - b.length) >= cap) return cap;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    if (Math.min(...row) >= cap) return cap;
    prev = row;
  }
  return Math.min(prev[b.length] as number, cap);
}

/** One line per test, for a CLI, a log or the dashboard: `spring blocks[1].when.segment $eq "Champion" (nearest "Champions")`. */
export function describeMissing(m: MissingSegment): string {
  const where = m.experiment ? `${m.campaign} (experiment ${m.experiment})` : m.campaign;
  // a reader without a segment fails every test on it (core/conditions.ts), `$ne` too
  const effect =
    m.op === "$eq" || m.op === "$in"
      ? "never holds for it"
      : m.noSegmentModel
        ? "holds for no one: the version has no segment model"
        : "excludes nobody by it";
  const nearest = m.nearest === null ? "" : `; did you mean "${m.nearest}"?`;
  return `${where} ${m.path} ${m.op} "${m.segment}": no such segment, ${effect}${nearest}`;
}

/**
 * What a CLI prints of a move's check (`npm run models`, `npm run seed`): a WARNING per condition naming a
 * segment `version` lacks, and one when not every campaign was read, or none could be.
 */
export function segmentsWarning(
  version: string,
  missing: readonly MissingSegment[],
  checked: { campaigns: number; experiments: number; complete: boolean } | null,
): string[] {
  const lines: string[] = [];
  if (missing.length > 0)
    lines.push(
      `WARNING: ${missing.length} campaign condition(s) name a segment ${version} does not have; they never select their block or subject by that name:`,
      ...missing.map((m) => `  ${describeMissing(m)}`),
      "  (the move is made; edit those campaigns, or roll back: npm run models -- rollback)",
    );
  if (checked === null) lines.push("WARNING: campaigns were not checked for segment names the version lacks");
  else if (!checked.complete)
    lines.push(
      `WARNING: only the first ${checked.campaigns} campaigns and ${checked.experiments} running experiments were checked for segment names`,
    );
  return lines;
}
