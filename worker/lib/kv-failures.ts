/**
 * A KV namespace that keeps the first operation to fail. An open's ranking falls back when a read fails (the
 * reader's profile or tombstone unread: generic content, their facts unknown), which is right for an email and
 * wrong for an admin batch: `npm run email` would bake a buyer's subject line decided as a stranger's into the
 * send. Such a route reads through `kv`, and before answering throws `failure()` when there is one: the one error
 * handler answers 503 KV_UNAVAILABLE (with Retry-After) for a passing failure, 500 for our own.
 */
const OPS = new Set(["get", "getWithMetadata", "list", "put", "delete"]);

export interface NotedKv {
  kv: KVNamespace;
  /** the first error an operation rejected with, null while none has */
  failure(): unknown;
}

export function noteKvFailures(real: KVNamespace): NotedKv {
  let first: unknown = null;
  const kv = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (typeof prop !== "string" || !OPS.has(prop)) return value.bind(target);
      return (...args: unknown[]) =>
        (value as (...a: unknown[]) => Promise<unknown>).apply(target, args).catch((err: unknown) => {
          first ??= err;
          throw err;
        });
    },
  });
  return { kv, failure: () => first };
}
