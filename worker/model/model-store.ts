/**
 * Loads the serving model once per isolate: the `model:active` pointer names a version; its manifest,
 * ONNX bytes (checked against the manifest's sha256) and catalog are read from KV and an ORT session is
 * created. The pointer is re-read at most every `modelRefreshSeconds`, so a KV write switches models
 * without a redeploy. A version that fails to load never replaces a working one: the isolate keeps
 * serving its last good model (the state names the rejected version and why, and a log line says so) and
 * retries the pointer's version at the next refresh; a fresh isolate takes the version active before
 * (`model:history`, written by `npm run models`) as its last good one. While a new version loads, requests
 * wait for it at most SWITCH_WAIT_MS, then get the last good model. A replaced model's sessions are
 * released once, after a grace period and after their runs in flight; a session whose runs keep failing
 * trips and is rebuilt at the next refresh. Without any good model, failures are reported as reasons and
 * whatever could be loaded (the catalog) still serves fallbacks.
 *
 * A load is shared by the isolate's requests, but its KV reads belong to the request that started it: once that
 * request is answered (after SWITCH_WAIT_MS at most) the runtime would cancel them, and the shared load would
 * never settle for anyone. So the starting request hands the load to its `waitUntil`, which keeps its context
 * alive until the load ends (the platform allows 30 s after the response); a load or check still pending after
 * LOAD_STALE_MS is no longer waited on.
 */
import type { Catalog, FallbackItems } from "../../core/catalog";
import { FallbackItemsSchema } from "../../core/catalog";
import { decodeItemTable, type FoldInTables, type ItemTable } from "../../core/fold-in";
import { neighboursWeight } from "../../core/hybrid";
import { kvKeys } from "../../core/kv-keys";
import {
  ActivePointerSchema,
  checkModelVersion,
  type ModelHistory,
  ModelHistorySchema,
  type ModelManifest,
  type RankerManifest,
  RankerManifestSchema,
  RankerNeighboursSchema,
  sha256Hex,
} from "../../core/manifest";
import { decodeNeighbours, type NeighbourTable } from "../../core/neighbour-table";
import { RANKER_FEATURES, type RankerItemStats, type RankerMode } from "../../core/ranker";
import type { ModelFailureReason } from "../../core/reasons";
import { type CompiledEnsemble, compileEnsemble, isWellFormed } from "../../core/tree-ensemble";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import { createScoringSession } from "../ort/ort-runtime";
import { type GuardedSession, guardSession } from "./session-guard";

export interface LoadedModel {
  manifest: ModelManifest;
  catalog: Catalog;
  session: GuardedSession;
  /** the content (LSA) graph, when the model has one */
  content: GuardedSession | null;
  /** item factors and Gram matrix for folding new behaviour into a user vector, when exported */
  foldIn: FoldInTables | null;
  /** the learned ranker (its trees), when the version has one that checks out and a hybrid to start from */
  ranker: LoadedRanker | null;
  /**
   * EASE's neighbour table (`model:<v>:neighbours`), loaded when the ranker serves or the hybrid weighs the neighbour
   * sum; the ranker is loaded only with it. A hybrid that weighs the sum serves without that term when it is missing.
   */
  neighbours: NeighbourTable | null;
  itemIndex: Map<string, number>;
}

export interface LoadedRanker {
  /** the trees of the modes it serves (chosen on validation), laid out for scoring once at load */
  models: Partial<Record<RankerMode, CompiledEnsemble>>;
  /** the hybrid's item statistics with the ranker's beside them */
  stats: RankerItemStats;
}

/**
 * Why no model serves: core/reasons.ts MODEL_FAILURES, the closed list the README's reasons table holds
 * (`model-loading`: an open's wait for a model this isolate does not have yet ran out, forOpen).
 */
export type ModelFailure = ModelFailureReason;

export type ModelState =
  | {
      ok: true;
      model: LoadedModel;
      /** set when the pointer names another version that failed to load: this is the last good model */
      rejected?: { version: string | null; reason: ModelFailure };
    }
  | { ok: false; reason: ModelFailure; version?: string; catalog?: Catalog };

type LoadResult = { ok: true; model: LoadedModel } | Extract<ModelState, { ok: false }>;

/** How long a replaced model stays unreleased: requests that were handed it finish with it. */
export const RELEASE_GRACE_MS = 60_000;

