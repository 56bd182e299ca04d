/**
 * The reader shard's side of the catalog fan-out (worker/state/catalog-outbox.ts): catalog changes arrive in
 * sequence order, and each is applied once. The shard records the last sequence number it applied
 * (`catalog_seq`), in the transaction that schedules the deliveries, so a change sent again (a lost answer,
 * the writer's retry) schedules nothing twice. Each change is matched against the views index
 * (worker/state/views-table.ts): the readers who viewed the item within a trigger's window get a delivery due
 * now in the trigger table, as core/triggers.ts nextViewedStep allows (cooldown, one pending per trigger).
 * Consent (unsubscribed, paused) and purchases since are checked again when sending, as for cart-abandoned.
 */
import { announces, type CatalogChange } from "../../core/catalog-changes";
import type { ViewedTrigger } from "../../core/triggers";
import { scheduleViewed } from "./trigger-table";
import { pruneItemViews, viewersOf } from "./views-table";

export const INBOX_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS catalog_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL)",
];

/**
 * Readers one change notifies per trigger in one shard, the latest viewers first (16 shards: up to 8,000 in
 * all). Deliveries leave 25 per alarm run and 6 webhook calls at a time, so this bounds the work one change
 * makes, and one call's transaction (CHANGES_PER_CALL changes).
 */
export const READERS_PER_CHANGE = 500;

/** The last catalog sequence number this shard applied (0: none). */
export function appliedSeq(sql: SqlStorage): number {
  return sql.exec<{ seq: number }>("SELECT seq FROM catalog_seq WHERE id = 0").toArray()[0]?.seq ?? 0;
}

/**
 * Applies the changes not applied yet (inside the shard's transaction): schedules the viewers' deliveries and
 * advances the shard's sequence number past every change given. Returns the sequence number now applied, how
 * many deliveries were started or extended, and the earliest due time (ms), or null.
 */
export function applyCatalogChanges(
  sql: SqlStorage,
  triggers: readonly ViewedTrigger[],
  changes: readonly CatalogChange[],
  nowMs: number,
  inFlight: ReadonlySet<string>,
): { seq: number; scheduled: number; earliest: number | null } {
  const before = appliedSeq(sql);
  const fresh = changes.filter((c) => c.seq > before).sort((a, b) => a.seq - b.seq);
  if (fresh.length === 0) return { seq: before, scheduled: 0, earliest: null };
  const nowS = Math.floor(nowMs / 1000);
  let scheduled = 0;
  let earliest: number | null = null;
  for (const change of fresh) {
    pruneItemViews(sql, change.item, nowS);
    for (const trigger of triggers) {
      if (!announces(trigger, change)) continue;
      const since = nowS - trigger.viewedWithinDays * 86_400;
      for (const viewer of viewersOf(sql, change.item, since, READERS_PER_CHANGE)) {
        const at = scheduleViewed(sql, viewer.user, trigger, change, viewer.ts, nowMs, inFlight);
        if (at === null) continue;
        scheduled++;
        earliest = Math.min(earliest ?? at, at);
      }
    }
  }
  const seq = Math.max(before, ...fresh.map((c) => c.seq));
  sql.exec("INSERT INTO catalog_seq (id, seq) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq", seq);
  return { seq, scheduled, earliest };
}
