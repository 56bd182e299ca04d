/**
 * The KV entries that make a model live: manifest, ONNX graphs, the ranker's neighbour table, catalog, fallback items, profiles, pointer.
 * Erased readers (their `erased:` tombstones, listed first) get no features and no profile. profiles.jsonl and
 * pools.jsonl are read a line at a time (scripts/lib/jsonl.ts): a million readers' file read as one string passes
 * Node's string length limit.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { bytesToBase64 } from "../../core/base64";
import { type Catalog, CatalogSchema, type FallbackItems } from "../../core/catalog";
import { erasureKey } from "../../core/erasure-key";
import type { KvClient } from "../../core/kv-client";
import { kvKeys } from "../../core/kv-keys";
import {
  type ActivePointer,
  checkModelVersion,
  type ModelHistory,
  type ModelManifest,
  ModelManifestSchema,
} from "../../core/manifest";
import { historyAfter, type ManifestKeyMetadata } from "../../core/model-versions";
import { featuresOf, type Profile, ProfileV3Schema } from "../../core/profile";
import { readLines } from "../lib/jsonl";

export interface KvEntry {
  key: string;
  value: string;
  base64?: boolean;
  /** seconds until KV expires the entry */
  expiration_ttl?: number;
  /** KV metadata, returned with the key by a listing (a manifest's: core/model-versions.ts ManifestKeyMetadata) */
  metadata?: Record<string, unknown>;
}

/** Model features of superseded versions expire on their own. */
export const FEATURES_TTL_SECONDS = 90 * 86400;

export interface ModelArtifacts {
  dir: string;
  manifest: ModelManifest;
  catalog: Catalog;
  onnx: Uint8Array;
  contentOnnx?: Uint8Array;
  /** the learned ranker's neighbour table */
  neighbours?: Uint8Array;
  segmentsOnnx?: Uint8Array;
  /** item-table.json as text */
  itemTable?: string;
}

export async function readModelArtifacts(dir: string): Promise<ModelArtifacts> {
  const manifestText = await readFile(join(dir, "manifest.json"), "utf8").catch((e: NodeJS.ErrnoException) => {
    // `--model` naming a directory `npm run train` did not write (a typo, the models/ folder itself)
    if (e.code === "ENOENT" || e.code === "ENOTDIR")
      throw new Error(
        `${dir} holds no trained model (no manifest.json): pass a directory npm run train wrote, models/<version> (ls models), or leave --model out for the latest`,
      );
    throw e;
  });
  const manifest = ModelManifestSchema.parse(JSON.parse(manifestText));
  const catalog = CatalogSchema.parse(JSON.parse(await readFile(join(dir, "catalog.json"), "utf8")));
  const bytes = async (f: string) =>
    existsSync(join(dir, f)) ? new Uint8Array(await readFile(join(dir, f))) : undefined;
  const onnx = await bytes("model.onnx");
  const contentOnnx = await bytes("content.onnx");
  // the Worker's own check of a version (a graph missing or not the manifest's, a catalog of other items), before
  // anything is written: published, such a version would be made active and then refused by every isolate; one
  // whose content graph is missing or not the manifest's would serve, but ALS alone (model.content_unavailable)
  const check = await checkModelVersion(manifest.version, {
    manifest,
    catalog,
    onnx: onnx ?? null,
    contentOnnx: manifest.content ? (contentOnnx ?? null) : undefined,
  });
  // what the Worker would make of it, and why
  const problem = !check.ok
    ? [`would refuse version ${manifest.version}`, `${check.reason}: ${check.detail}`]
    : check.contentProblem
      ? [`would serve version ${manifest.version} without its content graph, ALS alone`, check.contentProblem]
      : null;
  if (problem)
    throw new Error(
      `${dir}: the Worker ${problem[0]} (${problem[1]}), so nothing was written: pass a directory npm run train ` +
        "wrote whole (model.onnx and content.onnx beside its manifest.json), or train again",
    );
  return {
    dir,
    manifest,
    catalog,
    onnx: onnx as Uint8Array,
    contentOnnx,
    neighbours: await bytes("neighbours.bin"),
    segmentsOnnx: await bytes("segments.onnx"),
    itemTable: existsSync(join(dir, "item-table.json"))
      ? await readFile(join(dir, "item-table.json"), "utf8")
      : undefined,
  };
}

