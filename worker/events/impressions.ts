/**
 * Impressions of the AMP part: which items an amp-list answer showed a reader, queued like any event and kept
 * on their profile by their shard (core/apply-events.ts), for the item rules' frequency cap. One per email: the
 * event id repeats across re-opens, so the shard counts it once. (Image blocks carry theirs on the open event.)
 */

import { MAX_IMPRESSION_ITEMS } from "../../core/apply-events";
import { isStaticItem } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import type { QueuedEvent } from "../../core/events";

/** The impression of `items` in `place` (`amp`, or an image slot such as `row-1`); null when nothing was a product. */
export function impressionEvent(
  user: string,
  campaign: string,
  place: string,
  items: readonly CatalogItem[],
  nowMs: number,
): QueuedEvent | null {
  const ids = items
    .filter((it) => !isStaticItem(it))
    .map((it) => it.id)
    .slice(0, MAX_IMPRESSION_ITEMS);
  if (ids.length === 0) return null;
  return {
    id: `imp:${campaign}:${place}`,
    type: "impression",
    user,
    ts: Math.floor(nowMs / 1000),
    campaign,
    items: ids,
  };
}
