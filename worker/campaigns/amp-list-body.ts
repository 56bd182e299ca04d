/**
 * The amp-list's JSON for a served block: its items for the AMP part (each with the block's badge and call to
 * action rendered for it) and the block's headline and subline, rendered once for its first item. The route
 * and the preview page answer with the same body (core/amp-list.ts: emails already sent read it too).
 */
import type { AmpRecsResponse } from "../../core/amp-list";
import type { RenderedCopy } from "../../core/block-copy";
import { type Block, type Campaign, withUtm } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import { toAmpItem } from "../recs/amp-items";
import { blockCopy } from "./block-copy";
import { fallbackLink, shopHome } from "./fallback-link";

/**
 * `block` the block served (serveBlock's selection), `items` what it shows (its answer's items); `shopUrl` the
 * configured SHOP_URL: an item whose own link may not be served links where its click would go (fallback-link.ts),
 * worked out only for such an item.
 */
export function ampListBody(
  campaign: Campaign,
  /** the email's campaign (its token's), whose UTM parameters each link carries as the images' clicks do; null: none */
  campaignId: string | null,
  block: Block,
  items: readonly CatalogItem[],
  baseUrl: string,
  shopUrl: string | undefined,
  nowMs: number,
): AmpRecsResponse {
  const rendered = items.map((it) => blockCopy(campaign, block, it, nowMs));
  const { headline, subline } = rendered[0] ?? blockCopy(campaign, block, null, nowMs);
  return {
    items: items.map((it, i) => {
      const { badge, cta } = rendered[i] as RenderedCopy;
      const item = toAmpItem(it, baseUrl);
      // `utm_content`: `amp`, as a click's slot is named for the AMP part
      const url = !item.url
        ? fallbackLink(campaign, shopHome(shopUrl, baseUrl), baseUrl)
        : campaignId !== null
          ? withUtm(item.url, campaignId, campaign, "amp")
          : item.url;
      return { ...item, url, ...(badge && { badge }), ...(cta && { cta }) };
    }),
    block: { id: block.id, type: block.type },
    ...((headline || subline) && { copy: { ...(headline && { headline }), ...(subline && { subline }) } }),
  };
}
