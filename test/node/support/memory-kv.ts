/** KV in memory for the model-version tests (core/model-versions.ts, model-deletion.ts), and a version to store. */
import type { KvClient } from "../../../core/kv-client";
import { kvKeys } from "../../../core/kv-keys";
import { tinyModel } from "./tiny-model";

/** `meta`, the keys' metadata; `reads`, every key whose value was read; `deletes`, each delete's keys in its order. */
export type MemoryKv = KvClient & {
  data: Map<string, Uint8Array>;
  meta: Map<string, unknown>;
  puts: string[];
  reads: string[];
  deletes: string[][];
};

export function memoryKv(): MemoryKv {
  const data = new Map<string, Uint8Array>();
  const meta = new Map<string, unknown>();
  const puts: string[] = [];
  const reads: string[] = [];
  const deletes: string[][] = [];
  return {
    data,
    meta,
    puts,
    reads,
    deletes,
    async get(key) {
      reads.push(key);
      return data.get(key) ?? null;
    },
    async getTexts(keys) {
      reads.push(...keys);
      return new Map(keys.map((k) => [k, data.has(k) ? new TextDecoder().decode(data.get(k)) : null]));
    },
    async put(key, value) {
      puts.push(key);
      data.set(key, typeof value === "string" ? new TextEncoder().encode(value) : value);
    },
    async delete(keys) {
      deletes.push([...keys]);
      for (const k of keys) {
        data.delete(k);
        meta.delete(k);
      }
    },
    async list(prefix, limit) {
      return [...data.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .slice(0, limit);
    },
    async listWithMetadata(prefix) {
      return [...data.keys()]
        .filter((k) => k.startsWith(prefix))
        .sort()
        .map((name) => ({ name, metadata: meta.get(name) ?? null }));
    },
  };
}

/** A small but schema-valid version (the ONNX bytes are opaque here: the check is their sha256). */
export function publish(
  kv: MemoryKv,
  version: string,
  opts: { createdAt?: string; segments?: string[]; undated?: boolean } = {},
) {
  const { manifest, catalog, onnx } = tinyModel(version, opts);
  // as `npm run seed` stores it (scripts/seed/kv-entries.ts); `undated`: as an earlier release did
  if (!opts.undated) kv.meta.set(kvKeys.manifest(version), { createdAt: manifest.createdAt });
  if (opts.segments)
    manifest.segments = {
      names: opts.segments,
      descriptions: opts.segments,
      onnxSha256: "0".repeat(64),
      onnxBytes: 1,
    };
  kv.data.set(kvKeys.manifest(version), new TextEncoder().encode(JSON.stringify(manifest)));
  kv.data.set(kvKeys.catalog(version), new TextEncoder().encode(JSON.stringify(catalog)));
  kv.data.set(kvKeys.onnx(version), onnx);
  return { manifest, catalog, onnx };
}
