/**
 * An experiment's results from its counts per arm: the readers counted (`exposed`: the report's unit), clickers
 * and clicks, buyers, purchases and revenue (with its sum of squares, per reader), each arm's rates, and each
 * arm against the control: click-through (clickers / exposed), conversion (buyers / exposed) and revenue per
 * reader, as differences and uplifts with intervals (core/stats/), plus the sample-ratio check of the readers
 * counted against the arms' intended shares. The unit is the reader who opened (`opened`: their first exposure
 * an open; readers seen only by a click, images blocked, are left out in every arm alike, since they could enter
 * only by clicking), or, for an experiment on subject lines, the reader the send assigned (`sent`: an arm that
 * wins more opens must not be judged per open; the open rate is compared too). The control is the
 * experiment's `popular` variant, else its holdout, else its first variant. With several arms compared with it,
 * each metric's comparisons are corrected as a family (core/stats/multiple-testing.ts). Pure.
 */
import { type Comparison, DEFAULT_ALPHA, type TestOptions } from "../stats/estimate";
import { meanTest } from "../stats/means";
import { adjustedAlpha, adjustPValues, type Correction } from "../stats/multiple-testing";
import { type PeriodTable, periodMeans, periodMeanTest, periodProportionTest, periodRates } from "../stats/periods";
import { type Proportion, proportionTest } from "../stats/proportions";
import { type SrmResult, srmTest } from "../stats/srm";
import { type Experiment, HOLDOUT_ARM } from "./experiment";

/**
 * The intervals a report can give: always-valid (`sequential`, the default) or fixed-horizon (`fixed`); the report
 * API's `intervals` takes these, and its OpenAPI description lists them.
 */
export const REPORT_INTERVALS = ["sequential", "fixed"] as const;
export type ReportIntervals = (typeof REPORT_INTERVALS)[number];

/** An arm's counts among the readers counted in one period (an hour: a bandit's shares hold within it). */
export interface PeriodCounts {
  period: number;
  arm: string;
  exposed: number;
  opened: number;
  clickers: number;
  buyers: number;
  /** readers with revenue in the report's currency (buyers in others have none) */
  payers: number;
  revenue: number;
  revenueSquares: number;
}

/** Who a report counts: readers who opened, or readers a send assigned (subject lines). */
export type ReportUnit = "opened" | "sent";

/** What the experiment store counts for one arm (worker/experiments/experiment-db.ts). */
export interface ArmCounts {
  arm: string;
  /** the readers counted: those who opened (unit `opened`), or those the send assigned (`sent`) */
  exposed: number;
  /** of them, those who opened (unit `opened`: all of them) */
  opened: number;
  /** readers seen first by a click, no open (left out of unit `opened`; counted, as openers, in `sent`) */
  clickOnly: number;
  clickers: number;
  clicks: number;
  buyers: number;
  purchases: number;
  /** readers with revenue in the report's currency (buyers in others have none) */
  payers: number;
  revenue: number;
  /** sum over exposed readers of (their revenue)^2 */
  revenueSquares: number;
}

export interface ArmResult extends ArmCounts {
  /** opened / exposed (unit `sent`, weighted by period as the other rates are; 1 for `opened`) */
  openRate: number | null;
  /** clickers / exposed */
  ctr: number | null;
  /** buyers / exposed */
  conversion: number | null;
  revenuePerExposed: number | null;
  /** against the control; null for the control itself; `opens` for unit `sent` only */
  vsControl: { opens?: Comparison; ctr: Comparison; conversion: Comparison; revenue: Comparison } | null;
}

export interface ExperimentResults {
  control: string;
  unit: ReportUnit;
  /** `period`: rates and comparisons weighted by hour (a bandit's, whose shares move) */
  weighting?: "period";
  arms: ArmResult[];
  /**
   * the readers counted against the intended shares: with a phase (`since`, unix seconds), those whose arm was
   * drawn at its shares; null for a bandit (its shares move by design)
   */
  srm: (SrmResult & { expected: Record<string, number>; observed: Record<string, number>; since?: number }) | null;
  intervals: ReportIntervals;
  /**
   * the correction for comparing several arms with one control: each metric's comparisons are a family, whose
   * estimates carry `adjusted` p-values and intervals when more than one arm is compared
   */
  correction: { method: Correction; comparisons: number };
}

