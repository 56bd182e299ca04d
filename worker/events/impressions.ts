/**
 * What an email showed a reader: the products of a block (impressionItems), carried on its open event and kept on
 * their profile by their shard (core/apply-events.ts), for the item rules' frequency cap; the AMP part's open
 * (ampOpenEvent). One per email sent: the event id repeats across re-opens, so the shard counts it once.
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

/**
 * The open of an email's AMP part (mail providers fetch the amp-list as the email opens): an `email_open`, as an
 * image block's open is, so a reader who reads the AMP part (Gmail, Yahoo) gains the open's engagement and
 * activity, carrying what the amp-list showed (for the frequency cap) when it showed products. One per send: its id
 * is the image open's (`open:<send>`), so re-opens, and the same send opened again in a client that shows the
 * HTML part, count once (the first open's items are kept).
 */
export function ampOpenEvent(
  claims: { u: string; c: string; e: number },
  items: readonly CatalogItem[],
  nowMs: number,
): QueuedEvent {
  const ids = impressionItems(items);
  return {
    id: `open:${sendKey(claims)}`,
    type: "email_open",
    user: claims.u,
    ts: Math.floor(nowMs / 1000),
    campaign: claims.c,
    ...(ids.length > 0 && { items: ids, send: sendKey(claims) }),
  };
}