/**
 * With a good model, how long a request waits for a newly pointed-to version to load before it is served
 * the good one (the load goes on; slow or hanging model reads never hold up email requests for longer).
 */
export const SWITCH_WAIT_MS = 1_000;
/**
 * A load or pointer check pending for longer than this is no longer shared (the request that started it may have
 * been cancelled; `waitUntil` keeps a context 30 s past its response at most): the next request starts anew.
 */
export const LOAD_STALE_MS = 30_000;

/**
 * How long an email open waits for a model this isolate does not have yet (a fresh isolate's first load, a
 * campaign's pinned version) before it is served without it: popular items (`model-loading`), or the active model
 * for a pinned version. The load goes on for the opens after it. A healthy cold load measured 1.0-1.6 s at 100k
 * items with the ranker (README, Performance); the model files' read deadline is 10 s, and a fresh isolate whose
 * version fails goes on to the one in `model:history`, so without this an open could wait 20 s and more.
 */
export const OPEN_MODEL_WAIT_MS = 3_000;

/** `state` for an email open: what it settles to within OPEN_MODEL_WAIT_MS, else `model-loading`. */
export function forOpen(state: Promise<ModelState>): Promise<ModelState> {
  return within(state, OPEN_MODEL_WAIT_MS, (): ModelState => ({ ok: false, reason: "model-loading" }));
}

interface CacheEntry {
  checkedAt: number;
  /** when its check began (never moved: a pending one is dead LOAD_STALE_MS after it) */
  startedAt: number;
  state: Promise<ModelState>;
  settled: boolean;
}

/** what the last pointer check decided to serve */
let cache: CacheEntry | null = null;
/** the last model of this isolate that loaded (and still serves, unless a newer one loaded since) */
let good: { version: string; model: LoadedModel } | null = null;
/** the version the pointer named at the last check */
let wanted: string | null = null;
/** the load in progress, shared by concurrent requests */
let loading: {
  version: string;
  startedAt: number;
  result: Promise<LoadResult>;
  /** whether a fall back to model:history asked for it (a fresh isolate's last good model when it loads) */
  asked: { fallback: boolean };
} | null = null;
/**
 * replaced models' sessions, released after the grace period. Only the sessions and the version are kept: the
 * model's catalog, tables and trees (tens of MB at 100k items) are garbage as soon as the requests handed the model
 * are done, instead of living on beside the new model for the whole grace period.
 */
let retired: { version: string; sessions: GuardedSession[]; at: number }[] = [];

/** Forgets the loaded model (tests, and the bench's cold runs); its sessions are released. */
export function resetModelCache(): void {
  if (good) retire(good.model, Number.NEGATIVE_INFINITY);
  releaseRetired(Number.POSITIVE_INFINITY);
  cache = null;
  good = null;
  wanted = null;
  loading = null;
}

/**
 * The model to serve. `waitUntil` is the asking request's: a load this request starts is handed to it, so that it
 * finishes for every request that shares it.
 */
export async function getModel(
  kv: KVNamespace,
  refreshSeconds: number,
  now: number,
  waitUntil: WaitUntil,
): Promise<ModelState> {
  releaseRetired(now);
  // a check still pending past LOAD_STALE_MS is never waited on again: this request checks anew
  const alive = (entry: CacheEntry) => entry.settled || now - entry.startedAt < LOAD_STALE_MS;
  if (cache && now - cache.checkedAt < refreshSeconds * 1000 && alive(cache))
    return cache.settled ? cache.state : orGood(cache.state);
  let version: string | null;
  try {
    const raw = await kv.get(kvKeys.activeModel, "json");
    const parsed = ActivePointerSchema.safeParse(raw);
    version = parsed.success ? parsed.data.version : null;
    if (raw !== null && !parsed.success) logEvent("error", "model.pointer_invalid", { detail: "fails the schema" });
  } catch (e) {
    logEvent("error", "model.pointer_read_failed", { detail: errorMessage(e) });
    // keep serving what this isolate already has, and ask KV again only at the next refresh (during an outage
    // every request would otherwise wait for the read's deadline first)
    // a check still pending past LOAD_STALE_MS is dead (its request gone): never made fresh again, so the next
    // request that reads the pointer replaces it
    if (cache && alive(cache)) {
      cache.checkedAt = now;
      return cache.settled ? cache.state : orGood(cache.state);
    }
    if (good) return { ok: true, model: good.model };
    return { ok: false, reason: "kv-error" };
  }
  wanted = version;
  if (good && version === good.version && !isTripped(good.model)) {
    cache = { checkedAt: now, startedAt: now, state: Promise.resolve({ ok: true, model: good.model }), settled: true };
    return cache.state;
  }
  if (good && version === good.version)
    logEvent("error", "model.session_tripped", { version, detail: "rebuilding the sessions" });
  const result = version === null ? Promise.resolve(fail("model-pointer-missing")) : load(kv, version, now);
  const state = result.then(async (r): Promise<ModelState> => {
    if (r.ok) return r;
    // a fresh isolate has no model of its own yet: the version active before (model:history) is the last good one
    const from = good ? "isolate" : "history";
    if (!good) await loadPrevious(kv, version, now);
    if (!good) return r;
    logEvent("error", "model.kept_last_good", { version: good.version, from, rejected: version, reason: r.reason });
    return { ok: true, model: good.model, rejected: { version, reason: r.reason } };
  });
  const entry: CacheEntry = { checkedAt: now, startedAt: now, state, settled: false };
  void state.then(() => {
    entry.settled = true;
  });
  cache = entry;
  // the load's reads are this request's: it stays alive until they are done, however soon it is answered
  waitUntil(state);
  return orGood(state);
}

