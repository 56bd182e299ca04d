/**
 * CatalogWriter: the one writer of the live catalog (core/live-catalog.ts), a SQLite-backed Durable Object
 * (one instance, `catalog`). Each PATCH is merged in one transaction, so two PATCHes of one item that name
 * different fields both land, whatever their order (a read-modify-write of a KV value would lose one).
 *   overlays  one row per item with live fields (an item whose fields are all cleared has no row)
 *   meta      the catalog's version (per PATCH that changed something, its time in ms or one more than the
 *             last: core/live-catalog.ts nextLiveVersion) and when it last changed
 *   outbox    the changes viewed-* triggers announce (back in stock, cheaper), and what each reader shard
 *             acknowledged (worker/state/catalog-outbox.ts)
 *   stamps    per item and field, the `at` of the last timed change applied (core/catalog-order.ts), which an
 *             older one does not overwrite; bounded (worker/state/catalog-stamps.ts), never published
 *
 * The edge never calls it: after a commit it publishes the whole overlay to KV (`catalog:live`, then the
 * pointer `catalog:live:version` that opens poll), at most once a second; a change within the second (or a
 * failed write) is published by the alarm. Publishes are serialized, so KV's last write is the newest version.
 * Then it sends the outbox's new changes to every reader shard (`catalogChanged`), at once (the PATCH does not
 * wait for it) and, for a shard that failed or could not apply them yet, again from its alarm every
 * FANOUT_RETRY_MS.
 */
import { DurableObject } from "cloudflare:workers";
import { type BasePrice, itemTransitions, watchedChanges } from "../../core/catalog-changes";
import { orderChanges, type StaleItem } from "../../core/catalog-order";
import { kvKeys } from "../../core/kv-keys";
import {
  type CatalogPatch,
  type ItemOverlay,
  ItemOverlaySchema,
  isAvailable,
  type LiveCatalog,
  liveBytes,
  liveCatalogJson,
  MAX_LIVE_BYTES,
  MAX_LIVE_ITEMS,
  nextLiveVersion,
  planPatch,
} from "../../core/live-catalog";
import { basePrices } from "../catalog/base-prices";
import type { Bindings } from "../env";
import { objectEnv } from "../lib/bounded-env";
import { SAME_KEY_WRITE_MS } from "../lib/key-pacer";
import type { KvDeadlines } from "../lib/kv-deadline";
import { errorMessage, logEvent } from "../lib/log";
import { within } from "../lib/within";
import { getTriggers } from "../triggers/trigger-config";
import { ackedByShard, appendChanges, changesAfter, OUTBOX_SCHEMA, pruneOutbox, recordAck } from "./catalog-outbox";
import { pruneStamps, readStamps, STAMPS_SCHEMA, stampFloor, writeStamps } from "./catalog-stamps";
import { READER_SHARDS, shardStub } from "./shard-routing";
import { META_SCHEMA, readMeta, writeMeta } from "./sql-tables";

/** At most one publish per this many milliseconds (Workers KV: one write per second per key). */
export const CATALOG_PUBLISH_INTERVAL_MS = SAME_KEY_WRITE_MS;
/** A shard that failed a fan-out call (or could not apply it yet) is called again this much later. */
export const FANOUT_RETRY_MS = 10_000;
/** How long one call to a shard may take; a round's calls per shard (the rest in the next round, at once). */
const FANOUT_CALL_TIMEOUT_MS = 15_000;
const CALLS_PER_ROUND = 8;

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  return within(work, ms, () => {
    throw new Error(`no answer in ${ms} ms`);
  });
}

/** A PATCH refused: past the items (MAX_LIVE_ITEMS) or the bytes (MAX_LIVE_BYTES) of live fields; `held` now. */
export type PatchAnswer =
  | ({ ok: true } & PatchResult)
  | { ok: false; bound: "items" | "bytes"; limit: number; held: number };

export interface PatchResult {
  version: number;
  /** items whose live fields changed */
  changed: number;
  /** whether KV already holds this version (else the alarm publishes it within about a second) */
  published: boolean;
  /** the fields of timed items not set: a newer change to them had been (or their `at` is below the stamps' floor) */
  stale: StaleItem[];
}

export interface ItemState {
  id: string;
  overlay: ItemOverlay | null;
  available: boolean;
  version: number;
}

/** A page of the items that have live fields (the admin API's list), in id order. */
export interface ItemPage {
  items: { id: string; overlay: ItemOverlay; available: boolean }[];
  /** the last id of this page when more follow, else null */
  cursor: string | null;
  /** how many items match, on every page */
  count: number;
  version: number;
}

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS overlays (id TEXT PRIMARY KEY, overlay TEXT NOT NULL) WITHOUT ROWID",
  META_SCHEMA,
  ...OUTBOX_SCHEMA,
  ...STAMPS_SCHEMA,
];

