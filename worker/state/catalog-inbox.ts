/**
 * The reader shard's side of the catalog fan-out (worker/state/catalog-outbox.ts): catalog changes arrive in
 * sequence order, and each is applied once. The shard records the last sequence number it applied
 * (`catalog_seq`), in the transaction that schedules the deliveries, so a change sent again (a lost answer,
 * the writer's retry) schedules nothing twice. Each change is matched against the views index
 * (worker/state/views-table.ts): the readers who viewed the item within a trigger's window get a delivery due
 * now in the trigger table, as core/triggers.ts nextViewedStep allows (cooldown, one pending per trigger).
 * A viewer whose consent stops viewed-* deliveries now (`stops`: tracking off, unsubscribed, personalization off,
 * paused past a day: core/triggers.ts consentStopsNew) gets none: nothing of theirs is stored for a send that would
 * be cancelled; one paused for less gets one, which waits for the pause's end. Consent and purchases since are
 * checked again when sending, as for cart-abandoned.
 */
import { announces, type CatalogChange } from "../../core/catalog-changes";
import { CHANGE_STALE_AFTER_SECONDS, type ViewedTrigger } from "../../core/triggers";
import { scheduleViewed } from "./trigger-table";
import { viewersOf } from "./views-table";

export const INBOX_SCHEMA = [
  "CREATE TABLE IF NOT EXISTS catalog_seq (id INTEGER PRIMARY KEY CHECK (id = 0), seq INTEGER NOT NULL)",
];

/**
 * Readers one change notifies per trigger in one shard, the latest viewers first (16 shards: up to 8,000 in
 * all). Deliveries leave 25 per alarm run and 6 webhook calls at a time, so this bounds the work one change
 * makes.
 */
export const READERS_PER_CHANGE = 500;
/**
 * Trigger rows one call may start or extend (each a read and a write in the call's one transaction): the
 * changes past it wait for the writer's next call, which the answer asks for by acknowledging less.
 */
export const ROWS_PER_CALL = 5_000;

/** The last catalog sequence number this shard applied (0: none). */
export function appliedSeq(sql: SqlStorage): number {
  return sql.exec<{ seq: number }>("SELECT seq FROM catalog_seq WHERE id = 0").toArray()[0]?.seq ?? 0;
}

/**
 * Applies the changes not applied yet, in sequence order (inside the shard's transaction): schedules the
 * viewers' deliveries and advances the shard's sequence number past each change applied whole. It stops
 * before a change that would take the call past ROWS_PER_CALL rows (never before the first), so the writer sends
 * the rest again. A change older than CHANGE_STALE_AFTER_SECONDS is passed over unread; a viewer `stops` holds
 * back is passed over. Returns the sequence
 * number now applied, how many deliveries were started or extended, and the earliest due time (ms), or null.
 */
export function applyCatalogChanges(
  sql: SqlStorage,
  triggers: readonly ViewedTrigger[],
  changes: readonly CatalogChange[],
  nowMs: number,
  inFlight: ReadonlySet<string>,
  /** whether the reader's consent stops a viewed-* delivery now */
  stops: (user: string) => boolean = () => false,
): { seq: number; scheduled: number; earliest: number | null } {
  const before = appliedSeq(sql);
  const fresh = changes.filter((c) => c.seq > before).sort((a, b) => a.seq - b.seq);
  if (fresh.length === 0) return { seq: before, scheduled: 0, earliest: null };
  const nowS = Math.floor(nowMs / 1000);
  let seq = before;
  let rows = 0;
  let scheduled = 0;
  let earliest: number | null = null;
  for (const change of fresh) {
    const announcing =
      change.at < nowS - CHANGE_STALE_AFTER_SECONDS ? [] : triggers.filter((t) => announces(t, change));
    if (announcing.length > 0) {
      // the viewers once, over the widest window; each trigger takes those within its own
      const widest = Math.max(...announcing.map((t) => t.viewedWithinDays));
      const viewers = viewersOf(sql, change.item, nowS - widest * 86_400, READERS_PER_CHANGE);
      const cost = viewers.length * announcing.length;
      if (rows > 0 && rows + cost > ROWS_PER_CALL) break;
      rows += cost;
      for (const trigger of announcing) {
        const since = nowS - trigger.viewedWithinDays * 86_400;
        for (const viewer of viewers) {
          if (viewer.ts < since || stops(viewer.user)) continue;
          const at = scheduleViewed(sql, viewer.user, trigger, change, viewer.ts, nowMs, inFlight);
          if (at === null) continue;
          scheduled++;
          earliest = Math.min(earliest ?? at, at);
        }
      }
    }
    seq = change.seq;
  }
  if (seq > before) {
    sql.exec("INSERT INTO catalog_seq (id, seq) VALUES (0, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq", seq);
  }
  return { seq, scheduled, earliest };
}
