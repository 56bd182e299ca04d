/**
 * A KV namespace whose every operation settles in bounded time: a get, list, put or delete that has not
 * settled by its deadline rejects with a KvDeadlineError. The callers' fallbacks (generic content, a
 * retried queue message) then run, instead of the request hanging until the runtime kills it. The
 * operation itself is not cancelled (KV has no cancel): a late write may still land, which the event
 * consumer's idempotency by event id tolerates. The error names the operation and the key's kind
 * (`profile`, `model`: the part before the first `:`), never the key, which may hold a user id.
 */
import { kvKeys } from "../../core/kv-keys";
import { within } from "./within";

export interface KvDeadlines {
  /** get, getWithMetadata and list of small values */
  readMs: number;
  /** reads of a model version's keys (`model:<version>:*`: ONNX bytes, catalog, item table: megabytes; not the
   *  `model:active` pointer) */
  modelReadMs: number;
  /** put and delete */
  writeMs: number;
}

/**
 * Email routes (amp-list, images, clicks, pixel). A healthy KV read answers in a few ms at the edge and
 * in tens to a few hundred ms from the central store; 1 s leaves room for that and still lets an image
 * answer within the mail proxies' patience (a slot can wait on about four reads in a row). A model load
 * reads megabytes once per isolate: 10 s. Writes (decisions) run after the response: 5 s.
 */
export const EMAIL_KV_DEADLINES: KvDeadlines = { readMs: 1_000, modelReadMs: 10_000, writeMs: 5_000 };

/**
 * The events queue consumer: no reader waits on it, and a timeout only retries the user's messages, so
 * it waits longer before giving up (a batch may run for minutes).
 */
export const QUEUE_KV_DEADLINES: KvDeadlines = { readMs: 5_000, modelReadMs: 10_000, writeMs: 10_000 };

/**
 * Every other HTTP route: the admin API (`npm run email`'s batches of up to 500 readers, imports, campaigns),
 * privacy requests, events, send times, health, the dashboard. No email waits on them, and an answer built on a
 * read given up after 1 s would be wrong rather than late (a buyer's subject line decided as a stranger's), so
 * they wait as the queue consumer does; a read that still does not settle is a 503 KV_UNAVAILABLE to retry.
 */
export const API_KV_DEADLINES: KvDeadlines = { readMs: 5_000, modelReadMs: 10_000, writeMs: 10_000 };

/** The paths an email renders or follows (amp-list and the preferences form, images, clicks, the pixel, unsubscribe). */
const EMAIL_PATHS = /^\/v1\/(?:amp\/|img\/|c\/|e\/|unsubscribe(?:$|[/?]))/;

/** Which deadlines an HTTP request to `pathname` gets (FETCH_KV_DEADLINES): the email's short ones, or the API's. */
export function fetchKind(pathname: string): "email" | "api" {
  return EMAIL_PATHS.test(pathname) ? "email" : "api";
}

export const FETCH_KV_DEADLINES: Record<ReturnType<typeof fetchKind>, KvDeadlines> = {
  email: EMAIL_KV_DEADLINES,
  api: API_KV_DEADLINES,
};

export class KvDeadlineError extends Error {
  constructor(op: string, kind: string, ms: number) {
    super(`KV ${op} (${kind} key) did not settle within ${ms} ms`);
    this.name = "KvDeadlineError";
  }
}

type Kind = "read" | "write";
const OPS: Record<string, Kind> = { get: "read", getWithMetadata: "read", list: "read", put: "write", delete: "write" };

/** The key an operation names (a list's prefix; the first of a bulk get). */
function keyOf(op: string, args: unknown[]): string {
  const first = args[0];
  if (op === "list") return (first as { prefix?: string | null } | undefined)?.prefix ?? "";
  return String((Array.isArray(first) ? first[0] : first) ?? "");
}

/** The part of a key before its first `:` (`profile`, `decision`, `model`), safe to log. */
function kindOf(key: string): string {
  const kind = key.split(":", 1)[0] ?? "";
  return /^[a-z-]{1,20}$/.test(kind) ? kind : "other";
}

function deadlineOf(kind: Kind, key: string, d: KvDeadlines): number {
  if (kind === "write") return d.writeMs;
  const modelBytes = key.startsWith("model:") && key !== kvKeys.activeModel;
  return modelBytes ? Math.max(d.readMs, d.modelReadMs) : d.readMs;
}

/** Settles like `p`, or rejects with a KvDeadlineError after `ms`; the timer is cleared either way. */
function bounded<T>(p: Promise<T>, ms: number, op: string, kind: string): Promise<T> {
  return within(p, ms, () => {
    throw new KvDeadlineError(op, kind, ms);
  });
}

/** `kv` with deadlines on get, getWithMetadata, list, put and delete; anything else passes through. */
export function withKvDeadlines(kv: KVNamespace, deadlines: KvDeadlines): KVNamespace {
  return new Proxy(kv, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const op = typeof prop === "string" ? OPS[prop] : undefined;
      if (!op) return value.bind(target);
      return (...args: unknown[]) => {
        const key = keyOf(prop as string, args);
        const result = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        return bounded(result, deadlineOf(op, key, deadlines), prop as string, kindOf(key));
      };
    },
  });
}
