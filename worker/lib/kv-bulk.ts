/**
 * Bulk reads of Workers KV: one `get` of up to BULK_KEYS keys is one KV operation (a Worker invocation may make
 * 1,000), where a get per key would be one each. Used where many readers are read at once (a shard's first
 * touch of new readers, the dead letters' tombstones).
 */

/** Workers KV reads at most 100 keys in one get. */
export const BULK_KEYS = 100;

/** The text values of `keys` (null where absent), read in parallel bulk gets of up to BULK_KEYS. Throws when KV does. */
export async function bulkGetText(kv: KVNamespace, keys: readonly string[]): Promise<Map<string, string | null>> {
  const chunks: string[][] = [];
  for (let i = 0; i < keys.length; i += BULK_KEYS) chunks.push(keys.slice(i, i + BULK_KEYS));
  const values = new Map<string, string | null>();
  for (const read of await Promise.all(chunks.map((chunk) => kv.get(chunk, "text"))))
    for (const [k, v] of read) values.set(k, v ?? null);
  return values;
}
