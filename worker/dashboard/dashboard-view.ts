/**
 * What the dashboard page shows, from the same objects the APIs answer with: an experiment's report
 * (worker/experiments/experiment-report.ts) as a table per arm, its uplift intervals, exposures and clicks by
 * day and bandit shares over time as charts, per-slot and per-item tables; and model health: the active
 * version and its history, the drift job's latest run and PSI by day. Every number cell carries its raw value
 * (`data-value`) beside the text, so a test can compare the page with the API. Pure.
 */

import { CALIBRATION_MIN_READERS, DRIFT_MIN_READERS, isDriftAlert } from "../../core/drift";
import { GLOBAL_HOLDOUT_ID } from "../../core/experiments/experiment";
import { minorUnitDigits } from "../../core/money";
import { type Estimate, MIN_EVENTS_FOR_UPLIFT } from "../../core/stats/estimate";
import { wordList } from "../../core/word-list";
import type { DriftRun } from "../drift/drift-store";
import type { BanditPoint } from "../experiments/bandit-store";
import type { ExperimentReport } from "../experiments/experiment-report";
import type { ExperimentControls } from "./experiment-controls";
import { intervalChart, lineChart, type Series } from "./svg-charts";

export interface DashboardInput {
  experiments: string[];
  current: string | null;
  /** an id asked for that no experiment has (as the page repeats it) */
  missing?: string;
  report: ExperimentReport | null;
  /**
   * the experiment shown as the registry holds it, when there is no report to show it in (no D1): its buttons
   * still work, and its section says why there are no results
   */
  experiment?: { id: string; campaign: string; status: string } | null;
  /** the experiment's buttons and what each does (experiment-controls.ts), or null */
  controls?: ExperimentControls | null;
  /** what the last of the experiment's buttons did (experiment-message.ts: from the redirect's code) */
  experimentMessage?: string | null;
  /** why there is no report (no D1 bound to count in) */
  unavailable?: string;
  bandit: BanditPoint[];
  /** `rollbackTo`: the version a rollback returns to (core/model-versions.ts rollbackTarget); null: none */
  model: { active: string; activatedAt: string; history: string[]; rollbackTo: string | null } | null;
  /** every model version stored (KV), newest name first */
  versions: string[];
  /** what the last model action did (worker/dashboard/model-message.ts: from the redirect's code) */
  modelMessage?: string | null;
  /** why model health could not be read (model-health.ts): the section says it, never "no model is active" */
  modelUnread?: string;
  /** what the page cannot read on a deploy without the KV binding, said first */
  kvUnbound?: string;
  drift: DriftRun[];
  /** the command that runs the drift job by hand (local development: this Worker's origin), or null */
  driftCommand?: string | null;
  psiThreshold: number;
  eceThreshold: number;
}

/** Items listed on the page for each arm (the API lists more). */
const PAGE_ITEMS_PER_ARM = 10;

const pct = (x: number | null | undefined, digits = 2) =>
  x === null || x === undefined ? "–" : `${(x * 100).toFixed(digits)}%`;
/**
 * A sum of money as the report rounds it, to its currency's minor unit (core/money.ts: fils 3 digits, yen none);
 * `atLeast`: more digits for a mean per reader (a fraction of a yen per reader is no amount, but still a figure).
 */
const money = (x: number | null | undefined, currency: string | null, atLeast = 0) =>
  x === null || x === undefined ? "–" : x.toFixed(Math.max(atLeast, minorUnitDigits(currency)));
/** The interval shown: the corrected one where the report corrects for several arms. */
const shown = (e: Estimate) => e.adjusted ?? e;
const interval = (e: Estimate | null | undefined) =>
  e ? `${pct(e.estimate, 1)} [${pct(shown(e).ciLow, 1)}, ${pct(shown(e).ciHigh, 1)}]` : "–";

