/**
 * Fault injection for the Worker's bindings: a KV namespace whose get/list/put/delete throw (an error of
 * ours, or KV's own rate limit) or never settle (selectively by key prefix, switchable while a test runs), a queue whose sends throw, and a
 * fake MessageBatch that records which messages were acked or retried.
 */
import type { QueuedEvent } from "../../../core/events";
import { SAME_KEY_WRITE_MS } from "../../../worker/lib/key-pacer";

export type KvOp = "get" | "list" | "put" | "delete";
/** throw: an error not KV's own; rate-limited: KV's own 429, as workerd words it; hang: never settles */
export type FaultMode = "throw" | "rate-limited" | "hang";

export interface KvFault {
  ops: readonly KvOp[];
  mode: FaultMode;
  /** only keys (for list: prefixes) starting with this; every key when absent */
  prefix?: string;
}

export interface FaultyKv {
  kv: KVNamespace;
  /** the faults in force: replace or empty it to change or clear them mid-test */
  faults: KvFault[];
  /** how many operations a fault hit (a test that injected nothing proves nothing) */
  hits: number;
  /** keys of the put/delete calls that went through to the real namespace, in order */
  writes: string[];
}

export class InjectedFault extends Error {
  constructor(op: string) {
    super(`injected fault: KV ${op} failed`);
  }
}

const OP_OF: Record<string, KvOp> = { get: "get", getWithMetadata: "get", list: "list", put: "put", delete: "delete" };

/** `real` with the given faults; operations no fault matches go through unchanged. */
export function faultyKv(real: KVNamespace, faults: KvFault[] = []): FaultyKv {
  const state: FaultyKv = { kv: real, faults, hits: 0, writes: [] };
  const forward = (name: string, args: unknown[]): Promise<unknown> => {
    const op = OP_OF[name] as KvOp;
    const first = args[0];
    // a bulk get names several keys: a fault on any of them fails it, as one read
    const keys =
      op === "list"
        ? [(first as { prefix?: string } | undefined)?.prefix ?? ""]
        : Array.isArray(first)
          ? first.map(String)
          : [String(first)];
    const key = keys[0] as string;
    const fault = state.faults.find((f) => f.ops.includes(op) && keys.some((k) => k.startsWith(f.prefix ?? "")));
    if (fault) {
      state.hits++;
      // a hang is a promise that never settles (no timer keeps it alive either)
      if (fault.mode === "hang") return new Promise(() => {});
      // workerd's words for KV's own refusal (a list is a GET to KV)
      const method = op === "list" ? "GET" : op.toUpperCase();
      return Promise.reject(
        fault.mode === "rate-limited" ? new Error(`KV ${method} failed: 429 Too Many Requests`) : new InjectedFault(op),
      );
    }
    if (op === "put" || op === "delete") state.writes.push(key);
    const method = (real as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name];
    return (method as (...a: unknown[]) => Promise<unknown>).apply(real, args);
  };
  state.kv = {
    get: (...args: unknown[]) => forward("get", args),
    getWithMetadata: (...args: unknown[]) => forward("getWithMetadata", args),
    list: (...args: unknown[]) => forward("list", args),
    put: (...args: unknown[]) => forward("put", args),
    delete: (...args: unknown[]) => forward("delete", args),
  } as unknown as KVNamespace;
  return state;
}

/**
 * `real` as Cloudflare's KV takes writes: a put or delete of a key within a second of the last that went through is
 * refused with KV's 429 (one write a second per key); Miniflare does not enforce it. `refused`: the keys refused.
 */
export function perKeyLimitedKv(real: KVNamespace): { kv: KVNamespace; refused: string[] } {
  const last = new Map<string, number>();
  const refused: string[] = [];
  const kv = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop !== "put" && prop !== "delete") return value.bind(target);
      return async (...args: unknown[]) => {
        const key = String(args[0]);
        const at = Date.now();
        if (at - (last.get(key) ?? Number.NEGATIVE_INFINITY) < SAME_KEY_WRITE_MS) {
          refused.push(key);
          throw new Error(`KV ${String(prop).toUpperCase()} failed: 429 Too Many Requests`);
        }
        last.set(key, at);
        return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
      };
    },
  });
  return { kv, refused };
}

/** A queue whose send and sendBatch reject (an outage or back-pressure); counts the attempts. */
export function failingQueue(): { queue: Queue<QueuedEvent>; attempts: () => number } {
  let attempts = 0;
  const fail = async (): Promise<never> => {
    attempts++;
    throw new Error("injected fault: queue send failed");
  };
  const queue = { send: fail, sendBatch: fail } as unknown as Queue<QueuedEvent>;
  return { queue, attempts: () => attempts };
}

/** A queue whose sends never settle (an outage that hangs rather than refuses), counting its attempts. */
export function hangingQueue(): { queue: Queue<QueuedEvent>; attempts: () => number } {
  let attempts = 0;
  const hang = (): Promise<never> => {
    attempts++;
    return new Promise<never>(() => undefined);
  };
  const queue = { send: hang, sendBatch: hang } as unknown as Queue<QueuedEvent>;
  return { queue, attempts: () => attempts };
}

export interface FakeBatch {
  batch: MessageBatch<QueuedEvent>;
  acked: () => string[];
  retried: () => string[];
}

/** A MessageBatch of `events` whose messages record ack() and retry() (ids `m<i>-<event id>`). */
/** A batch of `events`, enqueued at `enqueuedAt` (default now: no backlog). */
export function fakeBatch(events: readonly QueuedEvent[], enqueuedAt = new Date()): FakeBatch {
  const acked: string[] = [];
  const retried: string[] = [];
  const messages = events.map((body, i) => {
    const id = `m${i}-${body.id}`;
    return {
      id,
      timestamp: enqueuedAt,
      attempts: 1,
      body,
      ack: () => {
        acked.push(id);
      },
      retry: () => {
        retried.push(id);
      },
    } as unknown as Message<QueuedEvent>;
  });
  const batch = {
    queue: "opentime-events",
    messages,
    ackAll: () => {
      for (const m of messages) m.ack();
    },
    retryAll: () => {
      for (const m of messages) m.retry();
    },
  } as unknown as MessageBatch<QueuedEvent>;
  return { batch, acked: () => [...acked], retried: () => [...retried] };
}
