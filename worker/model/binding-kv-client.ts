/**
 * A Worker's KV binding as the KvClient model activation uses (core/model-versions.ts): the admin API's and the
 * dashboard's activate and rollback run the same checks and moves as `npm run models`.
 */
import type { KvClient } from "../../core/kv-client";

/** Keys listed per page (KV's maximum). */
const PAGE = 1000;

export function bindingKvClient(kv: KVNamespace): KvClient {
  return {
    async get(key) {
      const value = await kv.get(key, "arrayBuffer");
      return value === null ? null : new Uint8Array(value);
    },
    async getTexts(keys) {
      const values = await Promise.all(keys.map((k) => kv.get(k, "text")));
      return new Map(keys.map((k, i) => [k, values[i] ?? null]));
    },
    async put(key, value) {
      await kv.put(key, value);
    },
    async delete(keys) {
      for (const key of keys) await kv.delete(key);
    },
    async list(prefix, limit = Number.POSITIVE_INFINITY) {
      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await kv.list({ prefix, limit: Math.min(PAGE, limit - names.length), ...(cursor && { cursor }) });
        names.push(...page.keys.map((k) => k.name));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor && names.length < limit);
      return names;
    },
    async listWithMetadata(prefix) {
      const keys: { name: string; metadata: unknown }[] = [];
      let cursor: string | undefined;
      do {
        const page = await kv.list({ prefix, limit: PAGE, ...(cursor && { cursor }) });
        keys.push(...page.keys.map((k) => ({ name: k.name, metadata: k.metadata ?? null })));
        cursor = page.list_complete ? undefined : page.cursor;
      } while (cursor);
      return keys;
    },
  };
}
