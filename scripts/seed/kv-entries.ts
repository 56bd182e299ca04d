/** The KV entries that make a model live: manifest, ONNX, catalog, fallback items, profiles, active pointer. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToBase64 } from "../../core/base64";
import { type Catalog, CatalogSchema, type FallbackItems } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import { type ActivePointer, type ModelManifest, ModelManifestSchema } from "../../core/manifest";
import type { Profile } from "../../core/profile";

export interface KvEntry {
  key: string;
  value: string;
  base64?: boolean;
}

export interface ModelArtifacts {
  dir: string;
  manifest: ModelManifest;
  catalog: Catalog;
  onnx: Uint8Array;
}

export async function readModelArtifacts(dir: string): Promise<ModelArtifacts> {
  const manifest = ModelManifestSchema.parse(JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")));
  const catalog = CatalogSchema.parse(JSON.parse(await readFile(join(dir, "catalog.json"), "utf8")));
  const onnx = new Uint8Array(await readFile(join(dir, "model.onnx")));
  return { dir, manifest, catalog, onnx };
}

/** Model entries; the active pointer comes last so a model is complete before it goes live. */
export function modelEntries(a: ModelArtifacts, activate = true): KvEntry[] {
  const v = a.manifest.version;
  const fallback: FallbackItems = {
    items: a.catalog.popular.slice(0, 24).flatMap((i) => (a.catalog.items[i] ? [a.catalog.items[i]] : [])),
  };
  const pointer: ActivePointer = { version: v, activatedAt: new Date().toISOString() };
  return [
    { key: kvKeys.manifest(v), value: JSON.stringify(a.manifest) },
    { key: kvKeys.onnx(v), value: bytesToBase64(a.onnx), base64: true },
    { key: kvKeys.catalog(v), value: JSON.stringify(a.catalog) },
    { key: kvKeys.fallbackItems, value: JSON.stringify(fallback) },
    ...(activate ? [{ key: kvKeys.activeModel, value: JSON.stringify(pointer) }] : []),
  ];
}

export function profileEntries(profiles: readonly Profile[]): KvEntry[] {
  return profiles.map((p) => ({ key: kvKeys.profile(p.userId), value: JSON.stringify(p) }));
}
