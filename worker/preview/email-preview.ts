/**
 * One email as a reader would get it: a fresh 7-day token for the user and campaign, the three rendered
 * parts, the recommendations with their scores and why, and the AMP part's static view.
 */
import ampTemplate from "../../amp-templates/recs-email.amp.html";
import htmlTemplate from "../../amp-templates/recs-email.html";
import textTemplate from "../../amp-templates/recs-email.txt";
import { emailLinks, renderEmail } from "../../core/email-template";
import { mintToken } from "../../core/token";
import { getCampaign } from "../decisions/campaign-store";
import type { Config } from "../env";
import { ApiError } from "../errors";
import { toAmpItem } from "../recs/amp-items";
import { recommend } from "../recs/recommend";
import { ampStaticView } from "./amp-static";
import type { PreviewQuery } from "./query";

const TOKEN_TTL_SECONDS = 7 * 86400;

export async function emailPreview(kv: KVNamespace, config: Config, base: string, q: PreviewQuery) {
  const secret = config.tokenSecrets[0];
  if (!secret)
    throw new ApiError("MODEL_UNAVAILABLE", "TOKEN_SECRET is not set: run `npm start` once to create .dev.vars");
  const token = await mintToken(secret, { user: q.user, campaign: q.campaign, ttlSeconds: TOKEN_TTL_SECONDS });
  const links = emailLinks({ baseUrl: base, token, layout: q.layout });
  const parts = renderEmail(
    { amp: ampTemplate, html: htmlTemplate, text: textTemplate },
    { headline: "Picked for you", shopName: "the opentime demo shop", shopUrl: `${base}/`, count: 6, ...links },
  );
  // as the reader would get it: with the campaign's item rules
  const campaign = await getCampaign(kv, q.campaign);
  const rec = await recommend({ kv, config, token, n: 6, rules: campaign.items });
  const items = rec.items.map((it, i) => ({
    ...toAmpItem(it, base),
    rank: i + 1,
    score: rec.scores?.[i] ?? null,
  }));
  return {
    user: q.user,
    campaign: q.campaign,
    settings: campaign,
    token,
    recs: { reason: rec.reason, scorer: rec.scorer, model: rec.modelVersion, excluded: rec.excluded ?? 0, items },
    slots: links.slots,
    parts: { html: parts.html, text: parts.text, amp: parts.amp, ampStatic: ampStaticView(parts.amp, items) },
  };
}
