/**
 * onnxruntime-web inside workerd. Workers forbid compiling wasm from bytes at run time, so ORT is handed
 * the module wrangler precompiled at build time (the CompiledWasm rule for `*.wasm`): ORT is given an
 * 8-byte marker as `wasmBinary`, and `WebAssembly.instantiate(marker)` is redirected to that module.
 * Single-threaded, no proxy worker. Sessions are created once per isolate by the model store, which wraps
 * each in worker/model/session-guard.ts (runs in flight counted, released once, tripped after repeated
 * failures).
 */

import ortWasm from "onnxruntime-web/ort-wasm-simd-threaded.wasm";
import * as ort from "onnxruntime-web/wasm";

const MARKER = new TextEncoder().encode("ORT-SHIM");

function isMarker(src: unknown): boolean {
  if (!ArrayBuffer.isView(src) || src.byteLength !== MARKER.length) return false;
  const bytes = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  return bytes.every((b, i) => b === MARKER[i]);
}

let installed = false;
/** ORT's wasm memory, once its module is instantiated (exported or imported, as the build has it) */
let wasmMemory: WebAssembly.Memory | null = null;

/** ORT's wasm memory in bytes (it only grows: the most it has held), or null before ORT starts. */
export function ortWasmBytes(): number | null {
  return wasmMemory?.buffer.byteLength ?? null;
}

function findMemory(instance: WebAssembly.Instance, imports?: WebAssembly.Imports): WebAssembly.Memory | null {
  const candidates = [
    ...Object.values(instance.exports),
    ...Object.values(imports ?? {}).flatMap((m) => Object.values(m as Record<string, unknown>)),
  ];
  return (candidates.find((v) => v instanceof WebAssembly.Memory) as WebAssembly.Memory | undefined) ?? null;
}

function installShim(): void {
  if (installed) return;
  const instantiate = WebAssembly.instantiate.bind(WebAssembly) as (
    src: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => Promise<unknown>;
  (WebAssembly as { instantiate: unknown }).instantiate = async (
    src: BufferSource | WebAssembly.Module,
    imports?: WebAssembly.Imports,
  ) => {
    if (isMarker(src)) {
      const instance = (await instantiate(ortWasm, imports)) as WebAssembly.Instance;
      wasmMemory = findMemory(instance, imports);
      return { instance, module: ortWasm };
    }
    return instantiate(src, imports);
  };
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmBinary = MARKER;
  ort.env.logLevel = "error";
  installed = true;
}

export interface ItemScores {
  scores: Float32Array;
  /** the best `k` items' indices when `k` was asked for, else empty */
  top: number[];
}

export interface ScoringSession {
  /** Top-k model item indices and scores for one user vector. */
  topK(user: Float32Array, k: number): Promise<{ indices: number[]; scores: number[] }>;
  /**
   * Every item's score (the graph's pre-TopK `item_scores` output), for re-ranking; with `k`, also the graph's
   * top-k of them in the same run (the best first, ties by lower index).
   */
  itemScores(user: Float32Array, k?: number): Promise<ItemScores>;
  release(): Promise<void>;
}

export async function createScoringSession(onnx: Uint8Array): Promise<ScoringSession> {
  installShim();
  const session = await ort.InferenceSession.create(onnx);
  return {
    async topK(user, k) {
      const feeds = {
        user: new ort.Tensor("float32", user, [1, user.length]),
        k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
      };
      // fetch only what top-k needs: `item_scores` would copy every item's score out of wasm
      const out = await session.run(feeds, ["scores", "indices"]);
      const indices = out.indices as ort.Tensor;
      const scores = out.scores as ort.Tensor;
      const result = {
        indices: Array.from(indices.data as BigInt64Array, Number),
        scores: Array.from(scores.data as Float32Array),
      };
      indices.dispose();
      scores.dispose();
      return result;
    },
    async itemScores(user, k = 0) {
      const out = await session.run(
        {
          user: new ort.Tensor("float32", user, [1, user.length]),
          k: new ort.Tensor("int64", BigInt64Array.of(BigInt(Math.max(1, k))), [1]),
        },
        k > 0 ? ["item_scores", "indices"] : ["item_scores"],
      );
      // a CPU output's data is already a copy out of wasm memory: kept as it is
      const t = out.item_scores as ort.Tensor;
      const indices = out.indices as ort.Tensor | undefined;
      const result = {
        scores: t.data as Float32Array,
        top: indices ? Array.from(indices.data as BigInt64Array, Number) : [],
      };
      t.dispose();
      indices?.dispose();
      return result;
    },
    release: () => session.release(),
  };
}