/** The arms an experiment can have, in order: its variants, then the holdout when it has one. */
export function armsOf(experiment: Experiment): string[] {
  return [...experiment.variants.map((v) => v.id), ...(experiment.holdout > 0 ? [HOLDOUT_ARM] : [])];
}

/** Each arm's intended share of the exposed readers (the experiment's coverage is the same for all). */
export function intendedShares(experiment: Experiment): Record<string, number> {
  const total = experiment.variants.reduce((s, v) => s + v.weight, 0);
  const shares: Record<string, number> = {};
  for (const v of experiment.variants) shares[v.id] = ((1 - experiment.holdout) * v.weight) / total;
  if (experiment.holdout > 0) shares[HOLDOUT_ARM] = experiment.holdout;
  return shares;
}

export function controlOf(experiment: Experiment): string {
  const popular = experiment.variants.find((v) => v.content === "popular");
  if (popular) return popular.id;
  return experiment.holdout > 0 ? HOLDOUT_ARM : (experiment.variants[0] as { id: string }).id;
}

const rate = (x: number, n: number) => (n > 0 ? x / n : null);

/** An arm's counts: `exposed` readers and nothing else (an arm nobody was exposed to: none). */
export function emptyArm(arm: string, exposed = 0): ArmCounts {
  return {
    arm,
    exposed,
    opened: exposed,
    clickOnly: 0,
    clickers: 0,
    clicks: 0,
    buyers: 0,
    purchases: 0,
    payers: 0,
    revenue: 0,
    revenueSquares: 0,
  };
}

