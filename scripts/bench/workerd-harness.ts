/**
 * Runs the bundled bench entry in workerd through Miniflare (from Node), with KV persisted in a folder
 * so that a fresh isolate (a new Miniflare) can be started on the same data for cold measurements.
 * Modules are listed explicitly: Miniflare's auto-discovery trips on ORT's dynamic import(url).
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { unstable_readConfig } from "wrangler";
import { base64ToBytes } from "../../core/base64";
import type { KvEntry } from "../seed/kv-entries";

export const BENCH_BUNDLE = "build/bench-bundle";
export const BENCH_SENDER = "bench@opentime.example";
export const BENCH_SECRET = "bench-secret-not-for-production-0123456789";
export const BENCH_EVENTS_KEY = "bench-events-key-0123456789abcdef";
export const BENCH_ADMIN_KEY = "bench-admin-key-0123456789abcdefg";

export function bundleBenchWorker(): void {
  const res = spawnSync(
    "npx",
    ["wrangler", "deploy", "worker/bench/bench-entry.ts", "--dry-run", "--outdir", BENCH_BUNDLE],
    {
      encoding: "utf8",
    },
  );
  if (res.status !== 0) throw new Error(`bundling the bench worker failed:\n${res.stderr || res.stdout}`);
}

/** The bundle's modules by file type, as wrangler's rules made them (wasm compiled, fonts as bytes, templates as text). */
function bundleModules(): { type: "ESModule" | "CompiledWasm" | "Data" | "Text"; path: string }[] {
  const files = readdirSync(BENCH_BUNDLE);
  if (!files.some((f) => f.endsWith(".wasm"))) throw new Error(`no wasm module in ${BENCH_BUNDLE}`);
  const typeOf = (f: string) =>
    f.endsWith(".wasm") ? "CompiledWasm" : f.endsWith(".ttf") ? "Data" : /\.(html|txt)$/.test(f) ? "Text" : null;
  return [
    { type: "ESModule", path: join(BENCH_BUNDLE, "bench-entry.js") },
    ...files.flatMap((f) => {
      const type = typeOf(f);
      return type ? [{ type, path: join(BENCH_BUNDLE, f) } as const] : [];
    }),
  ];
}

/** The events queue's consumer settings as wrangler.toml has them (what `wrangler dev` and a deployment use). */
function eventsConsumer(): { maxBatchSize?: number; maxBatchTimeout?: number; maxRetries?: number } {
  const consumer = unstable_readConfig({
    config: new URL("../../wrangler.toml", import.meta.url).pathname,
  }).queues.consumers?.find((c: { queue: string }) => c.queue === "opentime-events");
  if (!consumer) throw new Error("wrangler.toml has no consumer of opentime-events");
  return {
    maxBatchSize: consumer.max_batch_size,
    maxBatchTimeout: consumer.max_batch_timeout,
    maxRetries: consumer.max_retries,
  };
}

export function startWorkerd(
  persistDir: string,
  opts: {
    port?: number;
    bindings?: Record<string, string>;
    consumer?: boolean;
    /** answers the Worker's outbound fetches (a stand-in CDN); without it they go to the network */
    outbound?: (req: Request) => Response | Promise<Response>;
    /** V8's inspector on this port (scripts/bench/isolate-heap.ts) */
    inspectorPort?: number;
  } = {},
): Miniflare {
  return new Miniflare({
    modulesRoot: BENCH_BUNDLE,
    modules: bundleModules(),
    compatibilityDate: "2026-04-26",
    compatibilityFlags: ["nodejs_compat"],
    kvNamespaces: { OPENTIME_KV: "bench" },
    // the writers of reader state, the live catalog, experiments and model moves (worker/state/), SQLite-backed as in wrangler.toml
    durableObjects: {
      READERS: { className: "ReaderShard", useSQLite: true },
      CATALOG: { className: "CatalogWriter", useSQLite: true },
      EXPERIMENT_REGISTRY: { className: "ExperimentRegistry", useSQLite: true },
      MODEL_MOVER: { className: "ModelMover", useSQLite: true },
      CAMPAIGN_WRITER: { className: "CampaignWriter", useSQLite: true },
    },
    durableObjectsPersist: persistDir,
    // the experiment store (worker/experiments/experiment-db.ts), as wrangler.toml binds it
    d1Databases: { DB: "opentime-local-dev" },
    d1Persist: persistDir,
    queueProducers: { EVENTS: { queueName: "opentime-events" } },
    // without the consumer, queued events wait (the image bench measures the request path alone)
    ...(opts.consumer === false ? {} : { queueConsumers: { "opentime-events": eventsConsumer() } }),
    kvPersist: persistDir,
    ...(opts.outbound ? { outboundService: opts.outbound as never } : {}),
    ...(opts.port !== undefined ? { host: "127.0.0.1", port: opts.port } : {}),
    ...(opts.inspectorPort !== undefined ? { inspectorPort: opts.inspectorPort } : {}),
    bindings: {
      TOKEN_SECRET: BENCH_SECRET,
      AMP_ALLOWED_SENDERS: BENCH_SENDER,
      EXCLUDE_PURCHASED_DAYS: "30",
      MODEL_REFRESH_SECONDS: "3600",
      EVENTS_API_KEYS: BENCH_EVENTS_KEY,
      ADMIN_API_KEYS: BENCH_ADMIN_KEY,
      ...opts.bindings,
    },
  });
}

export async function putEntries(mf: Miniflare, entries: readonly KvEntry[]): Promise<void> {
  const kv = await mf.getKVNamespace("OPENTIME_KV");
  for (let i = 0; i < entries.length; i += 64) {
    await Promise.all(entries.slice(i, i + 64).map((e) => kv.put(e.key, e.base64 ? base64ToBytes(e.value) : e.value)));
  }
}

/** Writes `entries` into the KV folder through a workerd started (and stopped) for that alone. */
export async function seedKv(persistDir: string, entries: readonly KvEntry[]): Promise<void> {
  const mf = startWorkerd(persistDir);
  await mf.ready;
  try {
    await putEntries(mf, entries);
  } finally {
    await mf.dispose();
  }
}

/** Wall time of one request, in ms; the body is read so the whole response is counted. */
export async function timedFetch(mf: Miniflare, path: string, headers: Record<string, string> = {}) {
  const t0 = performance.now();
  const res = await mf.dispatchFetch(`http://localhost${path}`, { headers });
  const body = await res.text();
  return {
    ms: performance.now() - t0,
    status: res.status,
    reason: res.headers.get("X-Opentime-Reason"),
    scorer: res.headers.get("X-Opentime-Scorer"),
    /** `pool` or `catalog` (ranker and hybrid answers) */
    ranking: res.headers.get("X-Opentime-Ranking"),
    /** `<experiment>:<arm>` when an experiment's arm served the answer */
    experiment: res.headers.get("X-Opentime-Experiment"),
    /** the Worker's own `Server-Timing` (amp-list: `score`, `total`), raw */
    serverTiming: res.headers.get("Server-Timing"),
    body,
  };
}