export class CatalogWriter extends DurableObject<Bindings> {
  private readonly sql: SqlStorage;
  /** the overlays as committed (loaded once; changed only after a commit) */
  private overlays: Map<string, ItemOverlay> | null = null;
  /** the published overlay's bytes of live fields (liveBytes of `overlays`) */
  private bytes = 0;
  private publishing: Promise<boolean> = Promise.resolve(true);
  /** fan-out rounds, one at a time */
  private fanning: Promise<void> = Promise.resolve();

  /** `kvDeadlines`: a test's; the runtime passes none (OBJECT_KV_DEADLINES) */
  constructor(ctx: DurableObjectState, env: Bindings, kvDeadlines?: KvDeadlines) {
    // every KV operation of the object settles in bounded time (lib/bounded-env.ts)
    super(ctx, objectEnv(env, kvDeadlines));
    this.sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.sql.exec(statement);
    // a version not published or changes not sent (an earlier version of this object reset before its alarm was
    // set): the alarm does both
    void ctx.blockConcurrencyWhile(async () => {
      const behind =
        readMeta(this.sql, "published_version") < readMeta(this.sql, "version") ||
        this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n > 0;
      if (behind && (await ctx.storage.getAlarm()) === null) await ctx.storage.setAlarm(Date.now());
    });
  }

  /**
   * Merges the changes (validated by the caller with CatalogPatchSchema) in one transaction, with the changes
   * viewed-* triggers announce in the outbox and the stamps of timed items; then publishes, and sends those changes
   * to the reader shards. A timed item's fields older than their stamps are left out, and answered as `stale`.
   */
  async patch(changes: CatalogPatch["items"]): Promise<PatchAnswer> {
    // before the transaction (it cannot await): what the triggers watch (unreadable: everything, the shards
    // decide) and, when a price may drop, the model catalog's prices (the baseline of an item without a live one)
    const moves = changes.some((c) => c.stock !== undefined || c.active !== undefined || c.price !== undefined);
    const watched = moves
      ? watchedChanges((await getTriggers(this.env.OPENTIME_KV))?.triggers ?? null)
      : { backInStock: false, minDropPercent: null };
    const pricing = watched.minDropPercent !== null && changes.some((c) => c.price !== undefined);
    // an item whose live fields are all cleared is back only if the model's catalog holds it
    const clearing = watched.backInStock && changes.some((c) => Object.values(c).some((v) => v === null));
    const base: ReadonlyMap<string, BasePrice> =
      pricing || clearing ? await basePrices(this.env.OPENTIME_KV) : new Map();
    const overlays = this.load();
    const now = Date.now();
    // judged with the stamps as committed: no await from here to the transaction
    // the stamps of the timed items, read at once (a few statements for 1,000 items)
    const stamps = readStamps(
      this.sql,
      changes.flatMap((c) => (c.at === undefined ? [] : [c.id])),
    );
    const order = orderChanges(changes, (id) => stamps.get(id) ?? new Map(), stampFloor(this.sql));
    const { next, held, bytes } = planPatch(overlays, order.apply, this.bytes);
    // nothing is written past the bounds: every open reads the whole overlay, and KV must hold it
    if (held > MAX_LIVE_ITEMS) return { ok: false, bound: "items", limit: MAX_LIVE_ITEMS, held: overlays.size };
    if (bytes > MAX_LIVE_BYTES && bytes > this.bytes)
      return { ok: false, bound: "bytes", limit: MAX_LIVE_BYTES, held: this.bytes };
    let version = readMeta(this.sql, "version");
    const announced = [...next].flatMap(([id, after]) =>
      itemTransitions(id, overlays.get(id), after ?? undefined, base.get(id), watched),
    );
    if (next.size > 0 || order.stamps.length > 0) {
      this.ctx.storage.transactionSync(() => {
        // a timed change is stamped even where it left the value as it was: an older one after it is stale
        if (order.stamps.length > 0) {
          writeStamps(this.sql, order.stamps);
          pruneStamps(this.sql);
        }
        if (next.size === 0) return;
        for (const [id, overlay] of next) {
          if (overlay) {
            this.sql.exec(
              "INSERT INTO overlays (id, overlay) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET overlay = excluded.overlay",
              id,
              JSON.stringify(overlay),
            );
          } else this.sql.exec("DELETE FROM overlays WHERE id = ?", id);
        }
        version = nextLiveVersion(version, now);
        writeMeta(this.sql, "version", version);
        writeMeta(this.sql, "updated_at", now);
        if (announced.length > 0) appendChanges(this.sql, announced, now, version);
      });
    }
    if (next.size > 0) {
      // with the commit (no await between: storage writes made together are committed together), so that an object
      // reset before its publish or fan-out below ends still publishes and sends them (the alarm does both)
      this.ctx.storage
        .setAlarm(now)
        .catch((e: unknown) => logEvent("error", "catalog.alarm_failed", { detail: errorMessage(e) }));
      for (const [id, overlay] of next) {
        if (overlay) overlays.set(id, overlay);
        else overlays.delete(id);
      }
      this.bytes = bytes;
    }
    const published = await this.publish();
    if (announced.length > 0) {
      // sent at once, without holding the PATCH's answer; the alarm stands by should this round not finish
      await this.alarmBy(Date.now() + FANOUT_RETRY_MS);
      this.ctx.waitUntil(
        this.fanOut().catch((e) => logEvent("error", "catalog.fanout_failed", { detail: errorMessage(e) })),
      );
    }
    return { ok: true, version, changed: next.size, published, stale: order.stale };
  }

