/**
 * What model activation (core/model-versions.ts) and seeding need of a KV namespace, whoever provides it: the
 * `wrangler kv` CLI (scripts/seed/wrangler-kv.ts) or a Worker's binding (worker/model/binding-kv-client.ts).
 */
export interface KvClient {
  /** the value's bytes, or null when the key is absent */
  get(key: string): Promise<Uint8Array | null>;
  /** several text values at once (null when absent) */
  getTexts(keys: readonly string[]): Promise<Map<string, string | null>>;
  put(key: string, value: string | Uint8Array): Promise<void>;
  /** deletes `keys` (an absent one is no error) */
  delete(keys: readonly string[]): Promise<void>;
  /** the key names starting with `prefix`, in key order: every one, or the first `limit` */
  list(prefix: string, limit?: number): Promise<string[]>;
  /** every key name starting with `prefix`, in key order, with the metadata it was written with (null: none) */
  listWithMetadata(prefix: string): Promise<{ name: string; metadata: unknown }[]>;
}