const CORRECTIONS = { "holm-bonferroni": "Holm-Bonferroni", "benjamini-hochberg": "Benjamini-Hochberg" } as const;

/** How the intervals shown were corrected for comparing several arms with the control, in a line (none: empty). */
function correctionNote(r: ExperimentReport): string {
  const { method, comparisons } = r.correction;
  if (comparisons < 2) return "";
  if (method === "none")
    return `${comparisons} arms are compared with the control, uncorrected: a "significant" one in ${comparisons} can be chance.`;
  return `${comparisons} arms are compared with the control: each metric's intervals are corrected (${CORRECTIONS[method]}) for that.`;
}

/** Which currency the revenue figures are in, and the purchases in others (left out of them), in a line. */
function currencyNote(r: ExperimentReport): string {
  const others = r.currencies.filter((c) => c.currency !== r.currency);
  if (others.length === 0) return r.currency ? `Revenue in ${r.currency}.` : "";
  const name = (c: string | null) => c ?? "no currency given";
  const purchases = (n: number) => `${n} purchase${n === 1 ? "" : "s"}`;
  const left = others
    .map((c) => `${name(c.currency)}: ${purchases(c.purchases)}, ${money(c.revenue, c.currency)}`)
    .join("; ");
  return `Revenue in ${name(r.currency)}; purchases in other currencies are not added to it (${left}).`;
}

/**
 * The clicks filtered as link scanners' (README, Scanner clicks), in a line: how many, why and in which arms; they
 * are in no other figure of the page.
 */
