/**
 * A KV namespace whose every operation settles in bounded time: a get, list, put or delete that has not
 * settled by its deadline rejects with a KvDeadlineError. The callers' fallbacks (generic content, a
 * retried queue message) then run, instead of the request hanging until the runtime kills it. The
 * operation itself is not cancelled (KV has no cancel): a late write may still land, which the event
 * consumer's idempotency by event id tolerates. A Durable Object's publishes keep their order by awaiting each
 * write, which a late write would break (an older value landing after a newer one): their namespace
 * (`orderedWrites`) refuses a write of a key while a write of it given up on has not settled (for at most
 * ABANDONED_WRITE_MS), so the object's retry (its alarm) writes the newest value after the late one, and tells when
 * every write of a key it sent has settled (`writesSettled`: what an erasure waits on before the caller deletes the
 * reader's keys through another namespace, which a late write would otherwise put back). The error
 * names the operation and the key's kind (`profile`, `model`: the part before the first `:`), never the key,
 * which may hold a user id.
 */
import { getPath } from "hono/utils/url";
import { kvKeys } from "../../core/kv-keys";
import { within } from "./within";

export interface KvDeadlines {
  /** get, getWithMetadata and list of small values */
  readMs: number;
  /** reads of megabytes: a model version's keys (`model:<version>:*`: ONNX bytes, catalog, item table; not the
   *  `model:active` pointer) and the whole live catalog (`catalog:live`, up to MAX_LIVE_BYTES; not its version) */
  modelReadMs: number;
  /** put and delete */
  writeMs: number;
}

/**
 * Email routes (amp-list, images, clicks, pixel). A healthy KV read answers in a few ms at the edge and
 * in tens to a few hundred ms from the central store; 1 s leaves room for that and still lets an image
 * answer within the mail proxies' patience (a slot can wait on about four reads in a row). A model load
 * reads megabytes once per isolate, the live catalog once per version (no open waits on it more than a second,
 * worker/catalog/live-catalog.ts): 10 s. Writes (decisions) run after the response: 5 s.
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

/**
 * The Durable Objects (worker/lib/bounded-env.ts, in each constructor): the reader shards (a queue batch's events, the
 * alarm's snapshot publishes, decision sweeps and trigger deliveries, the admin API's erasures and replays) and the
 * catalog, campaign and experiment writers and the model mover (the admin API's writes). No reader waits on an
 * object: an opener reads what it published to KV. A timeout fails the shard's call before its transaction (the
 * first-touch reads), so the queue retries the batch's messages and nothing is applied half; a publish, sweep or
 * delivery given up on is the alarm's again a little later; an admin route's call answers 503 KV_UNAVAILABLE. So
 * they wait as the queue consumer whose calls they serve does (a shorter read would only retry more batches; a
 * longer one holds every event of the shard behind it). The one caller that waits on a shard less (the email's
 * form: 5 s, worker/profile/consent-update.ts) has its change queued first, and the shard's work goes on.
 */
export const OBJECT_KV_DEADLINES: KvDeadlines = { readMs: 5_000, modelReadMs: 10_000, writeMs: 10_000 };

/**
 * How long a write given up on keeps its key from being written again (`orderedWrites`), should it never settle: a
 * write that has not landed in a minute past its deadline is taken for lost (KV has no cancel to be sure of it).
 */
export const ABANDONED_WRITE_MS = 60_000;

/** The paths an email renders or follows (amp-list and the preferences form, images, clicks, the pixel, unsubscribe). */
const EMAIL_PATHS = /^\/v1\/(?:amp\/|img\/|c\/|e\/|unsubscribe(?:$|[/?]))/;

/** Which deadlines an HTTP request to `pathname` gets (FETCH_KV_DEADLINES): the email's short ones, or the API's. */
export function fetchKind(pathname: string): "email" | "api" {
  return EMAIL_PATHS.test(pathname) ? "email" : "api";
}

/** fetchKind of the path the router matches (Hono's getPath: percent-escapes decoded, `/v1/%61mp/recs` amp-list's). */
export function requestKind(req: Request): "email" | "api" {
  return fetchKind(getPath(req));
}

export const FETCH_KV_DEADLINES: Record<ReturnType<typeof fetchKind>, KvDeadlines> = {
  email: EMAIL_KV_DEADLINES,
  api: API_KV_DEADLINES,
};

