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

export function resetLiveCatalogCache(): void {
  cached = null;
}

export interface LiveCatalogView {
  catalog: LiveCatalog;
  /** ids never to show now (out of stock or switched off) */
  unavailable: ReadonlySet<string>;
}

export async function getLiveCatalog(kv: KVNamespace, now = Date.now()): Promise<LiveCatalogView> {
  if (cached && now - cached.checkedAt < LIVE_CATALOG_REFRESH_MS) return cached;
  // Each request whose copy is stale asks for itself (a small read; the first answer serves the others for a
  // second). A refresh shared across requests would hang every open of the isolate if the request that started
  // it were cancelled (a mail proxy disconnecting): its KV read would never settle.
  return refresh(kv, now);
}

async function refresh(kv: KVNamespace, now: number): Promise<Cached> {
  const empty: Cached = { catalog: EMPTY_LIVE_CATALOG, checkedAt: 0, unavailable: new Set<string>() };
  const ours = () => cached ?? empty;
  try {
    const pointer = (await kv.get<{ version?: unknown }>(kvKeys.liveCatalogVersion, "json")) ?? { version: 0 };
    const version = typeof pointer.version === "number" ? pointer.version : 0;
    if (version > ours().catalog.version) {
      const parsed = LiveCatalogSchema.safeParse(await kv.get(kvKeys.liveCatalog, "json"));
      if (!parsed.success) throw new Error(`catalog:live is invalid: ${parsed.error.issues[0]?.message ?? "?"}`);
      // (a copy older than the pointer, KV not caught up here yet: taken if newer than ours, asked again later)
      keepNewer({ catalog: parsed.data, checkedAt: now, unavailable: unavailableIds(parsed.data) });
    }
  } catch (e) {
    logEvent("error", "catalog.live_read_failed", { detail: errorMessage(e) });
  }
  // checked now, whatever the answer: a failing KV is asked again in a second, with the last good copy meanwhile
  cached = { ...ours(), checkedAt: Math.max(ours().checkedAt, now) };
  return cached;
}

/** Concurrent refreshes may finish in any order: the newest version stays. */
function keepNewer(candidate: Cached): void {
  if (!cached || candidate.catalog.version > cached.catalog.version) cached = candidate;
}
