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

export function handleError(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    return c.json(errorBody(err.code, err.message), ERROR_STATUS[err.code], err.headers);
  }
  if (err instanceof HTTPException) {
    return c.json(errorBody("BAD_REQUEST", err.message), err.status as ContentfulStatusCode);
  }
  const unavailable = unavailableObject(err);
  if (unavailable) {
    logEvent("warn", "state_unavailable", { route: c.req.routePath, overloaded: unavailable.overloaded });
    const retryAfter = unavailable.overloaded ? OVERLOADED_RETRY_AFTER_S : TRANSIENT_RETRY_AFTER_S;
    const message = unavailable.overloaded
      ? "a Durable Object this request needs is overloaded: retry later"
      : "a Durable Object this request needs could not be reached: retry";
    return c.json(errorBody("STATE_UNAVAILABLE", message), 503, { "Retry-After": String(retryAfter) });
  }
  // the route's pattern, never the path: paths carry tokens and user ids
  logEvent("error", "unhandled", { route: c.req.routePath, detail: errorMessage(err) });
  return c.json(errorBody("INTERNAL", "internal error"), 500);
}

export function notFound(c: Context): Response {
  return c.json(errorBody("NOT_FOUND", `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`), 404);
}
