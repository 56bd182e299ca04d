/**
 * The reader shard's table of triggers (core/triggers.ts): one row per reader and trigger, written in the
 * shard's transaction with the events that move it (a cart add schedules, a cart remove takes its item out, a
 * purchase cancels) or with the
 * catalog changes that start a viewed-* delivery (worker/state/catalog-inbox.ts), read by its alarm to deliver
 * what is due. A viewed-* row keeps its items' details (view time, prices) in `changes`; a cart row has none
 * (NULL), which is how a purchase tells them apart whatever the configuration says. Synchronous SQL on the
 * shard's storage; the shard is the only writer.
 */

import type { CatalogChange } from "../../core/catalog-changes";
import type { QueuedEvent } from "../../core/events";
import type { Consent } from "../../core/profile";
import {
  type CancelReason,
  type CartAbandonedTrigger,
  type CartTimes,
  consentStopsNew,
  frequencyAllows,
  type GiveUpReason,
  itemsAfterPurchase,
  itemsAfterRemoval,
  LATE_AFTER_SECONDS,
  MAX_RETRY_AFTER_S,
  nextTriggerState,
  nextViewedStep,
  RETRY_DELAYS_S,
  retryDelayMs,
  type Trigger,
  type TriggerState,
  type TriggerType,
  type ViewedItem,
  type ViewedTrigger,
} from "../../core/triggers";
import { lastCampaignSend } from "./campaign-sends-table";

export const TRIGGER_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS triggers (
     user TEXT NOT NULL, trigger TEXT NOT NULL,
     cart_ts INTEGER NOT NULL, items TEXT NOT NULL, due_at INTEGER NOT NULL,
     state TEXT NOT NULL, delivered_at INTEGER,
     delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
     changes TEXT, sent_at INTEGER, reason TEXT, earlier_sent_at INTEGER,
     PRIMARY KEY (user, trigger)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS triggers_due ON triggers (next_at) WHERE state = 'pending'",
];

/**
 * Adds what later versions keep to a table created before them: `changes` (viewed-* triggers' details),
 * `sent_at` (when a delivery's first webhook call began: from then on its content is what the receiver holds) and
 * `reason` (why a delivery was cancelled or given up: core/triggers.ts CANCEL_REASONS, GIVE_UP_REASONS) and
 * `earlier_sent_at` (the first call of an earlier delivery the row held, for the frequency: EARLIER_SENT_AT).
 */
export function migrateTriggerTable(sql: SqlStorage): void {
  const columns = new Set(
    sql
      .exec<{ name: string }>("SELECT name FROM pragma_table_info('triggers')")
      .toArray()
      .map((r) => r.name),
  );
  if (!columns.has("changes")) sql.exec("ALTER TABLE triggers ADD COLUMN changes TEXT");
  if (!columns.has("sent_at")) sql.exec("ALTER TABLE triggers ADD COLUMN sent_at INTEGER");
  if (!columns.has("reason")) sql.exec("ALTER TABLE triggers ADD COLUMN reason TEXT");
  if (!columns.has("earlier_sent_at")) sql.exec("ALTER TABLE triggers ADD COLUMN earlier_sent_at INTEGER");
}

/**
 * Whether the row's delivery counts for the reader's frequency from its first call (`sent_at`), in SQL over the
 * table's columns (`prefix`: `triggers.` inside an upsert): begun and not acknowledged (one acknowledged counts from
 * `delivered_at`, which the row keeps), nor refused at its only call (the receiver said it did not take it).
 */
const countsFromFirstCall = (prefix = "") =>
  `(${prefix}sent_at IS NOT NULL AND (${prefix}state IN ('pending', 'cancelled') OR (${prefix}state = 'failed'
     AND NOT (coalesce(${prefix}reason, '') = 'refused' AND ${prefix}attempts = 1))))`;

/**
 * A row moved to a new delivery (another id) keeps the latest first call of the deliveries it held before that
 * count (countsFromFirstCall) in `earlier_sent_at` (ms): a delivery begun and then replaced by a new wait of its
 * trigger (a later cart add while its retry waited, a new viewed-* delivery after one cancelled or given up) may
 * be in the receiver's hands, and still counts for the reader's frequency (lastTriggeredSend), as it did before.
 * So does the row's last acknowledged send (`delivered_at`) when the new delivery drops it: a trigger id reused
 * for another type starts its row afresh (no cooldown from the other type's send), not the reader's frequency.
 */
