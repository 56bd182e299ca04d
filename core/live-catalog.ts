/**
 * The live catalog: what a shop changes between model versions (stock, price, active, texts, pictures, links,
 * tags, and new items with their metadata), laid over the model's catalog at every open. A PATCH names items
 * and the fields to set; fields it does not name keep their live value. Pure: the writer
 * (worker/state/catalog-writer.ts) merges and publishes, the edge (worker/catalog/live-catalog.ts) reads.
 */
import { z } from "zod";
import { isCardId } from "./card-ids";
import { type CatalogItem, CurrencyCodeSchema } from "./catalog";
import { IdSchema, InputNumberSchema, ZonedTimeSchema } from "./events";

/** Items per PATCH request. */
export const MAX_PATCH_ITEMS = 1000;
/**
 * Items the live catalog holds live fields for: every open reads the whole overlay (about 100 bytes an item),
 * so it is for what changes between models; a shop that changes most of its catalog publishes a new model.
 */
export const MAX_LIVE_ITEMS = 20_000;
/**
 * Bytes of live fields the published overlay (`catalog:live`, JSON) may hold: every isolate parses it whole, and
 * Workers KV stores at most 25 MiB a value (past that no version would ever be published again). 400 bytes an
 * item at MAX_LIVE_ITEMS; a PATCH that would take the overlay past it is refused (one that shrinks it never is).
 */
export const MAX_LIVE_BYTES = 8 * 1024 * 1024;
/** Tags per item, and their length. */
export const MAX_TAGS = 20;

/** Titles and categories as feeds send them, line breaks included (cards and headers drop what they cannot hold). */
const TextSchema = z.string().max(500);
/**
 * An http(s) URL, or a path on the shop's site (`/p/123`) or the Worker's (`/demo/...`): the live catalog's
 * pictures and links, and campaign blocks'. A path never names another host: not `//host`, nor `/\host`
 * (a URL parser reads a backslash as a slash), nor with a control character (it drops tabs and line breaks,
 * so `/\t/host` is `//host` to it). Spaces are kept as they were (the parser encodes them).
 */
/** Whether `u` parses as a URL (URL.canParse, which not every type library this code is checked with declares). */
function parses(u: string): boolean {
  try {
    new URL(u);
    return true;
  } catch {
    return false;
  }
}

export const UrlSchema = z
  .string()
  .min(1)
  .max(2048)
  // an absolute URL must parse (a port past 65535, an unclosed `[`, a host `%zz` would be saved, then ignored at the
  // click, which would go to the fallback instead)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what the path may not hold
  .refine((u) => (/^https?:\/\/[^\s]+$/i.test(u) && parses(u)) || /^\/(?![/\\])[^\x00-\x1f\x7f]*$/.test(u), {
    message: "must be an http(s) URL that parses, or a path starting with one / and without control characters",
  });

/** What one PATCH may set on one item; every field optional, `null` clears a field back to the model's value. */
export const ItemChangeSchema = z
  .object({
    id: IdSchema,
    /** units in stock; 0 or less: never shown */
    stock: InputNumberSchema.int().nullable().optional(),
    /** price in major units */
    price: InputNumberSchema.nonnegative().nullable().optional(),
    /** false: never shown */
    active: z.boolean().nullable().optional(),
    title: TextSchema.nullable().optional(),
    image: UrlSchema.nullable().optional(),
    url: UrlSchema.nullable().optional(),
    category: TextSchema.nullable().optional(),
    currency: CurrencyCodeSchema.nullable().optional(),
    tags: z.array(z.string().min(1).max(64)).max(MAX_TAGS).nullable().optional(),
    /**
     * when the shop's system made the change: a field whose last timed change is newer is not set
     * (core/catalog-order.ts); none: set whatever came before
     */
    at: ZonedTimeSchema.optional().describe(
      "when the shop's system made this change (ISO 8601 with its zone): a field changed with a later `at` keeps its value (answered in `stale`); none: set whatever came before",
    ),
  })
  .strict();
