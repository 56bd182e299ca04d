/**
 * The catalog writer's outbox (worker/state/catalog-writer.ts): the changes viewed-* triggers announce
 * (core/catalog-changes.ts), written in the PATCH's own transaction, so a change that committed is never lost
 * and one that did not is never sent. Each change gets the next sequence number (`meta.outbox_seq`): the PATCH's
 * time in milliseconds, or one more than the last (core/live-catalog.ts nextLiveVersion), so that a writer whose
 * storage was lost still numbers past every change the shards applied (a counter from 1 would be passed over by
 * each shard until it had counted that far again). The writer sends each reader shard the changes past the last one that shard acknowledged
 * (`fanout`), CHANGES_PER_CALL at a time, and deletes the changes every shard has acknowledged (or too old
 * for any to act on). The shards
 * apply each sequence number once (worker/state/catalog-inbox.ts): delivery is at least once, the effect once.
 * Synchronous SQL on the writer's storage; the writer is the only writer.
 */
import type { CatalogChange, ChangeDraft } from "../../core/catalog-changes";
import { nextLiveVersion } from "../../core/live-catalog";
import { CHANGE_STALE_AFTER_SECONDS } from "../../core/triggers";

export const OUTBOX_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, at INTEGER NOT NULL, change TEXT NOT NULL)",
  "CREATE TABLE IF NOT EXISTS fanout (shard INTEGER PRIMARY KEY, acked INTEGER NOT NULL)",
];

/**
 * Changes per call to a shard (whose transaction also stops at ROWS_PER_CALL trigger rows,
 * worker/state/catalog-inbox.ts). A PATCH of 1,000 items makes at most 2,000 changes (back in stock and
 * cheaper), 80 calls per shard.
 */
export const CHANGES_PER_CALL = 25;

function lastSeq(sql: SqlStorage): number {
  return sql.exec<{ value: number }>("SELECT value FROM meta WHERE key = 'outbox_seq'").toArray()[0]?.value ?? 0;
}

/**
 * Appends the changes of one PATCH made at `nowMs`, which made the live catalog's `version` (inside its
 * transaction); the last sequence number.
 */
export function appendChanges(sql: SqlStorage, drafts: readonly ChangeDraft[], nowMs: number, version: number): number {
  const atS = Math.floor(nowMs / 1000);
  let seq = lastSeq(sql);
  for (const draft of drafts) {
    seq = nextLiveVersion(seq, nowMs);
    const change: CatalogChange = { seq, at: atS, ...draft, version };
    sql.exec("INSERT INTO outbox (seq, at, change) VALUES (?, ?, ?)", seq, atS, JSON.stringify(change));
  }
  sql.exec(
    "INSERT INTO meta (key, value) VALUES ('outbox_seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    seq,
  );
  return seq;
}

/** What each shard acknowledged (0: nothing yet), by shard number. */
export function ackedByShard(sql: SqlStorage, shards: number): number[] {
  const out = new Array<number>(shards).fill(0);
  for (const row of sql.exec<{ shard: number; acked: number }>("SELECT shard, acked FROM fanout")) {
    if (row.shard < shards) out[row.shard] = row.acked;
  }
  return out;
}

/** The changes after `acked`, oldest first, at most `limit`. */
export function changesAfter(sql: SqlStorage, acked: number, limit = CHANGES_PER_CALL): CatalogChange[] {
  return sql
    .exec<{ change: string }>("SELECT change FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?", acked, limit)
    .toArray()
    .map((r) => JSON.parse(r.change) as CatalogChange);
}

/** Records a shard's acknowledgement (it never goes back). */
export function recordAck(sql: SqlStorage, shard: number, seq: number): void {
  sql.exec(
    "INSERT INTO fanout (shard, acked) VALUES (?, ?) ON CONFLICT (shard) DO UPDATE SET acked = max(acked, excluded.acked)",
    shard,
    seq,
  );
}

/**
 * Deletes the changes every shard acknowledged, and those no shard would act on any more (older than
 * CHANGE_STALE_AFTER_SECONDS, with a margin): a shard that cannot be reached for hours does not make the outbox
 * grow without end. Returns how many are still to send: those the shard furthest behind has not acknowledged.
 */
export function pruneOutbox(sql: SqlStorage, shards: number, nowS: number): number {
  const furthest = Math.min(...ackedByShard(sql, shards));
  sql.exec("DELETE FROM outbox WHERE seq <= ? OR at < ?", furthest, nowS - 2 * CHANGE_STALE_AFTER_SECONDS);
  return sql.exec<{ n: number }>("SELECT count(*) AS n FROM outbox").one().n;
}
