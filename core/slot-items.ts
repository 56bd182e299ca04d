/**
 * What each slot of an open-time image block shows, so that no product is shown twice in one email: slot i the
 * block's ranked item i while the live catalog shows it; a slot whose item is gone since the ranking, or that the
 * ranking does not reach (the rules left fewer items than slots), takes the next spare (popular items the same
 * rules allow, best first) that no other slot shows; and none (null: the slot's generic card, its click to the
 * campaign's fallback URL) when no spare is left. Slots keep their positions: each slot's request works out the
 * whole row the same way and takes its own, so a slot whose item went away does not shift the others onto one
 * item. Pure.
 */
import type { CatalogItem } from "./catalog";

/** How many of the first `slots` positions have no item to show (past the ranking's end, or gone). */
export function emptySlots(ranked: readonly CatalogItem[], slots: number, gone: (id: string) => boolean): number {
  let empty = 0;
  for (let i = 0; i < slots; i++) {
    const item = ranked[i];
    if (!item || gone(item.id)) empty++;
  }
  return empty;
}

/**
 * The item of each of the `slots` positions (null: none left). `spares` come best first, none of `ranked`; under
 * `maxPerCategory` (the block's rule) a spare of a category the shown items have not filled is taken first, and
 * the others after (diversity gives way before a slot goes empty, as in core/item-rules.ts).
 */
export function slotItems(
  ranked: readonly CatalogItem[],
  slots: number,
  gone: (id: string) => boolean,
  spares: readonly CatalogItem[] = [],
  maxPerCategory = Number.POSITIVE_INFINITY,
): (CatalogItem | null)[] {
  const out: (CatalogItem | null)[] = [];
  const used = new Set<string>();
  const perCategory = new Map<string, number>();
  const use = (item: CatalogItem) => {
    used.add(item.id);
    perCategory.set(item.category, (perCategory.get(item.category) ?? 0) + 1);
  };
  for (let i = 0; i < slots; i++) {
    const item = ranked[i];
    // a ranking never holds an item twice; if one did, its second place is empty like a gone one
    const shown = item && !gone(item.id) && !used.has(item.id) ? item : null;
    if (shown) use(shown);
    out.push(shown);
  }
  const left = spares.filter((s) => !gone(s.id) && !used.has(s.id) && !ranked.some((r) => r.id === s.id));
  const next = (): CatalogItem | null => {
    let at = left.findIndex((s) => !used.has(s.id) && (perCategory.get(s.category) ?? 0) < maxPerCategory);
    if (at < 0) at = left.findIndex((s) => !used.has(s.id));
    return at < 0 ? null : (left[at] as CatalogItem);
  };
  for (let i = 0; i < slots; i++) {
    if (out[i] !== null) continue;
    const spare = next();
    if (!spare) break;
    use(spare);
    out[i] = spare;
  }
  return out;
}
