/**
 * The experiment store in D1 (binding `DB`): exposures, send-time assignments and the clicks and purchases
 * attributed to exposures, one row each, and the daily aggregates per experiment, arm, day and slot, kept by
 * SQLite triggers in the same transaction as the rows (so they always equal a count of the rows). The readers' shards are its only writers
 * (worker/state/experiment-outbox.ts): each row is decided once, in the transaction that applied its event,
 * and written here idempotently (primary keys; a repeated row changes nothing, fires no trigger). An erased
 * reader's rows are deleted (the aggregates follow). Reports read it (worker/experiments/report-queries.ts).
 * Clicks on an experiment's emails taken for link scanners' are kept apart (`scanner_clicks`), never counted as
 * clicks; a click counted before it was found to be one (a burst, core/click-bursts.ts) is taken back, with the
 * exposure it made and what was attributed through that exposure.
 * The Worker creates the tables itself (worker/lib/d1-schema.ts).
 */
import type { ExperimentRow } from "../../core/experiments/exposure";
import type { ScannerReason } from "../../core/reasons";
import { ensureTables } from "../lib/d1-schema";

/**
 * What a shard sends: a row; a click of the experiment's email taken for a link scanner's (counted apart, once per
 * experiment and event); the taking back of a click counted before it was found to be a scanner's (its attributed
 * rows, in every experiment); of an exposure such a click made (with every row attributed through it); or the
 * erasure of a reader's rows.
 */
export type StoreRow =
  | ExperimentRow
  | {
      kind: "scanner-click";
      experiment: string;
      user: string;
      arm: string;
      event: string;
      slot: string | null;
      reason: ScannerReason;
      at: number;
    }
  | { kind: "retract-click"; user: string; event: string }
  | { kind: "unexposed"; experiment: string; user: string }
  | { kind: "forget"; user: string };

const FIRST = [
  `CREATE TABLE IF NOT EXISTS exposures (
     experiment TEXT NOT NULL, user TEXT NOT NULL, arm TEXT NOT NULL, campaign TEXT NOT NULL,
     at INTEGER NOT NULL, day TEXT NOT NULL,
     PRIMARY KEY (experiment, user)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS outcomes (
     experiment TEXT NOT NULL, user TEXT NOT NULL, event TEXT NOT NULL, kind TEXT NOT NULL, arm TEXT NOT NULL,
     slot TEXT, item TEXT, value REAL NOT NULL, at INTEGER NOT NULL, day TEXT NOT NULL,
     PRIMARY KEY (experiment, user, event)) WITHOUT ROWID`,
  "CREATE INDEX IF NOT EXISTS outcomes_by_user ON outcomes (user)",
  "CREATE INDEX IF NOT EXISTS exposures_by_user ON exposures (user)",
  `CREATE TABLE IF NOT EXISTS daily (
     experiment TEXT NOT NULL, arm TEXT NOT NULL, day TEXT NOT NULL, slot TEXT NOT NULL,
     exposures INTEGER NOT NULL DEFAULT 0, clicks INTEGER NOT NULL DEFAULT 0,
     purchases INTEGER NOT NULL DEFAULT 0, revenue REAL NOT NULL DEFAULT 0,
     PRIMARY KEY (experiment, arm, day, slot)) WITHOUT ROWID`,
  `CREATE TRIGGER IF NOT EXISTS exposures_in AFTER INSERT ON exposures BEGIN
     INSERT INTO daily (experiment, arm, day, slot, exposures) VALUES (NEW.experiment, NEW.arm, NEW.day, '', 1)
     ON CONFLICT (experiment, arm, day, slot) DO UPDATE SET exposures = exposures + 1;
   END`,
  `CREATE TRIGGER IF NOT EXISTS exposures_out AFTER DELETE ON exposures BEGIN
     UPDATE daily SET exposures = exposures - 1
     WHERE experiment = OLD.experiment AND arm = OLD.arm AND day = OLD.day AND slot = '';
   END`,
  `CREATE TRIGGER IF NOT EXISTS outcomes_in AFTER INSERT ON outcomes BEGIN
     INSERT INTO daily (experiment, arm, day, slot, clicks, purchases, revenue)
     VALUES (NEW.experiment, NEW.arm, NEW.day, coalesce(NEW.slot, ''),
             NEW.kind = 'click', NEW.kind = 'purchase', NEW.value)
     ON CONFLICT (experiment, arm, day, slot) DO UPDATE SET
       clicks = clicks + (NEW.kind = 'click'), purchases = purchases + (NEW.kind = 'purchase'),
       revenue = revenue + NEW.value;
   END`,
  `CREATE TRIGGER IF NOT EXISTS outcomes_out AFTER DELETE ON outcomes BEGIN
     UPDATE daily SET clicks = clicks - (OLD.kind = 'click'), purchases = purchases - (OLD.kind = 'purchase'),
       revenue = revenue - OLD.value
     WHERE experiment = OLD.experiment AND arm = OLD.arm AND day = OLD.day AND slot = coalesce(OLD.slot, '');
   END`,
];

