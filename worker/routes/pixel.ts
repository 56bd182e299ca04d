/**
 * GET /v1/e/<token>?type=view&item=<id>&eid=<event id> — the signed beacon for sites and emails that
 * cannot POST. Always answers a 1x1 transparent GIF (an image must never break); bad tokens and bad
 * parameters record nothing.
 *
 * A token travels in emails that get forwarded, so the pixel records only what an email or a browser may
 * legitimately report (PIXEL_EVENT_TYPES: views, opens, clicks), at most PIXEL_RATE_LIMITER's limit per
 * token (20 a minute, wrangler.toml); purchases and carts come only through the authenticated events API.
 * Its `eid` (deduplication across retries of the same beacon) is kept apart from every other event id, and is
 * refused as the events API's ids are when shaped like an email address (the beacon records nothing). A HEAD
 * (link scanners, URL checkers; Hono answers it with this GET handler) gets the GIF's headers and records nothing, as
 * does Apple Mail Privacy Protection's prefetch at delivery (`X-Opentime-Fetch: apple-mpp`), which is no reader's act.
 */
import type { Hono } from "hono";
import { IdSchema, MAX_ID_LENGTH, PIXEL_ID_PREFIX, type QueuedEvent, StoredIdSchema } from "../../core/events";
import { verifyToken } from "../../core/token";
import { classifyFetch, isPrefetch, signalsOf } from "../decisions/classify-fetch";
import { type AppEnv, getConfig } from "../env";
import { mayRecord } from "../events/may-record";
import { enqueueWithin } from "../events/queue";
import { background } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";

const GIF = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (ch) => ch.charCodeAt(0));

const PIXEL_PREFIX = "/v1/e/";
/** How long the GIF waits for the queue to take its event (the send goes on after it). */
const PIXEL_QUEUE_WAIT_MS = 1_000;

/*
 * A pixel's `eid` is counted once among the pixel's own (PIXEL_ID_PREFIX): its events are deduplicated by id with
 * everything the reader's shard applied, so a bare `eid` could take the id of a purchase the shop posts later, or
 * of an open's own event (`open:<campaign>:<send>`, read off the token), and have that one dropped as a duplicate.
 * A beacon without one gets a random id under the same prefix: the shard keeps pixel ids 30 days, their newest
 * 1,000 per reader, so a held email loaded at the rate limit grows no table for good.
 */
const MAX_PIXEL_EID_LENGTH = MAX_ID_LENGTH - PIXEL_ID_PREFIX.length;

/** What the pixel may record, and whether the type names an item. */
export const PIXEL_EVENT_TYPES = { view: true, email_open: false, email_click: true } as const;
type PixelEventType = keyof typeof PIXEL_EVENT_TYPES;

function pixelType(raw: string | undefined): PixelEventType | null {
  const type = raw ?? "view";
  return Object.hasOwn(PIXEL_EVENT_TYPES, type) ? (type as PixelEventType) : null;
}

/** Whether this token may record one more event now (no limiter bound: yes, logged once). */
let limiterMissingLogged = false;
async function withinLimit(limiter: RateLimit | undefined, token: string): Promise<boolean> {
  if (!limiter) {
    if (!limiterMissingLogged) {
      limiterMissingLogged = true;
      logEvent("warn", "config.pixel_rate_limiter_missing", { detail: "PIXEL_RATE_LIMITER is not bound" });
    }
    return true;
  }
  try {
    // keyed by the token's signature: one budget per email sent, without naming the reader
    return (await limiter.limit({ key: token.slice(token.lastIndexOf(".") + 1) })).success;
  } catch (e) {
    logEvent("error", "pixel.rate_limiter_failed", { detail: errorMessage(e) });
    return false;
  }
}

export function registerPixel(app: Hono<AppEnv>): void {
  // every path under the prefix answers its GIF (`/v1/e/`, `/v1/e//`...), recording only for a token that verifies
  app.get(`${PIXEL_PREFIX}*`, async (c) => {
    const headers = {
      "Content-Type": "image/gif",
      "Cache-Control": "no-store, max-age=0",
      "X-Opentime-Recorded": "no",
    };
    const gif = () => c.body(GIF, 200, headers);
    if (c.req.method === "HEAD") return gif();
    // Apple Mail Privacy Protection loads every image of an email at delivery: not the reader's open, view or click
    // (the open-time images count none either)
    const fetchKind = classifyFetch(signalsOf(c.req.raw));
    c.header("X-Opentime-Fetch", fetchKind);
    if (isPrefetch(fetchKind)) return gif();
    try {
      const raw = c.req.path.slice(PIXEL_PREFIX.length).replace(/\.gif$/, "");
      const token = await verifyToken(getConfig(c.env).tokenSecrets, raw);
      const type = pixelType(c.req.query("type"));
      const item = IdSchema.safeParse(c.req.query("item"));
      // as the events API's ids: one shaped like an email address is not stored (nothing is recorded)
      const eid = StoredIdSchema.safeParse(c.req.query("eid"));
      // (a staff preview's pixel records nothing; a reader who opted out, by the consumer, which reads their profile)
      const claims = token.ok ? token.claims : null;
      // why a token records nothing, as images and the AMP list say it (a token of another deployment, expired...)
      if (!token.ok) c.header("X-Opentime-Reason", `token-${token.reason}`);
      if (!mayRecord(claims, true, true) || !type || (PIXEL_EVENT_TYPES[type] && !item.success)) return gif();
      if (c.req.query("eid") !== undefined && !(eid.success && eid.data.length <= MAX_PIXEL_EID_LENGTH)) {
        // said in the logs (not the id: it may be an address), as the events API says it in its answer
        logEvent("warn", "pixel.eid_refused", { detail: eid.success ? "too long" : "not a storable id" });
        return gif();
      }
      if (!(await withinLimit(c.env.PIXEL_RATE_LIMITER, raw))) {
        headers["X-Opentime-Recorded"] = "rate-limited";
        return gif();
      }
      const event: QueuedEvent = {
        id: `${PIXEL_ID_PREFIX}${eid.success ? eid.data : crypto.randomUUID()}`,
        type,
        user: claims.u,
        ...(PIXEL_EVENT_TYPES[type] && item.success ? { item: item.data } : {}),
        ts: Math.floor(Date.now() / 1000),
        campaign: claims.c,
      };
      // a queue that does not answer must not hold the email's image: `pending` past PIXEL_QUEUE_WAIT_MS
      const queued = await enqueueWithin(c.env.EVENTS, [event], PIXEL_QUEUE_WAIT_MS, background(c).waitUntil);
      headers["X-Opentime-Recorded"] = queued === null ? "pending" : queued.ok ? "yes" : "no";
    } catch (e) {
      logEvent("error", "pixel.failed", { detail: errorMessage(e) });
    }
    return gif();
  });
}
