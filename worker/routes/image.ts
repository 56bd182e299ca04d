/**
 * GET /v1/img/<token>/<slot>.png — the open-time image of one slot (`card-0`, `row-2`, `grid-3@2x`): the
 * product decided for this reader when the email is opened, drawn as a PNG. Always a 200 PNG of the
 * slot's size, whatever the input or failure (mail proxies cache error responses for a long time);
 * `X-Opentime-Reason` says what was shown and why, `X-Opentime-Fetch` who fetched it, `Server-Timing`
 * where the time went (decide, picture, decode, draw, encode, total). A HEAD (link scanners and URL checkers send
 * them; Hono answers it with this GET handler) gets the same headers but is no open: it records nothing and stores
 * or freezes no decision.
 */
import type { Hono } from "hono";
import { countdownItem, countdownOf } from "../../core/campaign";
import type { QueuedEvent } from "../../core/events";
import { rulesHeader } from "../../core/item-rules";
import { slotPixels } from "../../core/layouts";
import { sendKey } from "../../core/token";
import { blockCopy } from "../campaigns/block-copy";
import { cfSignals } from "../campaigns/open-facts";
import { classifyFetch, isPrefetch, signalsOf } from "../decisions/classify-fetch";
import { decideSlot } from "../decisions/decide-slot";
import { type AppEnv, getConfig } from "../env";
import { impressionItems } from "../events/impressions";
import { mayRecord } from "../events/may-record";
import { enqueueInBackground } from "../events/queue";
import { exposureEvents } from "../experiments/exposure-events";
import { countdownGif } from "../images/countdown-gif";
import { solidPng } from "../images/fallback-png";
import { renderSlot } from "../images/render-slot";
import { parseSlotPath } from "../images/slot-path";
import { background } from "../lib/background";
import { headerText, headerValue } from "../lib/header-value";
import { errorMessage, logEvent } from "../lib/log";
import { serverTiming } from "../lib/server-timing";

export const IMAGE_PREFIX = "/v1/img/";

function image(bytes: Uint8Array, headers: Record<string, string>, type = "image/png"): Response {
  return new Response(bytes, {
    status: 200,
    headers: {
      "Content-Type": type,
      "Content-Length": String(bytes.byteLength),
      // revalidated on every open (Gmail's proxy honours this): a proxy may keep a copy,
      // but only under this URL, which holds the reader's own token
      "Cache-Control": "no-cache, max-age=0",
      ...headers,
    },
  });
}

export function registerImage(app: Hono<AppEnv>): void {
  app.get(`${IMAGE_PREFIX}*`, async (c) => {
    const path = parseSlotPath(new URL(c.req.url).pathname, IMAGE_PREFIX, ".png");
    const fetchKind = classifyFetch(signalsOf(c.req.raw));
    const head = c.req.method === "HEAD";
    const bg = background(c);
    const started = performance.now();
    try {
      const config = getConfig(c.env);
      const origin = config.publicBaseUrl ? new URL(config.publicBaseUrl).origin : new URL(c.req.url).origin;
      const pictures = { env: c.env, origin, waitUntil: bg.waitUntil };
      if (!path.slot) {
        const out = await renderSlot(path.drawAs, null, {}, pictures);
        // the generic card, said as every drawn image says it (X-Opentime-Render, Server-Timing)
        return image(out.png, {
          "X-Opentime-Reason": "bad-slot",
          "X-Opentime-Fetch": fetchKind,
          "X-Opentime-Render": out.detail,
          "Server-Timing": serverTiming({ ...out.timing, total: performance.now() - started }),
        });
      }
      const decision = await decideSlot({
        kv: c.env.OPENTIME_KV,
        config,
        token: path.token,
        slot: path.slot,
        via: fetchKind,
        head,
        waitUntil: bg.waitUntil,
        location: cfSignals(c.req.raw),
      });
      const decided = performance.now() - started;
      // an open (not a prefetch, not a HEAD) is recorded once per block and send (the token's expiry and nonce tell sends
      // of one campaign apart), as an email_open event on the profile, with the items the block shows when it was
      // decided now (impressions, for frequency caps); a staff preview's open records nothing (mayRecord)
      const real = !isPrefetch(fetchKind) && !head && path.slot.index === 0;
      if (mayRecord(decision.claims, decision.recordable, real)) {
        const items = impressionItems(decision.shown ?? []);
        const event: QueuedEvent = {
          id: `open:${sendKey(decision.claims)}`,
          type: "email_open",
          user: decision.claims.u,
          ts: Math.floor(Date.now() / 1000),
          campaign: decision.campaignId,
          ...(items.length > 0 && { items, send: sendKey(decision.claims) }),
        };
        // the experiment's exposure: this is the reader's real open (not Apple's prefetch)
        const exposures = exposureEvents(decision.claims.u, decision.exposures, Date.now(), decision.block?.id);
        bg.waitUntil(enqueueInBackground(c.env.EVENTS, [...exposures, event]));
      }
      // what every answer of a decided slot says of the decision
      const decisionHeaders = {
        "X-Opentime-Reason": decision.reason,
        "X-Opentime-Decision": decision.source,
        "X-Opentime-Item": headerValue(decision.item?.id ?? "none"),
        "X-Opentime-Fetch": fetchKind,
        ...(decision.block && { "X-Opentime-Block": headerText(decision.block.why) }),
        ...(decision.rules && { "X-Opentime-Rules": rulesHeader(decision.rules) }),
        ...(decision.experiment && { "X-Opentime-Experiment": headerValue(decision.experiment) }),
      };
      // a countdown block: the time left at this moment, animated (or its ended content once past the deadline)
      const countdown = decision.item ? countdownOf(decision.campaign, decision.item.id) : null;
      const nowMs = Date.now();
      if (countdown) {
        const { width, height } = slotPixels(path.slot);
        const t1 = performance.now();
        // a drawing that fails gives the block's card instead (below), never a broken image
        const drawn = await countdownGif(countdown, width, height, nowMs).catch((e) => {
          logEvent("error", "image.countdown_failed", { detail: errorMessage(e) });
          return null;
        });
        if (drawn) {
          await bg.flush();
          const render = `${drawn.drawn ? "countdown" : "countdown-shared"};frames=${drawn.frames}`;
          const timing = { decide: decided, countdown: performance.now() - t1, total: performance.now() - started };
          return image(
            drawn.gif,
            { ...decisionHeaders, "X-Opentime-Render": render, "Server-Timing": serverTiming(timing) },
            "image/gif",
          );
        }
      }
      const shownItem = countdown ? countdownItem(countdown, nowMs) : decision.item;
      // a countdown's copy tells the time left now (a stored decision's words were for an earlier open)
      const copy =
        countdown && decision.source === "stored"
          ? blockCopy(decision.campaign, countdown, shownItem, nowMs)
          : decision.copy;
      const out = await renderSlot(path.slot, shownItem, copy, pictures);
      await bg.flush();
      return image(out.png, {
        ...decisionHeaders,
        "X-Opentime-Render": out.detail,
        "Server-Timing": serverTiming({ decide: decided, ...out.timing, total: performance.now() - started }),
      });
    } catch (e) {
      // nothing above should throw; if it does, the reader still gets an image
      logEvent("error", "image.failed", { detail: errorMessage(e) });
      const { width, height } = slotPixels(path.drawAs);
      return image(solidPng(width, height), {
        "X-Opentime-Reason": "internal-error",
        "X-Opentime-Fetch": fetchKind,
        "X-Opentime-Render": "render-error",
        "Server-Timing": serverTiming({ total: performance.now() - started }),
      });
    }
  });
}
