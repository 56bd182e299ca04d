/**
 * GET /v1/e/<token>?type=view&item=<id>&eid=<event id> — the signed beacon for sites and emails that
 * cannot POST. Always answers a 1x1 transparent GIF (an image must never break); bad tokens and bad
 * parameters record nothing.
 */
import type { Hono } from "hono";
import { EVENT_TYPES, ITEM_EVENTS, type QueuedEvent } from "../../core/events";
import { verifyToken } from "../../core/token";
import { type AppEnv, getConfig } from "../env";
import { errorMessage, logEvent } from "../lib/log";
import { enqueue } from "./events";

const GIF = Uint8Array.from(atob("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7"), (ch) => ch.charCodeAt(0));

export function registerPixel(app: Hono<AppEnv>): void {
  app.get("/v1/e/:token", async (c) => {
    const headers = {
      "Content-Type": "image/gif",
      "Cache-Control": "no-store, max-age=0",
      "X-Opentime-Recorded": "no",
    };
    const token = await verifyToken(getConfig(c.env).tokenSecrets, c.req.param("token").replace(/\.gif$/, ""));
    // only public event types: a URL can never carry an internal message (e.g. a consent change)
    const type = EVENT_TYPES.find((t) => t === (c.req.query("type") ?? "view"));
    const item = c.req.query("item");
    if (token.ok && type && (!ITEM_EVENTS.has(type) || item)) {
      const event: QueuedEvent = {
        id: (c.req.query("eid") ?? crypto.randomUUID()).slice(0, 128),
        type,
        user: token.claims.u,
        item: item?.slice(0, 128),
        ts: Math.floor(Date.now() / 1000),
        campaign: token.claims.c,
      };
      try {
        await enqueue(c.env.EVENTS, [event]);
        headers["X-Opentime-Recorded"] = "yes";
      } catch (e) {
        logEvent("error", "pixel.enqueue_failed", { detail: errorMessage(e) });
      }
    }
    return c.body(GIF, 200, headers);
  });
}
