/**
 * What a live-catalog PATCH changed that viewed-* triggers (core/triggers.ts) announce: an item back in stock
 * (unavailable before, available after, by isAvailable: stock 0 -> >0, inactive -> active, or a field cleared
 * back to the model's), and a price drop (the effective price, the overlay's else the model catalog's, fell
 * below the effective price just before the PATCH; both in one currency). The catalog writer records these
 * in its outbox (worker/state/catalog-outbox.ts); each reader shard matches them to its readers' views.
 * A price drop on an item unavailable after the PATCH is not one (it cannot be bought). Pure.
 */
import { type ItemOverlay, isAvailable } from "./live-catalog";
import { isViewedTrigger, MIN_DROP_PERCENT, type Trigger, type ViewedTrigger } from "./triggers";

export type CatalogChangeKind = "back-in-stock" | "price-drop";

/** One change, as the outbox keeps it and the shards receive it. */
export interface CatalogChange {
  /** the outbox's sequence number: one per change, increasing, never reused */
  seq: number;
  item: string;
  kind: CatalogChangeKind;
  /** when the PATCH committed (unix s) */
  at: number;
  /** price drops: the effective price before and after, and its currency (null: unknown) */
  oldPrice?: number;
  newPrice?: number;
  currency?: string | null;
  /** the live catalog's version the PATCH made (absent: a change an earlier version of the writer recorded) */
  version?: number;
}
export type ChangeDraft = Omit<CatalogChange, "seq" | "at" | "version">;

/** An item's price in the model's catalog. */
export interface BasePrice {
  price: number;
  currency: string;
}

/** Which changes anyone would be told of: the enabled viewed-* triggers' kinds and smallest threshold. */
export interface WatchedChanges {
  backInStock: boolean;
  /** null: no enabled price-drop trigger */
  minDropPercent: number | null;
}

/**
 * What the configuration watches; unknown (null: it could not be read) watches everything, so the shards,
 * which read it again, decide.
 */
export function watchedChanges(triggers: readonly Trigger[] | null): WatchedChanges {
  if (triggers === null) return { backInStock: true, minDropPercent: MIN_DROP_PERCENT };
  const on = triggers.filter((t) => t.enabled);
  const drops = on.flatMap((t) => (t.type === "viewed-price-drop" ? [t.minDropPercent] : []));
  return {
    backInStock: on.some((t) => t.type === "viewed-back-in-stock"),
    minDropPercent: drops.length > 0 ? Math.min(...drops) : null,
  };
}

/** The price an open shows: the overlay's, else the model catalog's; null when neither is known. */
export function effectivePrice(
  overlay: ItemOverlay | undefined,
  base: BasePrice | undefined,
): { price: number; currency: string | null } | null {
  const price = overlay?.price ?? base?.price;
  if (price === undefined) return null;
  return { price, currency: overlay?.currency ?? base?.currency ?? null };
}

/** How much cheaper `after` is than `before`, in percent (rounded to 1e-6, so 20 -> 19 is exactly 5). */
export function dropPercent(before: number, after: number): number {
  if (!(before > 0)) return 0;
  return Math.round(((before - after) / before) * 100 * 1e6) / 1e6;
}

/** The changes one item's overlay went through (before -> after), among those watched. */
export function itemTransitions(
  item: string,
  before: ItemOverlay | undefined,
  after: ItemOverlay | undefined,
  base: BasePrice | undefined,
  watched: WatchedChanges,
): ChangeDraft[] {
  const out: ChangeDraft[] = [];
  const availableAfter = isAvailable(after);
  // with no live fields left, an item exists only as the model's catalog holds it (`base` is then looked up)
  const exists = after !== undefined || base !== undefined;
  if (watched.backInStock && !isAvailable(before) && availableAfter && exists)
    out.push({ item, kind: "back-in-stock" });
  if (watched.minDropPercent !== null && availableAfter) {
    const old = effectivePrice(before, base);
    const now = effectivePrice(after, base);
    // (a catalog file may spell its code in lower case; the live catalog's are upper case)
    const same = old?.currency?.toUpperCase() === now?.currency?.toUpperCase();
    if (old && now && same && dropPercent(old.price, now.price) >= watched.minDropPercent) {
      out.push({ item, kind: "price-drop", oldPrice: old.price, newPrice: now.price, currency: now.currency });
    }
  }
  return out;
}

/**
 * Whether what a viewed-* delivery announces of an item still holds when it is sent (a retry, a pause's end: it
 * may go hours after the change), by a copy of the live catalog of version `liveVersion` whose live fields for the
 * item are `overlay`: the item can be bought (isAvailable), and a price drop's price is at most the one announced
 * (`announced.newPrice`, in its currency; a live price with no currency of its own is taken in it). A copy older than
 * the change (KV not caught up yet where it is read, or a change recorded without its version), a price unknown now,
 * or one in another currency: taken as announced.
 */
export function stillHolds(
  kind: CatalogChangeKind,
  announced: { newPrice?: number; currency?: string | null; version?: number },
  liveVersion: number,
  overlay: ItemOverlay | undefined,
  base: BasePrice | undefined,
): boolean {
  if (announced.version === undefined || liveVersion < announced.version) return true;
  if (!isAvailable(overlay)) return false;
  if (kind === "back-in-stock" || announced.newPrice === undefined) return true;
  const now = effectivePrice(overlay, base);
  if (!now) return true;
  // a live price without a currency of its own is in the model catalog's, which the change announced it in
  const currency = now.currency ?? announced.currency ?? null;
  if (currency?.toUpperCase() !== announced.currency?.toUpperCase()) return true;
  return now.price <= announced.newPrice;
}

/** Whether a change is one the trigger announces (its kind, and for price drops its threshold). */
export function announces(
  trigger: ViewedTrigger,
  change: Pick<CatalogChange, "kind" | "oldPrice" | "newPrice">,
): boolean {
  if (!trigger.enabled) return false;
  if (trigger.type === "viewed-back-in-stock") return change.kind === "back-in-stock";
  return (
    change.kind === "price-drop" &&
    change.oldPrice !== undefined &&
    change.newPrice !== undefined &&
    dropPercent(change.oldPrice, change.newPrice) >= trigger.minDropPercent
  );
}

/** The enabled viewed-* triggers of a configuration. */
export function viewedTriggers(triggers: readonly Trigger[]): ViewedTrigger[] {
  return triggers.filter((t): t is ViewedTrigger => isViewedTrigger(t) && t.enabled);
}
