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
  const deadline = block.type === "countdown" ? Date.parse(block.deadline) : 0;
  const copy = renderCopy(block.copy, {
    item: item && {
      title: item.title,
      category: item.category,
      price: shownPrice(item),
    },
    // empty from the deadline on, so `{{^timeLeft}}` can say it ended (its last second counts down to 00:00:00, as
    // its card and animation do)
    ...(block.type === "countdown" && {
      timeLeft: nowMs < deadline ? timeLeftText(split(secondsLeft(deadline, nowMs))) : "",
    }),
  });
  if (!copy.badge && campaign.badge) copy.badge = campaign.badge;
  return copy;
}
