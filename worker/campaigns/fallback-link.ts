/**
 * Where a link goes when what it would show cannot be linked (nothing decided, no product, a catalog link that may
 * not be served: core/web-url.ts): the campaign's `fallbackUrl`, else the shop's home (SHOP_URL, else the root of
 * the Worker's public origin). Clicks and amp-list items both take it, so a card never links nowhere.
 */
import type { Campaign } from "../../core/campaign";
import { webUrl } from "../../core/web-url";

/** The shop's home: SHOP_URL, else the root of `base` (PUBLIC_BASE_URL, or the request's origin). */
export function shopHome(shopUrl: string | undefined, base: string): string {
  return shopUrl ?? webUrl("/", base)?.toString() ?? `${new URL(base).origin}/`;
}

/** The campaign's fallbackUrl resolved against `base`, else `home`. */
export function fallbackLink(campaign: Pick<Campaign, "fallbackUrl">, home: string, base: string): string {
  return webUrl(campaign.fallbackUrl ?? home, base)?.toString() ?? home;
}
