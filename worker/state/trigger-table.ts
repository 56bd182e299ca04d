/**
 * The reader shard's table of triggers (core/triggers.ts): one row per reader and trigger, written in the
 * shard's transaction with the events that move it (a cart add schedules, a purchase cancels), read by its
 * alarm to deliver what is due. Synchronous SQL on the shard's storage; the shard is the only writer.
 */

import type { QueuedEvent } from "../../core/events";
import { nextTriggerState, RETRY_DELAYS_S, type Trigger, type TriggerState } from "../../core/triggers";

export const TRIGGER_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS triggers (
     user TEXT NOT NULL, trigger TEXT NOT NULL,
     cart_ts INTEGER NOT NULL, items TEXT NOT NULL, due_at INTEGER NOT NULL,
     state TEXT NOT NULL, delivered_at INTEGER,
     delivery TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL,
     PRIMARY KEY (user, trigger)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS triggers_due ON triggers (next_at) WHERE state = 'pending'",
];

interface TriggerRow extends Record<string, SqlStorageValue> {
  cart_ts: number;
  items: string;
  due_at: number;
  state: string;
  delivered_at: number | null;
  delivery: string;
  attempts: number;
}

export interface DueDelivery extends Record<string, SqlStorageValue> {
  user: string;
  trigger: string;
  cart_ts: number;
  items: string;
  due_at: number;
  delivery: string;
  attempts: number;
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
 * Moves the reader's triggers by their newly applied events (inside the shard's transaction). Returns the
 * earliest delivery time scheduled (ms), or null.
 */
export function updateTriggers(
  sql: SqlStorage,
  user: string,
  triggers: readonly Trigger[],
  events: readonly QueuedEvent[],
  lastPurchaseTs: number | null,
  nowMs: number,
): number | null {
  if (!events.some((e) => e.type === "cart_add" || e.type === "purchase")) return null;
  let earliest: number | null = null;
  for (const trigger of triggers) {
    const row =
      sql
        .exec<TriggerRow>(
          "SELECT cart_ts, items, due_at, state, delivered_at, delivery, attempts FROM triggers WHERE user = ? AND trigger = ?",
          user,
          trigger.id,
        )
        .toArray()[0] ?? null;
    const next = nextTriggerState(trigger, row ? stateOf(row) : null, events, lastPurchaseTs, Math.floor(nowMs / 1000));
    if (!next) continue;
    // a new wait (none before, or the last one delivered, cancelled or given up) is a new delivery id
    const fresh = !row || (row.state !== "pending" && next.state === "pending");
    const delivery = fresh ? crypto.randomUUID() : row.delivery;
    const attempts = fresh ? 0 : row.attempts;
    const nextAt = next.dueAt * 1000;
    sql.exec(
      `INSERT INTO triggers (user, trigger, cart_ts, items, due_at, state, delivered_at, delivery, attempts, next_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (user, trigger) DO UPDATE SET cart_ts = excluded.cart_ts, items = excluded.items,
         due_at = excluded.due_at, state = excluded.state, delivered_at = excluded.delivered_at,
         delivery = excluded.delivery, attempts = excluded.attempts, next_at = excluded.next_at`,
      user,
      trigger.id,
      next.cartTs,
      JSON.stringify(next.items),
      next.dueAt,
      next.state,
      next.deliveredAt,
      delivery,
      attempts,
      nextAt,
    );
    if (next.state === "pending") earliest = Math.min(earliest ?? nextAt, nextAt);
  }
  return earliest;
}

/** Pending deliveries due by `nowMs`, oldest first. */
export function dueDeliveries(sql: SqlStorage, nowMs: number, limit: number): DueDelivery[] {
  return sql
    .exec<DueDelivery>(
      `SELECT user, trigger, cart_ts, items, due_at, delivery, attempts FROM triggers
       WHERE state = 'pending' AND next_at <= ? ORDER BY next_at LIMIT ?`,
      nowMs,
      limit,
    )
    .toArray();
}

/**
 * What became of one delivery attempt. Only the attempt's own delivery is updated: a row moved meanwhile (a
 * purchase cancelled it, a later cart add rescheduled it) keeps its new state; a success still starts the
 * reader's cooldown.
 */
export function recordAttempt(
  sql: SqlStorage,
  d: Pick<DueDelivery, "user" | "trigger" | "delivery" | "attempts">,
  outcome: "delivered" | "failed" | "cancelled",
  nowMs: number,
): void {
  if (outcome === "delivered") {
    sql.exec(
      `UPDATE triggers SET state = CASE WHEN state = 'pending' THEN 'delivered' ELSE state END, delivered_at = ?,
         attempts = attempts + 1 WHERE user = ? AND trigger = ? AND delivery = ?`,
      Math.floor(nowMs / 1000),
      d.user,
      d.trigger,
      d.delivery,
    );
    return;
  }
  if (outcome === "cancelled") {
    sql.exec(
      "UPDATE triggers SET state = 'cancelled' WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'",
      d.user,
      d.trigger,
      d.delivery,
    );
    return;
  }
  const delay = RETRY_DELAYS_S[d.attempts];
  sql.exec(
    `UPDATE triggers SET attempts = attempts + 1, state = ?, next_at = ?
     WHERE user = ? AND trigger = ? AND delivery = ? AND state = 'pending'`,
    delay === undefined ? "failed" : "pending",
    nowMs + (delay ?? 0) * 1000,
    d.user,
    d.trigger,
    d.delivery,
  );
}

/** When the next pending delivery is due (ms), or null. */
export function nextDeliveryAt(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(next_at) AS at FROM triggers WHERE state = 'pending'").one().at;
}

/** A reader's triggers, for right of access. */
export function triggersOf(sql: SqlStorage, user: string): Record<string, SqlStorageValue>[] {
  return sql
    .exec("SELECT trigger, cart_ts, due_at, state, delivered_at, attempts FROM triggers WHERE user = ?", user)
    .toArray();
}

export function deleteTriggers(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM triggers WHERE user = ?", user).rowsWritten;
}