const EARLIER_SENT_AT = `earlier_sent_at = CASE WHEN excluded.delivery = triggers.delivery THEN triggers.earlier_sent_at
  ELSE nullif(max(coalesce(triggers.earlier_sent_at, 0),
    CASE WHEN ${countsFromFirstCall("triggers.")} THEN triggers.sent_at ELSE 0 END,
    CASE WHEN excluded.delivered_at IS NULL THEN coalesce(triggers.delivered_at, 0) * 1000 ELSE 0 END), 0) END`;

interface TriggerRow extends Record<string, SqlStorageValue> {
  cart_ts: number;
  items: string;
  due_at: number;
  state: string;
  delivered_at: number | null;
  delivery: string;
  attempts: number;
  next_at: number;
  changes: string | null;
  reason: string | null;
}

export interface DueDelivery extends Record<string, SqlStorageValue> {
  user: string;
  trigger: string;
  cart_ts: number;
  items: string;
  due_at: number;
  delivery: string;
  attempts: number;
  /** viewed-* rows: JSON ViewedItem[], one per item; cart rows: null */
  changes: string | null;
  /** when the delivery's first webhook call began (ms); null: never tried */
  sent_at: number | null;
}

function stateOf(row: TriggerRow): TriggerState {
  return {
    cartTs: row.cart_ts,
    items: JSON.parse(row.items) as string[],
    dueAt: row.due_at,
    state: row.state as TriggerState["state"],
    deliveredAt: row.delivered_at,
  };
}

/**
 * Moves the reader's triggers by their newly applied cart adds and removes (inside the shard's transaction).
 * Returns the earliest delivery time scheduled (ms), or null. A wait that starts or moves (a later cart add) gets
 * a new delivery id, so an attempt in flight for the old one never marks the new one. Removes also reach the
 * pending cart rows of triggers `triggers` does not name (the configuration unknown just now, or a trigger
 * removed since: cancelled when due), as a purchase does (removeFromCarts). `cart`: what the shard knows of the
 * reader's cart items after these events (cart-items-table.ts), so that a remove counts whatever order it came in.
 */
export function updateTriggers(
  sql: SqlStorage,
  user: string,
  triggers: readonly Trigger[],
  events: readonly QueuedEvent[],
  lastPurchaseTs: number | null,
  nowMs: number,
  consent: Consent,
  cart: ReadonlyMap<string, CartTimes>,
): number | null {
  if (!events.some((e) => e.type === "cart_add" || e.type === "cart_remove")) return null;
  let earliest: number | null = null;
  const carts = triggers.filter((t): t is CartAbandonedTrigger => t.type === "cart-abandoned");
  removeFromCarts(
    sql,
    user,
    carts.map((t) => t.id),
    events,
    cart,
  );
  for (const trigger of carts) {
    // a viewed-* row left by a trigger of the same id that changed type counts as none
    const found = rowOf(sql, user, trigger.id);
    const row = found?.changes === null ? found : null;
    const moving = nextTriggerState(
      trigger,
      row ? stateOf(row) : null,
      events,
      lastPurchaseTs,
      Math.floor(nowMs / 1000),
      cart,
    );
    if (!moving) continue;
    // a wait the reader's pause outlasts (past a day after its due time) keeps nothing of them: cancelled now, as a
    // viewed-* delivery is never scheduled (core/triggers.ts consentStopsNew); a pause ended early since does not
    // bring it back
    const next =
      moving.state === "pending" && consentStopsNew(consent, false, moving.dueAt) === "paused"
        ? { ...moving, state: "cancelled" as const, items: [], reason: "paused" as const }
        : moving;
    const moved = !row || row.cart_ts !== next.cartTs || (row.state !== "pending" && next.state === "pending");
    const delivery = moved ? crypto.randomUUID() : row.delivery;
    const attempts = moved ? 0 : row.attempts;
    // the time only changes with the due time: an older cart add arriving late leaves a retry's back-off as it is
    const nextAt = moved || row.due_at !== next.dueAt ? next.dueAt * 1000 : row.next_at;
    sql.exec(
      `INSERT INTO triggers (user, trigger, cart_ts, items, due_at, state, delivered_at, delivery, attempts, next_at, reason)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user, trigger) DO UPDATE SET cart_ts = excluded.cart_ts, items = excluded.items,
         due_at = excluded.due_at, state = excluded.state, delivered_at = excluded.delivered_at,
         delivery = excluded.delivery, attempts = excluded.attempts, next_at = excluded.next_at, changes = NULL,
         ${EARLIER_SENT_AT},
         sent_at = CASE WHEN excluded.delivery = triggers.delivery THEN triggers.sent_at ELSE NULL END,
         reason = excluded.reason`,
      user,
      trigger.id,
      next.cartTs,
      JSON.stringify(next.state === "pending" ? next.items : []),
      next.dueAt,
      next.state,
      next.deliveredAt,
      delivery,
      attempts,
      nextAt,
      // a purchase or the cart emptied (these events); a row cancelled before keeps its reason
      next.state !== "cancelled"
        ? null
        : (next.reason ?? (row?.state === "cancelled" ? (row.reason ?? "purchased") : "purchased")),
    );
    if (next.state === "pending") earliest = Math.min(earliest ?? nextAt, nextAt);
  }
  return earliest;
}

