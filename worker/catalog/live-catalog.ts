/**
 * The live catalog as opens see it: each isolate polls the small version key at most once a second and reads
 * the whole catalog (`catalog:live`) only when the version moved, so a PATCH reaches the next open at the
 * location that wrote it within about a second (other locations: Workers KV's propagation, up to 60 s).
 * Never throws: a failed or malformed read keeps the last good catalog (empty before the first), and the
 * opens go on with it; the failure is logged.
 */
import { kvKeys } from "../../core/kv-keys";
import { EMPTY_LIVE_CATALOG, type LiveCatalog, LiveCatalogSchema, unavailableIds } from "../../core/live-catalog";
import { errorMessage, logEvent } from "../lib/log";

/** How often an isolate asks whether the live catalog changed. */
export const LIVE_CATALOG_REFRESH_MS = 1000;

interface Cached {
  catalog: LiveCatalog;
  checkedAt: number;
  /** the unavailable ids of `catalog`, computed once per version */
  unavailable: Set<string>;
}

let cached: Cached | null = null;
let pending: Promise<Cached> | null = null;

export function resetLiveCatalogCache(): void {
  cached = null;
  pending = null;
}

export interface LiveCatalogView {
  catalog: LiveCatalog;
  /** ids never to show now (out of stock or switched off) */
  unavailable: ReadonlySet<string>;
}

export async function getLiveCatalog(kv: KVNamespace, now = Date.now()): Promise<LiveCatalogView> {
  if (cached && now - cached.checkedAt < LIVE_CATALOG_REFRESH_MS) return cached;
  // one refresh at a time per isolate; concurrent opens share it
  pending ??= refresh(kv, now).finally(() => {
    pending = null;
  });
  return pending;
}

async function refresh(kv: KVNamespace, now: number): Promise<Cached> {
  const last = cached ?? { catalog: EMPTY_LIVE_CATALOG, checkedAt: 0, unavailable: new Set<string>() };
  try {
    const pointer = (await kv.get<{ version?: unknown }>(kvKeys.liveCatalogVersion, "json")) ?? { version: 0 };
    const version = typeof pointer.version === "number" ? pointer.version : 0;
    if (version <= last.catalog.version) {
      cached = { ...last, checkedAt: now };
      return cached;
    }
    const parsed = LiveCatalogSchema.safeParse(await kv.get(kvKeys.liveCatalog, "json"));
    if (!parsed.success) throw new Error(`catalog:live is invalid: ${parsed.error.issues[0]?.message ?? "?"}`);
    // an older copy than the pointer (KV has not caught up here yet): use it if newer than ours, ask again later
    const catalog = parsed.data.version > last.catalog.version ? parsed.data : last.catalog;
    cached = { catalog, checkedAt: now, unavailable: unavailableIds(catalog) };
    return cached;
  } catch (e) {
    logEvent("error", "catalog.live_read_failed", { detail: errorMessage(e) });
    cached = { ...last, checkedAt: now };
    return cached;
  }
}
