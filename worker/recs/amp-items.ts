/**
 * Catalog items -> amp-list items: absolute URLs (pictures https only, else none) and a price formatted in the
 * item's currency.
 */
import { NO_CURRENCY } from "../../core/campaign";
import { type AmpItem, type CatalogItem, sizedImageUrl } from "../../core/catalog";
import { isLoopbackHost, webUrl } from "../../core/web-url";
import metrics from "../images/font-metrics.json";

/** Pixel size asked of sized picture URLs for the AMP list (its amp-img is 300 wide, 2x for retina). */
const AMP_PICTURE_PX = 600;

const formatters = new Map<string, Intl.NumberFormat>();
/** Every character the open-time images' font draws (worker/images/font-metrics.json), for a price's symbol. */
const drawable = new Set(metrics.chars);

/**
 * A price as a shop's own readers read it: its currency's local symbol ($12.00 for US, Canadian or Australian
 * dollars, kr 12.00, zł 12.00), where the images' font draws every character of it; else as en-GB writes it (GH₵
 * has no glyph, so GHS 12.00), else with the currency's code. A currency Intl does not know: the number alone.
 */
export function formatPrice(amount: number, currency: string): string {
  let f = formatters.get(currency);
  if (!f) {
    try {
      const ways = (["narrowSymbol", "symbol", "code"] as const).map(
        (currencyDisplay) => new Intl.NumberFormat("en-GB", { style: "currency", currency, currencyDisplay }),
      );
      f = ways.find((w) => [...w.format(-1234.5)].every((ch) => drawable.has(ch))) ?? (ways[2] as Intl.NumberFormat);
    } catch {
      f = new Intl.NumberFormat("en-GB", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    }
    formatters.set(currency, f);
  }
  return f.format(amount);
}

/** The price as the reader sees it; none on a static or countdown block's card (core/campaign.ts). */
export function shownPrice(item: CatalogItem): string {
  return item.currency === NO_CURRENCY ? "" : formatPrice(item.price, item.currency);
}

/** The URL resolved against the Worker's, or "" when it may not be served (core/web-url.ts: a `javascript:` link). */
function absolute(url: string, base: string): string {
  if (!url) return url;
  return webUrl(url, base)?.toString() ?? "";
}

/**
 * A picture URL for the template's amp-img, or "" to leave the picture out: AMP for Email loads https sources only
 * (an http one fails validation, and Gmail shows the card broken). Not upgraded to https: nothing says the
 * picture's host serves it there, and a card without a picture (the template's `{{#image}}`) is better than a
 * broken one. http on this machine is kept: local development, whose AMP part no mail client loads (the preview
 * page's static view shows it).
 */
function ampPicture(url: string, base: string): string {
  const resolved = url ? webUrl(url, base) : null;
  if (!resolved) return "";
  return resolved.protocol === "https:" || isLoopbackHost(resolved.hostname) ? resolved.toString() : "";
}

export function toAmpItem(item: CatalogItem, baseUrl: string): AmpItem {
  return {
    id: item.id,
    title: item.title,
    price: shownPrice(item),
    currency: item.currency === NO_CURRENCY ? "" : item.currency,
    image: ampPicture(sizedImageUrl(item.image, AMP_PICTURE_PX, AMP_PICTURE_PX), baseUrl),
    url: absolute(item.url, baseUrl),
  };
}
