/**
 * The dashboard's view of a report (worker/dashboard/dashboard-view.ts): its charts by day run over every day of
 * the experiment, so a day nothing happened on is drawn as one (at 0), not dropped from the time axis; an arm has
 * one colour in every chart; PSI by day draws only the figures that were judged, a day with no run in its place; a subject-line test shows its
 * open rates and their uplift; a bandit's page never calls a sample ratio it did not check OK; each arm's items are listed;
 * the clicks filtered as link scanners' are said, by reason and arm; a drift run names its model, and whether it serves.
 */
import Mustache from "mustache";
import { describe, expect, it } from "vitest";
import { DRIFT_MIN_READERS } from "../../core/drift";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { emptyArm, experimentResults } from "../../core/experiments/report";
import TEMPLATE from "../../worker/dashboard/dashboard.html";
import type { DriftRun } from "../../worker/drift/drift-store";
import type { ExperimentReport } from "../../worker/experiments/experiment-report";
import type { DailyCounts } from "../../worker/experiments/report-queries";
import { viewOf } from "./support/dashboard-view-of";

const experiment: Experiment = ExperimentSchema.parse({
  v: 1,
  id: "days",
  campaign: "c",
  variants: [
    { id: "a", weight: 1, content: "popular" },
    { id: "b", weight: 1, content: "popular" },
  ],
});

function report(daily: DailyCounts[]): ExperimentReport {
  return {
    ...experimentResults(experiment, [emptyArm("a", 30), emptyArm("b", 30)]),
    experiment: { id: "days", campaign: "c", status: "running", attributionDays: 7, changes: [] },
    phase: "all",
    blocks: [],
    slots: [],
    items: [],
    daily,
    currency: null,
    currencies: [],
    scannerClicks: { clicks: 0, byReason: { agent: 0, burst: 0, "suspect-burst": 0 }, byArm: {} },
    at: "2026-03-06T00:00:00.000Z",
  };
}

const day = (d: string, arm: string, exposures: number, clicks = 0): DailyCounts => ({
  day: d,
  arm,
  exposures,
  clicks,
  purchases: 0,
  revenue: 0,
});

/** A chart's series, by name: the values it draws (its `data-values`). */
function series(svg: string): Record<string, (number | null)[]> {
  const out: Record<string, (number | null)[]> = {};
  for (const m of svg.matchAll(/data-series="([^"]*)" data-values="([^"]*)"/g))
    out[m[1] as string] = JSON.parse((m[2] as string).replaceAll("&quot;", '"'));
  return out;
}

describe("the dashboard's charts by day", () => {
  it("draw a day with no exposure or click in any arm as 0, in its place between the others", () => {
    // a send on the 1st, nothing on the 2nd to the 4th, a second send on the 5th (UTC days)
    const view = viewOf({
      experiments: ["days"],
      current: "days",
      report: report([
        day("2026-03-01", "a", 10, 2),
        day("2026-03-01", "b", 12, 1),
        day("2026-03-05", "a", 20, 4),
        day("2026-03-05", "b", 18),
      ]),
    });
    const r = view.report as { exposuresChart: string; clicksChart: string };
    expect(series(r.exposuresChart)).toEqual({ a: [10, 0, 0, 0, 20], b: [12, 0, 0, 0, 18] });
    expect(series(r.clicksChart)).toEqual({ a: [2, 0, 0, 0, 4], b: [1, 0, 0, 0, 0] });
    expect(r.exposuresChart).toContain(">2026-03-01</text>");
    expect(r.exposuresChart).toContain(">2026-03-05</text>");
  });
});

