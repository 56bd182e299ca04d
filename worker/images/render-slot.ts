/**
 * One slot's PNG: the decided product drawn as a card (picture, title, price, the block's copy and badge). A
 * card depends only on the product, the layout, the scale and the copy, so drawn cards are kept per isolate (LRU,
 * 24 MB, within the image caches' 16 MiB: image-memory.ts): readers shown the same product share one drawing, and
 * opens of a card being drawn (a send opened by many at once) wait for that drawing rather than fetch, decode and
 * draw it again each (SHARE_DRAW_MS at most of their own: a drawing belongs to the request that began it, and one
 * cancelled never settles). A drawing: the picture decoded to the pixels of its box, resvg draws the card around it
 * (box left open), the picture goes under, native deflate encodes.
 * Falls back in steps, never failing: without its picture -> the card with a placeholder; without a
 * product -> a generic card; if drawing itself fails -> a plain PNG of the right size.
 */
import type { RenderedCopy } from "../../core/block-copy";
import { type CatalogItem, sizedImageUrl } from "../../core/catalog";
import { type Slot, slotPixels } from "../../core/layouts";
import { ByteLru } from "../lib/byte-lru";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import { shownPrice } from "../recs/amp-items";
import { type CardContent, cardSvg, PANEL, pictureBox } from "./card-svg";
import { solidPng } from "./fallback-png";
import { imageCaches } from "./image-memory";
import { forgetPicture, loadPicture, MEMORY_MAX_AGE_MS, type PictureContext } from "./picture-cache";
import { pictureRaster } from "./picture-raster";
import { encodePng } from "./png-encode";
import { type Raster, underlay } from "./raster";
import { renderRaster } from "./resvg-runtime";

export interface RenderedSlot {
  png: Uint8Array;
  /**
   * `ok`, `cached` (drawn before), `shared` (drawn meanwhile for another open), or what degraded: `picture-*`,
   * `generic-card`, `render-error`
   */
  detail: string;
  /** ms spent loading the picture, decoding it, drawing the card and encoding the PNG (0s when cached) */
  timing: { picture: number; decode: number; draw: number; encode: number };
}

const GENERIC_TITLE = "See what's new in the shop";
const CACHE_BUDGET = 24 * 1024 * 1024;

/** Drawn cards are kept an hour, as their pictures are in memory (picture-cache.ts MEMORY_MAX_AGE_MS). */
const drawn = new ByteLru<Uint8Array>(CACHE_BUDGET, (png) => png.byteLength, imageCaches, MEMORY_MAX_AGE_MS);
/** drawings under way, by the card's key */
const drawing = new Map<string, Promise<RenderedSlot>>();
/** How long an open waits for another's drawing of its card before it draws its own (the picture's load is 1.5 s). */
export const SHARE_DRAW_MS = 2_000;
const NO_TIME = { picture: 0, decode: 0, draw: 0, encode: 0 };

export function resetRenderCache(): void {
  drawn.clear();
  drawing.clear();
}

export async function renderSlot(
  slot: Slot,
  item: CatalogItem | null,
  /** the block's copy for this item (worker/campaigns/block-copy.ts): badge, headline, subline, call to action */
  copy: RenderedCopy,
  pictures: PictureContext,
): Promise<RenderedSlot> {
  const key = JSON.stringify(
    item
      ? [slot.layout, slot.scale, copy, item.id, item.title, item.price, item.currency, item.image]
      : [slot.layout, slot.scale, "generic"],
  );
  const hit = drawn.get(key);
  if (hit) return { png: hit, detail: "cached", timing: NO_TIME };
  const under = drawing.get(key);
  if (under) {
    // a complete card, drawn for another open meanwhile; anything else (degraded, failed, too slow): its own
    const shared = await within(
      under.catch(() => null),
      SHARE_DRAW_MS,
      () => null,
    );
    if (shared?.detail === "ok" || shared?.detail === "generic-card")
      return { png: shared.png, detail: "shared", timing: NO_TIME };
  }
  const own = draw(key, slot, item, copy, pictures);
  // the one later opens wait for: this, unless another took the place first (a drawing stuck or degraded is
  // replaced, so a cancelled one never holds its card's later opens back)
  if (drawing.get(key) === under) {
    drawing.set(key, own);
    const done = () => {
      if (drawing.get(key) === own) drawing.delete(key);
    };
    void own.then(done, done);
  }
  return own;
}

/** Draws the card (renderSlot), keeping it when complete. Never rejects. */
async function draw(
  key: string,
  slot: Slot,
  item: CatalogItem | null,
  copy: RenderedCopy,
  pictures: PictureContext,
): Promise<RenderedSlot> {
  const { width, height } = slotPixels(slot);
  let detail = item ? "ok" : "generic-card";
  const box = pictureBox(slot);
  let picture: Raster | null = null;
  const t0 = performance.now();
  let t1 = t0;
  if (item?.image) {
    const url = sizedImageUrl(item.image, box.width, box.height);
    const loaded = await loadPicture(url, pictures);
    t1 = performance.now();
    if (!loaded.ok) detail = loaded.reason;
    else {
      try {
        picture = await pictureRaster(loaded, box, PANEL);
      } catch (e) {
        detail = "picture-undecodable";
        forgetPicture(url, pictures);
        logEvent("warn", "image.picture_undecodable", { detail: errorMessage(e), item: item.id });
      }
    }
  }
  const t2 = performance.now();
  let t3 = t2;
  const timing = () => ({ picture: t1 - t0, decode: t2 - t1, draw: t3 - t2, encode: performance.now() - t3 });
  const content: CardContent = item
    ? {
        title: item.title,
        price: shownPrice(item),
        ...copy,
        picture: picture !== null,
      }
    : { title: GENERIC_TITLE, price: "", picture: false };
  try {
    const card = await renderRaster({ svg: cardSvg(slot, content), width });
    if (picture) underlay(card, picture, box.x, box.y);
    t3 = performance.now();
    const png = encodePng(card.data, card.width, card.height);
    // only complete cards are kept: a missing picture is tried again next time
    if (detail === "ok" || detail === "generic-card") drawn.set(key, png);
    return { png, detail, timing: timing() };
  } catch (e) {
    logEvent("error", "image.render_failed", { detail: errorMessage(e), item: item?.id ?? null });
  }
  return { png: solidPng(width, height), detail: "render-error", timing: timing() };
}