export function experimentResults(
  experiment: Experiment,
  counts: readonly ArmCounts[],
  opts: TestOptions & {
    bandit?: boolean;
    /** who `counts` counted (default `opened`) */
    unit?: ReportUnit;
    /** readers counted per arm whose arm was drawn in the experiment's phase (with a phase: the check counts these) */
    phaseExposed?: ReadonlyMap<string, number>;
    /**
     * the same counts by period (a bandit's): rates and comparisons are then weighted by period
     * (core/stats/periods.ts), so arms whose shares moved are compared as if they had not
     */
    periods?: readonly PeriodCounts[];
    /** over the arms compared with the control (default `holm-bonferroni`) */
    correction?: Correction;
  } = {},
): ExperimentResults {
  const unit = opts.unit ?? "opened";
  const byArm = new Map(counts.map((c) => [c.arm, c]));
  // every arm the experiment has, and any other one readers were exposed to (a variant removed since)
  const names = [...new Set([...armsOf(experiment), ...counts.map((c) => c.arm)])];
  const all = names.map((a) => byArm.get(a) ?? emptyArm(a));
  const control = controlOf(experiment);
  const c = byArm.get(control) ?? emptyArm(control);
  // weighed over the variants the experiment has now, as the bandit's update weighs them: a variant removed since
  // has no readers in the hours after, which would leave every later hour out (its readers show pooled, without a
  // comparison); the holdout, whose share the bandit never moves, shows pooled too, and is compared with over the
  // hours it shares with the other arm alone: a small holdout has no reader in most hours, and would otherwise leave
  // those hours out of every arm's rates and comparisons
  const variants = experiment.variants.map((v) => v.id);
  const weighted = opts.periods ? byPeriod(opts.periods, variants) : null;
  const periods = opts.periods;
  /** the period tables a comparison of `arm` with the control reads, and the two arms' columns in them */
  const tablesFor = (arm: string) => {
    if (!weighted || !periods) return null;
    const [ci, i] = [variants.indexOf(control), variants.indexOf(arm)];
    if (ci >= 0 && i >= 0) return { tables: weighted, ci, i };
    if (experiment.holdout > 0 && [arm, control].includes(HOLDOUT_ARM))
      return { tables: byPeriod(periods, [control, arm]), ci: 0, i: 1 };
    return null;
  };
  type Versus = NonNullable<ArmResult["vsControl"]>;
  // an arm against the control at a level (the correction below asks again at the levels its p-values set)
  const versus = (a: ArmCounts, alpha: number | undefined): Versus | null => {
    if (a.arm === control) return null;
    // a sequence keeps the tuning of the configured level, so a corrected interval agrees with its p-value
    const sequential = opts.sequential && { ...opts.sequential, tunedAlpha: opts.alpha ?? DEFAULT_ALPHA };
    const test = { alpha, sequential };
    if (weighted) {
      const pair = tablesFor(a.arm);
      // a variant removed since: pooled, without a comparison
      if (!pair) return null;
      const { tables, ci, i } = pair;
      const vs = (t: PeriodTable<Proportion>) => periodProportionTest(t, ci, i, test);
      return {
        ...(unit === "sent" && { opens: vs(tables.opened) }),
        ctr: vs(tables.clickers),
        conversion: vs(tables.buyers),
        revenue: periodMeanTest(tables.moments, ci, i, test),
      };
    }
    const vs = (x: (k: ArmCounts) => number) =>
      proportionTest({ n: c.exposed, x: x(c) }, { n: a.exposed, x: x(a) }, test);
    return {
      ...(unit === "sent" && { opens: vs((k) => k.opened) }),
      ctr: vs((k) => k.clickers),
      conversion: vs((k) => k.buyers),
      revenue: meanTest(
        { n: c.exposed, sum: c.revenue, sumSquares: c.revenueSquares, positive: c.payers },
        { n: a.exposed, sum: a.revenue, sumSquares: a.revenueSquares, positive: a.payers },
        test,
      ),
    };
  };
  const arms = all.map((a): ArmResult => {
    const pooled = {
      ...a,
      openRate: rate(a.opened, a.exposed),
      ctr: rate(a.clickers, a.exposed),
      conversion: rate(a.buyers, a.exposed),
      revenuePerExposed: rate(a.revenue, a.exposed),
    };
    const i = variants.indexOf(a.arm);
    const vsControl = versus(a, opts.alpha);
    // weighted by hour: a variant of the experiment shows its weighted rates; the holdout and a variant removed
    // since, pooled ones
    if (!weighted || i < 0) return { ...pooled, vsControl };
    return {
      ...pooled,
      // per reader sent, the open rates are weighted as their comparison is (per open, all 1 as they are)
      ...(unit === "sent" && { openRate: weighted.openRate?.[i]?.mean ?? null }),
      ctr: weighted.ctr?.[i]?.mean ?? null,
      conversion: weighted.conversion?.[i]?.mean ?? null,
      revenuePerExposed: weighted.revenue?.[i]?.mean ?? null,
      vsControl,
    };
  });
  const correction = opts.correction ?? "holm-bonferroni";
  const family = correct(arms, correction, opts.alpha ?? DEFAULT_ALPHA, versus);
  let srm: ExperimentResults["srm"] = null;
  if (!opts.bandit) {
    const expected = intendedShares(experiment);
    const planned = names.filter((n) => Object.hasOwn(expected, n));
    // readers of a removed variant were not meant to be there at these shares: left out of the check; after a
    // change of shares, only those drawn at the new ones (not those assigned before, at the old ones)
    const phase = experiment.phaseStart !== undefined ? opts.phaseExposed : undefined;
    const exposed = (n: string) => (phase ? (phase.get(n) ?? 0) : (byArm.get(n) ?? emptyArm(n)).exposed);
    srm = {
      ...srmTest(
        planned.map(exposed),
        planned.map((n) => expected[n] as number),
      ),
      expected,
      observed: Object.fromEntries(planned.map((n) => [n, exposed(n)])),
      ...(phase && { since: experiment.phaseStart }),
    };
  }
  return {
    control,
    unit,
    ...(weighted && { weighting: "period" as const }),
    arms,
    srm,
    intervals: opts.sequential ? "sequential" : "fixed",
    correction: { method: correction, comparisons: family },
  };
}