/**
 * Cart removes (taken in time order) on the reader's pending cart rows of triggers other than `handled` (those
 * nextTriggerState moved, adds and removes in one order), whatever the configuration says: each takes its item
 * out (core/triggers.ts itemsAfterRemoval, unless `cart` knows it was added again since), and a row left naming
 * none is cancelled (`cart-emptied`), so no email names what the reader took out of their cart.
 */
function removeFromCarts(
  sql: SqlStorage,
  user: string,
  handled: readonly string[],
  events: readonly QueuedEvent[],
  cart: ReadonlyMap<string, CartTimes>,
) {
  const removals = events.filter((e) => e.type === "cart_remove").sort((a, b) => a.ts - b.ts);
  if (removals.length === 0) return;
  const rows = sql
    .exec<{ trigger: string; cart_ts: number; items: string; delivery: string }>(
      `SELECT trigger, cart_ts, items, delivery FROM triggers
       WHERE user = ? AND state = 'pending' AND changes IS NULL`,
      user,
    )
    .toArray()
    .filter((r) => !handled.includes(r.trigger));
  for (const row of rows) {
    let items = JSON.parse(row.items) as string[];
    for (const e of removals)
      items =
        itemsAfterRemoval(row.cart_ts, items, e, e.item === undefined ? undefined : cart.get(e.item)?.added) ?? items;
    if (items.length === JSON.parse(row.items).length) continue;
    keepItems(sql, user, row, items, "cart-emptied");
  }
}