/** The migrations, in order (worker/lib/d1-schema.ts): never edited once shipped. */
const MIGRATIONS = [
  FIRST,
  // the block each reader's first open served (per-block counts)
  ["ALTER TABLE exposures ADD COLUMN block TEXT"],
  // how each reader entered (`open`, or `click`: no open seen) and the phase their arm was drawn in; readers
  // whose arm a send drew (subject lines), for reports per sent reader
  [
    "ALTER TABLE exposures ADD COLUMN via TEXT",
    "ALTER TABLE exposures ADD COLUMN phase INTEGER",
    `CREATE TABLE IF NOT EXISTS assignments (
       experiment TEXT NOT NULL, user TEXT NOT NULL, arm TEXT NOT NULL, campaign TEXT NOT NULL,
       phase INTEGER, at INTEGER NOT NULL, day TEXT NOT NULL,
       PRIMARY KEY (experiment, user)) WITHOUT ROWID`,
    "CREATE INDEX IF NOT EXISTS assignments_by_user ON assignments (user)",
  ],
  // each purchase's currency (null: the event gave none), so that reports never add values of different currencies;
  // `daily.revenue` keeps the sum over all of them, and reports take revenue from `outcomes`
  ["ALTER TABLE outcomes ADD COLUMN currency TEXT"],
  // clicks of the experiments' emails taken for link scanners': counted apart (README, Scanner clicks)
  [
    `CREATE TABLE IF NOT EXISTS scanner_clicks (
       experiment TEXT NOT NULL, user TEXT NOT NULL, event TEXT NOT NULL, arm TEXT NOT NULL, slot TEXT,
       reason TEXT NOT NULL, at INTEGER NOT NULL, day TEXT NOT NULL,
       PRIMARY KEY (experiment, user, event)) WITHOUT ROWID`,
    "CREATE INDEX IF NOT EXISTS scanner_clicks_by_user ON scanner_clicks (user)",
  ],
  // an exposure moved to another day (an open made before the click that exposed the reader): its count moves too
  [
    `CREATE TRIGGER IF NOT EXISTS exposures_moved AFTER UPDATE OF day ON exposures WHEN OLD.day <> NEW.day BEGIN
       UPDATE daily SET exposures = exposures - 1
       WHERE experiment = OLD.experiment AND arm = OLD.arm AND day = OLD.day AND slot = '';
       INSERT INTO daily (experiment, arm, day, slot, exposures) VALUES (NEW.experiment, NEW.arm, NEW.day, '', 1)
       ON CONFLICT (experiment, arm, day, slot) DO UPDATE SET exposures = exposures + 1;
     END`,
  ],
];

/**
 * A reader exposed by a click seen opening: their exposure becomes an open's. An open made before the click moves
 * the exposure's time (and day: a trigger moves its count) back to the open's, and takes back what was attributed
 * after the end of the window it starts (the click's ended later); only while the exposure is still the click's, so
 * a repeated row changes nothing.
 */
function openedStatements(db: D1Database, r: Extract<StoreRow, { kind: "opened" }>): D1PreparedStatement[] {
  const byClick = "SELECT 1 FROM exposures WHERE experiment = ?1 AND user = ?2 AND via = 'click'";
  if (r.at === undefined || r.until === undefined)
    return [
      db
        .prepare("UPDATE exposures SET via = 'open' WHERE experiment = ? AND user = ? AND via = 'click'")
        .bind(r.experiment, r.user),
    ];
  return [
    db
      .prepare(`DELETE FROM outcomes WHERE experiment = ?1 AND user = ?2 AND at > ?3 AND EXISTS (${byClick})`)
      .bind(r.experiment, r.user, r.until),
    db
      .prepare(
        `UPDATE exposures SET via = 'open', at = min(at, ?3), day = CASE WHEN ?3 < at THEN ?4 ELSE day END
         WHERE experiment = ?1 AND user = ?2 AND via = 'click'`,
      )
      .bind(r.experiment, r.user, r.at, day(r.at)),
  ];
}

/** Creates or upgrades the experiment store's tables (checked once per isolate). */
export function ensureSchema(db: D1Database): Promise<void> {
  return ensureTables(db, "experiments", MIGRATIONS);
}

/** D1 binds at most 100 parameters per statement. */
const MAX_PARAMS = 100;

