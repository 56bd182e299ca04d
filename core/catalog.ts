/** Catalog and fallback-content schemas, as stored in KV and served in amp-list items. */
import { z } from "zod";

/** An ISO 4217 code as the admin API takes one (upper case): the live catalog's `currency`, the rules' price bounds'. */
export const CurrencyCodeSchema = z.string().regex(/^[A-Z]{3}$/, {
  error: (issue) =>
    typeof issue.input === "string" && /^[a-z]{3}$/i.test(issue.input)
      ? `an ISO 4217 code in capitals, such as GBP (not ${issue.input})`
      : "an ISO 4217 code in capitals, such as GBP",
});

export const CatalogItemSchema = z.object({
  id: z.string().min(1),
  title: z.string(),
  category: z.string(),
  /** price in major units (e.g. 12.5 = 12.50) */
  price: z.number().nonnegative(),
  currency: z.string().length(3),
  /**
   * absolute URL, or a path resolved against the Worker's public origin (the demo uses paths). It may hold
   * `{width}` and `{height}`, as image CDNs take them (`?w={width}&h={height}&fit=crop`): open-time images
   * then ask for a picture of exactly the size they draw, which resvg places without resampling.
   */
  image: z.string(),
  url: z.string(),
});
export type CatalogItem = z.infer<typeof CatalogItemSchema>;

export const CatalogSchema = z.object({
  /** items in the order of the model's item table: index i here is output index i of the model */
  items: z.array(CatalogItemSchema),
  /**
   * item indices by popularity, most popular first; generic content for anyone. Each index once, as parsed: a list
   * written with one twice (a version's check lets it through) would otherwise show that item twice in an answer.
   */
  popular: z.array(z.number().int().nonnegative()).transform((list) => [...new Set(list)]),
});
export type Catalog = z.infer<typeof CatalogSchema>;

/**
 * The stored fallback items (`fallback:items`, what opens show with no model loadable): each item once, as parsed, as
 * the popular list is (`npm run seed` wrote them from it).
 */
export const FallbackItemsSchema = z.object({
  items: z.array(CatalogItemSchema).transform((items) => {
    const seen = new Set<string>();
    return items.filter((it) => !seen.has(it.id) && !!seen.add(it.id));
  }),
});
export type FallbackItems = z.infer<typeof FallbackItemsSchema>;

/** The shape of one amp-list item (`{"items": [AmpItem]}`). */
export interface AmpItem {
  id: string;
  title: string;
  price: string;
  currency: string;
  image: string;
  url: string;
  /** the block's badge for this item, else the campaign's (core/block-copy.ts) */
  badge?: string;
  /** the block's call to action for this item */
  cta?: string;
}

/** Fills an image URL's `{width}` and `{height}` placeholders (pixels); a URL without them is returned as is. */
export function sizedImageUrl(image: string, width: number, height: number): string {
  return image.replaceAll("{width}", String(Math.round(width))).replaceAll("{height}", String(Math.round(height)));
}