/** A pending wait's items narrowed to `items`; none left cancels it, for `emptied`. */
function keepItems(
  sql: SqlStorage,
  user: string,
  row: { trigger: string; delivery: string },
  items: readonly string[],
  emptied: "cart-emptied" | "purchased",
): void {
  sql.exec(
    `UPDATE triggers SET items = ?, state = ?, reason = ?
     WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
    JSON.stringify(items),
    items.length > 0 ? "pending" : "cancelled",
    items.length > 0 ? null : emptied,
    user,
    row.trigger,
    row.delivery,
  );
}

/**
 * A purchase cancels every pending wait on a cart added at or before it, whatever the configuration says
 * (it may be unreadable just now): nothing was abandoned. A wait on a later add (a purchase arriving late) loses
 * the items that were in the cart at the purchase (core/triggers.ts itemsAfterPurchase, by `cart`: what the shard
 * knows of the reader's cart items). Viewed-* rows are judged item by item when sent.
 */
export function cancelOnPurchase(
  sql: SqlStorage,
  user: string,
  lastPurchaseTs: number | null,
  cart: ReadonlyMap<string, CartTimes>,
): void {
  if (lastPurchaseTs === null) return;
  sql.exec(
    `UPDATE triggers SET state = 'cancelled', items = '[]', reason = 'purchased'
     WHERE user = ? AND state = 'pending' AND cart_ts <= ? AND changes IS NULL`,
    user,
    lastPurchaseTs,
  );
  const later = sql
    .exec<{ trigger: string; items: string; delivery: string }>(
      "SELECT trigger, items, delivery FROM triggers WHERE user = ? AND state = 'pending' AND changes IS NULL",
      user,
    )
    .toArray();
  for (const row of later) {
    const kept = itemsAfterPurchase(JSON.parse(row.items) as string[], lastPurchaseTs, cart);
    if (kept) keepItems(sql, user, row, kept, "purchased");
  }
}

/**
 * An opt-out that stops triggers (core/triggers.ts consentStops), in the transaction that applies it: the
 * reader's pending deliveries are cancelled and their items and details emptied at once, not kept until due
 * (`personalization-off`: the viewed-* ones only). A delivery whose webhook call is in flight keeps its id: its
 * answer starts the cooldown (recordAttempt) and nothing retries it. Returns how many were cancelled.
 */
export function cancelOnOptOut(sql: SqlStorage, user: string, reason: CancelReason): number {
  const viewedOnly = reason === "personalization-off" ? "AND changes IS NOT NULL" : "";
  return sql.exec(
    `UPDATE triggers SET state = 'cancelled', items = '[]', ${CLEAR_CHANGES}, reason = ?
     WHERE user = ? AND state = 'pending' ${viewedOnly}`,
    reason,
    user,
  ).rowsWritten;
}

/**
 * When the reader's latest triggered send other than `delivery` counts from (unix s), for their frequency
 * preference: one acknowledged (`delivered_at`: a row keeps its last), or one begun and not acknowledged (with
 * `sent_at`: pending, its call in flight or waiting for a retry, cancelled since, by a purchase, a cart emptied or
 * an opt-out, or given up: the receiver may hold it already, as a timeout or a 5xx can follow a send), also once a
 * new wait of its trigger has replaced it in its row (`earlier_sent_at`). Not counted: one whose only call was
 * refused (`refused` after one attempt: the receiver said it did not take it), or one cancelled before its first
 * call. Null: none.
 */
export function lastTriggeredSend(sql: SqlStorage, user: string, delivery: string): number | null {
  const at = sql
    .exec<{ at: number | null }>(
      `SELECT max(max(coalesce(delivered_at, 0), coalesce(earlier_sent_at, 0) / 1000,
         CASE WHEN delivery <> ? AND ${countsFromFirstCall()} THEN sent_at / 1000 ELSE 0 END)) AS at
       FROM triggers WHERE user = ?`,
      delivery,
      user,
    )
    .one().at;
  return at ? Math.floor(at) : null;
}

/**
 * How long after its first call a delivery begun may still be pending: its retries at their longest (each step
 * waits at most the larger of its back-off and MAX_RETRY_AFTER_S), and a day for the last to be tried.
 */
export const BEGUN_KEPT_S =
  RETRY_DELAYS_S.reduce((sum, step) => sum + Math.max(step, MAX_RETRY_AFTER_S), 0) + LATE_AFTER_SECONDS;

/**
 * Ends a pending delivery kept past its use, whatever kept it waiting (the configuration or the global holdout
 * unreadable, a secret missing), so that its items are not kept for ever: one never tried, more than
 * LATE_AFTER_SECONDS past its due time, is cancelled `stale`; one begun more than BEGUN_KEPT_S ago (only being put
 * off keeps one that long) is given up, `retries-exhausted`. Which it did, or null.
 */
export function endOverdue(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery">,
  nowMs: number,
): "stale" | "retries-exhausted" | null {
  const row = sql
    .exec<{ due_at: number; sent_at: number | null }>(
      "SELECT due_at, sent_at FROM triggers WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'",
      d.user,
      d.trigger,
      d.delivery,
    )
    .toArray()[0];
  if (!row) return null;
  if (row.sent_at === null) {
    if (Math.floor(nowMs / 1000) <= row.due_at + LATE_AFTER_SECONDS) return null;
    cancelDelivery(sql, d, "stale");
    return "stale";
  }
  if (nowMs <= row.sent_at + BEGUN_KEPT_S * 1000) return null;
  return giveUp(sql, d, "retries-exhausted") === null ? null : "retries-exhausted";
}

/**
 * Cancels a due delivery before its first webhook call when it is over the reader's `frequency` (the call would
 * come sooner after their latest send than their preference allows: core/triggers.ts frequencyAllows; a triggered
 * one, or a campaign's send `npm run email` recorded, campaign-sends-table.ts: one preference spaces both). A delivery begun already
 * (a retry) is the same send, never held back. `calling`: another of the reader's calls is in flight (a send
 * now, whatever its row says: a cart add may have moved it). Synchronous: called just before the row is read again
 * and marked begun (pendingDelivery, markBegun), with no await between, so two of one reader's deliveries due
 * together never both pass (one too late to send was ended before, by endOverdue). Returns why it cancelled.
 */
export function cancelBeforeFirstCall(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery">,
  frequency: Consent["frequency"],
  nowMs: number,
  calling = false,
): "frequency" | null {
  const nowS = Math.floor(nowMs / 1000);
  const untried = sql
    .exec(
      `SELECT 1 FROM triggers
       WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending' AND sent_at IS NULL`,
      d.user,
      d.trigger,
      d.delivery,
    )
    .toArray()[0];
  if (!untried || frequencyAllows(frequency, calling ? nowS : lastSend(sql, d.user, d.delivery), nowS)) return null;
  cancelDelivery(sql, d, "frequency");
  return "frequency";
}

