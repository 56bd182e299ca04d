/**
 * What an open must not show: the reader's own recent purchases (a few ids, per open) and what the live catalog
 * hides now (up to MAX_LIVE_ITEMS ids, the same for every open). Checks go both by item id and by the model's
 * item index; the live catalog's indices are computed once per (loaded model, live catalog copy), so an open
 * costs the same whether 10 or 20,000 items are out of stock.
 */
import type { LiveCatalogView } from "../catalog/live-catalog";
import type { LoadedModel } from "../model/model-store";

export interface Exclusion {
  hasId(id: string): boolean;
  hasIndex(index: number): boolean;
  /** how many of the model's items are excluded (at most; an item both bought and hidden counts twice) */
  inModel: number;
}

// keyed by identity: a model loaded again, or a live catalog read again, gets its indices anew
let hiddenIndices: { itemIndex: object; unavailable: object; indices: Set<number> } | null = null;

function hiddenIn(model: LoadedModel, live: LiveCatalogView): Set<number> {
  const key = { itemIndex: model.itemIndex, unavailable: live.unavailable };
  if (hiddenIndices && hiddenIndices.itemIndex === key.itemIndex && hiddenIndices.unavailable === key.unavailable) {
    return hiddenIndices.indices;
  }
  const indices = new Set<number>();
  for (const id of live.unavailable) {
    const index = model.itemIndex.get(id);
    if (index !== undefined) indices.add(index);
  }
  hiddenIndices = { ...key, indices };
  return indices;
}

export function exclusionFor(model: LoadedModel, bought: ReadonlySet<string>, live: LiveCatalogView): Exclusion {
  const hidden = hiddenIn(model, live);
  const boughtIndices = new Set<number>();
  for (const id of bought) {
    const index = model.itemIndex.get(id);
    if (index !== undefined) boughtIndices.add(index);
  }
  return {
    hasId: (id) => bought.has(id) || live.unavailable.has(id),
    hasIndex: (index) => boughtIndices.has(index) || hidden.has(index),
    inModel: boughtIndices.size + hidden.size,
  };
}
