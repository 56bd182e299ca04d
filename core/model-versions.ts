/**
 * The model versions in KV and the `model:active` pointer: list them with their check, activate one only
 * after its manifest, ONNX bytes (sha256) and catalog pass the Worker's own check (core/manifest.ts), and
 * roll back to the version active before. Every activation records the version it replaces in `model:history`
 * (oldest first, bounded), written before the pointer so a pointer never moves unrecorded; a rollback writes the
 * pointer first, then the history without its target, so a failure between the two never skips a version. Shared by
 * `npm run models` (KV through wrangler) and the Worker's admin API and dashboard (its KV binding): the same
 * check and the same moves, over any KvClient. `npm run seed` records its move the same way (historyAfter).
 * A move is never refused over campaigns, but it lists the conditions of stored campaigns and running
 * experiments that name a segment the version it serves lacks (core/campaign-segments.ts).
 */

import { z } from "zod";
import { base64UrlToBytes, bytesToBase64Url } from "./base64";
import { parseCampaign } from "./campaign";
import {
  type CampaignSource,
  campaignSource,
  experimentSources,
  type MissingSegment,
  MissingSegmentSchema,
  missingSegments,
} from "./campaign-segments";
import { ExperimentSchema } from "./experiments/experiment";
import type { KvClient } from "./kv-client";
import { kvKeys } from "./kv-keys";
import {
  type ActivePointer,
  ActivePointerSchema,
  checkModelVersion,
  MODEL_CHECK_FAILURES,
  MODEL_HISTORY_MAX,
  type ModelHistory,
  ModelHistorySchema,
  ModelVersionSchema,
} from "./manifest";

export class ModelsError extends Error {}

/** What the admin API's activation takes: `{"version": "..."}`. */
export const ModelActivationSchema = z.strictObject({ version: ModelVersionSchema });

export const VersionSummarySchema = z.object({
  version: z.string(),
  createdAt: z.string().nullable(),
  featureSpec: z.string().nullable(),
  items: z.number().nullable(),
  /** `ok`, or why the Worker would refuse the version */
  check: z.enum(["ok", ...MODEL_CHECK_FAILURES]),
  detail: z.string().nullable(),
  active: z.boolean(),
});
export type VersionSummary = z.infer<typeof VersionSummarySchema>;

/**
 * One page of the versions stored, newest first, and the state of the moves, as `npm run models -- list` and the admin
 * API give them. `cursor`: the next page's, null on the last (an older Worker's answer, all on one page, has none).
 */
export const ListingSchema = z.object({
  active: ActivePointerSchema.nullable(),
  history: ModelHistorySchema,
  versions: z.array(VersionSummarySchema),
  cursor: z.string().nullable().default(null),
});
export type Listing = z.infer<typeof ListingSchema>;

/**
 * Versions a listing's page checks, at most and by default: each check reads its manifest, catalog and ONNX bytes
 * (up to 4 KV reads, and a hash of the graph), so a page stays well under a Worker's 1,000 KV operations.
 */
export const MAX_LISTED_VERSIONS = 50;
export const DEFAULT_LISTED_VERSIONS = 20;
/**
 * Manifests a listing reads at most only to learn when a version was created: those stored by an earlier release,
 * whose manifest key has no metadata (ManifestKeyMetadataSchema). Past these, the others follow by name.
 */
export const MAX_UNDATED_READS = 50;
/** Those manifests read at once (one holds every item id: a few hundred kB at 10k items). */
const UNDATED_BATCH = 5;

/** What a manifest key carries as KV metadata (`npm run seed` writes it), so a listing orders versions unread. */
export const ManifestKeyMetadataSchema = z.object({ createdAt: z.string().max(64) });
export type ManifestKeyMetadata = z.infer<typeof ManifestKeyMetadataSchema>;

