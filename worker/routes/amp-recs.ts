/**
 * GET /v1/amp/recs?t=<token>&n=6 — the amp-list endpoint: `{"items":[{id,title,price,currency,image,url}]}`.
 * Email CORS protocol enforced; always 200 with items for an allowed sender (generic items when anything
 * fails), with `X-Opentime-Reason` saying why and `X-Opentime-Model` naming the model version.
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { AmpItem } from "../../core/catalog";
import { rulesHeader } from "../../core/item-rules";
import { verifyToken } from "../../core/token";
import { emailCors } from "../amp/email-cors";
import { getCampaign } from "../decisions/campaign-store";
import { type AppEnv, getConfig } from "../env";
import { headerValue } from "../lib/header-value";
import { errorMessage, logEvent } from "../lib/log";
import { toAmpItem } from "../recs/amp-items";
import { recommend } from "../recs/recommend";

export const MAX_ITEMS = 24;
export const DEFAULT_ITEMS = 6;

export const AmpRecsQuery = z.object({
  t: z.string().optional(),
  n: z.coerce.number().int().min(1).max(MAX_ITEMS).catch(DEFAULT_ITEMS),
});

export interface AmpRecsResponse {
  items: AmpItem[];
}

export function registerAmpRecs(app: Hono<AppEnv>): void {
  app.get("/v1/amp/recs", emailCors(), async (c) => {
    try {
      const config = getConfig(c.env);
      const query = AmpRecsQuery.parse(c.req.query());
      const now = Date.now();
      const verified = await verifyToken(config.tokenSecrets, query.t, Math.floor(now / 1000));
      // the token's campaign's item rules (core/item-rules.ts), if it has any
      const campaign = verified.ok ? await getCampaign(c.env.OPENTIME_KV, verified.claims.c, now) : null;
      const rec = await recommend({
        kv: c.env.OPENTIME_KV,
        config,
        token: query.t,
        verified,
        n: query.n,
        now,
        rules: campaign?.items,
      });
      const base = config.publicBaseUrl ?? new URL(c.req.url).origin;
      const body: AmpRecsResponse = { items: rec.items.map((it) => toAmpItem(it, base)) };
      return c.json(body, 200, {
        "Cache-Control": "private, no-store",
        "X-Opentime-Reason": rec.reason,
        "X-Opentime-Model": headerValue(rec.modelVersion ?? "none"),
        "X-Opentime-Scorer": rec.scorer,
        ...(rec.rules && { "X-Opentime-Rules": rulesHeader(rec.rules) }),
      });
    } catch (e) {
      // recommend never throws; should anything else, the amp-list still gets an answer (its fallback shows)
      logEvent("error", "amp_recs.failed", { detail: errorMessage(e) });
      const empty: AmpRecsResponse = { items: [] };
      return c.json(empty, 200, { "Cache-Control": "private, no-store", "X-Opentime-Reason": "internal-error" });
    }
  });
}
