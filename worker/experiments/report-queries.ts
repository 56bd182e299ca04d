/**
 * What an experiment's report reads from the experiment store (worker/experiments/experiment-db.ts): counts per
 * arm (each reader the report's unit counts once, with their attributed clicks, purchases and revenue), per
 * block served, clicks per slot, the items clicked and bought most, and the daily aggregates. Read-only; D1
 * reads see every committed write. Revenue summed is rounded to its currency's minor unit (core/money.ts).
 */
import { type Experiment, GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { type ArmCounts, emptyArm, type PeriodCounts, type ReportUnit } from "../../core/experiments/report";
import { roundMoney } from "../../core/money";
import type { ScannerReason } from "../../core/reasons";
import { ensureSchema } from "./experiment-db";

export interface SlotCounts {
  arm: string;
  slot: string;
  clicks: number;
  clickers: number;
}

export interface BlockCounts {
  arm: string;
  block: string;
  exposed: number;
  clickers: number;
  buyers: number;
}

export interface ItemCounts {
  arm: string;
  item: string;
  clicks: number;
  purchases: number;
  revenue: number;
}

export interface DailyCounts {
  day: string;
  arm: string;
  exposures: number;
  clicks: number;
  purchases: number;
  revenue: number;
}

/**
 * The currency a report's revenue is in (null: purchases that gave none). A report never adds values of different
 * currencies: revenue is the sum of the purchases in this one, and the others are listed apart (CurrencyTotals).
 */
export type ReportCurrency = string | null;

/** The report's currency, and the one purchases that gave none are in (SHOP_CURRENCY; null: none is assumed). */
export interface CurrencyChoice {
  report: ReportCurrency;
  shop: string | null;
}

/** One currency's purchases in an experiment (attributed to any arm). */
export interface CurrencyTotals {
  currency: string | null;
  purchases: number;
  revenue: number;
}

/**
 * A purchase's currency in a query over `outcomes`: its own, else the shop's (`?3`, '' when none is assumed), so
 * rows stored before purchases named theirs count in the shop's
 */
const CURRENCY_OF = "coalesce(currency, ?3)";
/** A reader's (or item's) revenue in the report's currency (`?2`, '' for none). */
const REVENUE_IN = `sum(CASE WHEN kind = 'purchase' AND ${CURRENCY_OF} = ?2 THEN value ELSE 0 END)`;
/** The bindings ?2 and ?3 of the queries above. */
const currencyParams = (c: CurrencyChoice) => [c.report ?? "", c.shop ?? ""];

/**
 * The report's unit: readers a send assigned (`sent`) for an experiment whose sends drew arms (the subject-line
 * route is the only writer of assignments: an arm that wins opens must not be judged per open), else readers who
 * opened. The global holdout is reported per open.
 */
export async function reportUnit(db: D1Database, experiment: Experiment): Promise<ReportUnit> {
  if (experiment.id === GLOBAL_HOLDOUT_ID) return "opened";
  await ensureSchema(db);
  const row = await db
    .prepare("SELECT 1 AS any FROM assignments WHERE experiment = ? LIMIT 1")
    .bind(experiment.id)
    .first<{ any: number }>();
  return row ? "sent" : "opened";
}

/**
 * Rows (of `table.`) whose arm was drawn in the phase that began at `since` (unix seconds): their recorded phase,
 * or for rows written before phases were recorded, drawn at or after it. Empty without `since`. The start is an
 * integer written into the SQL (each query's bindings are numbered already).
 */
function inPhase(since: number | undefined, table = ""): string {
  if (since === undefined) return "";
  if (!Number.isSafeInteger(since) || since < 0) throw new Error(`a phase starts at unix seconds, not ${since}`);
  return ` AND (${table}phase = ${since} OR (${table}phase IS NULL AND ${table}at >= ${since}))`;
}

/**
 * The readers a unit counts: `u` (user, arm, phase, at), with `opened` and `click_only` per reader; with `since`,
 * only those whose arm was drawn in the phase that began then.
 */
function unitReaders(unit: ReportUnit, since?: number): string {
  return unit === "sent"
    ? `SELECT a.user AS user, a.arm AS arm, a.phase AS phase, a.at AS at, x.user IS NOT NULL AS opened,
              coalesce(x.via = 'click', 0) AS click_only
       FROM assignments a LEFT JOIN exposures x ON x.experiment = a.experiment AND x.user = a.user
       WHERE a.experiment = ?1${inPhase(since, "a.")}`
    : `SELECT user, arm, phase, at, 1 AS opened, 0 AS click_only
       FROM exposures WHERE experiment = ?1 AND coalesce(via, 'open') = 'open'${inPhase(since)}`;
}

/** Readers counted per arm whose arm was drawn in the phase that began at `phaseStart`: the ratio check of a phase. */
export async function unitsInPhase(
  db: D1Database,
  experiment: string,
  unit: ReportUnit,
  phaseStart: number,
): Promise<Map<string, number>> {
  await ensureSchema(db);
  const { results } = await db
    .prepare(`SELECT arm, count(*) AS n FROM (${unitReaders(unit, phaseStart)}) GROUP BY arm`)
    .bind(experiment)
    .all<{ arm: string; n: number }>();
  return new Map(results.map((r) => [r.arm, r.n]));
}

/** Items listed per report: the most clicked and bought. */
export const TOP_ITEMS = 50;

/** Per arm: the readers the unit counts, with their attributed clicks, purchases and revenue. */
export async function armCounts(
  db: D1Database,
  experiment: string,
  unit: ReportUnit,
  currency: CurrencyChoice,
  since?: number,
): Promise<ArmCounts[]> {
  await ensureSchema(db);
  const statements = [
    db
      .prepare(
        `SELECT u.arm AS arm, count(*) AS exposed, sum(u.opened) AS opened, sum(u.click_only) AS clickOnly,
                sum(coalesce(o.clicks, 0) > 0) AS clickers, sum(coalesce(o.clicks, 0)) AS clicks,
                sum(coalesce(o.purchases, 0) > 0) AS buyers, sum(coalesce(o.purchases, 0)) AS purchases,
                sum(coalesce(o.revenue, 0) > 0) AS payers,
                sum(coalesce(o.revenue, 0)) AS revenue,
                sum(coalesce(o.revenue, 0) * coalesce(o.revenue, 0)) AS revenueSquares
         FROM (${unitReaders(unit, since)}) u LEFT JOIN (
           SELECT user, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases, ${REVENUE_IN} AS revenue
           FROM outcomes WHERE experiment = ?1 GROUP BY user) o ON o.user = u.user
         GROUP BY u.arm ORDER BY u.arm`,
      )
      .bind(experiment, ...currencyParams(currency)),
  ];
  // unit `sent` counts readers seen first by a click among the rest (its query says how many); `opened` leaves
  // them out, and says how many per arm
  if (unit === "opened")
    statements.push(
      db
        .prepare(
          `SELECT arm, count(*) AS n FROM exposures WHERE experiment = ?1 AND via = 'click'${inPhase(since)} GROUP BY arm`,
        )
        .bind(experiment),
    );
  const [counted, clickOnly] = await db.batch<ArmCounts | { arm: string; n: number }>(statements);
  const rows = ((counted?.results ?? []) as ArmCounts[]).map((r) => ({
    ...r,
    revenue: roundMoney(r.revenue, currency.report),
  }));
  if (unit === "sent") return rows;
  const left = new Map(((clickOnly?.results ?? []) as { arm: string; n: number }[]).map((r) => [r.arm, r.n]));
  // an arm whose only readers entered by a click still shows, with none counted
  const arms = new Set([...rows.map((r) => r.arm), ...left.keys()]);
  return [...arms].sort().map((arm) => {
    const row = rows.find((r) => r.arm === arm) ?? emptyArm(arm);
    return { ...row, clickOnly: left.get(arm) ?? 0 };
  });
}

/** Seconds per period of a bandit's report: its shares change at most once an hour (worker/experiments/bandit-job.ts). */
export const PERIOD_SECONDS = 3600;

/** Per hour (of each reader's exposure, or assignment) and arm: the readers the unit counts and their outcomes. */
export async function periodCounts(
  db: D1Database,
  experiment: string,
  unit: ReportUnit,
  currency: CurrencyChoice,
  since?: number,
): Promise<PeriodCounts[]> {
  await ensureSchema(db);
  const { results } = await db
    .prepare(
      `SELECT CAST(u.at / ${PERIOD_SECONDS} AS INTEGER) AS period, u.arm AS arm, count(*) AS exposed,
              sum(u.opened) AS opened, sum(coalesce(o.clicks, 0) > 0) AS clickers, sum(coalesce(o.purchases, 0) > 0) AS buyers,
              sum(coalesce(o.revenue, 0) > 0) AS payers,
              sum(coalesce(o.revenue, 0)) AS revenue,
              sum(coalesce(o.revenue, 0) * coalesce(o.revenue, 0)) AS revenueSquares
       FROM (${unitReaders(unit, since)}) u LEFT JOIN (
         SELECT user, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases, ${REVENUE_IN} AS revenue
         FROM outcomes WHERE experiment = ?1 GROUP BY user) o ON o.user = u.user
       GROUP BY period, u.arm ORDER BY period, u.arm`,
    )
    .bind(experiment, ...currencyParams(currency))
    .all<PeriodCounts>();
  return results;
}

/** Per arm and the block each reader's first open served: the unit's readers, and those who clicked or bought. */
export async function blockCounts(
  db: D1Database,
  experiment: string,
  unit: ReportUnit = "opened",
  since?: number,
): Promise<BlockCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT e.arm AS arm, coalesce(e.block, '') AS block, count(*) AS exposed,
              sum(coalesce(o.clicks, 0) > 0) AS clickers, sum(coalesce(o.purchases, 0) > 0) AS buyers
       FROM exposures e LEFT JOIN (
         SELECT user, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases
         FROM outcomes WHERE experiment = ?1 GROUP BY user) o ON o.user = e.user
       WHERE e.experiment = ?1 AND e.user IN (SELECT user FROM (${unitReaders(unit, since)}))
       GROUP BY e.arm, e.block ORDER BY e.arm, block`,
    )
    .bind(experiment)
    .all<BlockCounts>();
  return results;
}

/** Clicks per arm and slot by the unit's readers. */
export async function slotCounts(
  db: D1Database,
  experiment: string,
  unit: ReportUnit = "opened",
  since?: number,
): Promise<SlotCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT arm, coalesce(slot, '') AS slot, count(*) AS clicks, count(DISTINCT user) AS clickers
       FROM outcomes WHERE experiment = ?1 AND kind = 'click' AND user IN (SELECT user FROM (${unitReaders(unit, since)}))
       GROUP BY arm, slot ORDER BY arm, slot`,
    )
    .bind(experiment)
    .all<SlotCounts>();
  return results;
}

