/**
 * GET /v1/c/<token>/<slot> — the click-through of one open-time image slot: a 302 to the product that
 * slot's image showed (the stored decision), with the campaign's UTM parameters. With nothing stored
 * (images were blocked) it decides now and stores that, so images loaded later show the clicked product.
 * Never an error page: when nothing can be decided, or the slot showed no product, it goes to the campaign's
 * fallback URL (the click recorded all the same, on no item), and it only ever redirects to http(s) URLs (a
 * catalog URL of another scheme goes to the shop's home: SHOP_URL, else the root of PUBLIC_BASE_URL or of this
 * origin). A HEAD (link scanners and URL checkers send them; Hono answers it with this GET handler) gets the
 * same 302 but records no click and stores or freezes no decision.
 * A GET whose user agent names a link scanner (worker/decisions/classify-click.ts) gets the same 302 too, stores
 * and freezes nothing, and is recorded as a `scanner_click`, never the reader's (Outlook's check of a link before it
 * opens the reader's browser, as nothing); every other click carries when it
 * arrived and whether it is suspect, so that the reader's shard can tell a scanner's burst (core/click-bursts.ts).
 */
import type { Hono } from "hono";
import { countdownItem, countdownOf, isStaticItem, withUtm } from "../../core/campaign";
import type { QueuedEvent } from "../../core/events";
import { slotKey } from "../../core/layouts";
import type { SlotReason } from "../../core/reasons";
import { sendKey } from "../../core/token";
import { webUrl } from "../../core/web-url";
import { fallbackLink, shopHome } from "../campaigns/fallback-link";
import { cfSignals } from "../campaigns/open-facts";
import { getLiveCatalog } from "../catalog/live-catalog";
import { clickSignalsOf, isOfficeLinkCheck } from "../decisions/classify-click";
import { decideSlot } from "../decisions/decide-slot";
import { type AppEnv, getConfig } from "../env";
import { mayRecord } from "../events/may-record";
import { enqueueInBackground } from "../events/queue";
import { parseSlotPath } from "../images/slot-path";
import { background } from "../lib/background";
import { headerValue } from "../lib/header-value";
import { errorMessage, logEvent } from "../lib/log";

export const CLICK_PREFIX = "/v1/c/";

function redirect(location: string, reason: SlotReason, item = "none"): Response {
  return new Response(null, {
    status: 302,
    headers: {
      Location: location,
      "Cache-Control": "no-store",
      "X-Opentime-Reason": reason,
      "X-Opentime-Item": headerValue(item),
    },
  });
}

export function registerClick(app: Hono<AppEnv>): void {
  app.get(`${CLICK_PREFIX}*`, async (c) => {
    // when the click reached the edge, before any wait: a burst is told by how close clicks came (core/click-bursts.ts)
    const arrivedMs = Date.now();
    // the request's own origin: always a valid base, whatever the configuration holds
    let home = `${new URL(c.req.url).origin}/`;
    try {
      const requestUrl = new URL(c.req.url);
      const config = getConfig(c.env);
      const base = config.publicBaseUrl ?? requestUrl.origin;
      home = shopHome(config.shopUrl, base);
      const path = parseSlotPath(requestUrl.pathname, CLICK_PREFIX);
      if (!path.slot) return redirect(home, "bad-slot");
      const slot = path.slot;
      const head = c.req.method === "HEAD";
      // who sent it, as far as the request tells: it never changes the answer, only what is recorded
      const signals = clickSignalsOf(c.req.raw);
      const bg = background(c);
      const decision = await decideSlot({
        kv: c.env.OPENTIME_KV,
        config,
        token: path.token,
        slot,
        via: "click",
        // a scanner's GET, like a HEAD, answers what the reader's would and stores or freezes nothing: the reader's
        // open decides, at the time it opens
        head: head || signals.agent,
        waitUntil: bg.waitUntil,
        location: cfSignals(c.req.raw),
      });
      const fallback = fallbackLink(decision.campaign, home, base);
      // a countdown's link as it is now: the sale, or its ended content's once past the deadline
      const countdown = decision.item ? countdownOf(decision.campaign, decision.item.id) : null;
      const target = countdown ? countdownItem(countdown, Date.now()).url : decision.item?.url;
      const product = target ? webUrl(target, base) : null;
      // what the open showed may have gone out of stock since (the live catalog, polled once a second); the
      // click is recorded all the same: the reader clicked it
      const gone =
        decision.item !== null &&
        product !== null &&
        decision.campaign.unavailableClick === "fallback" &&
        (await getLiveCatalog(c.env.OPENTIME_KV, bg.waitUntil)).unavailable.has(decision.item.id);
      // (a staff preview's click records nothing: mayRecord)
      // (nor does Outlook's check of the link before the reader's browser sends their click: isOfficeLinkCheck)
      if (mayRecord(decision.claims, decision.recordable, !head && !isOfficeLinkCheck(c.req.raw))) {
        const send = sendKey(decision.claims);
        const event: QueuedEvent = {
          // one per send and slot, as opens are: a trigger's emails share a campaign, and each one's click counts
          id: `click:${send}:${slotKey(slot)}`,
          // a scanner's click is recorded apart by the reader's shard: never the reader's, nor exposing them
          type: signals.agent ? "scanner_click" : "email_click",
          ...(signals.agent && { scanner: "agent" as const }),
          user: decision.claims.u,
          // a slot that showed no product (the generic card) or a static block's picture: the click counts, on
          // no item
          ...(decision.item && !isStaticItem(decision.item) && { item: decision.item.id }),
          ts: Math.floor(Date.now() / 1000),
          campaign: decision.campaignId,
          slot: slotKey(slot),
          send,
          atMs: arrivedMs,
          ...(signals.suspect && { suspect: true }),
          // a click shows the email was opened (its images may have been blocked): it carries the open's
          // exposures, which the reader's shard records before it attributes the click (core/experiments/); a
          // scanner's names the arms its filtered click is counted for
          ...(decision.exposures.length > 0 && {
            exposures: decision.exposures.map((x) => (decision.block ? { ...x, block: decision.block.id } : x)),
          }),
        };
        bg.waitUntil(enqueueInBackground(c.env.EVENTS, [event]));
      }
      await bg.flush();
      // (a product without a link of its own, as a catalog may hold: the fallback, the header naming what showed)
      if (!decision.item || !product)
        return redirect(
          fallback,
          decision.reason,
          decision.item && !isStaticItem(decision.item) ? decision.item.id : "none",
        );
      const destination = gone
        ? fallback
        : withUtm(product.toString(), decision.campaignId || "opentime", decision.campaign, slotKey(slot));
      return redirect(destination, gone ? "item-unavailable" : decision.reason, decision.item.id);
    } catch (e) {
      logEvent("error", "click.failed", { detail: errorMessage(e) });
      return redirect(home, "internal-error");
    }
  });
}
