/**
 * The closed set of API error codes, their HTTP statuses, and the one error handler.
 * Every error response is `{"error": {"code": "...", "message": "..."}}`.
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { errorMessage, logEvent } from "./lib/log";

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  INVALID_EVENTS: 400,
  USER_ID_NOT_PSEUDONYMOUS: 400,
  UNAUTHORIZED: 401,
  TOKEN_INVALID: 401,
  NOT_AMP_REQUEST: 403,
  SENDER_NOT_ALLOWED: 403,
  ORIGIN_NOT_ALLOWED: 403,
  NOT_FOUND: 404,
  CAMPAIGN_EXISTS: 409,
  EXPERIMENT_CONFLICT: 409,
  MODEL_REFUSED: 409,
  CAMPAIGN_CHANGED: 412,
  EXPERIMENT_CHANGED: 412,
  PAYLOAD_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  UNSUBSCRIBE_NOT_SAVED: 429,
  PREFERENCES_NOT_SAVED: 429,
  INTERNAL: 500,
  EVENTS_UNAVAILABLE: 503,
  EXPERIMENTS_UNAVAILABLE: 503,
  CATALOG_UNAVAILABLE: 503,
  KV_UNAVAILABLE: 503,
  MODEL_UNAVAILABLE: 503,
  STATE_UNAVAILABLE: 503,
} as const satisfies Record<string, ContentfulStatusCode>;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class ApiError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function errorBody(code: ErrorCode, message: string) {
  return { error: { code, message } };
}

/**
 * Seconds to wait before retrying a Durable Object the runtime called overloaded, and one that failed for a
 * passing reason (it was restarting or moving; the connection dropped). Cloudflare's guidance: retry the
 * second with backoff; retrying the first adds load to an object that cannot keep up, hence the longer wait.
 */
const OVERLOADED_RETRY_AFTER_S = 10;
const TRANSIENT_RETRY_AFTER_S = 1;

/**
 * A Durable Object's infrastructure failure, as the runtime marks it on the error it throws at the call site
 * (`overloaded`, or `retryable` from the infrastructure rather than from our own objects' code, which sets
 * `remote`): https://developers.cloudflare.com/durable-objects/best-practices/error-handling/
 */
export function unavailableObject(err: unknown): { overloaded: boolean } | null {
  if (typeof err !== "object" || err === null) return null;
  const e = err as { overloaded?: unknown; retryable?: unknown; remote?: unknown };
  if (e.overloaded === true) return { overloaded: true };
  if (e.retryable === true && e.remote !== true) return { overloaded: false };
  return null;
}

/** Seconds to wait before retrying a KV operation that failed for a passing reason. */
const KV_RETRY_AFTER_S = 1;
const DAY_S = 86_400;

/**
 * KV's own errors as workerd throws them (`KV <GET|GET_BULK|PUT|DELETE> failed: <status> <text>`; a list is a GET):
 * https://github.com/cloudflare/workerd/blob/main/src/workerd/api/kv.c++ (checkForErrorStatus). 429 is KV's rate
 * limit (one write a second to a key: `KV PUT failed: 429 Too Many Requests`), a 5xx its own failure: both pass.
 */
const KV_PASSING = /^KV (?:GET|GET_BULK|PUT|DELETE) failed: (?:429|5\d\d)\b/;
/** The free plan's daily allowance spent (`KV put() limit exceeded for the day.`): until 00:00 UTC. */
const KV_DAILY_LIMIT = /^KV (?:get|put|list|delete)\(\) limit exceeded for the day/i;

/**
 * A Workers KV operation that failed for a reason not in opentime's code, and how long to wait before trying again:
 * KV's rate limit and its server errors, an operation past its deadline (lib/kv-deadline.ts), a second; the free
 * plan's daily allowance, until it resets at 00:00 UTC. KV's other refusals (a key over 512 bytes: `414`, a value
 * over 25 MiB: `413`, an empty key: a TypeError) are our own bugs, and stay 500.
 */
