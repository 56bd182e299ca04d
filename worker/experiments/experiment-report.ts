/**
 * An experiment's report, as the reporting API answers it and the dashboard draws it (the same object, so
 * their numbers are the same): the experiment, its results per arm against the control with intervals and the
 * sample-ratio check (core/experiments/report.ts), corrected for comparing several arms, clicks per slot, the top items, and the daily aggregates;
 * its changes (starts, stops, phases) with their times, and, stopped, until when clicks and purchases still count.
 * `phase=current` counts only the readers drawn in the current phase (the arms' results, the check, blocks, slots
 * and items; the daily aggregates and currencies stay whole).
 * Revenue is in one currency (the one most purchases were made in, unless asked for another): values of different
 * currencies are never added, and the others are listed with their totals. Clicks taken for link scanners' are in
 * no figure but `scannerClicks`, which counts them apart (by arm and reason, whatever the phase).
 */
import { MAX_DECISION_TTL_DAYS } from "../../core/campaign";
import { type Experiment, type ExperimentChange, GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { type ExperimentResults, experimentResults, type ReportIntervals } from "../../core/experiments/report";
import { SCANNER_REASONS, type ScannerReason } from "../../core/reasons";
import type { Correction } from "../../core/stats/multiple-testing";
import { readCampaignOrUnknown } from "../decisions/campaign-store";
import { ensureSchema } from "./experiment-db";
import { EXPERIMENT_CACHE_MS } from "./experiment-store";
import type { ReportPhase } from "./report-phase";
import {
  armCounts,
  type BlockCounts,
  blockCounts,
  type CurrencyTotals,
  type DailyCounts,
  dailyCounts,
  type ItemCounts,
  itemCounts,
  latestExposure,
  periodCounts,
  type ReportCurrency,
  reportUnit,
  revenueCurrencies,
  type ScannerClickCounts,
  type SlotCounts,
  scannerClickCounts,
  slotCounts,
  unitsInPhase,
} from "./report-queries";

/** GrowthBook's default tuning of always-valid intervals: narrowest near this many exposed readers. */
export const SEQUENTIAL_TUNING = 5000;

const DAY_SECONDS = 86_400;

export interface ExperimentReport extends ExperimentResults {
  experiment: {
    id: string;
    campaign: string;
    status: Experiment["status"];
    attributionDays: number;
    /** when the current phase began (unix seconds; absent: at the start) */
    phaseStart?: number;
    /** its starts, stops and phases (changes of shares, or of what arms show), each with its time, oldest first */
    changes: ExperimentChange[];
    /** stopped: when (unix seconds; absent for an experiment stopped before stops were recorded) */
    stoppedAt?: number;
    /**
     * stopped: when the last attribution window of the exposures counted so far closes (unix seconds): the latest
     * exposure's time plus attributionDays, never before the stop plus attributionDays. A reader first exposed
     * after the stop (a click on images shown or prefetched while it ran) moves it later
     */
    attributionEndsAt?: number;
    /**
     * stopped: until when a reader can still be exposed (unix seconds): a click on images an open or a mail
     * client's prefetch was served while it ran exposes its reader as long as that decision is kept (the
     * campaign's or an arm's decisionTtlDays, the longest; any campaign's longest allowed for the global holdout),
     * counted from the stop and the minute isolates keep a stopped experiment
     */
    exposableUntil?: number;
    /**
     * stopped: from when the results no longer move (unix seconds): the later of attributionEndsAt and the window
     * of a reader exposed at exposableUntil
     */
    finalAt?: number;
  };
  /** `all`: every reader counted; `current`: those whose arm was drawn since `experiment.phaseStart` */
  phase: ReportPhase;
  /** per arm and the block each reader's first open served */
  blocks: BlockCounts[];
  slots: SlotCounts[];
  items: ItemCounts[];
  daily: DailyCounts[];
  /** the currency of every revenue figure in the report (null: purchases that gave none) */
  currency: ReportCurrency;
  /** every currency the experiment's purchases were made in, most purchases first, with their totals */
  currencies: CurrencyTotals[];
  /**
   * clicks of the experiment's emails taken for link scanners' (README, Scanner clicks), once per email, slot and
   * experiment: in no other figure of the report; every phase's
   */
  scannerClicks: ScannerClicks;
  /** ISO time the report was made */
  at: string;
}

export interface ScannerClicks {
  clicks: number;
  byReason: Record<ScannerReason, number>;
  /** by the arm each email was decided under */
  byArm: Record<string, number>;
}

/** The counts per arm and reason, summed by reason and by arm. */
export function scannerClicksOf(rows: readonly ScannerClickCounts[]): ScannerClicks {
  const byReason = Object.fromEntries(SCANNER_REASONS.map((r) => [r, 0])) as Record<ScannerReason, number>;
  // a Map, then own properties: an arm's id is never read as an object's key (`__proto__`)
  const byArm = new Map<string, number>();
  let clicks = 0;
  for (const r of rows) {
    clicks += r.clicks;
    if (Object.hasOwn(byReason, r.reason)) byReason[r.reason] += r.clicks;
    byArm.set(r.arm, (byArm.get(r.arm) ?? 0) + r.clicks);
  }
  return { clicks, byReason, byArm: Object.fromEntries(byArm) };
}

export interface ReportOptions {
  intervals: ReportIntervals;
  now?: number;
  /** over the arms compared with the control (core/stats/multiple-testing.ts; default Holm-Bonferroni) */
  correction?: Correction;
  /** the revenue's currency (null: purchases that gave none); absent: the one most purchases were made in */
  currency?: ReportCurrency;
  /** the currency of purchases that gave none (SHOP_CURRENCY), or null */
  shopCurrency?: string | null;
  /** which readers (default `all`): `current` counts those drawn in the current phase alone */
  phase?: ReportPhase;
  /**
   * the experiment's campaign's decisionTtlDays (how long a click on what an open was served can still expose
   * its reader); absent: unknown, taken as the longest a campaign may keep them (the global holdout's, of every
   * campaign)
   */
  decisionTtlDays?: number;
}

export async function experimentReport(
  db: D1Database,
  experiment: Experiment,
  opts: ReportOptions,
): Promise<ExperimentReport> {
  const { intervals, now = Date.now(), correction = "holm-bonferroni", shopCurrency = null, phase = "all" } = opts;
  // the current phase alone: readers drawn since its start (before it, arms had other shares or other content)
  const since = phase === "current" ? experiment.phaseStart : undefined;
  // the tables first: the reads below run side by side, and a fresh database has none yet
  await ensureSchema(db);
  const [unit, currencies] = await Promise.all([
    reportUnit(db, experiment),
    revenueCurrencies(db, experiment.id, shopCurrency),
  ]);
  const asked = opts.currency;
  const currency = { report: asked === undefined ? (currencies[0]?.currency ?? null) : asked, shop: shopCurrency };
  const bandit = experiment.bandit !== undefined;
  const [counts, periods, blocks, slots, items, daily, phaseExposed, scanners, latest] = await Promise.all([
    armCounts(db, experiment.id, unit, currency, since),
    bandit ? periodCounts(db, experiment.id, unit, currency, since) : undefined,
    blockCounts(db, experiment.id, unit, since),
    slotCounts(db, experiment.id, unit, since),
    // the readers the arms count (a click-only reader's clicks were in the items of all readers, not of one phase)
    itemCounts(db, experiment.id, currency, { unit, ...(since !== undefined && { since }) }),
    dailyCounts(db, experiment.id, currency),
    experiment.phaseStart === undefined ? undefined : unitsInPhase(db, experiment.id, unit, experiment.phaseStart),
    scannerClickCounts(db, experiment.id),
    experiment.status === "stopped" ? latestExposure(db, experiment.id) : null,
  ]);
  const results = experimentResults(experiment, counts, {
    ...(intervals === "sequential" && { sequential: { tuning: SEQUENTIAL_TUNING } }),
    unit,
    ...(phaseExposed && { phaseExposed }),
    // a bandit's shares move by design: exposures are not checked against weights it has since rewritten, and
    // its arms are compared hour by hour (weighted by period), never pooled across allocations
    bandit,
    ...(periods && { periods }),
    correction,
  });
  const changes = experiment.changes ?? [];
  // stopped: the last start or stop recorded is its stop (none recorded: stopped before stops were)
  const last = [...changes].reverse().find((c) => c.kind === "started" || c.kind === "stopped");
  const stoppedAt = experiment.status === "stopped" && last?.kind === "stopped" ? last.at : undefined;
  return {
    experiment: {
      id: experiment.id,
      campaign: experiment.campaign,
      status: experiment.status,
      attributionDays: experiment.attributionDays,
      ...(experiment.phaseStart !== undefined && { phaseStart: experiment.phaseStart }),
      changes,
      ...(stoppedAt !== undefined && stoppedTimes(experiment, stoppedAt, latest, opts.decisionTtlDays)),
    },
    phase,
    ...results,
    blocks,
    slots,
    items,
    daily,
    currency: currency.report,
    currencies,
    scannerClicks: scannerClicksOf(scanners),
    at: new Date(now).toISOString(),
  };
}

/**
 * A stopped experiment's times. Its results move as long as exposures counted so far have open windows, and as long
 * as readers can still be exposed: opens after the stop expose nobody (once isolates' copies expire), but a click
 * on images served while it ran (an open's, or a mail client's prefetch: Apple Mail) carries the arm they showed
 * for as long as that decision is kept, and exposes a reader not exposed yet (a subject-line test's reader sent
 * while it ran counts then as an opener and clicker).
 */
function stoppedTimes(
  experiment: Experiment,
  stoppedAt: number,
  latest: number | null,
  campaignTtlDays: number | undefined,
): Required<Pick<ExperimentReport["experiment"], "stoppedAt" | "attributionEndsAt" | "exposableUntil" | "finalAt">> {
  const window = experiment.attributionDays * DAY_SECONDS;
  const attributionEndsAt = Math.max(stoppedAt, latest ?? stoppedAt) + window;
  // decisions are written with the TTL of the configuration served: the campaign's, or an arm's own content
  const ttlDays = Math.max(
    campaignTtlDays ?? MAX_DECISION_TTL_DAYS,
    ...experiment.variants.map((v) => (v.content === "popular" ? 0 : v.content.decisionTtlDays)),
  );
  const exposableUntil = stoppedAt + EXPERIMENT_CACHE_MS / 1000 + ttlDays * DAY_SECONDS;
  return {
    stoppedAt,
    attributionEndsAt,
    exposableUntil,
    finalAt: Math.max(attributionEndsAt, exposableUntil + window),
  };
}

/**
 * The report's `decisionTtlDays` option for an experiment: its campaign's (read only once it is stopped); none for
 * the global holdout, whose readers click every campaign's emails, nor when KV cannot be read (unknown: the
 * longest, never the defaults' 30 days, which would call the results final too soon).
 */
export async function reportDecisionTtlDays(kv: KVNamespace, experiment: Experiment): Promise<number | undefined> {
  if (experiment.status !== "stopped" || experiment.id === GLOBAL_HOLDOUT_ID) return undefined;
  return (await readCampaignOrUnknown(kv, experiment.campaign))?.decisionTtlDays;
}