/** The reader's latest send other than `delivery` (unix s): triggered, or a campaign's recorded one; null: none. */
function lastSend(sql: SqlStorage, user: string, delivery: string): number | null {
  const triggered = lastTriggeredSend(sql, user, delivery);
  const campaign = lastCampaignSend(sql, user);
  return triggered === null ? campaign : campaign === null ? triggered : Math.max(triggered, campaign);
}

/** Cancels one pending delivery: its items and details emptied, why kept. */
function cancelDelivery(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery">,
  reason: CancelReason,
): void {
  sql.exec(
    `UPDATE triggers SET state = 'cancelled', items = '[]', ${CLEAR_CHANGES}, reason = ?
     WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
    reason,
    d.user,
    d.trigger,
    d.delivery,
  );
}

/** A delivery postponeDue ended, for the log: why, and its attempts before. */
export interface EndedDelivery {
  trigger: string;
  delivery: string;
  attempts: number;
  reason: "stale" | "retries-exhausted";
}

/**
 * Every pending delivery due by `nowMs` put off until `atMs` in bounded work (a statement each, however many wait),
 * as an alarm run does when what it lacks is the shop's (the secret, a readable configuration or holdout), so that
 * the rest of them do not wake the alarm again at once, batch after batch. Those kept past their use are ended
 * first, as endOverdue ends one: never tried and more than LATE_AFTER_SECONDS past their due time, `stale`; begun
 * more than BEGUN_KEPT_S ago, given up `retries-exhausted`. Returns the ended ones.
 */
export function postponeDue(sql: SqlStorage, nowMs: number, atMs: number): EndedDelivery[] {
  const nowS = Math.floor(nowMs / 1000);
  const stale = sql
    .exec<{ trigger: string; delivery: string; attempts: number }>(
      `UPDATE triggers SET state = 'cancelled', items = '[]', ${CLEAR_CHANGES}, reason = 'stale'
       WHERE state = 'pending' AND next_at <= ? AND sent_at IS NULL AND due_at + ? < ?
       RETURNING trigger, delivery, attempts`,
      nowMs,
      LATE_AFTER_SECONDS,
      nowS,
    )
    .toArray()
    .map((r) => ({ ...r, reason: "stale" as const }));
  const exhausted = sql
    .exec<{ trigger: string; delivery: string; attempts: number }>(
      `UPDATE triggers SET state = 'failed', attempts = attempts + 1, items = '[]', ${CLEAR_CHANGES},
         reason = 'retries-exhausted'
       WHERE state = 'pending' AND next_at <= ? AND sent_at IS NOT NULL AND sent_at + ? < ?
       RETURNING trigger, delivery, attempts - 1 AS attempts`,
      nowMs,
      BEGUN_KEPT_S * 1000,
      nowMs,
    )
    .toArray()
    .map((r) => ({ ...r, reason: "retries-exhausted" as const }));
  sql.exec("UPDATE triggers SET next_at = ? WHERE state = 'pending' AND next_at <= ?", atMs, nowMs);
  return [...stale, ...exhausted];
}

/** Pending deliveries due by `nowMs`, oldest first. */
export function dueDeliveries(sql: SqlStorage, nowMs: number, limit: number): DueDelivery[] {
  return sql
    .exec<DueDelivery>(
      `SELECT user, trigger, cart_ts, items, due_at, delivery, attempts, changes FROM triggers
       WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`,
      nowMs,
      limit,
    )
    .toArray();
}

/** A viewed-* row's details emptied with its items (a cart row's stay NULL). */
const CLEAR_CHANGES = "changes = CASE WHEN changes IS NULL THEN NULL ELSE '[]' END";

/**
 * The type of trigger a row's delivery was scheduled for, by its details (`changes`): a cart row has none (NULL); a
 * price drop's every item carries its prices, a back-in-stock one's none. Null when they cannot tell (a settled
 * viewed-* row's details are emptied, or a mix an earlier version merged), so that a trigger id now of another
 * viewed type neither sends nor extends a delivery scheduled for the other (its body would lack, or carry, prices).
 */
export function rowType(changes: string | null): TriggerType | null {
  if (changes === null) return "cart-abandoned";
  const details = JSON.parse(changes) as ViewedItem[];
  const priced = details.filter((d) => d.newPrice !== undefined).length;
  if (details.length === 0 || (priced > 0 && priced < details.length)) return null;
  return priced > 0 ? "viewed-price-drop" : "viewed-back-in-stock";
}

function rowOf(sql: SqlStorage, user: string, trigger: string): TriggerRow | null {
  return (
    sql
      .exec<TriggerRow>(
        `SELECT cart_ts, items, due_at, state, delivered_at, delivery, attempts, next_at, changes, sent_at, reason
         FROM triggers WHERE user = ? AND trigger = ?`,
        user,
        trigger,
      )
      .toArray()[0] ?? null
  );
}

/**
 * Starts (due now) or extends a reader's delivery of a viewed-* trigger for one catalog change they viewed the
 * item of (inside the shard's transaction), as core/triggers.ts nextViewedStep decides; `inFlight` holds the
 * delivery ids whose webhook call has not answered yet (their content stays as sent). Returns when it is due
 * (ms), or null when nothing was scheduled.
 */
export function scheduleViewed(
  sql: SqlStorage,
  user: string,
  trigger: ViewedTrigger,
  change: CatalogChange,
  viewedAt: number,
  nowMs: number,
  inFlight: ReadonlySet<string>,
): number | null {
  const nowS = Math.floor(nowMs / 1000);
  const found = rowOf(sql, user, trigger.id);
  // a row left by a trigger of the same id that changed type counts as none (a settled viewed-* row tells no type)
  const type = found ? rowType(found.changes) : null;
  const row = found && found.changes !== null && (type ?? trigger.type) === trigger.type ? found : null;
  const details: ViewedItem[] = row?.state === "pending" ? (JSON.parse(row.changes as string) as ViewedItem[]) : [];
  const step = nextViewedStep(
    trigger,
    row && {
      state: row.state as TriggerState["state"],
      items: details.map((d) => d.item),
      deliveredAt: row.delivered_at,
      tried: row.attempts > 0 || row.sent_at !== null || inFlight.has(row.delivery),
    },
    change.item,
    change.at,
    nowS,
  );
  if (step === "skip") return null;
  const detail: ViewedItem = {
    item: change.item,
    viewedAt,
    ...(change.kind === "price-drop" && {
      oldPrice: change.oldPrice,
      newPrice: change.newPrice,
      currency: change.currency ?? null,
    }),
    ...(change.version !== undefined && { version: change.version }),
  };
  if (step === "merge" && row) {
    // a second drop of an item already in the delivery: from its price before the first
    const earlier = details.find((d) => d.item === change.item);
    if (earlier?.oldPrice !== undefined && detail.oldPrice !== undefined) detail.oldPrice = earlier.oldPrice;
    const next = [detail, ...details.filter((d) => d.item !== change.item)];
    sql.exec(
      "UPDATE triggers SET items = ?, changes = ? WHERE user = ? AND trigger = ? AND delivery = ?",
      JSON.stringify(next.map((d) => d.item)),
      JSON.stringify(next),
      user,
      trigger.id,
      row.delivery,
    );
    return row.next_at;
  }
  sql.exec(
    `INSERT INTO triggers (user, trigger, cart_ts, items, due_at, state, delivered_at, delivery, attempts, next_at, changes)
     VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, 0, ?, ?)
     ON CONFLICT (user, trigger) DO UPDATE SET cart_ts = excluded.cart_ts, items = excluded.items,
       due_at = excluded.due_at, state = excluded.state, delivered_at = excluded.delivered_at,
       delivery = excluded.delivery, attempts = excluded.attempts, next_at = excluded.next_at,
       changes = excluded.changes, ${EARLIER_SENT_AT}, sent_at = NULL, reason = NULL`,
    user,
    trigger.id,
    change.at,
    JSON.stringify([change.item]),
    nowS,
    row?.delivered_at ?? null,
    crypto.randomUUID(),
    nowMs,
    JSON.stringify([detail]),
  );
  return nowMs;
}

/**
 * A due delivery as its row is now (a change merged into it since the alarm read it is sent too), or null when it
 * is no longer pending under that id (cancelled, moved). Read before markBegun, with no await between.
 */
export function pendingDelivery(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery">,
): DueDelivery | null {
  return (
    sql
      .exec<DueDelivery>(
        `SELECT user, trigger, cart_ts, items, due_at, delivery, attempts, changes, sent_at FROM triggers
         WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
        d.user,
        d.trigger,
        d.delivery,
      )
      .toArray()[0] ?? null
  );
}