/** `state`, or the last good model if `state` takes longer than SWITCH_WAIT_MS (without one: `state`). */
function orGood(state: Promise<ModelState>): Promise<ModelState> {
  const fallback = good;
  if (!fallback) return state;
  return within(state, SWITCH_WAIT_MS, (): ModelState => ({ ok: true, model: fallback.model }));
}

/** Loads the newest version in `model:history` other than `rejected` (once: a failure is not chased further). */
async function loadPrevious(kv: KVNamespace, rejected: string | null, now: number): Promise<void> {
  let history: ModelHistory;
  try {
    const parsed = ModelHistorySchema.safeParse(await kv.get(kvKeys.modelHistory, "json"));
    history = parsed.success ? parsed.data : [];
  } catch (e) {
    logEvent("error", "model.history_read_failed", { detail: errorMessage(e) });
    return;
  }
  const previous = history.filter((h) => h.version !== rejected).at(-1);
  if (previous) await load(kv, previous.version, now, true);
}

/** Whether a model's sessions tripped (session-guard.ts): it is loaded again, never served broken for good. */
export function isTripped(model: LoadedModel): boolean {
  return model.session.tripped || model.content?.tripped === true;
}

/**
 * Loads a version once however many requests ask; a good result of the wanted version (or a `fallback`
 * while there is no good model) replaces, and retires, the last good model.
 */
function load(kv: KVNamespace, version: string, now: number, fallback = false): Promise<LoadResult> {
  if (loading?.version === version && now - loading.startedAt < LOAD_STALE_MS) {
    // a fallback that joins the version's pending load (started while it was the pointer's) is one when it ends
    loading.asked.fallback ||= fallback;
    return loading.result;
  }
  const asked = { fallback };
  const result = loadVersion(kv, version).then((r) => {
    if (!r.ok) return r;
    const at = Math.max(now, Date.now());
    // a slow load that the pointer has moved past since serves only the requests that waited for it
    if (version !== wanted && !(asked.fallback && !good)) retire(r.model, at);
    else {
      if (good && good.model !== r.model) retire(good.model, at);
      good = { version, model: r.model };
    }
    return r;
  });
  const entry = { version, startedAt: now, result, asked };
  loading = entry;
  void result.finally(() => {
    if (loading === entry) loading = null;
  });
  return result;
}

/** Releases a model's sessions once the grace period has passed (requests handed it finish with it). */
export function retire(model: LoadedModel, at: number): void {
  const sessions = [model.session, model.content].filter((s): s is GuardedSession => s !== null);
  retired.push({ version: model.manifest.version, sessions, at });
}

function releaseRetired(now: number): void {
  if (retired.length === 0) return;
  const due = retired.filter((r) => now - r.at >= RELEASE_GRACE_MS);
  if (due.length === 0) return;
  retired = retired.filter((r) => now - r.at < RELEASE_GRACE_MS);
  for (const { version, sessions } of due) {
    for (const s of sessions)
      s.release().catch((e) => logEvent("error", "model.release_failed", { detail: errorMessage(e) }));
    logEvent("info", "model.released", { version });
  }
}