export class KvDeadlineError extends Error {
  /** `behind`: not sent, as a write of the key given up on has not settled yet (`orderedWrites`): nothing written */
  constructor(
    op: string,
    kind: string,
    ms: number,
    readonly behind = false,
  ) {
    super(
      behind
        ? `KV ${op} (${kind} key) not sent: a write of the key given up on after ${ms} ms has not settled`
        : `KV ${op} (${kind} key) did not settle within ${ms} ms`,
    );
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
  // (an open waits for the live catalog a second at most and goes on; the read goes on without it, and must not be
  // given up at an email route's 1 s, or a catalog slower than that to read would never reach the isolate)
  const megabytes = (key.startsWith("model:") && key !== kvKeys.activeModel) || key === kvKeys.liveCatalog;
  return megabytes ? Math.max(d.readMs, d.modelReadMs) : d.readMs;
}

/** Settles like `p`, or rejects with a KvDeadlineError after `ms`; the timer is cleared either way. */
function bounded<T>(p: Promise<T>, ms: number, op: string, kind: string): Promise<T> {
  return within(p, ms, () => {
    throw new KvDeadlineError(op, kind, ms);
  });
}

export interface KvDeadlineOptions {
  /** refuse a write of a key while a write of it given up on may still land (a Durable Object's publishes) */
  orderedWrites?: boolean;
}

/**
 * An ordered namespace's writes of a key sent and not settled: each settled, when its deadline gives it up
 * (`deadlineAt`), and when it is taken for lost (`giveUpAt`, ABANDONED_WRITE_MS after). One given up on and not yet
 * taken for lost holds its key.
 */
type InFlight = Map<string, Set<{ done: Promise<void>; deadlineAt: number; giveUpAt: number }>>;
const inFlightOf = new WeakMap<KVNamespace, InFlight>();

/**
 * Resolves once every write of `keys` that `kv` (an `orderedWrites` namespace) sent before the call has settled, or
 * was given up on ABANDONED_WRITE_MS ago (taken for lost, as the hold takes it), whichever comes first: after it, a
 * delete of those keys through any namespace is not undone by a late write of this one. At once for another namespace.
 */
export async function writesSettled(kv: KVNamespace, keys: readonly string[]): Promise<void> {
  const inFlight = inFlightOf.get(kv);
  if (!inFlight) return;
  const waits = keys.flatMap((key) => [...(inFlight.get(key) ?? [])]);
  await Promise.all(
    waits.map(({ done, giveUpAt }) => within(done, Math.max(0, giveUpAt - Date.now()), () => undefined)),
  );
}

/** `kv` with deadlines on get, getWithMetadata, list, put and delete; anything else passes through. */
export function withKvDeadlines(kv: KVNamespace, deadlines: KvDeadlines, options: KvDeadlineOptions = {}): KVNamespace {
  const inFlight: InFlight = new Map();
  const proxy = new Proxy(kv, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      const op = typeof prop === "string" ? OPS[prop] : undefined;
      if (!op) return value.bind(target);
      return (...args: unknown[]) => {
        const key = keyOf(prop as string, args);
        const ms = deadlineOf(op, key, deadlines);
        const ordered = options.orderedWrites === true && op === "write";
        if (ordered) {
          const now = Date.now();
          for (const w of inFlight.get(key) ?? [])
            if (now >= w.deadlineAt && now < w.giveUpAt)
              return Promise.reject(new KvDeadlineError(prop as string, kindOf(key), ms, true));
        }
        const result = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        if (ordered) {
          const deadlineAt = Date.now() + ms;
          const entry = { done: result.then(noop, noop), deadlineAt, giveUpAt: deadlineAt + ABANDONED_WRITE_MS };
          const writes = inFlight.get(key) ?? new Set();
          inFlight.set(key, writes.add(entry));
          void entry.done.then(() => {
            writes.delete(entry);
            if (writes.size === 0 && inFlight.get(key) === writes) inFlight.delete(key);
          });
        }
        return bounded(result, ms, prop as string, kindOf(key));
      };
    },
  });
  if (options.orderedWrites === true) inFlightOf.set(proxy, inFlight);
  return proxy;
}

const noop = () => undefined;
