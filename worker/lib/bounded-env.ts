/**
 * Bindings whose KV has deadlines (lib/kv-deadline.ts): the handlers' (worker/index.ts) and each Durable Object's,
 * made in its constructor so that every KV operation of the object goes through them. The same configuration as
 * the runtime's bindings (env.ts sameConfigAs: parsed, and its problems logged, once).
 */
import { type Bindings, sameConfigAs } from "../env";
import { type KvDeadlineOptions, type KvDeadlines, OBJECT_KV_DEADLINES, withKvDeadlines } from "./kv-deadline";

export function boundedEnv(env: Bindings, deadlines: KvDeadlines, options?: KvDeadlineOptions): Bindings {
  // a deploy without the KV binding (config.kv_binding_missing) still reaches its routes: their fallbacks, or a 503
  const kv = env.OPENTIME_KV && withKvDeadlines(env.OPENTIME_KV, deadlines, options);
  return sameConfigAs({ ...env, OPENTIME_KV: kv }, env);
}

/** A Durable Object's bindings: OBJECT_KV_DEADLINES (or a test's), its writes kept in order. */
export function objectEnv(env: Bindings, deadlines: KvDeadlines = OBJECT_KV_DEADLINES): Bindings {
  return boundedEnv(env, deadlines, { orderedWrites: true });
}
