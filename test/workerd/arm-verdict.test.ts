/**
 * The verdict beside each "Ship this arm" button (worker/dashboard/arm-verdict.ts), on counts with a planted
 * answer run through the report's own statistics (core/experiments/report.ts): an arm far ahead of the control is
 * a winner, one far behind is said to be worse, one level with it is no winner yet, and a failed sample-ratio check
 * makes none trustworthy; the control is a winner only when every other arm is worse.
 */
import { describe, expect, it } from "vitest";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { type ArmCounts, emptyArm, experimentResults } from "../../core/experiments/report";
import { armVerdict } from "../../worker/dashboard/arm-verdict";
import type { ExperimentReport } from "../../worker/experiments/experiment-report";
import { clickRow } from "../shared/period-rows";

const PICKS = { v: 2, default: { id: "picks", type: "recommendations" } };
const experiment: Experiment = ExperimentSchema.parse({
  v: 1,
  id: "verdict",
  campaign: "c",
  variants: [
    { id: "control", weight: 1, content: PICKS },
    { id: "b", weight: 1, content: PICKS },
  ],
});

/** `n` readers of `arm`, `clickers` of whom clicked (nobody bought). */
const arm = (name: string, n: number, clickers: number): ArmCounts => ({
  ...emptyArm(name, n),
  clickers,
  clicks: clickers,
});

function report(counts: ArmCounts[], sequential = true): ExperimentReport {
  return {
    ...experimentResults(experiment, counts, sequential ? { sequential: { tuning: 5000 } } : {}),
    experiment: { id: "verdict", campaign: "c", status: "running", attributionDays: 7, changes: [] },
    phase: "all",
    blocks: [],
    slots: [],
    items: [],
    daily: [],
    currency: null,
    currencies: [],
    scannerClicks: { clicks: 0, byReason: { agent: 0, burst: 0, "suspect-burst": 0 }, byArm: {} },
    at: "2026-03-06T00:00:00.000Z",
  };
}

describe("the verdict beside Ship this arm", () => {
  it("an arm far ahead of the control on CTR is a winner, and the control is not", () => {
    const r = report([arm("control", 5000, 250), arm("b", 5000, 500)]);
    const b = armVerdict(r, "b");
    expect(b.winner).toBe(true);
    expect(b.text).toMatch(/^Better than control on CTR \+100\.0% \[/);
    expect(armVerdict(r, "control")).toEqual({
      winner: false,
      text: expect.stringMatching(/^Not the winner: b did better than this control \(CTR \+100\.0%/),
    });
  });

  it("an arm far behind is said to be worse, and then the control is the winner", () => {
    const r = report([arm("control", 5000, 500), arm("b", 5000, 250)]);
    expect(armVerdict(r, "b")).toEqual({
      winner: false,
      text: expect.stringMatching(/^Not a winner: worse than control on CTR -50\.0% \[/),
    });
    expect(armVerdict(r, "control").winner).toBe(true);
  });

  it("level arms are no winner yet, however few their clickers", () => {
    const level = report([arm("control", 5000, 300), arm("b", 5000, 305)]);
    expect(armVerdict(level, "b")).toEqual({
      winner: false,
      text: "Not (yet) a winner: no interval against control excludes 0.",
    });
    expect(armVerdict(level, "control").winner).toBe(false);
    // a few clickers still give a difference to judge by (no uplift yet)
    expect(armVerdict(report([arm("control", 40, 2), arm("b", 40, 3)]), "b").text).toBe(
      "Not (yet) a winner: no interval against control excludes 0.",
    );
  });

  it("revenue whose difference's Welch test finds nothing is no winner on its uplift either", () => {
    // equal arms, 2% buying, order values lognormal (sigma 1.5): one of the draws where the log ratio's interval
    // (before Fieller's) excluded 0 and the difference's did not, and the verdict called the arm a winner
    const revenue = (name: string, n: number, payers: number, sum: number, squares: number): ArmCounts => ({
      ...emptyArm(name, n),
      buyers: payers,
      purchases: payers,
      payers,
      revenue: sum,
      revenueSquares: squares,
    });
    const r = report(
      [revenue("control", 5000, 90, 3578.31, 434508.94), revenue("b", 5000, 106, 9172.56, 13532939.21)],
      false,
    );
    const vs = r.arms.find((a) => a.arm === "b")?.vsControl?.revenue;
    expect(vs?.absolute?.ciLow).toBeLessThan(0);
    expect(vs?.relative?.ciLow).toBeLessThan(0);
    expect(vs?.relative?.pValue).toBe(vs?.absolute?.pValue);
    expect(armVerdict(r, "b")).toEqual({
      winner: false,
      text: "Not (yet) a winner: no interval against control excludes 0.",
    });
  });

  it("an arm far ahead while no ratio bounds its uplift yet (a control's rate not clear of 0) is judged by the difference", () => {
    const r = report([arm("control", 400, 8), arm("b", 400, 60)]);
    const vs = r.arms.find((a) => a.arm === "b")?.vsControl?.ctr;
    expect(vs?.relative).toBeNull();
    expect(vs?.absolute?.ciLow).toBeGreaterThan(0);
    expect(armVerdict(r, "b")).toEqual({
      winner: true,
      text: expect.stringMatching(/^Better than control on CTR \+13\.0 pts \[\+/),
    });
  });

  it("a bandit's control far ahead of every arm it has is the winner, beside a variant removed since (shown, not compared)", () => {
    // hour-weighted (a bandit's report): "old" was removed after hour 0, so it has no comparison
    const row = clickRow;
    const periods = [
      row(0, "control", 2500, 250),
      row(0, "b", 2500, 125),
      row(0, "old", 500, 20),
      row(1, "control", 2500, 250),
      row(1, "b", 2500, 125),
    ];
    const counts = [arm("control", 5000, 500), arm("b", 5000, 250), arm("old", 500, 20)];
    const r: ExperimentReport = { ...report([]), ...experimentResults(experiment, counts, { periods }) };
    expect(r.arms.find((a) => a.arm === "old")?.vsControl).toBeNull();
    expect(armVerdict(r, "b").text).toMatch(/^Not a winner: worse than control/);
    expect(armVerdict(r, "control")).toEqual({
      winner: true,
      text: "The control, and every other arm did worse than it on some metric.",
    });
  });

  it("a failed sample-ratio check makes no arm a winner, however far ahead", () => {
    const r = report([arm("control", 5000, 250), arm("b", 8000, 800)]);
    expect(r.srm?.mismatch).toBe(true);
    expect(armVerdict(r, "b")).toEqual({
      winner: false,
      text: "Not a winner you can trust: the sample ratio check failed, so no result on this page holds.",
    });
  });
});