function fail(reason: ModelFailure, version?: string, catalog?: Catalog, detail?: string): LoadResult {
  logEvent("error", "model.load_failed", { reason, version, detail });
  return { ok: false, reason, version, catalog };
}

/** Loads and checks one version's parts and builds its sessions (no cache: getModel and pinned-model.ts keep them). */
export async function loadVersion(kv: KVNamespace, version: string): Promise<LoadResult> {
  let manifestText: string | null;
  let catalogText: string | null;
  let onnx: ArrayBuffer | null;
  let contentOnnx: ArrayBuffer | null;
  let itemTableText: string | null;
  try {
    // read as text: a part that is not JSON is that part's failure (its check's reason), not KV's
    [manifestText, catalogText, onnx, contentOnnx, itemTableText] = await Promise.all([
      kv.get(kvKeys.manifest(version), "text"),
      kv.get(kvKeys.catalog(version), "text"),
      kv.get(kvKeys.onnx(version), "arrayBuffer"),
      kv.get(kvKeys.contentOnnx(version), "arrayBuffer"),
      kv.get(kvKeys.itemTable(version), "text"),
    ]);
  } catch (e) {
    return fail("kv-error", version, undefined, errorMessage(e));
  }
  const check = await checkModelVersion(version, {
    manifest: storedJson(manifestText),
    catalog: storedJson(catalogText),
    onnx,
    contentOnnx,
  });
  if (!check.ok) return fail(check.reason, version, check.catalog, check.detail);
  const { manifest, catalog } = check;
  let session: GuardedSession;
  try {
    session = guardSession(await createScoringSession(new Uint8Array(onnx as ArrayBuffer)));
  } catch (e) {
    return fail("model-corrupt", version, catalog, errorMessage(e));
  }
  // the content graph is optional: without it (or if it is damaged) the model serves ALS alone
  let content: GuardedSession | null = null;
  if (check.contentProblem) logEvent("error", "model.content_unavailable", { version, detail: check.contentProblem });
  else if (manifest.content && contentOnnx) {
    content = await createScoringSession(new Uint8Array(contentOnnx)).then(guardSession, (e) => {
      logEvent("error", "model.content_unavailable", { version, detail: errorMessage(e) });
      return null;
    });
  }
  let foldIn: FoldInTables | null = null;
  if (manifest.foldIn) {
    try {
      // a manifest with fold-in and no item table (a publication cut short) serves without it, and says so
      if (itemTableText === null) throw new Error("no item table");
      foldIn = decodeItemTable(JSON.parse(itemTableText) as ItemTable);
      if (foldIn.items.n !== manifest.itemCount || foldIn.items.d !== manifest.dims)
        throw new Error("item table does not match the manifest");
    } catch (e) {
      foldIn = null;
      logEvent("error", "model.fold_in_unavailable", { version, detail: errorMessage(e) });
    }
  }
  const { ranker, neighbours } = content ? await loadRanker(kv, manifest) : { ranker: null, neighbours: null };
  logEvent("info", "model.loaded", {
    version,
    items: manifest.itemCount,
    dims: manifest.dims,
    content: content !== null,
    foldIn: foldIn !== null,
    ranker: ranker !== null,
    neighbours: neighbours !== null,
  });
  return {
    ok: true,
    model: {
      manifest,
      catalog,
      session,
      content,
      foldIn,
      ranker,
      neighbours,
      itemIndex: new Map(manifest.itemIds.map((id, i) => [id, i])),
    },
  };
}

/**
 * A stored JSON part: parsed, or its text when it is not JSON (a damaged write), which the version's check refuses
 * as that part's failure (as `npm run models -- activate` reads it: core/model-versions.ts).
 */
function storedJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * The ranker is optional like the content graph: a version whose `ranker` entry is malformed, whose neighbour
 * table is missing, damaged or unreadable, or whose trees are malformed or were trained on other features, serves
 * its hybrid. A ranker that serves neither mode is not loaded. The neighbour table is loaded when the ranker serves or
 * the hybrid weighs the neighbour sum (without it such a hybrid serves without that term). Whatever is missing is
 * said in one log line: `model.ranker_unavailable` when a ranker chosen for a mode cannot serve, else
 * `model.neighbours_unavailable`.
 */