/** Parsed JSON, the raw text when it is not JSON (it then fails the schema), or null when absent. */
function json(text: string | null | undefined): unknown {
  if (text === null || text === undefined) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function pointerOf(texts: ReadonlyMap<string, string | null>): ActivePointer | null {
  const parsed = ActivePointerSchema.safeParse(json(texts.get(kvKeys.activeModel)));
  return parsed.success ? parsed.data : null;
}

function historyOf(texts: ReadonlyMap<string, string | null>): ModelHistory {
  const parsed = ModelHistorySchema.safeParse(json(texts.get(kvKeys.modelHistory)));
  return parsed.success ? parsed.data : [];
}

/** The keys a move reads and writes: the pointer and the history. */
export const MODEL_STATE_KEYS = [kvKeys.activeModel, kvKeys.modelHistory];
const STATE_KEYS = MODEL_STATE_KEYS;

/**
 * The state a single writer moves from (worker/state/model-mover.ts): what it wrote itself (`ours`: a read of
 * KV at its location may be up to 60 s old and hide its own last move), unless KV's pointer was activated later
 * than ours, by another writer (`npm run seed`, `npm run models`), whose pointer and history it then adopts.
 * Both maps hold the texts of MODEL_STATE_KEYS (null: absent).
 */
export function freshestState(
  ours: ReadonlyMap<string, string | null> | null,
  kv: ReadonlyMap<string, string | null>,
): Map<string, string | null> {
  const pick = (texts: ReadonlyMap<string, string | null>) => new Map(STATE_KEYS.map((k) => [k, texts.get(k) ?? null]));
  const mine = ours ? pointerOf(ours) : null;
  if (!ours || !mine) return pick(kv);
  const theirs = pointerOf(kv);
  // an unreadable time never wins over ours
  const later = theirs !== null && Date.parse(theirs.activatedAt) > Date.parse(mine.activatedAt);
  return pick(later ? kv : ours);
}

/** The active pointer and the history of the versions it replaced, as stored now. */
export async function modelState(kv: KvClient): Promise<{ pointer: ActivePointer | null; history: ModelHistory }> {
  const texts = await kv.getTexts(STATE_KEYS);
  return { pointer: pointerOf(texts), history: historyOf(texts) };
}

/**
 * The history once `version` replaces `previous`: `previous` appended (bounded), or null when there is nothing to
 * record (no version was active, it is the same one, or `previous` is recorded last already: a move whose
 * pointer write failed after its history landed, tried again). Written before the pointer moves.
 */
export function historyAfter(
  previous: ActivePointer | null,
  history: ModelHistory,
  version: string,
): ModelHistory | null {
  if (!previous || previous.version === version || history.at(-1)?.version === previous.version) return null;
  return [...history, previous].slice(-MODEL_HISTORY_MAX);
}
const partKeys = (version: string) => [kvKeys.manifest(version), kvKeys.catalog(version)];

/** Runs the check the Worker runs before serving a version, over its text parts in `texts` and its graphs. */
async function checkVersion(kv: KvClient, version: string, texts: Map<string, string | null>) {
  const manifest = json(texts.get(kvKeys.manifest(version)));
  const hasContent = typeof manifest === "object" && manifest !== null && "content" in manifest;
  const [onnx, contentOnnx] = await Promise.all([
    kv.get(kvKeys.onnx(version)),
    hasContent ? kv.get(kvKeys.contentOnnx(version)) : undefined,
  ]);
  const catalog = json(texts.get(kvKeys.catalog(version)));
  return { check: await checkModelVersion(version, { manifest, catalog, onnx, contentOnnx }), manifest };
}

/** The versions with a manifest in KV (a key listing: nothing is read). */
export async function storedVersions(kv: Pick<KvClient, "list">): Promise<string[]> {
  return versionsOf((await kv.list("model:")).map((name) => ({ name, metadata: null }))).map((v) => v.version);
}

interface DatedVersion {
  version: string;
  /** from the manifest key's metadata (or, for one without, its manifest); null: unknown */
  createdAt: string | null;
}

function versionsOf(keys: readonly { name: string; metadata: unknown }[]): DatedVersion[] {
  // kvKeys.manifest(version) is `model:<version>:manifest`
  return keys
    .filter((k) => k.name.endsWith(":manifest"))
    .map((k) => {
      const meta = ManifestKeyMetadataSchema.safeParse(k.metadata);
      return {
        version: k.name.slice("model:".length, -":manifest".length),
        createdAt: meta.success ? meta.data.createdAt : null,
      };
    })
    .filter((v) => ModelVersionSchema.safeParse(v.version).success);
}

/** Newest first; unknown times last; then by name. Code-unit order, the same in the Worker and Node. */
function newestFirst(a: DatedVersion, b: DatedVersion): number {
  const [x, y] = [a.createdAt ?? "", b.createdAt ?? ""];
  if (x !== y) return x < y ? 1 : -1;
  return a.version < b.version ? -1 : a.version > b.version ? 1 : 0;
}

/**
 * A page's cursor: where the last version it showed sorts (its time and name), so a version stored or deleted
 * meanwhile moves no other across pages.
 */
const CursorSchema = z.tuple([z.string().max(64).nullable(), ModelVersionSchema]);

function encodeCursor(v: DatedVersion): string {
  return bytesToBase64Url(new TextEncoder().encode(JSON.stringify([v.createdAt, v.version])));
}

/** The position a cursor names, or null when it is not one a listing gave. */
export function decodeListingCursor(cursor: string): DatedVersion | null {
  try {
    const parsed = CursorSchema.safeParse(JSON.parse(new TextDecoder().decode(base64UrlToBytes(cursor))));
    return parsed.success ? { createdAt: parsed.data[0], version: parsed.data[1] } : null;
  } catch {
    return null;
  }
}

export interface ListingPage {
  /** versions on the page, 1 to MAX_LISTED_VERSIONS (DEFAULT_LISTED_VERSIONS) */
  limit?: number;
  /** the previous page's `cursor` (decodeListingCursor must accept it) */
  cursor?: string;
}

/**
 * One page of the versions with a manifest in KV, newest first, each checked (`concurrency` versions at a time: a
 * version's manifest, catalog and ONNX bytes are read with its batch, so no more than `concurrency` catalogs are
 * held at once; the Worker lists one at a time). The order comes from the key listing: a manifest key's metadata
 * says when the version was created; only manifests stored without it are read for it (MAX_UNDATED_READS at most).
 * Only the page's versions are read whole, so a listing's KV reads do not grow with the versions stored.
 */
export async function listVersions(kv: KvClient, page: ListingPage = {}, concurrency = 4): Promise<Listing> {
  const limit = Math.min(Math.max(1, Math.floor(page.limit ?? DEFAULT_LISTED_VERSIONS)), MAX_LISTED_VERSIONS);
  const after = page.cursor === undefined ? null : decodeListingCursor(page.cursor);
  if (page.cursor !== undefined && !after) throw new ModelsError("the cursor is not one a listing gave");
  const stored = versionsOf(await kv.listWithMetadata("model:"));
  const undated = stored.filter((v) => v.createdAt === null).slice(0, MAX_UNDATED_READS);
  for (let i = 0; i < undated.length; i += UNDATED_BATCH) {
    const batch = undated.slice(i, i + UNDATED_BATCH);
    const texts = await kv.getTexts(batch.map((v) => kvKeys.manifest(v.version)));
    for (const v of batch) {
      const m = json(texts.get(kvKeys.manifest(v.version)));
      const at = typeof m === "object" && m !== null ? (m as Record<string, unknown>).createdAt : null;
      if (typeof at === "string") v.createdAt = at.slice(0, 64);
    }
  }
  stored.sort(newestFirst);
  const from = after ? stored.findIndex((v) => newestFirst(v, after) > 0) : 0;
  const shown = from < 0 ? [] : stored.slice(from, from + limit);
  const more = from >= 0 && from + limit < stored.length;
  const state = await kv.getTexts(STATE_KEYS);
  const active = pointerOf(state);
  const versions: VersionSummary[] = [];
  for (let i = 0; i < shown.length; i += concurrency) {
    const batch = shown.slice(i, i + concurrency).map((v) => v.version);
    const texts = await kv.getTexts(batch.flatMap(partKeys));
    versions.push(...(await Promise.all(batch.map((v) => summarize(kv, v, texts, active)))));
  }
  const last = shown.at(-1);
  return { active, history: historyOf(state), versions, cursor: more && last ? encodeCursor(last) : null };
}

async function summarize(
  kv: KvClient,
  version: string,
  texts: Map<string, string | null>,
  active: ActivePointer | null,
): Promise<VersionSummary> {
  const { check, manifest } = await checkVersion(kv, version, texts);
  const m = (typeof manifest === "object" && manifest !== null ? manifest : {}) as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" ? v : null);
  return {
    version,
    createdAt: check.ok ? check.manifest.createdAt : str(m.createdAt),
    featureSpec: check.ok ? check.manifest.featureSpec : str(m.featureSpec),
    items: check.ok ? check.manifest.itemCount : typeof m.itemCount === "number" ? m.itemCount : null,
    check: check.ok ? "ok" : check.reason,
    detail: check.ok ? check.contentProblem : check.detail,
    active: active?.version === version,
  };
}

/** A move as made, and as the admin API answers it (the CLIs' `--url` reads it back with this schema). */
export const MoveSchema = z.object({
  previous: ActivePointerSchema.nullable(),
  pointer: ActivePointerSchema,
  /** a damaged optional content graph: the version serves ALS alone */
  warning: z.string().nullable(),
  /** the version was already active: nothing was written */
  unchanged: z.boolean(),
  /**
   * conditions of stored campaigns and running experiments naming a segment the version now served lacks: they
   * never select their block or subject by that name (an older Worker's answer has none)
   */
  campaignSegmentsMissing: z.array(MissingSegmentSchema).default([]),
  /** how many were read for it; `complete` false: more are stored than a move reads (the rest are unchecked) */
  campaignsChecked: z
    .object({ campaigns: z.number(), experiments: z.number(), complete: z.boolean() })
    .nullable()
    .default(null),
});
export type Move = z.infer<typeof MoveSchema>;

/**
 * Checks `version` and, only if it passes, records the active version in the history and moves the pointer. A
 * read-modify-write on KV: the Worker's moves run one at a time in one Durable Object (worker/state/model-mover.ts),
 * which reads its own writes; a CLI's move at the same time as another can still lose one (README, Known limits).
 */
export async function activate(kv: KvClient, version: string, now = new Date()): Promise<Move> {
  if (!ModelVersionSchema.safeParse(version).success)
    throw new ModelsError(`"${version}" is not a model version (1-64 of A-Z a-z 0-9 . _ -)`);
  const texts = await kv.getTexts([...STATE_KEYS, ...partKeys(version)]);
  // a name with neither manifest nor catalog (a typo, a version never seeded) is not stored: said so, not as a
  // damaged catalog
  if (partKeys(version).every((k) => texts.get(k) == null))
    throw new ModelsError(
      `${version} is not stored (no manifest or catalog): \`npm run models -- list\` names the versions stored, ` +
        "and `npm run seed -- --model models/<version>` stores one trained and activates it; the pointer is unchanged",
    );
  const { check } = await checkVersion(kv, version, texts);
  if (!check.ok)
    throw new ModelsError(`${version} refused: ${check.reason} (${check.detail}); the pointer is unchanged`);
  const [previous, history] = [pointerOf(texts), historyOf(texts)];
  const pointer: ActivePointer = { version, activatedAt: now.toISOString() };
  const segments = await campaignSegments(kv, { version, names: check.manifest.segments?.names ?? [] });
  if (previous?.version === version)
    return { previous, pointer: previous, warning: check.contentProblem, unchanged: true, ...segments };
  const recorded = historyAfter(previous, history, version);
  if (recorded) await kv.put(kvKeys.modelHistory, JSON.stringify(recorded));
  await kv.put(kvKeys.activeModel, JSON.stringify(pointer));
  return { previous, pointer, warning: check.contentProblem, unchanged: false, ...segments };
}

/**
 * Where a rollback goes: the last version in the history other than the active one (entries equal to it, from an
 * activation whose pointer write failed, are skipped), at its place; none: nothing to roll back to (the dashboard
 * then shows no button).
 */
export function rollbackTarget(
  history: ModelHistory,
  active: string | null | undefined,
): { target: ActivePointer; at: number } | null {
  let at = history.length - 1;
  while (at >= 0 && history[at]?.version === active) at--;
  const target = history[at];
  return target ? { target, at } : null;
}

/**
 * Returns to the last version in the history other than the active one, after the same check. `to`: the version
 * the caller was shown as the one a rollback returns to (the dashboard's button): refused, nothing moved, when it is
 * no longer that one (pressed twice, or another move since), so a rollback never goes past what was offered.
 */
export async function rollback(kv: KvClient, now = new Date(), to?: string): Promise<Move> {
  const state = await kv.getTexts(STATE_KEYS);
  const [previous, history] = [pointerOf(state), historyOf(state)];
  const found = rollbackTarget(history, previous?.version);
  if (!found) throw new ModelsError("no earlier version in the history (model:history): activate one by name");
  const { target, at } = found;
  if (to !== undefined && target.version !== to)
    throw new ModelsError(
      `a rollback now returns to ${target.version} (active before ${previous?.version ?? "nothing"}), not ${to}: ` +
        "the models moved since; the pointer is unchanged",
    );
  const rest = history.slice(0, at);
  const { check } = await checkVersion(kv, target.version, await kv.getTexts(partKeys(target.version)));
  if (!check.ok)
    throw new ModelsError(
      `${target.version} (active before ${previous?.version ?? "nothing"}) refused: ${check.reason} (${check.detail}); ` +
        "the pointer is unchanged",
    );
  const pointer: ActivePointer = { version: target.version, activatedAt: now.toISOString() };
  const segments = await campaignSegments(kv, {
    version: target.version,
    names: check.manifest.segments?.names ?? [],
  });
  // the pointer before the history, unlike an activation: a history written first drops the target, so a rollback
  // whose pointer write then failed, tried again, would go one version further back than the one it named. A
  // history write that fails after the pointer leaves the target last in it, which rollbackTarget skips
  await kv.put(kvKeys.activeModel, JSON.stringify(pointer));
  await kv.put(kvKeys.modelHistory, JSON.stringify(rest));
  return { previous, pointer, warning: check.contentProblem, unchanged: false, ...segments };
}

/**
 * Campaigns and running experiments a move reads, at most (KV lists keys in order: past the cap, the campaigns
 * and experiments later in key order are not checked, and the answer says `complete: false`). With the version's
 * own parts and the state, a move stays well under a Worker's 1000 KV operations per invocation.
 */
export const MAX_CAMPAIGNS_CHECKED = 500;
export const MAX_EXPERIMENTS_CHECKED = 100;
/** Values read at once (KV's bulk get, which `npm run models` uses through wrangler, takes at most 100 keys). */
const READ_BATCH = 100;

/** What a move says of the campaigns' segment names (core/campaign-segments.ts). */
export interface CampaignSegmentsCheck {
  campaignSegmentsMissing: MissingSegment[];
  /** null: not checked (KV could not be read); the move is made all the same */
  campaignsChecked: { campaigns: number; experiments: number; complete: boolean } | null;
}

/**
 * The conditions of the stored campaigns and running experiments (their copies under `experiment-of:`) naming a
 * segment `model` lacks. Read before the pointer moves, and never a reason to refuse or fail the move: a read that
 * fails answers `campaignsChecked: null`. Each batch is checked as it is read, so no more than one batch of
 * campaigns is held at once. A campaign or experiment that does not parse serves the defaults (or nothing) and
 * tests no segment: skipped.
 */
export async function campaignSegments(
  kv: KvClient,
  model: { version: string; names: readonly string[] },
): Promise<CampaignSegmentsCheck> {
  try {
    const [campaignKeys, experimentKeys] = await Promise.all([
      kv.list(kvKeys.campaign(""), MAX_CAMPAIGNS_CHECKED + 1),
      kv.list(kvKeys.campaignExperiment(""), MAX_EXPERIMENTS_CHECKED + 1),
    ]);
    const keys = [...campaignKeys.slice(0, MAX_CAMPAIGNS_CHECKED), ...experimentKeys.slice(0, MAX_EXPERIMENTS_CHECKED)];
    const missing: MissingSegment[] = [];
    for (let i = 0; i < keys.length; i += READ_BATCH) {
      const texts = await kv.getTexts(keys.slice(i, i + READ_BATCH));
      const sources: CampaignSource[] = [];
      for (const [key, text] of texts) {
        const raw = json(text);
        if (raw === null) continue;
        if (key.startsWith(kvKeys.campaign(""))) {
          const parsed = parseCampaign(raw);
          if (parsed.success) sources.push(campaignSource(key.slice(kvKeys.campaign("").length), parsed.data));
        } else {
          // as opens read it: a copy that names another campaign serves none (worker/experiments/experiment-store.ts)
          const parsed = ExperimentSchema.safeParse(raw);
          const campaign = key.slice(kvKeys.campaignExperiment("").length);
          if (parsed.success && parsed.data.campaign === campaign) sources.push(...experimentSources(parsed.data));
        }
      }
      missing.push(...missingSegments(sources, model));
    }
    return {
      campaignSegmentsMissing: missing,
      campaignsChecked: {
        campaigns: Math.min(campaignKeys.length, MAX_CAMPAIGNS_CHECKED),
        experiments: Math.min(experimentKeys.length, MAX_EXPERIMENTS_CHECKED),
        complete: campaignKeys.length <= MAX_CAMPAIGNS_CHECKED && experimentKeys.length <= MAX_EXPERIMENTS_CHECKED,
      },
    };
  } catch {
    // the move goes on; the answer says nothing was checked (the CLI and the dashboard print that)
    return { campaignSegmentsMissing: [], campaignsChecked: null };
  }
}
