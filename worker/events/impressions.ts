/**
 * Impressions of the AMP part: which items an amp-list answer showed a reader, queued like any event and kept
 * on their profile by their shard (core/apply-events.ts), for the item rules' frequency cap. One per email sent:
 * the event id repeats across re-opens, so the shard counts it once. (Image blocks carry theirs on the open
 * event.)
 */
import { MAX_IMPRESSION_ITEMS } from "../../core/apply-events";
import { isStaticItem } from "../../core/campaign";
import type { CatalogItem } from "../../core/catalog";
import type { QueuedEvent } from "../../core/events";
import { sendKey } from "../../core/token";

/** The products among what a block showed (not its static or countdown card), as many as a profile keeps. */
export function impressionItems(items: readonly CatalogItem[]): string[] {
  return items
    .filter((it) => !isStaticItem(it))
    .map((it) => it.id)
    .slice(0, MAX_IMPRESSION_ITEMS);
}

/** The impression of `items` in `place` (`amp`); null when nothing shown was a product. */
export function impressionEvent(
  claims: { u: string; c: string; e: number },
  place: string,
  items: readonly CatalogItem[],
  nowMs: number,
): QueuedEvent | null {
  const ids = impressionItems(items);
  if (ids.length === 0) return null;
  // one per send: the token's expiry tells sends of one campaign apart (a trigger's emails share a campaign)
  return {
    id: `imp:${claims.c}:${claims.e}:${place}`,
    type: "impression",
    user: claims.u,
    ts: Math.floor(nowMs / 1000),
    campaign: claims.c,
    items: ids,
    send: sendKey(claims),
  };
}