export async function readProfiles(dir: string): Promise<Profile[]> {
  const profiles: Profile[] = [];
  for await (const l of readLines(join(dir, "profiles.jsonl")))
    if (l.trim()) profiles.push(ProfileV3Schema.parse(JSON.parse(l)));
  return profiles;
}

/** Model entries; the active pointer comes last so a model is complete before it goes live. */
export function modelEntries(a: ModelArtifacts, activate = true): KvEntry[] {
  const v = a.manifest.version;
  // each item once: a version's check lets the popular list name an index twice
  const fallback: FallbackItems = {
    items: [...new Set(a.catalog.popular)]
      .slice(0, 24)
      .flatMap((i) => (a.catalog.items[i] ? [a.catalog.items[i]] : [])),
  };
  const pointer: ActivePointer = { version: v, activatedAt: new Date().toISOString() };
  const binary = (key: string, bytes: Uint8Array | undefined): KvEntry[] =>
    bytes ? [{ key, value: bytesToBase64(bytes), base64: true }] : [];
  return [
    {
      key: kvKeys.manifest(v),
      value: JSON.stringify(a.manifest),
      metadata: { createdAt: a.manifest.createdAt } satisfies ManifestKeyMetadata,
    },
    ...binary(kvKeys.onnx(v), a.onnx),
    ...binary(kvKeys.contentOnnx(v), a.contentOnnx),
    ...binary(kvKeys.neighbours(v), a.neighbours),
    ...binary(kvKeys.segmentsOnnx(v), a.segmentsOnnx),
    ...(a.itemTable ? [{ key: kvKeys.itemTable(v), value: a.itemTable }] : []),
    { key: kvKeys.catalog(v), value: JSON.stringify(a.catalog) },
    { key: kvKeys.fallbackItems, value: JSON.stringify(fallback) },
    ...(activate ? [{ key: kvKeys.activeModel, value: JSON.stringify(pointer) }] : []),
  ];
}

export function profileEntries(profiles: readonly Profile[]): KvEntry[] {
  return profiles.map((p) => ({ key: kvKeys.profile(p.userId), value: JSON.stringify(p) }));
}

/** The readers' pools the trainer wrote (pools.jsonl, a version with a ranker), by user id; none when absent. */
export async function readPools(dir: string): Promise<Map<string, string>> {
  const file = join(dir, "pools.jsonl");
  if (!existsSync(file)) return new Map();
  const line = z.object({ userId: z.string().min(1), pool: z.string() });
  const pools = new Map<string, string>();
  for await (const l of readLines(file)) {
    if (!l.trim()) continue;
    const { userId, pool } = line.parse(JSON.parse(l));
    pools.set(userId, pool);
  }
  return pools;
}

/**
 * The model outputs of each exported profile, with their pool when the trainer made one, under the version's own
 * keys (safe to write at any time).
 */
export function featureEntries(
  profiles: readonly Profile[],
  version: string,
  pools: ReadonlyMap<string, string> = new Map(),
): KvEntry[] {
  return profiles.map((p) => ({
    key: kvKeys.features(p.userId, version),
    value: JSON.stringify(featuresOf(p, version, pools.get(p.userId) ?? null)),
    expiration_ttl: FEATURES_TTL_SECONDS,
  }));
}

/** The tombstone keys of every erased reader in the namespace (core/erasure-key.ts). */
export async function erasedTombstones(kv: Pick<KvClient, "list">): Promise<Set<string>> {
  return new Set(await kv.list(kvKeys.erasure("")));
}

/** The profiles of readers who were not erased, and how many were left out. */
export async function withoutErased(
  profiles: readonly Profile[],
  tombstones: ReadonlySet<string>,
): Promise<{ kept: Profile[]; skipped: number }> {
  if (tombstones.size === 0) return { kept: [...profiles], skipped: 0 };
  const erased = await Promise.all(profiles.map(async (p) => tombstones.has(await erasureKey(p.userId))));
  const kept = profiles.filter((_, i) => !erased[i]);
  return { kept, skipped: profiles.length - kept.length };
}

