/**
 * One catalog item by id, in whatever catalog an open has: the loaded model's (its item index), or, when the
 * model failed to load, the catalog kept beside the failure (an index built once per catalog). The model's
 * catalog entry, before the live catalog's fields (core/live-catalog.ts liveItem) are laid over it.
 */
import type { CatalogItem } from "../../core/catalog";
import type { ModelState } from "./model-store";

const indexes = new WeakMap<object, Map<string, CatalogItem>>();

export function itemLookup(state: ModelState): (id: string) => CatalogItem | undefined {
  if (state.ok) {
    const { catalog, itemIndex } = state.model;
    return (id) => catalog.items[itemIndex.get(id) ?? -1];
  }
  const catalog = state.catalog;
  if (!catalog) return () => undefined;
  let index = indexes.get(catalog);
  if (!index) {
    index = new Map(catalog.items.map((it) => [it.id, it]));
    indexes.set(catalog, index);
  }
  const found = index;
  return (id) => found.get(id);
}