describe("the dashboard's charts", () => {
  it("draw an arm in the same colour in the bandit's shares as by day, a variant removed since included", () => {
    // the bandit ran a, b and c; b was removed since, so the report lists it after the arms the experiment has now
    // (its holdout among them, which the bandit's shares never name)
    const reported = report([day("2026-03-01", "a", 10), day("2026-03-01", "b", 12), day("2026-03-01", "c", 8)]);
    const arms = ["a", "c", "holdout", "b"].map((arm) => ({ ...emptyArm(arm, 30), vsControl: null }));
    const view = viewOf({
      experiments: ["days"],
      current: "days",
      report: { ...reported, arms: arms as ExperimentReport["arms"] },
      bandit: [
        { at: "2026-03-01T10:00:00.000Z", shares: { a: 0.3, b: 0.3, c: 0.4 } },
        { at: "2026-03-01T11:00:00.000Z", shares: { a: 0.5, c: 0.5 } },
      ],
    });
    const r = view.report as { exposuresChart: string; banditChart: string };
    /** each series' colour, by name (its legend's swatch, which follows its group) */
    const colours = (svg: string) =>
      Object.fromEntries(
        [...svg.matchAll(/data-series="([^"]*)"[\s\S]*?<rect [^>]*fill="(#[0-9a-f]{6})"/g)].map((m) => [m[1], m[2]]),
      );
    const { holdout, ...byDay } = colours(r.exposuresChart);
    expect(Object.keys(byDay).sort()).toEqual(["a", "b", "c"]);
    expect(new Set([holdout, ...Object.values(byDay)]).size).toBe(4);
    expect(colours(r.banditChart)).toEqual(byDay);
  });
});

describe("PSI by day", () => {
  it("leaves out a feature's PSI on a day too few readers had it (never judged), as the alert does", () => {
    const run = (day: string, psi: number, n: number): DriftRun => ({
      day,
      at: `${day}T04:30:00.000Z`,
      model: "m1",
      readers: 400,
      features: {
        propensity: { psi: 0.02, n: 400 },
        itemsBought: { psi, n, ...(n < DRIFT_MIN_READERS && { notJudged: "too-few-readers" as const }) },
      },
      calibration: null,
      alerts: [],
    });
    const view = viewOf({
      experiments: [],
      current: null,
      report: null,
      // newest first, as the store answers; on the 2nd 12 readers had the feature, and their PSI was 1.9
      drift: [run("2026-03-03", 0.05, 300), run("2026-03-02", 1.9, 12), run("2026-03-01", 0.04, 310)],
    });
    const drift = view.drift as { psiChart: string };
    expect(series(drift.psiChart)).toEqual({ propensity: [0.02, 0.02, 0.02], itemsBought: [0.04, null, 0.05] });
  });
});

describe("a subject-line test's report (per reader sent)", () => {
  it("shows each arm's open rate and its uplift against the control, in the table and the uplift chart", () => {
    const counts = [
      { ...emptyArm("a", 1000), opened: 200 },
      { ...emptyArm("b", 1000), opened: 300 },
    ];
    const reported = { ...report([]), ...experimentResults(experiment, counts, { unit: "sent" }) };
    const opens = reported.arms[1]?.vsControl?.opens?.relative;
    expect(opens?.estimate).toBeCloseTo(0.5, 12);
    const view = viewOf({
      experiments: ["days"],
      current: "days",
      report: reported,
    });
    const r = view.report as {
      sentUnit: boolean;
      arms: { arm: string; cells: { metric: string; value: unknown }[] }[];
      upliftChart: string;
    };
    expect(r.sentUnit).toBe(true);
    const cells = Object.fromEntries(r.arms.flatMap((a) => a.cells.map((c) => [c.metric, c.value])));
    expect(cells).toMatchObject({ "a:openRate": 0.2, "b:openRate": 0.3, "b:openRateUplift": opens?.estimate });
    expect(r.upliftChart).toContain(`data-row="b: opens" data-value="${opens?.estimate}"`);
    // the page's table: a heading over every cell
    const table = /<table data-testid="arms">[\s\S]*?<\/table>/.exec(Mustache.render(TEMPLATE, view))?.[0] ?? "";
    const headings = [...table.matchAll(/<th>([^<]*)<\/th>/g)].map((m) => m[1]);
    expect(headings).toContain("open rate uplift");
    // every rate per reader sent, and headed so
    expect(headings).toContain("revenue / sent");
    expect(headings).not.toContain("revenue / exposed");
    for (const row of table.match(/<tr data-arm=[\s\S]*?<\/tr>/g) ?? [])
      expect(row.match(/<td/g)).toHaveLength(headings.length);
    // per open, no such column (all 1)
    const perOpen = viewOf({
      experiments: ["days"],
      current: "days",
      report: report([]),
    }).report as typeof r;
    expect(perOpen.sentUnit).toBe(false);
    expect(perOpen.arms[0]?.cells.map((c) => c.metric)).not.toContain("a:openRate");
    expect(perOpen.upliftChart).not.toContain(": opens");
  });
});

describe("the sample-ratio line", () => {
  it("says a bandit's ratio is not checked (its shares move by design), never that it is OK", () => {
    const bandit = { ...report([]), srm: null };
    const html = Mustache.render(
      TEMPLATE,
      viewOf({
        experiments: ["days"],
        current: "days",
        report: bandit,
      }),
    );
    const line = /<p data-testid="srm"[\s\S]*?<\/p>/.exec(html)?.[0] ?? "";
    expect(line).not.toContain("Sample ratio OK");
    expect(line).toContain("not checked");
    // a checked one still reads as before
    const checked = Mustache.render(
      TEMPLATE,
      viewOf({
        experiments: ["days"],
        current: "days",
        report: report([]),
      }),
    );
    expect(checked).toContain('<span class="ok">Sample ratio OK</span> <span class="muted">(p = 1.00;');
  });
});

describe("the sample-ratio line after a change of shares", () => {
  const srmLine = (r: ExperimentReport) =>
    /<p data-testid="srm"[\s\S]*?<\/p>/.exec(
      Mustache.render(TEMPLATE, viewOf({ experiments: ["days"], current: "days", report: r })),
    )?.[0] ?? "";
  const since = Date.parse("2026-03-05T12:00:00Z") / 1000;
  const withSrm = (observed: Record<string, number>): ExperimentReport => {
    const r = report([]);
    // the arms' table pools 30 readers each; the check counts those drawn since the phase began
    return { ...r, srm: { ...(r.srm as NonNullable<ExperimentReport["srm"]>), observed, since } };
  };

  it("never calls a check OK that counted no reader drawn since the phase began, and says why", () => {
    const line = srmLine(withSrm({ a: 0, b: 0 }));
    expect(line).not.toContain("Sample ratio OK");
    expect(line).toContain("not checked yet: no reader drawn since 2026-03-05 12:00 UTC counted yet");
    // a new experiment, before its first open
    const fresh = report([]);
    const none = {
      ...fresh,
      srm: { ...(fresh.srm as NonNullable<ExperimentReport["srm"]>), observed: { a: 0, b: 0 } },
    };
    expect(srmLine(none)).toContain("Sample ratio not checked yet: no reader counted yet (expected shares");
  });

  it("says the readers it counted are those drawn since the phase began, not the table's", () => {
    const line = srmLine(withSrm({ a: 3, b: 1 }));
    expect(line).toContain("Sample ratio OK");
    expect(line).toContain("readers drawn since 2026-03-05 12:00 UTC: a 3, b 1");
  });
});

describe("clicks per slot", () => {
  it("names the clicks no image slot had (the events API's email_click) for what they are", () => {
    const r: ExperimentReport = {
      ...report([]),
      slots: [
        { arm: "a", slot: "", clicks: 4, clickers: 3 },
        { arm: "a", slot: "row-0", clicks: 2, clickers: 2 },
      ],
    };
    const html = Mustache.render(TEMPLATE, viewOf({ experiments: ["days"], current: "days", report: r }));
    const table = /<table data-testid="slots">[\s\S]*?<\/table>/.exec(html)?.[0] ?? "";
    expect(table).toContain("<td>(no image slot: events API or pixel)</td><td>4</td>");
    expect(table).toContain("<td>row-0</td><td>2</td>");
  });
});

describe("the uplift note", () => {
  const note = (r: ExperimentReport) =>
    /<p data-testid="uplift-note"[\s\S]*?<\/p>/.exec(
      Mustache.render(TEMPLATE, viewOf({ experiments: ["days"], current: "days", report: r })),
    )?.[0] ?? "";

  it("says why an uplift cell shows – (too few clickers, buyers or payers), and is absent when none does", () => {
    // 30 readers an arm, no click: no relative uplift can be estimated
    const few = report([]);
    expect(few.arms.some((a) => a.vsControl?.ctr.relative === null)).toBe(true);
    expect(note(few)).toContain("An uplift shows – until the arm and the control each expect 10");
    const estimate = { estimate: 0.1, ciLow: -0.1, ciHigh: 0.3, pValue: 0.4 };
    const every = { absolute: estimate, relative: estimate };
    const enough: ExperimentReport = {
      ...few,
      arms: few.arms.map((a) =>
        a.vsControl ? { ...a, vsControl: { ctr: every, conversion: every, revenue: every } } : a,
      ) as ExperimentReport["arms"],
    };
    expect(note(enough)).toBe("");
  });
});

describe("the scanner clicks line", () => {
  it("says how many clicks were filtered as link scanners', why and in which arms; none, that none was", () => {
    const render = (scannerClicks: ExperimentReport["scannerClicks"]) =>
      /<p data-testid="scanner-clicks"[\s\S]*?<\/p>/.exec(
        Mustache.render(
          TEMPLATE,
          viewOf({ experiments: ["days"], current: "days", report: { ...report([]), scannerClicks } }),
        ),
      )?.[0] ?? "";
    const line = render({ clicks: 3, byReason: { agent: 1, burst: 2, "suspect-burst": 0 }, byArm: { a: 2, b: 1 } });
    expect(line).toContain('data-value="3"');
    expect(line).toContain("3 clicks filtered as link scanners (agent 1, burst 2; by arm: a 2, b 1)");
    expect(render(report([]).scannerClicks)).toContain("No click filtered as a link scanner.");
  });
});

describe("PSI by day, days without a run", () => {
  it("keeps a day the drift job did not run (or stored nothing) in its place, with no point; a day's latest run", () => {
    const run = (day: string, at: string, psi: number): DriftRun => ({
      day,
      at: `${day}T${at}.000Z`,
      model: "m1",
      readers: 400,
      features: { propensity: { psi, n: 400 } },
      calibration: null,
      alerts: [],
    });
    const view = viewOf({
      experiments: [],
      current: null,
      report: null,
      // newest first, as the store answers: none on the 2nd and 3rd, two on the 4th (a second model's, later)
      drift: [
        run("2026-03-04", "09:00:00", 0.3),
        run("2026-03-04", "04:30:00", 0.1),
        run("2026-03-01", "04:30:00", 0.05),
      ],
    });
    const drift = view.drift as { psiChart: string; at: string };
    expect(drift.at).toBe("2026-03-04T09:00:00.000Z");
    expect(series(drift.psiChart)).toEqual({ propensity: [0.05, null, null, 0.3] });
  });
});

describe("the drift run's model", () => {
  it("names the model a run measured, and says so when it is not the one serving (after a move, until its run)", () => {
    const run: DriftRun = {
      day: "2026-03-04",
      at: "2026-03-04T04:30:00.000Z",
      model: "m1",
      readers: 400,
      features: { propensity: { psi: 0.9, n: 400 } },
      calibration: null,
      alerts: ["propensity"],
    };
    const model = (active: string) => ({
      active,
      activatedAt: "2026-03-04T10:00:00.000Z",
      history: [],
      rollbackTo: null,
    });
    const html = (active: string) =>
      Mustache.render(
        TEMPLATE,
        viewOf({ experiments: [], current: null, report: null, drift: [run], model: model(active) }),
      );
    // m2 activated at 10:00: the alert on the page is m1's, measured against m1's training data
    const moved = html("m2");
    expect(moved).toContain('data-testid="drift-model">m1<');
    expect(moved).toContain('data-testid="drift-not-serving"');
    const serving = html("m1");
    expect(serving).toContain('data-testid="drift-model">m1<');
    expect(serving).not.toContain('data-testid="drift-not-serving"');
  });
});

describe("the dashboard's items", () => {
  it("lists each arm's first ten, a small arm's beside a large one's", () => {
    const item = (arm: string, i: number) => ({ arm, item: `${arm}-${i}`, clicks: 50 - i, purchases: 0, revenue: 0 });
    const items = [...Array.from({ length: 30 }, (_, i) => item("a", i)), item("b", 0), item("b", 1)];
    const view = viewOf({
      experiments: ["days"],
      current: "days",
      report: { ...report([]), items },
    });
    const listed = (view.report as { items: { item: string }[] }).items.map((i) => i.item);
    expect(listed).toEqual([...Array.from({ length: 10 }, (_, i) => `a-${i}`), "b-0", "b-1"]);
  });
});

describe("who the report counts", () => {
  it("the global holdout's readers who opened include those whose triggered email was sent or withheld", () => {
    const unitNote = (r: ExperimentReport) =>
      /<p data-testid="unit" class="muted">([^<]*)<\/p>/.exec(
        Mustache.render(TEMPLATE, viewOf({ experiments: [r.experiment.id], current: r.experiment.id, report: r })),
      )?.[1];
    const plain = report([]);
    expect(unitNote(plain)).toBe("Per reader who opened (CTR is click-to-open).");
    const global = { ...plain, experiment: { ...plain.experiment, id: "global-holdout" } };
    expect(unitNote(global)).toBe(
      "Per reader who opened (CTR is click-to-open), or for whom a triggered email was sent or withheld.",
    );
  });
});

describe("money on the page", () => {
  it("is written to its currency's minor unit, as the report rounds it: fils to 3 digits, yen to none", () => {
    const items = (currency: string, revenue: number) => {
      const view = viewOf({
        experiments: ["days"],
        current: "days",
        report: {
          ...report([]),
          currency,
          currencies: [
            { currency, purchases: 1, revenue },
            { currency: "BHD", purchases: 1, revenue: 1.005 },
          ],
          items: [{ arm: "a", item: "x", clicks: 1, purchases: 1, revenue }],
        },
      });
      const r = view.report as { items: { revenue: string }[]; currencyNote: string };
      return { item: r.items[0]?.revenue, note: r.currencyNote };
    };
    // 12.345 KWD is what the API says; "12.35" (or "12.34") is another amount
    expect(items("KWD", 12.345).item).toBe("12.345");
    expect(items("KWD", 12.345).note).toContain("BHD: 1 purchase, 1.005");
    expect(items("JPY", 1200).item).toBe("1200");
  });
});