/**
 * The TOP_ITEMS most clicked and bought items of each arm (a small arm's beside a large one's), their revenue in
 * the report's currency; by arm, then most first. With `counted`, only the clicks and purchases of the readers the
 * unit counts (as the arms, blocks and slots take them: per open, not a reader seen only by a click), and with its
 * `since`, of those whose arm was drawn in the phase that began then; without, every reader's.
 */
export async function itemCounts(
  db: D1Database,
  experiment: string,
  currency: CurrencyChoice,
  counted?: { unit: ReportUnit; since?: number },
): Promise<ItemCounts[]> {
  const readers = counted ? ` AND user IN (SELECT user FROM (${unitReaders(counted.unit, counted.since)}))` : "";
  const { results } = await db
    .prepare(
      `SELECT arm, item, clicks, purchases, revenue FROM (
         SELECT arm, item, clicks, purchases, revenue,
                row_number() OVER (PARTITION BY arm ORDER BY clicks + purchases DESC, item) AS place
         FROM (SELECT arm, item, sum(kind = 'click') AS clicks, sum(kind = 'purchase') AS purchases,
                      ${REVENUE_IN} AS revenue
               FROM outcomes WHERE experiment = ?1 AND item IS NOT NULL${readers} GROUP BY arm, item))
       WHERE place <= ?4 ORDER BY arm, place`,
    )
    .bind(experiment, ...currencyParams(currency), TOP_ITEMS)
    .all<ItemCounts>();
  return results.map((r) => ({ ...r, revenue: roundMoney(r.revenue, currency.report) }));
}

