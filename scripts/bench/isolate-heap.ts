/**
 * The Worker's JavaScript heap in workerd, through V8's inspector (Miniflare's `inspectorPort`; the Chrome
 * DevTools Protocol over a WebSocket): a full garbage collection, then `Runtime.getHeapUsage`, so `used` is what
 * the isolate keeps alive and `total` what V8 holds for it, and `buffers` the ArrayBuffers' contents outside the
 * heap (typed arrays; not wasm memories, which V8 counts in neither: the bench entry reports ORT's, `/bench/memory`).
 * workerd runs an inspector command only while a request holds the isolate, so `poke` sends cheap requests until
 * the collection is done.
 */
import { createServer } from "node:net";
import { WebSocket } from "undici";

export interface HeapUsage {
  /** JavaScript objects kept alive */
  used_mib: number;
  /** the heap as V8 holds it for them */
  total_mib: number;
  /** ArrayBuffers' contents (typed arrays, KV's arrayBuffer reads), outside the heap; not wasm memories */
  buffers_mib: number;
}

/** Miniflare's name for the inspector target of an unnamed user worker. */
const USER_WORKER_TARGET = "core:user:";
const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

export async function isolateHeap(inspectorPort: number, poke: () => Promise<void>): Promise<HeapUsage> {
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/${USER_WORKER_TARGET}`);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`no inspector at 127.0.0.1:${inspectorPort}`));
  });
  const pending = new Map<number, (result: unknown) => void>();
  ws.onmessage = (m) => {
    const d = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
    if (d.id !== undefined) pending.get(d.id)?.(d.result);
  };
  let next = 0;
  const call = (method: string) =>
    new Promise<unknown>((resolve) => {
      const id = ++next;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method }));
    });
  try {
    let collected = false;
    const gc = call("HeapProfiler.collectGarbage").then(() => {
      collected = true;
    });
    for (let i = 0; i < 50 && !collected; i++) await Promise.race([poke(), gc]);
    if (!collected) throw new Error("the inspector's garbage collection did not run");
    const heap = (await call("Runtime.getHeapUsage")) as {
      usedSize: number;
      totalSize: number;
      backingStorageSize?: number;
    };
    if (heap.backingStorageSize === undefined) throw new Error("this workerd's V8 reports no backing storage size");
    return { used_mib: mib(heap.usedSize), total_mib: mib(heap.totalSize), buffers_mib: mib(heap.backingStorageSize) };
  } finally {
    ws.close();
  }
}

/** A TCP port free on 127.0.0.1 now (for the inspector). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