const METRICS = ["opens", "ctr", "conversion", "revenue"] as const;

/**
 * Adjusts, in place, each metric's comparisons with the control over the arms compared (one family per metric: each
 * a question asked of every arm): each estimate gets its adjusted p-value and the interval made at the level that
 * agrees with it (`versus` asks again at that level). The family is every arm compared, whether or not its
 * comparison could be estimated (one without counts as p = 1), so an arm that reached an estimate by luck among
 * others that did not is corrected for all of them; and its p-values are the difference's, which the uplift shares
 * (Fieller's interval at the difference's half-width), so the corrected uplift and difference agree too. An uplift
 * that no ratio bounds at the corrected level (the control's rate not clear of 0 at that width) is dropped: shown
 * uncorrected it would claim what the correction does not. Returns how many arms were compared (a family of one is
 * left as it is).
 */
function correct(
  arms: ArmResult[],
  method: Correction,
  alpha: number,
  versus: (arm: ArmCounts, alpha: number) => NonNullable<ArmResult["vsControl"]> | null,
): number {
  const compared = arms.filter((a) => a.vsControl !== null);
  if (method === "none" || compared.length < 2) return compared.length;
  for (const metric of METRICS) {
    const differences = compared.map((arm) => arm.vsControl?.[metric]?.absolute ?? null);
    if (differences.every((d) => d === null)) continue;
    const adjusted = adjustPValues(
      differences.map((d) => d?.pValue ?? 1),
      method,
    );
    compared.forEach((arm, k) => {
      const comparison = arm.vsControl?.[metric];
      const difference = differences[k];
      if (!comparison || !difference) return;
      const p = adjusted[k] as number;
      // one level for both scales: the uplift's p-value is the difference's
      const wider = versus(arm, adjustedAlpha(alpha, difference.pValue, p, compared.length))?.[metric];
      for (const scale of ["absolute", "relative"] as const) {
        const estimate = comparison[scale];
        const again = wider?.[scale];
        if (estimate && again) estimate.adjusted = { ciLow: again.ciLow, ciHigh: again.ciHigh, pValue: p };
        else if (estimate && scale === "relative") comparison.relative = null;
      }
    });
  }
  return compared.length;
}

/**
 * Per-period tables over `arms` (core/stats/periods.ts; an arm without readers in a period: zeros, which leaves
 * the period out), with each arm's weighted rates: reports and the bandit's update read the same.
 */
export function byPeriod(rows: readonly PeriodCounts[], arms: readonly string[]) {
  const periods = [...new Set(rows.map((r) => r.period))].sort((a, b) => a - b);
  const at = new Map(rows.map((r) => [`${r.period}\u0000${r.arm}`, r]));
  const table = <T>(cell: (r: PeriodCounts | undefined) => T): PeriodTable<T> =>
    periods.map((p) => arms.map((a) => cell(at.get(`${p}\u0000${a}`))));
  const opened = table((r) => ({ n: r?.exposed ?? 0, x: r?.opened ?? 0 }));
  const clickers = table((r) => ({ n: r?.exposed ?? 0, x: r?.clickers ?? 0 }));
  const buyers = table((r) => ({ n: r?.exposed ?? 0, x: r?.buyers ?? 0 }));
  const moments = table((r) => ({
    n: r?.exposed ?? 0,
    sum: r?.revenue ?? 0,
    sumSquares: r?.revenueSquares ?? 0,
    positive: r?.payers ?? 0,
  }));
  return {
    opened,
    clickers,
    buyers,
    moments,
    openRate: periodRates(opened),
    ctr: periodRates(clickers),
    conversion: periodRates(buyers),
    revenue: periodMeans(moments),
  };
}
