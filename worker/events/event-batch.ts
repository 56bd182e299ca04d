/**
 * A batch of events posted to the events API (POST /v1/events, worker/routes/events.ts) or to the history import
 * (POST /v1/admin/events, worker/routes/admin-events.ts), which differ only in how old an event may be: read
 * ({"events":[...]} or a bare array), each event validated, the good ones queued (worker/events/queue.ts; the
 * consumer applies them to profiles), the bad ones reported by index (also one whose reader and id an earlier
 * event of the batch has, with other fields than its time: it would never be applied). 202 unless no event is
 * valid (400 INVALID_EVENTS, accepted 0); accepted events taken with a caveat (a purchase without a value) are
 * listed by index in `warnings`. Limits: body 1 MiB (413 PAYLOAD_TOO_LARGE), 500 events (413 BATCH_TOO_LARGE),
 * times within the route's maximum age in the past and 5 minutes in the future.
 */
import type { Context } from "hono";
import {
  type EventWarning,
  eventWarning,
  IncomingEventSchema,
  looksLikeEmail,
  MAX_ID_LENGTH,
  type QueuedEvent,
  STORED_ID_FIELDS,
  toQueued,
} from "../../core/events";
import type { AppEnv } from "../env";
import { ApiError, errorBody } from "../errors";
import { readJsonBody } from "../lib/read-json-body";
import { describeIssues } from "../lib/zod-issues";
import { enqueue, eventsUnavailable } from "./queue";

export const MAX_BODY_BYTES = 1024 * 1024;
export const MAX_EVENTS = 500;
const FUTURE_SKEW_SECONDS = 300;

export interface RejectedEvent {
  index: number;
  code:
    | "INVALID_EVENT"
    | "USER_ID_NOT_PSEUDONYMOUS"
    | "ID_NOT_PSEUDONYMOUS"
    | "TIMESTAMP_OUT_OF_RANGE"
    | "DUPLICATE_EVENT_ID";
  message: string;
}

/** An accepted event taken with a caveat (core/events.ts EVENT_WARNINGS). */
export interface EventWarningAt {
  index: number;
  code: EventWarning;
  message: string;
}

export interface EventsResponse {
  accepted: number;
  rejected: RejectedEvent[];
  warnings: EventWarningAt[];
}

/**
 * Why an event is refused whose reader and id an earlier accepted event of the batch has, with other fields: an id
 * is applied once per reader, so the later one would be taken for a repeat and never applied (an order's id given
 * to each of its lines). The same event twice is a repeat, and taken; so is one that differs in its time alone (an
 * id a shop gives each view of an item in a session, to count it once).
 */
function duplicateMessage(first: number): string {
  return (
    `event ${first} of this batch has this id for the same user, with other fields: an id is applied once, so this ` +
    "event would never be; give each event an id of its own (an order's lines: <order>:<item>)"
  );
}

export function validateEvents(raw: unknown[], maxAgeDays: number, nowSeconds: number) {
  const accepted: QueuedEvent[] = [];
  const rejected: RejectedEvent[] = [];
  const warnings: EventWarningAt[] = [];
  /** the first accepted event of each reader and id: its index, and what it holds */
  const firsts = new Map<string, { index: number; held: string }>();
  raw.forEach((e, index) => {
    const parsed = IncomingEventSchema.safeParse(e);
    if (!parsed.success) {
      const field = (name: string) =>
        e !== null && typeof e === "object" ? (e as Record<string, unknown>)[name] : null;
      const emailLike = (v: unknown) => typeof v === "string" && v.length <= MAX_ID_LENGTH && looksLikeEmail(v);
      rejected.push({
        index,
        code: emailLike(field("user"))
          ? "USER_ID_NOT_PSEUDONYMOUS"
          : STORED_ID_FIELDS.some((f) => emailLike(field(f)))
            ? "ID_NOT_PSEUDONYMOUS"
            : "INVALID_EVENT",
        message: describeIssues(parsed.error, "", { input: e }),
      });
      return;
    }
    const q = toQueued(parsed.data);
    if (!Number.isFinite(q.ts) || q.ts < nowSeconds - maxAgeDays * 86400 || q.ts > nowSeconds + FUTURE_SKEW_SECONDS) {
      rejected.push({ index, code: "TIMESTAMP_OUT_OF_RANGE", message: outOfRange(q.ts, maxAgeDays, nowSeconds) });
      return;
    }
    const key = `${q.user}\u0000${q.id}`;
    const held = JSON.stringify({ ...q, ts: undefined });
    const first = firsts.get(key);
    if (first && first.held !== held) {
      rejected.push({ index, code: "DUPLICATE_EVENT_ID", message: duplicateMessage(first.index) });
      return;
    }
    if (!first) firsts.set(key, { index, held });
    accepted.push(q);
    const warning = eventWarning(q);
    if (warning) warnings.push({ index, ...warning });
  });
  return { accepted, rejected, warnings };
}

/** How long `seconds` is, as a reader of an error compares clocks: minutes, hours, else days. */
function span(seconds: number): string {
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 2 * 86400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

/**
 * Why a time is out of range, with the event's time and the Worker's and how far apart they are, so a clock
 * skewed by hours (or a local time sent without its zone, read as UTC) shows as such.
 */
function outOfRange(ts: number, maxAgeDays: number, nowSeconds: number): string {
  const range = `ts must be within the last ${maxAgeDays} days and at most 5 minutes ahead`;
  if (!Number.isFinite(ts) || Math.abs(ts) > 8.64e12) return range;
  const at = (s: number) => new Date(s * 1000).toISOString().replace(".000Z", "Z");
  const ahead = ts > nowSeconds;
  const how = ahead
    ? "ahead of the Worker's clock: check the sender's clock, and that a time without a zone is UTC"
    : "old: send older history through POST /v1/admin/events (npm run import)";
  return `${range}: ts ${at(ts)} is ${span(Math.abs(ts - nowSeconds))} ${how} (the Worker's time: ${at(nowSeconds)})`;
}

/**
 * The handler of both routes (worker/routes/events.ts, admin-events.ts): the public API (recent events) and the
 * admin import (any past time) differ only in how old an event may be.
 */
export function eventBatchHandler(maxAgeDays: (c: Context<AppEnv>) => number) {
  return async (c: Context<AppEnv>) => {
    const body = await readJsonBody(c, MAX_BODY_BYTES);
    const list = Array.isArray(body) ? body : (body as { events?: unknown } | null)?.events;
    if (!Array.isArray(list) || list.length === 0)
      throw new ApiError("BAD_REQUEST", 'expected {"events": [...]} with at least one event');
    if (list.length > MAX_EVENTS)
      throw new ApiError("BATCH_TOO_LARGE", `at most ${MAX_EVENTS} events per request (got ${list.length})`);
    const { accepted, rejected, warnings } = validateEvents(list, maxAgeDays(c), Math.floor(Date.now() / 1000));
    if (accepted.length > 0) {
      const queued = await enqueue(c.env.EVENTS, accepted);
      if (!queued.ok)
        throw eventsUnavailable(queued, "the events queue refused the batch: retry it (repeats are counted once)");
    }
    if (accepted.length === 0) {
      const none: Omit<EventsResponse, "warnings"> & ReturnType<typeof errorBody> = {
        ...errorBody("INVALID_EVENTS", "no event of the batch is valid: see `rejected`"),
        accepted: 0,
        rejected,
      };
      return c.json(none, 400);
    }
    const res: EventsResponse = { accepted: accepted.length, rejected, warnings };
    return c.json(res, 202);
  };
}