function day(at: number): string {
  return new Date(at * 1000).toISOString().slice(0, 10);
}

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** Writes the rows in one transaction (D1's batch): multi-row inserts that ignore what is already there. */
export async function writeRows(db: D1Database, rows: readonly StoreRow[]): Promise<void> {
  if (rows.length === 0) return;
  await ensureSchema(db);
  const statements: D1PreparedStatement[] = [];
  // in order: an erasure deletes what came before it, never what a later row of the same reader adds
  let run: StoreRow[] = [];
  const flush = () => {
    const exposures = run.filter((r): r is Extract<StoreRow, { kind: "exposure" }> => r.kind === "exposure");
    const assignments = run.filter((r): r is Extract<StoreRow, { kind: "assignment" }> => r.kind === "assignment");
    const opened = run.filter((r): r is Extract<StoreRow, { kind: "opened" }> => r.kind === "opened");
    const outcomes = run.filter(
      (r): r is Extract<StoreRow, { kind: "click" | "purchase" }> => r.kind === "click" || r.kind === "purchase",
    );
    const scanned = run.filter((r): r is Extract<StoreRow, { kind: "scanner-click" }> => r.kind === "scanner-click");
    for (const part of chunks(exposures, Math.floor(MAX_PARAMS / 9))) {
      statements.push(
        db
          .prepare(
            `INSERT OR IGNORE INTO exposures (experiment, user, arm, campaign, block, via, phase, at, day) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
          )
          // rows an earlier version queued lack the newer fields: D1 refuses undefined
          .bind(
            ...part.flatMap((r) => [
              r.experiment,
              r.user,
              r.arm,
              r.campaign,
              r.block ?? null,
              r.via ?? null,
              r.phase ?? null,
              r.at,
              day(r.at),
            ]),
          ),
      );
    }
    for (const part of chunks(assignments, Math.floor(MAX_PARAMS / 7))) {
      statements.push(
        db
          .prepare(
            `INSERT OR IGNORE INTO assignments (experiment, user, arm, campaign, phase, at, day) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
          )
          .bind(...part.flatMap((r) => [r.experiment, r.user, r.arm, r.campaign, r.phase ?? null, r.at, day(r.at)])),
      );
    }
    for (const r of opened) statements.push(...openedStatements(db, r));
    for (const part of chunks(outcomes, Math.floor(MAX_PARAMS / 11))) {
      statements.push(
        db
          .prepare(
            `INSERT OR IGNORE INTO outcomes (experiment, user, event, kind, arm, slot, item, value, currency, at, day) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
          )
          .bind(
            ...part.flatMap((r) => [
              r.experiment,
              r.user,
              r.event,
              r.kind,
              r.arm,
              r.slot,
              r.item,
              r.value,
              r.currency ?? null,
              r.at,
              day(r.at),
            ]),
          ),
      );
    }
    for (const part of chunks(scanned, Math.floor(MAX_PARAMS / 8))) {
      statements.push(
        db
          .prepare(
            `INSERT OR IGNORE INTO scanner_clicks (experiment, user, event, arm, slot, reason, at, day) VALUES ${part.map(() => "(?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
          )
          .bind(...part.flatMap((r) => [r.experiment, r.user, r.event, r.arm, r.slot, r.reason, r.at, day(r.at)])),
      );
    }
    run = [];
  };
  for (const row of rows) {
    // an open that moves a window back takes back what the click's window credited past its own: in its place,
    // so an outcome a row before it attributed goes, and one a later row attributes stays
    if (row.kind === "opened" && row.at !== undefined) {
      flush();
      statements.push(...openedStatements(db, row));
      continue;
    }
    // deletions in their place: what came before them goes, never what a later row (the reader's own click of
    // the slot, their real open) adds again
    if (row.kind === "retract-click") {
      flush();
      statements.push(
        db.prepare("DELETE FROM outcomes WHERE user = ? AND event = ? AND kind = 'click'").bind(row.user, row.event),
      );
      continue;
    }
    if (row.kind === "unexposed") {
      flush();
      statements.push(
        db
          .prepare("DELETE FROM exposures WHERE experiment = ? AND user = ? AND via = 'click'")
          .bind(row.experiment, row.user),
      );
      // the exposure was the reader's only one in the experiment: everything attributed there came through it
      statements.push(
        db.prepare("DELETE FROM outcomes WHERE experiment = ? AND user = ?").bind(row.experiment, row.user),
      );
      continue;
    }
    if (row.kind !== "forget") {
      run.push(row);
      continue;
    }
    flush();
    statements.push(db.prepare("DELETE FROM exposures WHERE user = ?").bind(row.user));
    statements.push(db.prepare("DELETE FROM outcomes WHERE user = ?").bind(row.user));
    statements.push(db.prepare("DELETE FROM assignments WHERE user = ?").bind(row.user));
    statements.push(db.prepare("DELETE FROM scanner_clicks WHERE user = ?").bind(row.user));
  }
  flush();
  await db.batch(statements);
}
