/**
 * GET /v1/amp/recs?t=<token>&n=6 — the amp-list endpoint: `{"items":[{id,title,price,currency,image,url,badge?,
 * cta?}],"block":{id,type},"copy":{headline?,subline?}}` (a template reads `items`, or the whole answer with
 * `single-item items="."` for the block's copy).
 * Email CORS protocol enforced; always 200 with items for an allowed sender (generic items when anything
 * fails), with `X-Opentime-Reason` saying why, `X-Opentime-Model` naming the model version,
 * `X-Opentime-Block` which of the campaign's blocks was served and which conditions chose it, `X-Opentime-Ranking`
 * whether the reader's pool or the whole catalog was ranked (ranker and hybrid), and `Server-Timing` the ranking's
 * and the whole answer's time in the Worker. A HEAD (Hono answers it with this GET handler) gets the same headers
 * but records no open or exposure.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AmpRecsResponse } from "../../core/amp-list";
import { DEFAULT_CAMPAIGN } from "../../core/campaign";
import { rulesHeader } from "../../core/item-rules";
import { verifyToken } from "../../core/token";
import { emailCors } from "../amp/email-cors";
import { ampListBody } from "../campaigns/amp-list-body";
import { cfSignals, openFacts } from "../campaigns/open-facts";
import { serveBlock } from "../campaigns/serve-block";
import { getCampaign } from "../decisions/campaign-store";
import type { FetchKind } from "../decisions/classify-fetch";
import { type AppEnv, getConfig } from "../env";
import { ampOpenEvent } from "../events/impressions";
import { mayRecord } from "../events/may-record";
import { enqueueInBackground } from "../events/queue";
import { exposureEvents } from "../experiments/exposure-events";
import { openArm, prefetchArm } from "../experiments/open-arm";
import { background } from "../lib/background";
import { headerText, headerValue } from "../lib/header-value";
import { errorMessage, logEvent } from "../lib/log";
import { serverTiming } from "../lib/server-timing";
import { openLoads, profileOnce } from "../recs/recommend";

export const MAX_ITEMS = 24;
export const DEFAULT_ITEMS = 6;

export const AmpRecsQuery = z.object({
  t: z.string().optional(),
  n: z.coerce.number().int().min(1).max(MAX_ITEMS).catch(DEFAULT_ITEMS),
});

/**
 * Who asks for an AMP list: mail providers fetch AMP requests from their servers (Gmail, Yahoo, Mail.ru), so
 * the request's location is the provider's, never the reader's.
 */
function ampFetcher(req: Request): FetchKind {
  return req.headers.get("Origin")?.trim().toLowerCase() === "https://mail.google.com" ? "gmail-proxy" : "other-proxy";
}

export function registerAmpRecs(app: Hono<AppEnv>): void {
  app.get("/v1/amp/recs", emailCors(), async (c) => {
    try {
      const started = performance.now();
      const config = getConfig(c.env);
      const bg = background(c);
      const query = AmpRecsQuery.parse(c.req.query());
      const now = Date.now();
      const verified = await verifyToken(config.tokenSecrets, query.t, Math.floor(now / 1000));
      // the token's campaign: its blocks, their conditions and item rules (core/campaign.ts)
      const kv = c.env.OPENTIME_KV;
      const loads = openLoads(kv, config, now, bg.waitUntil);
      // the experiment's reads beside the campaign's; when one applies, the reader's profile is read at once
      const [stored] = verified.ok
        ? await Promise.all([
            getCampaign(kv, verified.claims.c, now),
            prefetchArm(kv, verified.claims.c, now).then((applies) => {
              if (applies) void profileOnce(loads, kv, verified.claims.u);
            }),
          ])
        : [DEFAULT_CAMPAIGN];
      // an experiment running on it: the reader's arm decides which configuration serves (experiments/open-arm.ts)
      const arm = verified.ok
        ? await openArm(kv, verified.claims, stored, () => profileOnce(loads, kv, verified.claims.u), now)
        : null;
      const campaign = arm?.campaign ?? stored;
      const open = openFacts({
        format: "amp",
        fetcher: ampFetcher(c.req.raw),
        ...cfSignals(c.req.raw),
        now,
        campaignZone: campaign.timeZone,
      });
      const served = await serveBlock({
        kv: c.env.OPENTIME_KV,
        config,
        token: query.t,
        verified,
        campaign,
        n: query.n,
        open,
        now,
        loads,
        personalize: arm?.personalize,
        waitUntil: bg.waitUntil,
      });
      const rec = served.rec;
      // an AMP request is a real open (mail providers fetch it as the email opens): the open, with what the reader
      // was shown for frequency caps (worker/events/impressions.ts), and the experiment's exposure; only if they
      // allow tracking; a staff preview's records nothing (mayRecord)
      if (verified.ok && mayRecord(verified.claims, rec.recordable, c.req.method !== "HEAD")) {
        const events = [
          ...(arm ? exposureEvents(verified.claims.u, arm.exposures, now, served.selection.block.id) : []),
          ampOpenEvent(verified.claims, rec.items, now),
        ];
        bg.waitUntil(enqueueInBackground(c.env.EVENTS, events));
      }
      await bg.flush();
      const base = config.publicBaseUrl ?? new URL(c.req.url).origin;
      const campaignId = verified.ok ? verified.claims.c : null;
      const body = ampListBody(
        campaign,
        campaignId,
        served.selection.block,
        served.rec.items,
        base,
        config.shopUrl,
        now,
      );
      return c.json(body, 200, {
        "Cache-Control": "private, no-store",
        "X-Opentime-Reason": rec.reason,
        "X-Opentime-Model": headerValue(rec.modelVersion ?? "none"),
        "X-Opentime-Scorer": rec.scorer,
        ...(rec.ranking && { "X-Opentime-Ranking": rec.ranking }),
        "X-Opentime-Block": headerText(served.explanation),
        ...(rec.rules && { "X-Opentime-Rules": rulesHeader(rec.rules) }),
        ...(arm && { "X-Opentime-Experiment": headerValue(arm.label) }),
        // the ranking's own time (when one was made) and the whole answer's
        "Server-Timing": serverTiming({
          ...(rec.scoreMs !== undefined && { score: rec.scoreMs }),
          total: performance.now() - started,
        }),
      });
    } catch (e) {
      // serveBlock never throws; should anything else, the amp-list still gets an answer (its fallback shows)
      logEvent("error", "amp_recs.failed", { detail: errorMessage(e) });
      const empty: AmpRecsResponse = { items: [] };
      return c.json(empty, 200, { "Cache-Control": "private, no-store", "X-Opentime-Reason": "internal-error" });
    }
  });
}