  /** One item's live state (the admin API's read). */
  async item(id: string): Promise<ItemState> {
    const overlay = this.load().get(id) ?? null;
    return { id, overlay, available: isAvailable(overlay ?? undefined), version: readMeta(this.sql, "version") };
  }

  /**
   * The items with live fields whose id sorts after `cursor`, `limit` of them, in id order; only those the live fields
   * leave `available` (or hide) when it is given. Read from the one writer, so a PATCH answered is in the next page.
   */
  async items(q: { limit: number; cursor?: string; available?: boolean }): Promise<ItemPage> {
    const matching = [...this.load()]
      .map(([id, overlay]) => ({ id, overlay, available: isAvailable(overlay) }))
      .filter((item) => q.available === undefined || item.available === q.available)
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const after = q.cursor;
    // past every id (a cursor of the last item, deleted since): an empty last page
    const at = after === undefined ? 0 : matching.findIndex((item) => item.id > after);
    const from = at < 0 ? matching.length : at;
    const items = matching.slice(from, from + q.limit);
    return {
      items,
      cursor: from + q.limit < matching.length ? (items.at(-1)?.id ?? null) : null,
      count: matching.length,
      version: readMeta(this.sql, "version"),
    };
  }

  override async alarm(): Promise<void> {
    await this.publish();
    await this.fanOut();
  }

  /** Sends every shard the outbox's changes it has not acknowledged; a round at a time. */
  private fanOut(): Promise<void> {
    const round = this.fanning.then(() => this.fanOutRound());
    this.fanning = round.catch(() => undefined);
    return round;
  }

  /**
   * One round: every shard in parallel, each sent its changes in order, CHANGES_PER_CALL a call, at most
   * CALLS_PER_ROUND calls, each given FANOUT_CALL_TIMEOUT_MS. A shard that failed, timed out or applied nothing
   * (its configuration unreadable) is called again after FANOUT_RETRY_MS; one with more to take (a round's
   * worth, or its transaction's row bound) at once.
   */
  private async fanOutRound(): Promise<void> {
    let retry = false;
    await Promise.all(
      ackedByShard(this.sql, READER_SHARDS).map(async (acked, shard) => {
        let from = acked;
        for (let call = 0; call < CALLS_PER_ROUND; call++) {
          const batch = changesAfter(this.sql, from);
          if (batch.length === 0) return;
          try {
            const applied = await withTimeout(shardStub(this.env, shard).catalogChanged(batch), FANOUT_CALL_TIMEOUT_MS);
            recordAck(this.sql, shard, applied);
            if (applied <= from) {
              retry = true;
              return;
            }
            from = applied;
          } catch (e) {
            logEvent("error", "catalog.fanout_failed", { shard, detail: errorMessage(e) });
            retry = true;
            return;
          }
        }
      }),
    );
    const left = pruneOutbox(this.sql, READER_SHARDS, Math.floor(Date.now() / 1000));
    if (retry && left > 0) logEvent("warn", "catalog.fanout_behind", { changes: left });
    // changes still to send: a shard that failed waits, the others go on at once
    if (left > 0) await this.alarmBy(Date.now() + (retry ? FANOUT_RETRY_MS : 0));
  }

  /** Sets the alarm for `at` unless one is set sooner (publishing and fan-out share it). */
  private async alarmBy(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** Writes the current version to KV unless it is there or was written less than an interval ago. */
  private publish(): Promise<boolean> {
    const round = this.publishing.then(() => this.publishRound());
    this.publishing = round.catch(() => false);
    return round;
  }

  private async publishRound(): Promise<boolean> {
    const version = readMeta(this.sql, "version");
    if (version === 0 || readMeta(this.sql, "published_version") >= version) return true;
    const now = Date.now();
    const last = readMeta(this.sql, "published_at");
    if (now - last < CATALOG_PUBLISH_INTERVAL_MS) {
      await this.alarmBy(last + CATALOG_PUBLISH_INTERVAL_MS);
      return false;
    }
    const live: LiveCatalog = { version, updatedAt: readMeta(this.sql, "updated_at"), items: this.load() };
    try {
      // the catalog first, then the pointer: an open that sees the new pointer finds the new catalog here
      await this.env.OPENTIME_KV.put(kvKeys.liveCatalog, liveCatalogJson(live));
      await this.env.OPENTIME_KV.put(kvKeys.liveCatalogVersion, JSON.stringify({ version }));
      writeMeta(this.sql, "published_version", version);
      writeMeta(this.sql, "published_at", now);
      return true;
    } catch (e) {
      logEvent("error", "catalog.publish_failed", { detail: errorMessage(e) });
      writeMeta(this.sql, "published_at", now);
      await this.alarmBy(now + CATALOG_PUBLISH_INTERVAL_MS);
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
    this.bytes = liveBytes(map);
    return map;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