/**
 * Marks a pending delivery's webhook call as begun (its first call's time kept): from the mark on no change joins
 * it (scheduleViewed), its content is what the receiver gets under its id, and it counts for the reader's
 * frequency (lastTriggeredSend). Written before the call leaves (a Durable Object's output gate), so an eviction
 * mid-call keeps it; only for a call that will leave (one cancelled instead, say every item bought, was never
 * sent and counts for nothing).
 */
export function markBegun(sql: SqlStorage, d: Pick<DueDelivery, "user" | "trigger" | "delivery">, nowMs: number): void {
  sql.exec(
    "UPDATE triggers SET sent_at = coalesce(sent_at, ?) WHERE user = ? AND trigger = ? AND delivery = ?",
    nowMs,
    d.user,
    d.trigger,
    d.delivery,
  );
}

export type AttemptOutcome =
  | { kind: "delivered"; cooldownHours: number }
  /** retried (core/triggers.ts retryDelayMs), no sooner than the receiver's Retry-After (s) when it sent one */
  | { kind: "failed"; retryAfterS: number | null }
  /**
   * the webhook refused the body (core/triggers.ts webhookVerdict): given up at once, `refused`; `sentAt`: when the
   * delivery's first call began (ms), for a refusal of that only call whose row changed meanwhile
   */
  | { kind: "refused"; sentAt?: number }
  | { kind: "cancelled"; reason: CancelReason }
  /** not tried (a secret missing, the configuration unreadable): the same attempt again at `atMs` */
  | { kind: "postponed"; atMs: number };