/**
 * The keys written for readers erased while they were being written (`written`: allEntries' readers; a
 * tombstone in `after` that was not in `before`): their features of `version`, and their profile when profiles
 * were written. The seed deletes them.
 */
export async function keysOfErasedSince(
  written: readonly string[],
  before: ReadonlySet<string>,
  after: ReadonlySet<string>,
  version: string,
  withProfiles: boolean,
): Promise<string[]> {
  const fresh = new Set([...after].filter((t) => !before.has(t)));
  if (fresh.size === 0) return [];
  const erased = await Promise.all(written.map(async (user) => fresh.has(await erasureKey(user))));
  return written
    .filter((_, i) => erased[i])
    .flatMap((user) => [kvKeys.features(user, version), ...(withProfiles ? [kvKeys.profile(user)] : [])]);
}

/**
 * Everything for one model version, pointer last: model, graphs, catalog, every user's features, and
 * with `withProfiles` (a first load only) the profiles themselves. Without it, real-time state (consent,
 * history, seen events) is never touched, so publishing a retrained model is always safe. Readers whose
 * tombstone is in `tombstones` (erasedTombstones) are skipped: nothing of theirs is written again. `state`: the
 * pointer and history as stored now (core/model-versions.ts modelState): the version this one replaces is
 * recorded in `model:history` before the pointer, as every move of it is, so `npm run models -- rollback`
 * returns to it. `state` null: neither is written, the version is only stored (`npm run seed -- --url` then
 * asks the Worker to activate it).
 */
export async function allEntries(
  dir: string,
  withProfiles: boolean,
  tombstones: ReadonlySet<string> = new Set(),
  state: { pointer: ActivePointer | null; history: ModelHistory } | null = { pointer: null, history: [] },
): Promise<{
  artifacts: ModelArtifacts;
  entries: KvEntry[];
  /** the readers whose entries these are */
  written: string[];
  users: number;
  profiles: number;
  skipped: number;
}> {
  const artifacts = await readModelArtifacts(dir);
  const { kept, skipped } = await withoutErased(await readProfiles(dir), tombstones);
  const recorded = state && historyAfter(state.pointer, state.history, artifacts.manifest.version);
  const entries = [
    ...modelEntries(artifacts, false),
    ...featureEntries(kept, artifacts.manifest.version, await readPools(dir)),
    ...(withProfiles ? profileEntries(kept) : []),
    ...(recorded ? [{ key: kvKeys.modelHistory, value: JSON.stringify(recorded) }] : []),
    ...(state ? modelEntries(artifacts, true).slice(-1) : []),
  ];
  // before anything is written: a value KV refuses would leave the version half published
  checkKvLimits(entries);
  const written = kept.map((p) => p.userId);
  return { artifacts, entries, written, users: kept.length, profiles: withProfiles ? kept.length : 0, skipped };
}

/** Workers KV's limits on one entry: a value of at most 25 MiB, a key of at most 512 bytes. */
export const KV_MAX_VALUE_BYTES = 25 * 2 ** 20;
export const KV_MAX_KEY_BYTES = 512;

/** The bytes KV stores for an entry (a base64 entry's decoded bytes). */
export function entryBytes(e: KvEntry): number {
  return Buffer.byteLength(e.value, e.base64 ? "base64" : "utf8");
}

/** Throws, naming the entry and what to do, when one is larger than KV takes. */
export function checkKvLimits(entries: readonly KvEntry[]): void {
  for (const e of entries) {
    if (Buffer.byteLength(e.key, "utf8") > KV_MAX_KEY_BYTES)
      throw new Error(`the KV key ${JSON.stringify(e.key.slice(0, 80))}... is longer than ${KV_MAX_KEY_BYTES} bytes`);
    const bytes = entryBytes(e);
    if (bytes > KV_MAX_VALUE_BYTES)
      throw new Error(
        `${e.key} is ${(bytes / 2 ** 20).toFixed(1)} MiB; Workers KV takes at most 25 MiB a value, so nothing was ` +
          "written. A catalog that large: shorten its URLs (a relative image path, no query string) or drop the " +
          "items nobody bought from the training catalog.",
      );
  }
}
