/**
 * The reader shard's recent clicks from the click route (`recent_clicks`), which tell a link scanner's clicks from
 * the reader's: one row per click (its email, slot and time at the edge), written in the transaction that applies
 * its batch. A click whose user agent named a scanner comes as a `scanner_click`; any other is judged here against
 * the clicks of the same email kept (core/click-bursts.ts), whatever order they arrive in. A click of a burst is a
 * scanner's: it is not applied, and one applied earlier as the reader's (the first of a burst, before the others
 * arrived) is undone in the same transaction (its row says what it did: `applied`, and the exposures it `made`).
 * Classification only ever goes from reader to scanner, so a redelivered click is judged as it was.
 * Kept CLICKS_KEPT_MS after they were written (the queue's retries and the dead-letter queue's end well within it;
 * the shard's alarm prunes what is older), each reader's newest MAX_CLICKS_PER_READER. Tracking turned off and
 * erasure delete the reader's rows. Synchronous SQL on the shard's storage; the shard is the only writer.
 */
import type { ClickExposure } from "../../core/apply-events";
import { BURST_WINDOW_MS, burstReasons } from "../../core/click-bursts";
import type { QueuedEvent } from "../../core/events";
import { SCANNER_REASONS, type ScannerReason } from "../../core/reasons";
import type { StoreRow } from "../experiments/experiment-db";
import { keepNewest } from "./sql-tables";

export const CLICKS_SCHEMA = [
  `CREATE TABLE IF NOT EXISTS recent_clicks (
     user TEXT NOT NULL, click TEXT NOT NULL, send TEXT NOT NULL, slot TEXT NOT NULL, ts INTEGER NOT NULL,
     suspect INTEGER NOT NULL, reason TEXT, applied INTEGER NOT NULL DEFAULT 0, made TEXT, body TEXT NOT NULL,
     until INTEGER NOT NULL,
     PRIMARY KEY (user, click)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS recent_clicks_by_send ON recent_clicks (user, send, ts)",
  "CREATE INDEX IF NOT EXISTS recent_clicks_by_until ON recent_clicks (until)",
];

/** How long a click is kept after it was written (ms): as long as late clicks of its burst may still arrive. */
export const CLICKS_KEPT_MS = 2 * 86_400_000;
/** Clicks kept per reader (their newest): a burst is a handful, a reader's own clicks a few a day. */
export const MAX_CLICKS_PER_READER = 200;

/** A click of the click route, which carries what a burst is judged by. */
type RouteClick = QueuedEvent & { send: string; slot: string; atMs: number };

/** Whether an event is a click from the click route (its row is written by sortClicks). */
export function isRouteClick(e: QueuedEvent): e is RouteClick {
  return (
    (e.type === "email_click" || e.type === "scanner_click") &&
    typeof e.send === "string" &&
    typeof e.slot === "string" &&
    typeof e.atMs === "number" &&
    Number.isFinite(e.atMs)
  );
}

/** A click's key within the reader: the event (one per email and slot) and when it reached the edge. */
const clickKey = (e: RouteClick) => `${e.id}@${e.atMs}`;

interface ClickRow extends Record<string, SqlStorageValue> {
  click: string;
  slot: string;
  ts: number;
  suspect: number;
  reason: string | null;
  applied: number;
  made: string | null;
  body: string;
}

const asReason = (r: string | null): ScannerReason | null =>
  r !== null && (SCANNER_REASONS as readonly string[]).includes(r) ? (r as ScannerReason) : null;

export interface SortedClicks {
  /** the events to apply as they are: every one but the scanners' clicks */
  events: QueuedEvent[];
  /** this call's clicks taken for a scanner's; `repeat`: recorded before (a redelivery) */
  scanner: { event: QueuedEvent; reason: ScannerReason; repeat: boolean }[];
  /** clicks applied earlier as the reader's, found now to be a scanner's: to undo, with the exposures they made */
  undo: { event: QueuedEvent; reason: ScannerReason; made: ClickExposure[] }[];
}

/**
 * Records the reader's clicks from the click route among `events` and sorts them (inside the shard's transaction,
 * before the events are applied): a click whose user agent named a scanner, or that makes a burst with the clicks
 * of its email kept, is a scanner's; clicks kept that the new ones make a burst with are marked so, and those that
 * were applied are returned to be undone.
 */
export function sortClicks(
  sql: SqlStorage,
  user: string,
  events: readonly QueuedEvent[],
  nowMs: number,
  /** whether the reader's consent lets an event of that time be recorded: those it does not are left as they are */
  recorded: (e: QueuedEvent) => boolean,
): SortedClicks {
  const clicks = events.filter((e) => isRouteClick(e) && recorded(e)) as RouteClick[];
  if (clicks.length === 0) return { events: [...events], scanner: [], undo: [] };
  const until = nowMs + CLICKS_KEPT_MS;
  const repeat = new Set<string>();
  for (const e of clicks) {
    const agent = e.type === "scanner_click";
    const written = sql.exec(
      `INSERT OR IGNORE INTO recent_clicks (user, click, send, slot, ts, suspect, reason, body, until)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      user,
      clickKey(e),
      e.send,
      e.slot,
      e.atMs,
      // a scanner that named itself counts towards a burst as a suspect click would
      agent || e.suspect === true ? 1 : 0,
      agent ? (e.scanner ?? "agent") : null,
      JSON.stringify(e),
      until,
    ).rowsWritten;
    if (written === 0) repeat.add(clickKey(e));
  }
  keepNewest(sql, "recent_clicks", "click", user, MAX_CLICKS_PER_READER);
  // each email clicked: its clicks within a window of the new ones, judged together
  const undo: SortedClicks["undo"] = [];
  const reasons = new Map<string, ScannerReason>();
  const sends = new Map<string, number[]>();
  for (const e of clicks) sends.set(e.send, [...(sends.get(e.send) ?? []), e.atMs]);
  for (const [send, times] of sends) {
    const rows = sql
      .exec<ClickRow>(
        `SELECT click, slot, ts, suspect, reason, applied, made, body FROM recent_clicks
         WHERE user = ? AND send = ? AND ts BETWEEN ? AND ? AND until > ? ORDER BY ts, click`,
        user,
        send,
        Math.min(...times) - BURST_WINDOW_MS,
        Math.max(...times) + BURST_WINDOW_MS,
        nowMs,
      )
      .toArray();
    const found = burstReasons(rows.map((r) => ({ slot: r.slot, ms: r.ts, suspect: r.suspect === 1 })));
    rows.forEach((row, i) => {
      const known = asReason(row.reason);
      const reason = known ?? found[i] ?? null;
      if (reason === null) return;
      reasons.set(row.click, reason);
      if (known !== null) return;
      // a reader's click until now: a scanner's from now on, and undone if it was applied
      sql.exec(
        "UPDATE recent_clicks SET reason = ?, applied = 0, made = NULL WHERE user = ? AND click = ?",
        reason,
        user,
        row.click,
      );
      if (row.applied === 1)
        undo.push({
          event: JSON.parse(row.body) as QueuedEvent,
          reason,
          made: row.made ? (JSON.parse(row.made) as ClickExposure[]) : [],
        });
    });
  }
  const scanner: SortedClicks["scanner"] = [];
  const rest: QueuedEvent[] = [];
  const judged = new Set<QueuedEvent>(clicks);
  for (const e of events) {
    const reason = judged.has(e) ? reasons.get(clickKey(e as RouteClick)) : undefined;
    if (reason === undefined) rest.push(e);
    else scanner.push({ event: e, reason, repeat: repeat.has(clickKey(e as RouteClick)) });
  }
  return { events: rest, scanner, undo };
}

