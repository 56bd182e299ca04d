/**
 * The amp-list's JSON for a served block: its items for the AMP part (each with the block's badge and call to
 * action rendered for it) and the block's headline and subline, rendered for its first item. The route and the
 * preview page answer with the same body.
 */
import type { Block, Campaign } from "../../core/campaign";
import type { AmpItem, CatalogItem } from "../../core/catalog";
import { toAmpItem } from "../recs/amp-items";
import { blockCopy } from "./block-copy";
import type { ServedBlock } from "./serve-block";

export interface AmpRecsResponse {
  /** each with the block's `badge` and `cta` rendered for it (core/block-copy.ts) when it has them */
  items: AmpItem[];
  /** the campaign's block served (a template can switch on its type); absent when the answer failed */
  block?: { id: string; type: Block["type"] };
  /** the block's headline and subline, rendered for its first item; absent when it has none */
  copy?: { headline?: string; subline?: string };
}

export function ampListBody(served: ServedBlock, campaign: Campaign, baseUrl: string, nowMs: number): AmpRecsResponse {
  const block = served.selection.block;
  const items = served.rec.items;
  const copyFor = (item: CatalogItem | null) => blockCopy(campaign, block, served.facts, item, nowMs);
  const { headline, subline } = copyFor(items[0] ?? null);
  return {
    items: items.map((it) => {
      const { badge, cta } = copyFor(it);
      return { ...toAmpItem(it, baseUrl), ...(badge && { badge }), ...(cta && { cta }) };
    }),
    block: { id: block.id, type: block.type },
    ...((headline || subline) && { copy: { ...(headline && { headline }), ...(subline && { subline }) } }),
  };
}
