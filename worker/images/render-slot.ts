/**
 * One slot's PNG: the decided product drawn as a card (picture, title, price, badge). A card depends only
 * on the product, the layout, the scale and the badge, so drawn cards are kept per isolate (LRU, 24 MB):
 * readers shown the same product share one drawing. Falls back in steps, never failing: without its
 * picture -> the card with a placeholder; without a product -> a generic card; if drawing itself
 * fails -> a plain PNG of the right size.
 */
import { bytesToBase64 } from "../../core/base64";
import { type CatalogItem, sizedImageUrl } from "../../core/catalog";
import { type Slot, slotPixels } from "../../core/layouts";
import { ByteLru } from "../lib/byte-lru";
import { errorMessage, logEvent } from "../lib/log";
import { formatPrice } from "../recs/amp-items";
import { type CardContent, cardSvg, pictureBox } from "./card-svg";
import { solidPng } from "./fallback-png";
import { loadPicture, type PictureContext } from "./picture-cache";
import { renderPng } from "./resvg-runtime";

export interface RenderedSlot {
  png: Uint8Array;
  /** `ok`, `cached` (drawn before), or what degraded: `picture-*`, `generic-card`, `render-error` */
  detail: string;
}

/** resvg asks for pictures by URL; this one is never fetched, its bytes are handed over. */
const PICTURE_HREF = "https://picture.opentime.invalid/p";
const GENERIC_TITLE = "See what's new in the shop";
const CACHE_BUDGET = 24 * 1024 * 1024;

const drawn = new ByteLru<Uint8Array>(CACHE_BUDGET, (png) => png.byteLength);

export function resetRenderCache(): void {
  drawn.clear();
}

export async function renderSlot(
  slot: Slot,
  item: CatalogItem | null,
  badge: string | undefined,
  pictures: PictureContext,
): Promise<RenderedSlot> {
  const { width, height } = slotPixels(slot);
  const key = JSON.stringify(
    item
      ? [slot.layout, slot.scale, badge ?? "", item.id, item.title, item.price, item.currency, item.image]
      : [slot.layout, slot.scale, "generic"],
  );
  const hit = drawn.get(key);
  if (hit) return { png: hit, detail: "cached" };

  let detail = item ? "ok" : "generic-card";
  const images = new Map<string, Uint8Array>();
  let href: string | null = null;
  if (item?.image) {
    const box = pictureBox(slot);
    const picture = await loadPicture(sizedImageUrl(item.image, box.width, box.height), pictures);
    if (!picture.ok) detail = picture.reason;
    else if (picture.svg) href = `data:image/svg+xml;base64,${bytesToBase64(picture.bytes)}`;
    else {
      href = PICTURE_HREF;
      images.set(PICTURE_HREF, picture.bytes);
    }
  }
  const content: CardContent = item
    ? { title: item.title, price: formatPrice(item.price, item.currency), badge, picture: href }
    : { title: GENERIC_TITLE, price: "", picture: null };
  try {
    const png = await renderPng({ svg: cardSvg(slot, content), width, images });
    // only complete cards are kept: a missing picture is tried again next time
    if (detail === "ok" || detail === "generic-card") drawn.set(key, png);
    return { png, detail };
  } catch (e) {
    logEvent("error", "image.render_failed", { detail: errorMessage(e), item: item?.id ?? null });
  }
  if (content.picture) {
    // a picture resvg could not decode: draw the card without it
    try {
      const png = await renderPng({ svg: cardSvg(slot, { ...content, picture: null }), width });
      return { png, detail: "picture-undecodable" };
    } catch {
      // fall through
    }
  }
  return { png: solidPng(width, height), detail: "render-error" };
}
