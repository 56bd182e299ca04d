/**
 * The model catalog's prices, for the catalog writer's price-drop baseline (core/catalog-changes.ts): the
 * active model's catalog (`model:active`, then `model:<version>:catalog`) read from KV only when a PATCH sets
 * or clears a price while a price-drop trigger is on, and kept per version (ids, prices and currencies only).
 * No ONNX session is made. Never throws: a failed read is logged and gives no prices (a change whose
 * baseline was the model's price is then not compared).
 */
import type { BasePrice } from "../../core/catalog-changes";
import { kvKeys } from "../../core/kv-keys";
import { errorMessage, logEvent } from "../lib/log";

let cached: { version: string; prices: Map<string, BasePrice> } | null = null;

export function resetBasePrices(): void {
  cached = null;
}

export async function basePrices(kv: KVNamespace): Promise<ReadonlyMap<string, BasePrice>> {
  try {
    const pointer = await kv.get<{ version?: unknown }>(kvKeys.activeModel, "json");
    const version = typeof pointer?.version === "string" ? pointer.version : null;
    if (version === null) return new Map();
    if (cached && cached.version === version) return cached.prices;
    const catalog = await kv.get<{ items?: unknown }>(kvKeys.catalog(version), "json");
    const prices = new Map<string, BasePrice>();
    for (const item of Array.isArray(catalog?.items) ? catalog.items : []) {
      const { id, price, currency } = (item ?? {}) as Record<string, unknown>;
      if (typeof id === "string" && typeof price === "number" && price >= 0 && typeof currency === "string")
        prices.set(id, { price, currency });
    }
    // a catalog not readable yet (KV right after a publish) is asked again next time, not kept for the version
    if (prices.size > 0) cached = { version, prices };
    return prices;
  } catch (e) {
    logEvent("error", "catalog.base_prices_failed", { detail: errorMessage(e) });
    return new Map();
  }
}
