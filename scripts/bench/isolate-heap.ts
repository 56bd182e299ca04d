/**
 * The Worker's JavaScript heap in workerd, through V8's inspector (Miniflare's `inspectorPort`; the Chrome
 * DevTools Protocol over a WebSocket): a full garbage collection, then `Runtime.getHeapUsage`, so `used` is what
 * the isolate keeps alive and `total` what V8 holds for it, and `buffers` the ArrayBuffers' contents outside the
 * heap (typed arrays; not wasm memories, which V8 counts in neither: the bench entry reports ORT's, `/bench/memory`).
 * workerd runs an inspector command only while a request holds the isolate, so `poke` sends cheap requests until
 * the collection is done.
 */
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
/** Bytes as MiB, to a tenth. */
export const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

/** How long the inspector may take to answer one command (with requests holding the isolate meanwhile). */
const CALL_MS = 30_000;

export async function isolateHeap(inspectorPort: number, poke: () => Promise<void>): Promise<HeapUsage> {
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/${USER_WORKER_TARGET}`);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`no inspector at 127.0.0.1:${inspectorPort}`));
  });
  const pending = new Map<number, { resolve: (result: unknown) => void; reject: (e: Error) => void }>();
  ws.onmessage = (m) => {
    const d = JSON.parse(String(m.data)) as { id?: number; result?: unknown };
    if (d.id !== undefined) pending.get(d.id)?.resolve(d.result);
  };
  // a socket that closes or fails fails every command still waiting, rather than leaving it for ever
  const failAll = () => {
    for (const p of pending.values()) p.reject(new Error("the inspector's socket closed"));
    pending.clear();
  };
  ws.onclose = failAll;
  ws.onerror = failAll;
  let next = 0;
  /** one command, with requests sent meanwhile (workerd runs it only while one holds the isolate), within CALL_MS */
  const call = async (method: string): Promise<unknown> => {
    const id = ++next;
    let settled = false;
    const answer = new Promise<unknown>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ id, method }));
    }).finally(() => {
      settled = true;
      pending.delete(id);
    });
    const started = Date.now();
    while (!settled && Date.now() - started < CALL_MS) await Promise.race([poke(), answer]);
    if (!settled) throw new Error(`the inspector did not answer ${method} within ${CALL_MS / 1000} s`);
    return answer;
  };
  try {
    await call("HeapProfiler.collectGarbage");
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