/**
 * The experiment store's rows of a scanner's click: one per experiment whose arm its email was decided under
 * (counted apart there, once per email, slot and experiment).
 */
export function scannerRows(user: string, e: QueuedEvent, reason: ScannerReason): StoreRow[] {
  return (e.exposures ?? []).map((x) => ({
    kind: "scanner-click" as const,
    experiment: x.experiment,
    user,
    arm: x.arm,
    event: e.id,
    slot: e.slot ?? null,
    reason,
    at: e.ts,
  }));
}

/** A click applied as the reader's, with the exposures applying it made (inside the shard's transaction). */
export function markApplied(sql: SqlStorage, user: string, e: QueuedEvent, made: readonly ClickExposure[]): void {
  if (!isRouteClick(e)) return;
  sql.exec(
    "UPDATE recent_clicks SET applied = 1, made = ? WHERE user = ? AND click = ? AND reason IS NULL",
    made.length > 0 ? JSON.stringify(made) : null,
    user,
    clickKey(e),
  );
}

/** The reader's kept clicks, oldest first (right of access): when, which email and slot, and whose they were taken for. */
export function clicksOf(
  sql: SqlStorage,
  user: string,
): { send: string; slot: string; at_ms: number; suspect: boolean; scanner: string | null; applied: boolean }[] {
  return sql
    .exec<ClickRow & { send: string }>(
      "SELECT send, slot, ts, suspect, reason, applied FROM recent_clicks WHERE user = ? ORDER BY ts, click",
      user,
    )
    .toArray()
    .map((r) => ({
      send: r.send,
      slot: r.slot,
      at_ms: r.ts,
      suspect: r.suspect === 1,
      scanner: r.reason,
      applied: r.applied === 1,
    }));
}

/** Deletes the reader's rows (tracking off, erasure); returns how many went. */
export function deleteClicks(sql: SqlStorage, user: string): number {
  return sql.exec("DELETE FROM recent_clicks WHERE user = ?", user).rowsWritten;
}

/** Deletes the rows kept long enough (the shard's alarm). */
export function pruneClicks(sql: SqlStorage, nowMs: number): void {
  sql.exec("DELETE FROM recent_clicks WHERE until <= ?", nowMs);
}

/** When the oldest row expires (ms), or null without rows. */
export function nextClickExpiry(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(until) AS at FROM recent_clicks").one().at;
}
