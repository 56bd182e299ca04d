/**
 * Benchmark entry (used by `npm run bench` only; never deployed): the real app, plus two routes that
 * run N inferences on the same int8 model, through the ONNX session or the plain-TypeScript kernel.
 * Workers' clocks do not advance during CPU work, so the bench times these requests from outside.
 *   GET /bench/ort?iters=N   GET /bench/js?iters=N
 * and one that says how large ORT's wasm memory has grown (`{"wasm_bytes"}`, null before ORT starts):
 *   GET /bench/memory
 * Data: the active model's ONNX (KV) and `bench:*` keys (item-major int8 factors, scales, user vectors).
 */

import { type QuantizedItems, scoreInt8, topK } from "../../core/int8-kernel";
import { kvKeys } from "../../core/kv-keys";
import type { Bindings } from "../env";
import type { EventsMessage } from "../events/queue";
import app from "../index";
import { createScoringSession, ortWasmBytes, type ScoringSession } from "../ort/ort-runtime";

interface BenchData {
  session: ScoringSession;
  items: QuantizedItems;
  users: Float32Array[];
}

let data: Promise<BenchData> | null = null;

async function load(kv: KVNamespace): Promise<BenchData> {
  const pointer = (await kv.get(kvKeys.activeModel, "json")) as { version: string };
  const [onnx, q, scales, users, meta] = await Promise.all([
    kv.get(kvKeys.onnx(pointer.version), "arrayBuffer"),
    kv.get("bench:q", "arrayBuffer"),
    kv.get("bench:scales", "arrayBuffer"),
    kv.get("bench:users", "arrayBuffer"),
    kv.get("bench:meta", "json") as Promise<{ n: number; d: number } | null>,
  ]);
  if (!onnx || !q || !scales || !users || !meta) throw new Error("bench data missing in KV");
  const session = await createScoringSession(new Uint8Array(onnx));
  const u = new Float32Array(users);
  return {
    session,
    items: {
      n: meta.n,
      d: meta.d,
      q: new Int8Array(q),
      scales: new Float32Array(scales),
      bias: new Float32Array(meta.n),
    },
    users: Array.from({ length: u.length / meta.d }, (_, i) => u.slice(i * meta.d, (i + 1) * meta.d)),
  };
}

/**
 * The Durable Object writers (of campaigns, the live catalog, experiments, model moves and reader state), as the
 * Worker exports them.
 */
export { CampaignWriter, CatalogWriter, ExperimentRegistry, ModelMover, ReaderShard } from "../index";

export default {
  queue: app.queue,
  scheduled: app.scheduled,
  async fetch(req, env, ctx) {
    const url = new URL(req.url);
    if (!url.pathname.startsWith("/bench/")) return app.fetch(req, env, ctx);
    if (url.pathname === "/bench/memory") return Response.json({ wasm_bytes: ortWasmBytes() });
    data ??= load(env.OPENTIME_KV);
    const d = await data;
    const iters = Number(url.searchParams.get("iters") ?? "1");
    const k = Number(url.searchParams.get("k") ?? "10");
    let checksum = 0;
    for (let i = 0; i < iters; i++) {
      const user = d.users[i % d.users.length] as Float32Array;
      if (url.pathname === "/bench/ort") checksum += (await d.session.topK(user, k)).indices[0] ?? 0;
      else checksum += topK(scoreInt8(d.items, user), k).indices[0] ?? 0;
    }
    return Response.json({ iters, checksum });
  },
} satisfies ExportedHandler<Bindings, EventsMessage>;