/**
 * Per day and arm: exposures, clicks and purchases from the daily aggregates, revenue in the report's currency
 * from the purchases themselves (the aggregates add every currency's).
 */
export async function dailyCounts(
  db: D1Database,
  experiment: string,
  currency: CurrencyChoice,
): Promise<DailyCounts[]> {
  const { results } = await db
    .prepare(
      `SELECT d.day AS day, d.arm AS arm, d.exposures AS exposures, d.clicks AS clicks, d.purchases AS purchases,
              coalesce(r.revenue, 0) AS revenue
       FROM (SELECT day, arm, sum(exposures) AS exposures, sum(clicks) AS clicks, sum(purchases) AS purchases
             FROM daily WHERE experiment = ?1 GROUP BY day, arm) d
       LEFT JOIN (SELECT day, arm, sum(value) AS revenue FROM outcomes
                  WHERE experiment = ?1 AND kind = 'purchase' AND ${CURRENCY_OF} = ?2 GROUP BY day, arm) r
         ON r.day = d.day AND r.arm = d.arm
       ORDER BY d.day, d.arm`,
    )
    .bind(experiment, ...currencyParams(currency))
    .all<DailyCounts>();
  return results.map((r) => ({ ...r, revenue: roundMoney(r.revenue, currency.report) }));
}