/**
 * What became of one delivery (by its id: a wait moved meanwhile has another, which a late answer leaves as it
 * is). Only a success the row no longer matches (a later cart add moved it while the webhook answered) reaches
 * past its id: it starts the reader's cooldown for the trigger, so the new wait is due no sooner than it ends.
 * Returns why this attempt gave the delivery up (refused, or its last retry failed), or null.
 */
export function recordAttempt(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery" | "attempts">,
  outcome: AttemptOutcome,
  nowMs: number,
): GiveUpReason | null {
  const nowS = Math.floor(nowMs / 1000);
  switch (outcome.kind) {
    case "delivered": {
      const marked = sql.exec(
        `UPDATE triggers SET state = 'delivered', items = '[]', ${CLEAR_CHANGES}, delivered_at = ?,
           attempts = attempts + 1
         WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
        nowS,
        d.user,
        d.trigger,
        d.delivery,
      ).rowsWritten;
      if (marked === 0) {
        const until = nowS + outcome.cooldownHours * 3600;
        sql.exec(
          `UPDATE triggers SET delivered_at = ?, due_at = max(due_at, ?), next_at = max(next_at, ?)
           WHERE user = ? AND trigger = ?`,
          nowS,
          until,
          until * 1000,
          d.user,
          d.trigger,
        );
      }
      return null;
    }
    case "cancelled":
      cancelDelivery(sql, d, outcome.reason);
      return null;
    case "postponed":
      sql.exec(
        "UPDATE triggers SET next_at = ? WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'",
        outcome.atMs,
        d.user,
        d.trigger,
        d.delivery,
      );
      return null;
    case "refused": {
      const gaveUp = giveUp(sql, d, "refused");
      // its only call refused while the row changed under it (cancelled by a purchase, an emptied cart or an
      // opt-out, or moved to a new wait): the receiver did not take it, so it counts for no frequency, as one given
      // up above does not (countsFromFirstCall): a row that still holds it is given up as refused, and a new wait
      // forgets its first call (EARLIER_SENT_AT)
      if (gaveUp === null && d.attempts === 0 && outcome.sentAt !== undefined) {
        sql.exec(
          `UPDATE triggers SET state = 'failed', reason = 'refused', attempts = attempts + 1
           WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'cancelled' AND attempts = 0`,
          d.user,
          d.trigger,
          d.delivery,
        );
        sql.exec(
          `UPDATE triggers SET earlier_sent_at = NULL
           WHERE user = ? AND trigger = ? AND delivery <> ? AND earlier_sent_at = ?`,
          d.user,
          d.trigger,
          d.delivery,
          outcome.sentAt,
        );
      }
      return gaveUp;
    }
    case "failed": {
      const delay = retryDelayMs(d.delivery, d.attempts, outcome.retryAfterS);
      if (delay === null) return giveUp(sql, d, "retries-exhausted");
      sql.exec(
        `UPDATE triggers SET attempts = attempts + 1, next_at = ?
         WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
        nowMs + delay,
        d.user,
        d.trigger,
        d.delivery,
      );
      return null;
    }
  }
}

