/**
 * The live catalog as opens see it: each isolate polls the small version key at most once a second and reads
 * the whole catalog (`catalog:live`) only when the version moved, so a PATCH reaches the next open at the
 * location that wrote it within about a second (other locations: Workers KV's propagation, up to 60 s).
 * Never throws: a failed or malformed read keeps the last good catalog (empty before the first), and the
 * opens go on with it; the failure is logged. The whole catalog (up to MAX_LIVE_BYTES of JSON) is parsed once per
 * version per isolate (while KV's copy here lags its pointer it is read again each second, and parsed only if newer
 * than ours), however many opens find their copy stale at once: they share the read, which the
 * request that started it hands to its `waitUntil` (its KV read would otherwise be cancelled with it, and hang the
 * others); an open waits for it LIVE_READ_WAIT_MS at most, then goes on with the copy it has, and a read still
 * pending after LIVE_READ_STALE_MS is no longer shared.
 */

import type { CatalogItem } from "../../core/catalog";
import { kvKeys } from "../../core/kv-keys";
import {
  EMPTY_LIVE_CATALOG,
  type ItemOverlay,
  type LiveCatalog,
  LiveCatalogSchema,
  liveItem,
  overlayItem,
  publishedVersion,
  unavailableIds,
} from "../../core/live-catalog";
import type { WaitUntil } from "../lib/background";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";

/** How often an isolate asks whether the live catalog changed. */
export const LIVE_CATALOG_REFRESH_MS = 1000;

interface Cached {
  catalog: LiveCatalog;
  checkedAt: number;
  /** the unavailable ids of `catalog`, computed once per version */
  unavailable: Set<string>;
}

let cached: Cached | null = null;

/** The whole catalog's read in flight, shared by the isolate's requests: the version it was started for. */
let reading: { version: number; startedAt: number; done: Promise<void> } | null = null;

/** A shared read pending longer than this (its request's `waitUntil` allows 30 s) is started anew by the next. */
export const LIVE_READ_STALE_MS = 10_000;
/** How long an open waits for the whole catalog before it goes on with the copy it has (the read goes on). */
export const LIVE_READ_WAIT_MS = 1_000;

export function resetLiveCatalogCache(): void {
  cached = null;
  reading = null;
}

export interface LiveCatalogView {
  catalog: LiveCatalog;
  /** ids never to show now (out of stock or switched off) */
  unavailable: ReadonlySet<string>;
}

/** The live catalog; `waitUntil` is the asking request's (a whole read it starts is handed to it). */
export async function getLiveCatalog(
  kv: KVNamespace,
  waitUntil: WaitUntil,
  now = Date.now(),
): Promise<LiveCatalogView> {
  if (cached && now - cached.checkedAt < LIVE_CATALOG_REFRESH_MS) return cached;
  // each request whose copy is stale asks for the version itself (a small read; the first answer serves the
  // others for a second); the whole catalog is read once for them all
  return refresh(kv, now, waitUntil);
}

const EMPTY: Cached = { catalog: EMPTY_LIVE_CATALOG, checkedAt: 0, unavailable: new Set<string>() };
const ours = () => cached ?? EMPTY;

async function refresh(kv: KVNamespace, now: number, waitUntil: WaitUntil): Promise<Cached> {
  try {
    const pointer = (await kv.get<{ version?: unknown }>(kvKeys.liveCatalogVersion, "json")) ?? { version: 0 };
    const version = typeof pointer.version === "number" ? pointer.version : 0;
    if (version > ours().catalog.version)
      await within(sharedRead(kv, version, now, waitUntil), LIVE_READ_WAIT_MS, () => undefined);
  } catch (e) {
    logEvent("error", "catalog.live_read_failed", { detail: errorMessage(e) });
  }
  // checked now, whatever the answer: a failing KV is asked again in a second, with the last good copy meanwhile
  cached = { ...ours(), checkedAt: Math.max(ours().checkedAt, now) };
  return cached;
}

/** Joins the whole read in flight for `version` or later, else starts one (handed to the request's waitUntil). */
function sharedRead(kv: KVNamespace, version: number, now: number, waitUntil: WaitUntil): Promise<void> {
  if (reading && reading.version >= version && now - reading.startedAt < LIVE_READ_STALE_MS) return reading.done;
  const entry = { version, startedAt: now, done: readWhole(kv, now) };
  reading = entry;
  waitUntil(entry.done);
  void entry.done.finally(() => {
    if (reading === entry) reading = null;
  });
  return entry.done;
}

/**
 * Reads `catalog:live` and, when it names a version newer than ours, parses and keeps it; never rejects (a failure is
 * logged, the copy kept).
 */
async function readWhole(kv: KVNamespace, now: number): Promise<void> {
  try {
    const text = await kv.get(kvKeys.liveCatalog, "text");
    // a copy older than the pointer (KV's copy here not caught up with it yet, for up to a minute) is read again each
    // second until it has: parsed only when newer than ours, so the copy we hold is not parsed again at each read
    const named = text === null ? null : publishedVersion(text);
    if (named !== null && named <= ours().catalog.version) return;
    const parsed = LiveCatalogSchema.safeParse(text === null ? null : JSON.parse(text));
    if (!parsed.success) throw new Error(`catalog:live is invalid: ${parsed.error.issues[0]?.message ?? "?"}`);
    keepNewer({ catalog: parsed.data, checkedAt: now, unavailable: unavailableIds(parsed.data) });
  } catch (e) {
    logEvent("error", "catalog.live_read_failed", { detail: errorMessage(e) });
  }
}

/** Concurrent refreshes may finish in any order: the newest version stays. */
function keepNewer(candidate: Cached): void {
  if (!cached || candidate.catalog.version > cached.catalog.version) cached = candidate;
}

/** An item's live fields, if it has any. */
export function overlayOf(live: LiveCatalogView, id: string): ItemOverlay | undefined {
  return live.catalog.items.get(id);
}

/**
 * An item a campaign names (a product block, a pinned item) as opens show it now: the model's catalog entry
 * (`lookup`) under its live fields, else a new arrival from its live fields alone (core/live-catalog.ts
 * overlayItem); null while the live catalog hides it, or neither knows enough of it.
 */
export function namedItem(
  lookup: (id: string) => CatalogItem | undefined,
  live: LiveCatalogView,
): (id: string) => CatalogItem | null {
  return (id) => {
    if (live.unavailable.has(id)) return null;
    const overlay = overlayOf(live, id);
    const item = lookup(id);
    return item ? liveItem(item, overlay) : overlayItem(id, overlay);
  };
}