/**
 * Each currency the experiment's purchases were made in (null: given none, and no shop currency), most purchases
 * first (a named currency before none on a tie).
 */
export async function revenueCurrencies(
  db: D1Database,
  experiment: string,
  shop: string | null,
): Promise<CurrencyTotals[]> {
  const { results } = await db
    .prepare(
      `SELECT nullif(${CURRENCY_OF}, '') AS currency, count(*) AS purchases, sum(value) AS revenue FROM outcomes
       WHERE experiment = ?1 AND kind = 'purchase' GROUP BY 1 ORDER BY purchases DESC, currency IS NULL, currency`,
    )
    .bind(experiment, "", shop ?? "")
    .all<CurrencyTotals>();
  return results.map((r) => ({ ...r, revenue: roundMoney(r.revenue, r.currency) }));
}

/** Clicks of the experiment's emails taken for link scanners', per arm and reason (counted in no other figure). */
export interface ScannerClickCounts {
  arm: string;
  reason: ScannerReason;
  clicks: number;
}

export async function scannerClickCounts(db: D1Database, experiment: string): Promise<ScannerClickCounts[]> {
  const { results } = await db
    .prepare(
      "SELECT arm, reason, count(*) AS clicks FROM scanner_clicks WHERE experiment = ?1 GROUP BY arm, reason ORDER BY arm, reason",
    )
    .bind(experiment)
    .all<ScannerClickCounts>();
  return results;
}

/**
 * The time (unix seconds) of the experiment's latest exposure, of any reader, phase or way in (an open, or a click
 * on images shown or prefetched while it ran), or null when none: every figure of the report that follows a
 * reader (its arms, `daily`, `currencies`) can move until that reader's window closes.
 */
export async function latestExposure(db: D1Database, experiment: string): Promise<number | null> {
  const row = await db
    .prepare("SELECT max(at) AS at FROM exposures WHERE experiment = ?1")
    .bind(experiment)
    .first<{ at: number | null }>();
  return row?.at ?? null;
}