export type ItemChange = z.infer<typeof ItemChangeSchema>;

export const CatalogPatchSchema = z
  .object({ items: z.array(ItemChangeSchema).min(1).max(MAX_PATCH_ITEMS) })
  .strict()
  .superRefine((p, ctx) => {
    // named where it comes again, with where it came first: a feed of 1,000 rows says which row to look at
    const first = new Map<string, number>();
    p.items.forEach((item, i) => {
      const at = first.get(item.id);
      if (at === undefined) first.set(item.id, i);
      else
        ctx.addIssue({
          code: "custom",
          message: `${JSON.stringify(item.id.slice(0, 80))} is also items[${at}].id: each item id at most once per request`,
          path: ["items", i, "id"],
        });
    });
  });
export type CatalogPatch = z.infer<typeof CatalogPatchSchema>;

/** An item's live fields (absent: the model's catalog value). */
export const ItemOverlaySchema = z
  .object({
    stock: z.number().int().optional(),
    price: z.number().nonnegative().optional(),
    active: z.boolean().optional(),
    title: z.string().optional(),
    image: z.string().optional(),
    url: z.string().optional(),
    category: z.string().optional(),
    currency: z.string().length(3).optional(),
    tags: z.array(z.string()).optional(),
  })
  .strict();
export type ItemOverlay = z.infer<typeof ItemOverlaySchema>;
export type LiveField = keyof ItemOverlay;
/** The live fields, in the order answers list them. */
export const LIVE_FIELDS: readonly LiveField[] = ItemOverlaySchema.keyof().options;

/**
 * The published live catalog: a version (increasing) and every item's overlay, by item id. Published as a JSON
 * object (liveCatalogJson), read into a Map: item ids come from the shop, and any is an item's, `__proto__` and
 * `constructor` included (a record would drop the first, and a plain object's lookups find the second on every one).
 */
export const LiveCatalogSchema = z.object({
  version: z.number().int().nonnegative(),
  /** unix milliseconds of the last change */
  updatedAt: z.number(),
  items: z.preprocess(
    (v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? new Map(Object.entries(v)) : v),
    z.map(z.string(), ItemOverlaySchema),
  ),
});
export type LiveCatalog = z.output<typeof LiveCatalogSchema>;

export const EMPTY_LIVE_CATALOG: LiveCatalog = { version: 0, updatedAt: 0, items: new Map() };

/** The live catalog as published (`catalog:live`): its items a JSON object, each id an own key. */
export function liveCatalogJson(live: LiveCatalog): string {
  // (Object.fromEntries defines own properties: `__proto__` is a key like any other, never the prototype)
  return JSON.stringify({ version: live.version, updatedAt: live.updatedAt, items: Object.fromEntries(live.items) });
}

/**
 * The version a published live catalog names (liveCatalogJson writes it first), read from its start without parsing
 * the rest: megabytes an edge need not parse when it holds that version already. Null when it does not start so.
 */