function scannerNote(r: ExperimentReport): { clicks: number; text: string } {
  const { clicks, byReason, byArm } = r.scannerClicks;
  if (clicks === 0) return { clicks, text: "No click filtered as a link scanner." };
  const reasons = Object.entries(byReason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`)
    .join(", ");
  const arms = Object.entries(byArm)
    .map(([arm, n]) => `${arm} ${n}`)
    .join(", ");
  return {
    clicks,
    text: `${clicks} click${clicks === 1 ? "" : "s"} filtered as link scanners (${reasons}; by arm: ${arms}): counted as clicks nowhere else on this page.`,
  };
}

export function dashboardView(input: DashboardInput): Record<string, unknown> {
  return {
    experiments: input.experiments.map((id) => ({ id, current: id === input.current })),
    missing: input.missing === undefined ? null : { id: input.missing, listed: input.experiments.length },
    report: input.report ? reportView(input.report, input.bandit) : null,
    // the experiment's section: its report's, or (no report) the experiment's id, status and buttons alone
    shown:
      input.report || input.experiment
        ? {
            bare: input.report ? null : input.experiment,
            controls: input.controls ?? null,
            experimentMessage: input.experimentMessage ?? null,
          }
        : null,
    unavailable: input.unavailable ?? null,
    model: input.model ? { ...input.model, history: input.model.history.map((version) => ({ version })) } : null,
    versions: input.versions.map((version) => ({ version, active: version === input.model?.active })),
    modelMessage: input.modelMessage ?? null,
    modelUnread: input.modelUnread ?? null,
    kvUnbound: input.kvUnbound ?? null,
    drift: driftView(input.drift, input.model?.active ?? null, input.psiThreshold, input.eceThreshold),
    driftCommand: input.driftCommand ?? null,
  };
}

/**
 * What the sample-ratio check counted, in words: with a phase (`since`), the readers drawn since it began, which
 * are not the table's pooled ones (`readers drawn since 2026-12-04 12:00 UTC: a 3, b 1`); none counted: null.
 */
function srmCounted(r: ExperimentReport): { empty: boolean; text: string } | null {
  if (!r.srm) return null;
  const observed = Object.entries(r.srm.observed);
  const empty = observed.every(([, n]) => n === 0);
  const since = r.srm.since === undefined ? "" : ` since ${utc(r.srm.since)}`;
  return {
    empty,
    text: empty
      ? `no reader ${since ? `drawn${since} ` : ""}counted yet`
      : `readers ${r.srm.since === undefined ? "counted" : `drawn${since}`}: ${observed.map(([arm, n]) => `${arm} ${n}`).join(", ")}`,
  };
}

/**
 * Why an uplift cell shows "–": a relative uplift needs the arm and the control each to expect MIN_EVENTS_FOR_UPLIFT
 * clickers, buyers or payers at their pooled share (core/stats/estimate.ts upliftEstimable), and the control's own
 * rate clear of 0 at the interval's width (core/stats/compare.ts upliftInterval); said when any cell of the table is
 * one.
 */
function upliftNote(r: ExperimentReport): string {
  const missing = r.arms.some(
    (a) =>
      a.vsControl !== null &&
      (["opens", "ctr", "conversion", "revenue"] as const).some((m) => {
        const c = a.vsControl?.[m];
        return c !== undefined && c.relative === null;
      }),
  );
  return missing
    ? `An uplift shows – until the arm and the control each expect ${MIN_EVENTS_FOR_UPLIFT} openers (open rate), clickers (CTR), buyers (conversion) or payers (revenue) at their pooled share, and the control's rate is clear of 0 at the interval's width (early on, sequential intervals are wide): until then a ratio has no bound.`
    : "";
}

/** Unix seconds as the page shows times: `2026-12-04 12:00 UTC`. */
const utc = (s: number) => `${new Date(s * 1000).toISOString().slice(0, 16).replace("T", " ")} UTC`;

/** Each recorded change of the experiment, in a line, oldest first. */
function changeLines(r: ExperimentReport): { at: number; text: string }[] {
  return r.experiment.changes.map((c) => ({
    at: c.at,
    text: `${utc(c.at)}: ${
      c.kind === "content"
        ? `what ${wordList(c.arms ?? [])} show${(c.arms ?? []).length === 1 ? "s" : ""} changed (a new phase)`
        : c.kind === "shares"
          ? "the arms' shares changed (a new phase)"
          : c.kind === "shipped"
            ? `${wordList(c.arms ?? [])} shipped: the campaign shows what it showed, to every reader`
            : c.kind
    }`,
  }));
}

/**
 * What the page says of the readers it counts across phases: all of them, pooled (naming the arms whose content
 * changed meanwhile, whose readers saw either), or the current phase's alone; with a link to the other view.
 */
function phaseNote(r: ExperimentReport) {
  const start = r.experiment.phaseStart;
  if (start === undefined) return null;
  if (r.phase === "current")
    return { current: true, text: `Only readers whose arm was drawn since ${utc(start)} (the current phase).` };
  const changed = [...new Set(r.experiment.changes.flatMap((c) => (c.kind === "content" ? (c.arms ?? []) : [])))];
  const text =
    changed.length > 0
      ? `These results pool readers who saw ${wordList(changed)} before and after ${changed.length === 1 ? "its" : "their"} content changed: they measure neither version alone.`
      : `These results pool readers drawn at the arms' shares before and after ${utc(start)}.`;
  return { current: false, text, since: utc(start) };
}

/**
 * A stopped experiment's stop, until when a click on what it served can still expose a reader, and until when
 * clicks and purchases count: the results are called final only once no reader can be exposed any more and the
 * last window of those who were has closed.
 */
function stoppedNote(r: ExperimentReport): string | null {
  const { stoppedAt, attributionEndsAt, exposableUntil, finalAt, attributionDays } = r.experiment;
  if (stoppedAt === undefined || attributionEndsAt === undefined) return null;
  const now = Date.parse(r.at) / 1000;
  // (a report without them, as one made before they were given: the stop's window alone)
  const until = exposableUntil ?? stoppedAt;
  const final = finalAt ?? attributionEndsAt;
  const closed = now >= final;
  const exposable =
    now >= until
      ? `A click on images shown or prefetched while it ran (Apple Mail) exposed a reader not exposed yet until ${utc(until)}.`
      : `A click on images shown or prefetched while it ran (Apple Mail) still exposes a reader not exposed yet, until ${utc(until)}.`;
  return `Stopped ${utc(stoppedAt)}: opens since serve the campaign as it is. ${exposable} Clicks and purchases of readers exposed, each within ${attributionDays} days of their exposure, ${
    closed
      ? `counted until ${utc(attributionEndsAt)}: the results no longer move.`
      : `still count until ${utc(final)} at the latest: the results can still move.`
  }`;
}

/** Who the report counts, and how its rates are made, in a line. */
function unitNote(r: ExperimentReport): string {
  const clickOnly = r.arms.reduce((s, a) => s + a.clickOnly, 0);
  const who =
    r.unit === "sent"
      ? `Per reader sent (a subject-line test: an arm that wins opens is not judged per open); open rates: ${r.arms
          .map((a) => `${a.arm} ${pct(a.openRate)}`)
          .join(", ")}.`
      : `Per reader who opened (CTR is click-to-open)${
          r.experiment.id === GLOBAL_HOLDOUT_ID ? ", or for whom a triggered email was sent or withheld" : ""
        }${clickOnly > 0 ? `; ${clickOnly} seen only by a click (images blocked) left out in every arm` : ""}.`;
  return r.weighting === "period"
    ? `${who} Rates weighted hour by hour: a bandit's shares move, so arms are never pooled across allocations.`
    : who;
}

/** Days a chart by day fills in between its first and last (beyond: only the days with counts). */
const MAX_FILLED_DAYS = 1000;

/**
 * Every UTC day from the first of `days` (YYYY-MM-DD, ascending) to the last, so that a day nothing was counted on
 * keeps its place on the time axis (at 0) instead of bringing the days around it together.
 */
function everyDay(days: readonly string[]): string[] {
  const counted = [...new Set(days)];
  const first = Date.parse(`${counted[0]}T00:00:00Z`);
  const last = Date.parse(`${counted.at(-1)}T00:00:00Z`);
  const span = (last - first) / 86_400_000;
  if (!(span >= 0 && span < MAX_FILLED_DAYS)) return counted;
  return Array.from({ length: span + 1 }, (_, i) => new Date(first + i * 86_400_000).toISOString().slice(0, 10));
}

function reportView(r: ExperimentReport, bandit: readonly BanditPoint[]) {
  // per reader sent (a subject-line test), the open rate is compared too: what its subject lines are for
  const sent = r.unit === "sent";
  const counted = srmCounted(r);
  const arms = r.arms.map((a) => {
    const vs = a.vsControl;
    const cell = (metric: string, value: number | null, text: string) => ({
      metric: `${a.arm}:${metric}`,
      value: value ?? "",
      text,
    });
    return {
      arm: a.arm,
      isControl: a.arm === r.control,
      cells: [
        cell("exposed", a.exposed, String(a.exposed)),
        ...(sent ? [cell("openRate", a.openRate, pct(a.openRate))] : []),
        cell("clickers", a.clickers, String(a.clickers)),
        cell("clicks", a.clicks, String(a.clicks)),
        cell("ctr", a.ctr, pct(a.ctr)),
        cell("buyers", a.buyers, String(a.buyers)),
        cell("conversion", a.conversion, pct(a.conversion)),
        cell("revenuePerExposed", a.revenuePerExposed, money(a.revenuePerExposed, r.currency, 2)),
        ...(sent ? [cell("openRateUplift", vs?.opens?.relative?.estimate ?? null, interval(vs?.opens?.relative))] : []),
        cell("ctrUplift", vs?.ctr.relative?.estimate ?? null, interval(vs?.ctr.relative)),
        cell("conversionUplift", vs?.conversion.relative?.estimate ?? null, interval(vs?.conversion.relative)),
        cell("revenueUplift", vs?.revenue.relative?.estimate ?? null, interval(vs?.revenue.relative)),
      ],
    };
  });
  const rows = r.arms.flatMap((a) =>
    a.vsControl
      ? (sent ? (["opens", "ctr", "conversion", "revenue"] as const) : (["ctr", "conversion", "revenue"] as const)).map(
          (m) => {
            const e = a.vsControl?.[m]?.relative ?? null;
            return {
              label: `${a.arm}: ${m}`,
              estimate: e?.estimate ?? null,
              low: e ? shown(e).ciLow : null,
              high: e ? shown(e).ciHigh : null,
            };
          },
        )
      : [],
  );
  const days = everyDay(r.daily.map((d) => d.day));
  const armNames = r.arms.map((a) => a.arm);
  // each day's row per arm, looked up once: a scan per point made a year of 11 arms (4,000 rows) cost 125 ms a view
  const daily = new Map(r.daily.map((d) => [`${d.arm}\u0000${d.day}`, d]));
  const byDay = (field: "exposures" | "clicks"): Series[] =>
    armNames.map((arm) => ({
      name: arm,
      values: days.map((day) => daily.get(`${arm}\u0000${day}`)?.[field] ?? 0),
    }));
  const exposedOf = new Map(r.arms.map((a) => [a.arm, a.exposed]));
  const banditArms = [...new Set(bandit.flatMap((b) => Object.keys(b.shares)))];
  // an arm's colour is its place among the report's arms, in every chart (the bandit's has no holdout, and a
  // variant removed since may come first in its history)
  const colour = (arm: string, k: number) => {
    const i = armNames.indexOf(arm);
    return i >= 0 ? i : armNames.length + k;
  };
  return {
    id: r.experiment.id,
    campaign: r.experiment.campaign,
    status: r.experiment.status,
    changes: changeLines(r),
    phaseNote: phaseNote(r),
    stoppedNote: stoppedNote(r),
    attributionDays: r.experiment.attributionDays,
    control: r.control,
    at: r.at,
    intervalsNote:
      r.intervals === "sequential" ? "always-valid intervals: safe to look every day" : "fixed-horizon intervals",
    intervalsShort: r.intervals === "sequential" ? "always-valid 95%" : "95%",
    unitHeader: r.unit === "sent" ? "sent" : "exposed",
    sentUnit: sent,
    unitNote: unitNote(r),
    correctionNote: correctionNote(r),
    currencyNote: currencyNote(r),
    scannerNote: scannerNote(r),
    srmP: r.srm?.pValue ?? "",
    // a bandit's report has no check (its shares move by design): said so, never "OK"
    srmChecked: r.srm !== null,
    // a check that counted nobody (no reader yet, or none drawn since a change of shares) is not called OK
    srmEmpty: counted?.empty ?? false,
    srmCounted: counted?.text ?? "",
    upliftNote: upliftNote(r),
    srmText: r.srm ? r.srm.pValue.toPrecision(3) : "",
    srmMismatch: r.srm?.mismatch ?? false,
    expected: r.srm
      ? Object.entries(r.srm.expected)
          .map(([arm, share]) => `${arm} ${pct(share, 1)}`)
          .join(", ")
      : "",
    arms,
    upliftChart: intervalChart(`uplift against ${r.control}`, rows),
    exposuresChart: lineChart("exposures by day", days, byDay("exposures")),
    clicksChart: lineChart("clicks by day", days, byDay("clicks")),
    banditChart:
      bandit.length > 0
        ? lineChart(
            "bandit shares",
            bandit.map((b) => b.at.slice(0, 16).replace("T", " ")),
            banditArms.map((arm, k) => ({
              name: arm,
              colour: colour(arm, k),
              values: bandit.map((b) => (Object.hasOwn(b.shares, arm) ? (b.shares[arm] ?? null) : null)),
            })),
            (v) => pct(v, 0),
          )
        : null,
    blocks: r.blocks.map((b) => ({
      ...b,
      block: b.block || "(unknown)",
      ctr: pct(b.exposed > 0 ? b.clickers / b.exposed : null),
      conversion: pct(b.exposed > 0 ? b.buyers / b.exposed : null),
    })),
    slots: r.slots.map((s) => ({
      ...s,
      // a click with no slot came through the events API or the pixel (`email_click`: the AMP list's links), not an image
      slot: s.slot || "(no image slot: events API or pixel)",
      share: pct(exposedOf.get(s.arm) ? s.clickers / (exposedOf.get(s.arm) as number) : null),
    })),
    items: firstOfEachArm(r.items, PAGE_ITEMS_PER_ARM).map((i) => ({ ...i, revenue: money(i.revenue, r.currency) })),
  };
}

/**
 * The drift job's latest run, named by the model it measured: after a move (activate, rollback) the latest run is
 * the previous version's, against that version's training data, until the job's next run; the page says so.
 */
function driftView(runs: readonly DriftRun[], active: string | null, psiThreshold: number, eceThreshold: number) {
  const latest = runs[0];
  if (!latest) return null;
  const chronological = [...runs].reverse();
  const names = [...new Set(chronological.flatMap((r) => Object.keys(r.features)))];
  // one point a day, the day's latest run (runs come newest first), every day from the first to the last in its
  // place: a day with no run (the job skipped, no model) has no point, and never brings its neighbours together
  const ofDay = new Map<string, DriftRun>();
  for (const r of runs) if (!ofDay.has(r.day)) ofDay.set(r.day, r);
  const days = everyDay([...ofDay.keys()].sort());
  return {
    at: latest.at,
    readers: latest.readers,
    model: latest.model,
    notServing: active !== null && latest.model !== active ? { active } : null,
    threshold: psiThreshold,
    eceThreshold,
    features: Object.entries(latest.features).map(([name, f]) => ({
      name,
      psi: f?.psi,
      psiText: f ? f.psi.toFixed(3) : "–",
      n: f?.n,
      alert: f ? isDriftAlert(f, psiThreshold) : false,
      tooFew: f?.notJudged === "too-few-readers",
    })),
    minReaders: DRIFT_MIN_READERS,
    minCalibrationReaders: CALIBRATION_MIN_READERS,
    calibration: latest.calibration
      ? {
          ece: latest.calibration.ece,
          eceText: latest.calibration.ece.toFixed(3),
          n: latest.calibration.n,
          // a partial figure (the 30 days not over) or one of too few readers never alerts; runs stored before
          // `window` are judged as they were
          alert:
            latest.calibration.window !== "partial" &&
            !latest.calibration.notJudged &&
            latest.calibration.ece > eceThreshold,
          partial: latest.calibration.window === "partial",
          tooFew: latest.calibration.notJudged === "too-few-readers",
          measuredAt:
            latest.calibration.window === "complete" && !latest.calibration.notJudged
              ? latest.calibration.measuredAt
              : undefined,
        }
      : null,
    psiChart: lineChart(
      "PSI by day",
      days,
      names.map((name) => ({
        name,
        // a figure too few readers gave is noise (never alerted on): not drawn, beside the threshold, as drift
        values: days.map((day) => {
          const f = ofDay.get(day)?.features[name as keyof DriftRun["features"]];
          return f && f.notJudged === undefined ? f.psi : null;
        }),
      })),
      (v) => v.toFixed(2),
      psiThreshold,
    ),
  };
}

/** The first `n` of each arm's items, in the report's order (by arm, most clicked and bought first). */
function firstOfEachArm<T extends { arm: string }>(items: readonly T[], n: number): T[] {
  const shown = new Map<string, number>();
  return items.filter((i) => {
    const k = shown.get(i.arm) ?? 0;
    shown.set(i.arm, k + 1);
    return k < n;
  });
}