async function loadRanker(
  kv: KVNamespace,
  manifest: ModelManifest,
): Promise<{ ranker: LoadedRanker | null; neighbours: NeighbourTable | null }> {
  const h = manifest.hybrid;
  if (!h) return { ranker: null, neighbours: null };
  const hybridNeeds = neighboursWeight(h.all) !== 0 || neighboursWeight(h.novel) !== 0;
  const trees = manifest.ranker === undefined ? null : servingTrees(manifest.ranker, manifest.itemCount);
  const table =
    hybridNeeds || (trees && "models" in trees) ? await loadNeighbours(kv, manifest) : { problem: null, table: null };
  const neighbours = table.table;
  const ranker =
    trees && "models" in trees && neighbours
      ? { models: trees.models, stats: { ...h.itemStats, ...trees.stats } }
      : null;
  const problems = [trees && "problem" in trees ? trees.problem : null, table.problem].filter((p) => p !== null);
  if (problems.length > 0)
    logEvent("error", trees && !ranker ? "model.ranker_unavailable" : "model.neighbours_unavailable", {
      version: manifest.version,
      detail: problems.join("; "),
      hybrid: hybridNeeds && !neighbours ? "serves without its neighbour sums" : "unaffected",
    });
  return { ranker, neighbours };
}

/**
 * The trees of the modes the ranker serves, compiled, with the item statistics they read; null when it serves
 * neither mode, or what is wrong with them.
 */
function servingTrees(
  entry: unknown,
  itemCount: number,
): { models: LoadedRanker["models"]; stats: RankerManifest["itemStats"] } | { problem: string } | null {
  const parsed = RankerManifestSchema.safeParse(entry);
  if (!parsed.success) return { problem: "the manifest's ranker entry fails its schema" };
  const r = parsed.data;
  if (r.chosen.all !== "ranker" && r.chosen.novel !== "ranker") return null;
  if (Object.values(r.itemStats).some((a) => a.length !== itemCount))
    return { problem: "item statistics of another item count" };
  const features = [...RANKER_FEATURES] as string[];
  for (const m of [r.all, r.novel]) {
    if (m.features.length !== features.length || m.features.some((f, i) => f !== features[i]))
      return { problem: "trees trained on other features" };
    if (!isWellFormed(m)) return { problem: "malformed trees" };
  }
  try {
    const models: LoadedRanker["models"] = {};
    for (const mode of ["all", "novel"] as const)
      if (r.chosen[mode] === "ranker") models[mode] = compileEnsemble(r[mode]);
    return { models, stats: r.itemStats };
  } catch (e) {
    return { problem: errorMessage(e) };
  }
}

/**
 * The version's neighbour table (`model:<v>:neighbours`), checked against the manifest's reference to it, which is
 * read apart from the rest of the ranker's entry: trees this Worker cannot serve do not cost the hybrid its sums.
 */
async function loadNeighbours(
  kv: KVNamespace,
  manifest: ModelManifest,
): Promise<{ table: NeighbourTable; problem: null } | { table: null; problem: string }> {
  const fail = (problem: string) => ({ table: null, problem });
  const ref = RankerNeighboursSchema.safeParse(manifest.ranker);
  if (!ref.success) return fail("no neighbour table in the manifest");
  const { k, bytes: size, sha256 } = ref.data.neighbours;
  let bytes: ArrayBuffer | null;
  try {
    bytes = await kv.get(kvKeys.neighbours(manifest.version), "arrayBuffer");
  } catch (e) {
    return fail(`neighbour table unreadable: ${errorMessage(e)}`);
  }
  if (!bytes) return fail("no neighbour table");
  if (bytes.byteLength !== size || (await sha256Hex(bytes)) !== sha256)
    return fail("neighbour table does not match the manifest");
  try {
    return { table: decodeNeighbours(bytes, manifest.itemCount, k), problem: null };
  } catch (e) {
    return fail(errorMessage(e));
  }
}

/** Last-resort generic content, independent of any model version. */
export async function getFallbackItems(kv: KVNamespace): Promise<FallbackItems | null> {
  try {
    const parsed = FallbackItemsSchema.safeParse(await kv.get(kvKeys.fallbackItems, { type: "json", cacheTtl: 300 }));
    // each item once, as the schema reads them (core/catalog.ts)
    return parsed.success ? parsed.data : null;
  } catch (e) {
    logEvent("error", "fallback.read_failed", { detail: errorMessage(e) });
    return null;
  }
}
