/**
 * A served block's copy for one item (core/block-copy.ts): the item's title, price as the reader sees it and
 * category, and a countdown's time left; the block's badge, else the campaign's. Nothing of the reader: the
 * block's conditions chose the words.
 */
import { type RenderedCopy, renderCopy } from "../../core/block-copy";
import type { Block, Campaign } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import { secondsLeft, split, timeLeftText } from "../../core/countdown";
import { shownPrice } from "../recs/amp-items";

export function blockCopy(campaign: Campaign, block: Block, item: CatalogItem | null, nowMs: number): RenderedCopy {
  const left = block.type === "countdown" ? secondsLeft(Date.parse(block.deadline), nowMs) : 0;
  const copy = renderCopy(block.copy, {
    item: item && {
      title: item.title,
      category: item.category,
      price: shownPrice(item),
    },
    // empty once the deadline has passed, so `{{^timeLeft}}` can say it ended
    ...(block.type === "countdown" && { timeLeft: left > 0 ? timeLeftText(split(left)) : "" }),
  });
  if (!copy.badge && campaign.badge) copy.badge = campaign.badge;
  return copy;
}
