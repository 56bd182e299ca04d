/**
 * CatalogWriter: the one writer of the live catalog (core/live-catalog.ts), a SQLite-backed Durable Object
 * (one instance, `catalog`). Each PATCH is merged in one transaction, so two PATCHes of one item that name
 * different fields both land, whatever their order (a read-modify-write of a KV value would lose one).
 *   overlays  one row per item with live fields (an item whose fields are all cleared has no row)
 *   meta      the catalog's version (one more per PATCH that changed something) and when it last changed
 *
 * The edge never calls it: after a commit it publishes the whole overlay to KV (`catalog:live`, then the
 * pointer `catalog:live:version` that opens poll), at most once a second; a change within the second (or a
 * failed write) is published by the alarm. Publishes are serialized, so KV's last write is the newest version.
 */
import { DurableObject } from "cloudflare:workers";
import { kvKeys } from "../../core/kv-keys";
import {
  type CatalogPatch,
  type ItemOverlay,
  ItemOverlaySchema,
  isAvailable,
  type LiveCatalog,
  MAX_LIVE_ITEMS,
  planPatch,
} from "../../core/live-catalog";
import type { Bindings } from "../env";
import { errorMessage, logEvent } from "../lib/log";

/** At most one publish per this many milliseconds (Workers KV: one write per second per key). */
export const CATALOG_PUBLISH_INTERVAL_MS = 1000;

export type PatchAnswer = ({ ok: true } & PatchResult) | { ok: false; limit: number; held: number };

export interface PatchResult {
  version: number;
  /** items whose live fields changed */
  changed: number;
  /** whether KV already holds this version (else the alarm publishes it within about a second) */
  published: boolean;
}

export interface ItemState {
  id: string;
  overlay: ItemOverlay | null;
  available: boolean;
  version: number;
}

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS overlays (id TEXT PRIMARY KEY, overlay TEXT NOT NULL) WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
];

export class CatalogWriter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** the overlays as committed (loaded once; changed only after a commit) */
  private overlays: Map<string, ItemOverlay> | null = null;
  private publishing: Promise<boolean> = Promise.resolve(true);

  constructor(ctx: DurableObjectState, env: Bindings) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
  }

  /** Merges the changes (validated by the caller with CatalogPatchSchema) in one transaction, then publishes. */
  async patch(changes: CatalogPatch["items"]): Promise<PatchAnswer> {
    const overlays = this.load();
    const { next, held } = planPatch(overlays, changes);
    // nothing is written past the bound: every open reads the whole overlay
    if (held > MAX_LIVE_ITEMS) return { ok: false, limit: MAX_LIVE_ITEMS, held: overlays.size };
    const now = Date.now();
    let version = this.meta("version");
    if (next.size > 0) {
      this.ctx.storage.transactionSync(() => {
        for (const [id, overlay] of next) {
          if (overlay) {
            this.sql.exec(
              "INSERT INTO overlays (id, overlay) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET overlay = excluded.overlay",
              id,
              JSON.stringify(overlay),
            );
          } else this.sql.exec("DELETE FROM overlays WHERE id = ?", id);
        }
        version += 1;
        this.setMeta("version", version);
        this.setMeta("updated_at", now);
      });
      for (const [id, overlay] of next) {
        if (overlay) overlays.set(id, overlay);
        else overlays.delete(id);
      }
    }
    const published = await this.publish();
    return { ok: true, version, changed: next.size, published };
  }

  /** One item's live state (the admin API's read). */
  async item(id: string): Promise<ItemState> {
    const overlay = this.load().get(id) ?? null;
    return { id, overlay, available: isAvailable(overlay ?? undefined), version: this.meta("version") };
  }

  override async alarm(): Promise<void> {
    await this.publish();
  }

  /** Writes the current version to KV unless it is there or was written less than an interval ago. */
  private publish(): Promise<boolean> {
    const round = this.publishing.then(() => this.publishRound());
    this.publishing = round.catch(() => false);
    return round;
  }

  private async publishRound(): Promise<boolean> {
    const version = this.meta("version");
    if (version === 0 || this.meta("published_version") >= version) return true;
    const now = Date.now();
    const last = this.meta("published_at");
    if (now - last < CATALOG_PUBLISH_INTERVAL_MS) {
      await this.ctx.storage.setAlarm(last + CATALOG_PUBLISH_INTERVAL_MS);
      return false;
    }
    const live: LiveCatalog = {
      version,
      updatedAt: this.meta("updated_at"),
      items: Object.fromEntries(this.load()),
    };
    try {
      // the catalog first, then the pointer: an open that sees the new pointer finds the new catalog here
      await this.env.OPENTIME_KV.put(kvKeys.liveCatalog, JSON.stringify(live));
      await this.env.OPENTIME_KV.put(kvKeys.liveCatalogVersion, JSON.stringify({ version }));
      this.setMeta("published_version", version);
      this.setMeta("published_at", now);
      return true;
    } catch (e) {
      logEvent("error", "catalog.publish_failed", { detail: errorMessage(e) });
      this.setMeta("published_at", now);
      await this.ctx.storage.setAlarm(now + CATALOG_PUBLISH_INTERVAL_MS);
      return false;
    }
  }

  private load(): Map<string, ItemOverlay> {
    if (this.overlays) return this.overlays;
    const map = new Map<string, ItemOverlay>();
    for (const row of this.sql.exec<{ id: string; overlay: string }>("SELECT id, overlay FROM overlays")) {
      const parsed = ItemOverlaySchema.safeParse(safeJson(row.overlay));
      if (parsed.success) map.set(row.id, parsed.data);
      else logEvent("error", "catalog.overlay_invalid", { detail: parsed.error.issues[0]?.message ?? "invalid" });
    }
    this.overlays = map;
    return map;
  }

  private meta(key: string): number {
    return this.sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = ?", key).toArray()[0]?.value ?? 0;
  }

  private setMeta(key: string, value: number): void {
    this.sql.exec(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      key,
      value,
    );
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