export function publishedVersion(json: string): number | null {
  const named = /^\{"version":(\d{1,16}),/.exec(json.slice(0, 40));
  return named ? Number(named[1]) : null;
}

/**
 * The version a change gets: the change's time in unix milliseconds, or one more than the last when that is not
 * past it. Opens keep the highest version they have seen, so a writer whose storage was lost (starting again from
 * 0) must still pass every version it published before: a counter would not, until as many changes had been made
 * again, and until then no change would reach an open that had seen the old ones.
 */
export function nextLiveVersion(last: number, nowMs: number): number {
  return Math.max(last + 1, Math.floor(nowMs));
}

/** The overlay after a change: named fields set, `null` ones removed, the rest kept (`at` is none of them). */
export function mergeOverlay(current: ItemOverlay | undefined, change: ItemChange): ItemOverlay {
  const next: Record<string, unknown> = { ...current };
  for (const [field, value] of Object.entries(change)) {
    if (field === "id" || field === "at" || value === undefined) continue;
    if (value === null) delete next[field];
    else next[field] = value;
  }
  return next as ItemOverlay;
}

const utf8 = new TextEncoder();

/** An item's share of the published overlay: `"<id>":<overlay>,` in UTF-8 bytes (`json`: the overlay's JSON). */
export function overlayBytes(id: string, overlay: ItemOverlay, json = JSON.stringify(overlay)): number {
  return utf8.encode(`${JSON.stringify(id)}:${json},`).length;
}

/** Bytes of every item's share of the published overlay (overlayBytes). */
export function liveBytes(overlays: ReadonlyMap<string, ItemOverlay>): number {
  let bytes = 0;
  for (const [id, overlay] of overlays) bytes += overlayBytes(id, overlay);
  return bytes;
}

/**
 * What a PATCH does to the overlays: each item's overlay after it (null: none left), for the items it changes
 * only, and how many items would hold live fields afterwards, and their bytes (from `bytes`, the current
 * overlays' liveBytes).
 */
export function planPatch(
  current: ReadonlyMap<string, ItemOverlay>,
  changes: readonly ItemChange[],
  bytes = 0,
): { next: Map<string, ItemOverlay | null>; held: number; bytes: number } {
  const next = new Map<string, ItemOverlay | null>();
  let held = current.size;
  for (const change of changes) {
    const before = current.get(change.id);
    const after = mergeOverlay(before, change);
    const empty = Object.keys(after).length === 0;
    const [was, is] = [JSON.stringify(before ?? {}), JSON.stringify(after)];
    if (was !== is) {
      next.set(change.id, empty ? null : after);
      bytes += (empty ? 0 : overlayBytes(change.id, after, is)) - (before ? overlayBytes(change.id, before, was) : 0);
    }
    held += (before ? 0 : 1) - (empty ? 1 : 0);
  }
  return { next, held, bytes };
}

/** Whether an item may be shown: not switched off, and in stock (unknown stock counts as in stock). */
export function isAvailable(overlay: ItemOverlay | undefined): boolean {
  if (!overlay) return true;
  return overlay.active !== false && (overlay.stock === undefined || overlay.stock > 0);
}

/** The item as it is now: the model's catalog entry with the live fields over it. */
export function liveItem(item: CatalogItem, overlay: ItemOverlay | undefined): CatalogItem {
  if (!overlay) return item;
  return {
    ...item,
    ...(overlay.title !== undefined && { title: overlay.title }),
    ...(overlay.price !== undefined && { price: overlay.price }),
    ...(overlay.currency !== undefined && { currency: overlay.currency }),
    ...(overlay.image !== undefined && { image: overlay.image }),
    ...(overlay.url !== undefined && { url: overlay.url }),
    ...(overlay.category !== undefined && { category: overlay.category }),
  };
}

/**
 * An item the model's catalog does not hold, from its live fields alone (a new arrival): only when they say what a
 * card and its click need (title, price, currency, link; the picture may be left out), and it may be shown.
 * Campaigns name such items (a product block, pinned items); the model recommends them from its next version.
 */
export function overlayItem(id: string, overlay: ItemOverlay | undefined): CatalogItem | null {
  if (!overlay || !isAvailable(overlay)) return null;
  const { title, price, currency, url } = overlay;
  if (title === undefined || price === undefined || currency === undefined || url === undefined) return null;
  return { id, title, price, currency, url, image: overlay.image ?? "", category: overlay.category ?? "" };
}

/**
 * Ids the live catalog hides (out of stock or switched off): products only, a campaign's own cards (a live item
 * given a card's id) are never hidden by it.
 */
export function unavailableIds(live: LiveCatalog): Set<string> {
  const out = new Set<string>();
  for (const [id, overlay] of live.items) if (!isAvailable(overlay) && !isCardId(id)) out.add(id);
  return out;
}
