/**
 * One email as a reader would get it: a fresh 7-day preview token for the user and campaign (its opens and clicks
 * record nothing on the reader: core/token.ts, claim p), or `again`, the preview token of the email shown before,
 * re-opened; the three rendered parts, the experiment arm (if any) and the campaign block the reader gets and why
 * (with the facts its conditions saw), the recommendations with their scores and why, and the AMP part's
 * static view.
 */

import ampTemplate from "../../amp-templates/recs-email.amp.html";
import htmlTemplate from "../../amp-templates/recs-email.html";
import textTemplate from "../../amp-templates/recs-email.txt";
import { emailLinks, renderEmail } from "../../core/email-template";
import { mintToken, verifyToken } from "../../core/token";
import { ampListBody } from "../campaigns/amp-list-body";
import { readCampaign } from "../decisions/campaign-store";
import type { Config } from "../env";
import { ApiError } from "../errors";
import type { WaitUntil } from "../lib/background";
import { ampOpenFacts } from "./amp-open-facts";
import { ampStaticView } from "./amp-static";
import { previewOpen } from "./preview-open";
import type { PreviewQuery } from "./query";

const TOKEN_TTL_SECONDS = 7 * 86400;

export async function emailPreview(
  kv: KVNamespace,
  config: Config,
  /** the request's: a model load the preview starts outlives its answer */
  waitUntil: WaitUntil,
  base: string,
  q: PreviewQuery,
  again?: string,
) {
  const secret = config.tokenSecrets[0];
  if (!secret)
    throw new ApiError("MODEL_UNAVAILABLE", "TOKEN_SECRET is not set: run `npm start` once to create .dev.vars");
  // the same email opened again keeps its token (its decisions are that send's); anything else is a new email
  const shown = again ? await verifyToken(config.tokenSecrets, again) : null;
  const token =
    shown?.ok && shown.claims.p && shown.claims.u === q.user && shown.claims.c === q.campaign
      ? (again as string)
      : await mintToken(secret, { user: q.user, campaign: q.campaign, ttlSeconds: TOKEN_TTL_SECONDS, preview: true });
  const links = emailLinks({ baseUrl: base, token, layout: q.layout });
  const parts = renderEmail(
    { amp: ampTemplate, html: htmlTemplate, text: textTemplate },
    { headline: "Picked for you", shopName: "the opentime demo shop", shopUrl: `${base}/`, count: 6, ...links },
  );
  // as the reader would get it in the AMP part: the campaign's block for them, with its item rules
  // (an experiment running on the campaign: the reader's arm, as the real email's opens serve it)
  const stored = await readCampaign(kv, q.campaign);
  const now = Date.now();
  const verified = await verifyToken(config.tokenSecrets, token, Math.floor(now / 1000));
  const { served, campaign, experiment } = await previewOpen({
    kv,
    config,
    token,
    verified,
    stored,
    open: (c) => ampOpenFacts(c.timeZone, now),
    n: 6,
    now,
    waitUntil,
  });
  const rec = served.rec;
  const body = ampListBody(campaign, q.campaign, served.selection.block, served.rec.items, base, config.shopUrl, now);
  // a pinned item is placed first, unscored (item rules: core/item-rules.ts); its score would read as a fallback's
  const block = served.selection.block;
  const pinned = new Set(block.type === "recommendations" && rec.rules ? (block.items?.pinned ?? []) : []);
  const items = body.items.map((it, i) => {
    const score = rec.scores?.[i];
    return { ...it, rank: i + 1, score: Number.isFinite(score) ? (score as number) : null, pinned: pinned.has(it.id) };
  });
  return {
    user: q.user,
    campaign: q.campaign,
    settings: campaign,
    experiment,
    token,
    block: { id: served.selection.block.id, type: served.selection.block.type, why: served.detail(), copy: body.copy },
    facts: served.facts,
    recs: {
      reason: rec.reason,
      scorer: rec.scorer,
      model: rec.modelVersion,
      excluded: rec.excluded ?? 0,
      // what the block's item rules did, as `X-Opentime-Rules` says it (null: the block has none)
      rules: rec.rules ?? null,
      items,
    },
    slots: links.slots,
    parts: { html: parts.html, text: parts.text, amp: parts.amp, ampStatic: ampStaticView(parts.amp, body) },
  };
}