/**
 * Gives one pending delivery up after an attempt (`failed`: its items and details emptied), keeping why. The
 * reason when it was still pending under that id, else null.
 */
function giveUp(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery">,
  reason: GiveUpReason,
): GiveUpReason | null {
  const written = sql.exec(
    `UPDATE triggers SET state = 'failed', attempts = attempts + 1, items = '[]', ${CLEAR_CHANGES}, reason = ?
     WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
    reason,
    d.user,
    d.trigger,
    d.delivery,
  ).rowsWritten;
  return written > 0 ? reason : null;
}

/**
 * A reader's triggers, for right of access: with the delivery id the webhook's receiver was given (`delivery`,
 * its `Opentime-Delivery`) and when its first call began (`sent_at`; an earlier delivery's that still counts for
 * the frequency: `earlier_sent_at`), so what the ESP holds can be matched, and, while pending, when its next call
 * is due (`next_at`, ms: the first, or the retry after a failed one).
 */
export function triggersOf(sql: SqlStorage, user: string): Record<string, SqlStorageValue>[] {
  return sql
    .exec(
      `SELECT trigger, delivery, cart_ts, items, changes, due_at, state, reason, sent_at, earlier_sent_at,
         delivered_at, attempts, CASE WHEN state = 'pending' THEN next_at END AS next_at
       FROM triggers WHERE user = ?`,
      user,
    )
    .toArray();
}

export function deleteTriggers(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM triggers WHERE user = ?", user).rowsWritten;
}