export function unavailableKv(err: unknown, now = Date.now()): { retryAfter: number; daily: boolean } | null {
  if (!(err instanceof Error)) return null;
  // lib/kv-deadline.ts's KvDeadlineError, told by its name (that module holds the Workers types; this one is pure)
  if (err.name === "KvDeadlineError") return { retryAfter: KV_RETRY_AFTER_S, daily: false };
  if (KV_PASSING.test(err.message)) return { retryAfter: KV_RETRY_AFTER_S, daily: false };
  if (KV_DAILY_LIMIT.test(err.message)) return { retryAfter: DAY_S - (Math.floor(now / 1000) % DAY_S), daily: true };
  return null;
}

/** A failure not of opentime's code (`unavailableObject`, `unavailableKv`), as it is answered. */
export interface PassingFailure {
  code: "STATE_UNAVAILABLE" | "KV_UNAVAILABLE";
  /** seconds to wait before the same request may succeed */
  retryAfter: number;
  /** the one handler's message for it */
  message: string;
  /** what is logged of it (never a key or a path: they may hold a user id) */
  log: { event: "state_unavailable"; overloaded: boolean } | { event: "kv_unavailable"; detail: string };
}

/**
 * The one decision of whether a failure is a passing one, answered 503 with Retry-After, or our own (a bug, here
 * or inside a Durable Object: its errors arrive `remote`), answered 500 INTERNAL: a client told to retry a bug
 * would retry it for ever. The one error handler decides with it, and so does a route that catches a call to
 * name what it did not do (`unavailableAs`).
 */
export function passingFailure(err: unknown, now = Date.now()): PassingFailure | null {
  const object = unavailableObject(err);
  if (object)
    return {
      code: "STATE_UNAVAILABLE",
      retryAfter: object.overloaded ? OVERLOADED_RETRY_AFTER_S : TRANSIENT_RETRY_AFTER_S,
      message: object.overloaded
        ? "a Durable Object this request needs is overloaded: retry later"
        : "a Durable Object this request needs could not be reached: retry",
      log: { event: "state_unavailable", overloaded: object.overloaded },
    };
  const kv = unavailableKv(err, now);
  if (kv)
    return {
      code: "KV_UNAVAILABLE",
      retryAfter: kv.retryAfter,
      message: kv.daily
        ? "Workers KV's daily allowance of this account is spent: retry after 00:00 UTC"
        : "a Workers KV operation this request needs failed for a passing reason (rate limit, KV's own error, timeout): retry",
      // KV's messages name the operation and its status, never the key (a deadline's names the key's kind)
      log: { event: "kv_unavailable", detail: errorMessage(err) },
    };
  return null;
}

/**
 * What a route throws for `err`, caught from a call whose failure it words itself (`messages`, by code): a
 * passing failure becomes the route's 503 with its Retry-After; anything else is `err` as it was, which the one
 * handler answers 500 INTERNAL.
 */
export function unavailableAs(err: unknown, messages: Record<PassingFailure["code"], string>): unknown {
  const passing = passingFailure(err);
  if (!passing) return err;
  return new ApiError(passing.code, messages[passing.code], { "Retry-After": String(passing.retryAfter) });
}

export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message), ERROR_STATUS[err.code], err.headers);
  }
  if (err instanceof HTTPException) {
    return c.json(errorBody("BAD_REQUEST", err.message), err.status as ContentfulStatusCode);
  }
  // a deploy without its KV namespace (env.ts, config.kv_binding_missing): whatever failed for it, say so (logged,
  // as any failure the handler did not expect, in case it was another); a Worker's requests always carry bindings
  const env = c.env as { OPENTIME_KV?: unknown } | undefined;
  if (env && !env.OPENTIME_KV) {
    logEvent("error", "unhandled", { route: c.req.routePath, detail: `no OPENTIME_KV binding: ${errorMessage(err)}` });
    return c.json(errorBody("KV_UNAVAILABLE", "the OPENTIME_KV binding is not configured (wrangler.toml)"), 503);
  }
  const passing = passingFailure(err);
  if (passing) {
    const { event, ...fields } = passing.log;
    logEvent("warn", event, { route: c.req.routePath, ...fields });
    return c.json(errorBody(passing.code, passing.message), 503, { "Retry-After": String(passing.retryAfter) });
  }
  // the route's pattern, never the path: paths carry tokens and user ids
  logEvent("error", "unhandled", { route: c.req.routePath, detail: errorMessage(err) });
  return c.json(errorBody("INTERNAL", "internal error"), 500);
}

export function notFound(c: Context): Response {
  return c.json(errorBody("NOT_FOUND", `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`), 404);
}
