/**
 * GET /v1/c/<token>/<slot> — the click-through of one open-time image slot: a 302 to the product that
 * slot's image showed (the stored decision), with the campaign's UTM parameters. With nothing stored
 * (images were blocked) it decides now and stores that, so images loaded later show the clicked product.
 * Never an error page: when nothing can be decided it goes to the campaign's fallback URL.
 */
import type { Hono } from "hono";
import { withUtm } from "../../core/campaign";
import type { QueuedEvent } from "../../core/events";
import { slotKey } from "../../core/layouts";
import { decideSlot } from "../decisions/decide-slot";
import { type AppEnv, getConfig } from "../env";
import { parseSlotPath } from "../images/slot-path";
import { background } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { enqueue } from "./events";

export const CLICK_PREFIX = "/v1/c/";

export function registerClick(app: Hono<AppEnv>): void {
  app.get(`${CLICK_PREFIX}*`, async (c) => {
    const requestUrl = new URL(c.req.url);
    const path = parseSlotPath(requestUrl.pathname, CLICK_PREFIX);
    const bg = background(c);
    const config = getConfig(c.env);
    const base = config.publicBaseUrl ?? requestUrl.origin;
    const redirect = (location: string, reason: string, item = "none") =>
      new Response(null, {
        status: 302,
        headers: {
          Location: location,
          "Cache-Control": "no-store",
          "X-Opentime-Reason": reason,
          "X-Opentime-Item": item,
        },
      });
    const home = new URL("/", base).toString();
    try {
      if (!path.slot) return redirect(home, "bad-slot");
      const slot = path.slot;
      const decision = await decideSlot({
        kv: c.env.OPENTIME_KV,
        config,
        token: path.token,
        slot,
        via: "click",
        waitUntil: bg.waitUntil,
      });
      if (!decision.item) return redirect(decision.campaign.fallbackUrl ?? home, decision.reason);
      const target = withUtm(
        new URL(decision.item.url, base).toString(),
        decision.campaignId || "opentime",
        decision.campaign,
        slotKey(slot),
      );
      if (decision.claims && c.env.EVENTS) {
        const event: QueuedEvent = {
          id: `click:${decision.campaignId}:${slotKey(slot)}`,
          type: "email_click",
          user: decision.claims.u,
          item: decision.item.id,
          ts: Math.floor(Date.now() / 1000),
          campaign: decision.campaignId,
        };
        bg.waitUntil(enqueue(c.env.EVENTS, [event]));
      }
      await bg.flush();
      return redirect(target, decision.reason, decision.item.id);
    } catch (e) {
      logEvent("error", "click.failed", { detail: errorMessage(e) });
      return redirect(home, "internal-error");
    }
  });
}
