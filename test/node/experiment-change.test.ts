/**
 * Which change of an experiment the registry accepts (core/experiments/experiment-change.ts): a new one, or one
 * that keeps its campaign and seed; a start only where no other experiment runs; a stop always. A change of the
 * arms' shares, or of what an arm shows, starts a phase (recorded, with its time, beside each start and stop), and
 * the sample-ratio check counts the readers exposed since.
 */
import { describe, expect, it } from "vitest";
import { inGlobalHoldout } from "../../core/experiments/assignment";
import {
  type Experiment,
  ExperimentSchema,
  type GlobalHoldout,
  GlobalHoldoutChangeSchema,
  GlobalHoldoutSchema,
  globalHoldoutExperiment,
  MAX_CHANGES,
} from "../../core/experiments/experiment";
import { experimentConflict, holdoutAfter, recordChange, runRefusal } from "../../core/experiments/experiment-change";
import { controlOf, emptyArm, experimentResults } from "../../core/experiments/report";
import { clickRow } from "../shared/period-rows";

const experiment = (over: Record<string, unknown> = {}): Experiment =>
  ExperimentSchema.parse({
    v: 1,
    id: "spring-test",
    campaign: "spring",
    variants: [{ id: "popular", weight: 1, content: "popular" }],
    ...over,
  });

/** The experiment as the registry stores it after the change. */
const withPhase = (stored: Experiment | null, next: Experiment, nowS: number) =>
  recordChange(stored, next, nowS).experiment;

describe("shares of readers", () => {
  it("given as percentages (coverage 50, holdout 10, the global holdout's 5) are refused saying how to write them", () => {
    const experiment = ExperimentSchema.safeParse({
      v: 1,
      id: "x",
      campaign: "c",
      coverage: 50,
      holdout: 10,
      variants: [{ id: "a", weight: 1, content: "popular" }],
    });
    expect(experiment.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual([
      "coverage: a share of readers, 0 to 1 (0.05 is 5%), not 50",
      "holdout: a share of readers, 0 to 0.5 (0.05 is 5%), not 10",
    ]);
    expect(GlobalHoldoutChangeSchema.safeParse({ share: 5 }).error?.issues[0]?.message).toBe(
      "a share of readers, 0 to 0.2 (0.05 is 5%), not 5",
    );
    expect(GlobalHoldoutChangeSchema.safeParse({ share: 0.05 }).success).toBe(true);
  });
});

describe("experimentConflict", () => {
  it("accepts a new experiment on a free campaign, and a re-weighted or stopped one", () => {
    expect(experimentConflict(null, experiment(), null)).toBeNull();
    const stored = experiment();
    expect(experimentConflict(stored, experiment({ coverage: 0.5 }), "spring-test")).toBeNull();
    expect(experimentConflict(stored, experiment({ status: "stopped" }), "spring-test")).toBeNull();
    // a seed equal to the id is the default seed: unchanged
    expect(experimentConflict(stored, experiment({ seed: "spring-test" }), "spring-test")).toBeNull();
  });

  it("refuses a start where another experiment runs, but never a stop", () => {
    expect(experimentConflict(null, experiment(), "other")).toBe(
      'campaign: experiment "other" runs on it; stop it first',
    );
    expect(experimentConflict(null, experiment({ status: "stopped" }), "other")).toBeNull();
  });

  it("refuses a changed campaign or seed, naming the field", () => {
    const stored = experiment({ status: "stopped" });
    expect(experimentConflict(stored, experiment({ campaign: "autumn" }), null)).toMatch(/^campaign: .*"spring"/);
    expect(experimentConflict(stored, experiment({ seed: "reshuffle" }), null)).toMatch(/^seed: /);
  });

  it("refuses a shorter attribution window once the experiment has run; a longer one, or one never run, is taken", () => {
    const running = experiment({ attributionDays: 14 });
    expect(experimentConflict(running, experiment({ attributionDays: 7 }), "spring-test")).toMatch(
      /^attributionDays: readers exposed keep their 14-day window/,
    );
    const stopped = experiment({ attributionDays: 14, status: "stopped", changes: [{ at: 1, kind: "stopped" }] });
    expect(experimentConflict(stopped, experiment({ attributionDays: 7, status: "stopped" }), null)).toMatch(
      /^attributionDays: /,
    );
    expect(experimentConflict(running, experiment({ attributionDays: 30 }), "spring-test")).toBeNull();
    const neverRun = experiment({ attributionDays: 14, status: "stopped" });
    expect(experimentConflict(neverRun, experiment({ attributionDays: 7, status: "stopped" }), null)).toBeNull();
  });
});

describe("phases", () => {
  const two = (a: number, b: number, over: Record<string, unknown> = {}) =>
    experiment({
      variants: [
        { id: "a", weight: a, content: "popular" },
        { id: "b", weight: b, content: "popular" },
      ],
      ...over,
    });

  it("a change of the arms' shares starts one; the same shares on another scale, or a stop, do not", () => {
    expect(withPhase(null, two(1, 1), 100).phaseStart).toBeUndefined();
    const stored = two(1, 1);
    expect(withPhase(stored, two(5, 5), 200).phaseStart).toBeUndefined();
    expect(withPhase(stored, two(5, 5, { coverage: 0.5, status: "stopped" }), 200).phaseStart).toBeUndefined();
    const reweighted = withPhase(stored, two(4, 1), 300);
    expect(reweighted.phaseStart).toBe(300);
    // kept by later changes that leave the shares alone; a holdout moves them again
    expect(withPhase(reweighted, two(8, 2), 400).phaseStart).toBe(300);
    expect(withPhase(reweighted, two(8, 2, { holdout: 0.1 }), 500).phaseStart).toBe(500);
    // never what a request says
    expect(withPhase(stored, two(1, 1, { phaseStart: 7 }), 600).phaseStart).toBeUndefined();
    expect(withPhase(null, two(1, 1, { phaseStart: 7 }), 600).phaseStart).toBeUndefined();
    // a phase is named by its start: two changes within one second still make two phases
    const again = withPhase(reweighted, two(1, 4), 300);
    expect(again.phaseStart).toBe(301);
    expect(withPhase(again, two(4, 1), 300).phaseStart).toBe(302);
  });

  it("after a re-weight the ratio check counts the readers exposed since, at the new shares", () => {
    const counts = (a: number, b: number) => [emptyArm("a", a), emptyArm("b", b)];
    // 5,000 / 5,000 at 50/50, then 8,000 / 2,000 at 80/20: all time 13,000 / 7,000 against 80/20 is a mismatch
    const now = { ...two(4, 1), phaseStart: 1000 };
    const allTime = experimentResults({ ...two(4, 1) }, counts(13_000, 7_000));
    expect(allTime.srm?.mismatch).toBe(true);
    const phased = experimentResults(now, counts(13_000, 7_000), {
      phaseExposed: new Map([
        ["a", 8_000],
        ["b", 2_000],
      ]),
    });
    expect(phased.srm).toMatchObject({ mismatch: false, since: 1000, expected: { a: 0.8, b: 0.2 } });
    // the arms' results still count every exposed reader
    expect(phased.arms.map((x) => x.exposed)).toEqual([13_000, 7_000]);
  });
});

describe("a change of what an arm shows", () => {
  const personal = (over: Record<string, unknown> = {}) => ({
    v: 2,
    default: { id: "picks", type: "recommendations", items: { boost: { categories: { shoes: 0.5, bags: 0.25 } } } },
    ...over,
  });
  const arms = (content: unknown, over: Record<string, unknown> = {}) =>
    experiment({
      variants: [
        { id: "a", weight: 1, content },
        { id: "b", weight: 1, content: "popular" },
      ],
      ...over,
    });

  it("starts a phase and records which arm changed, when: its readers from now on see only the new content", () => {
    const stored = withPhase(null, arms(personal()), 100);
    const { experiment: next, recorded } = recordChange(stored, arms(personal({ badge: "New in" })), 200);
    expect(next.phaseStart).toBe(200);
    expect(recorded).toEqual([{ at: 200, kind: "content", arms: ["a"] }]);
    expect(next.changes).toEqual([
      { at: 100, kind: "started" },
      { at: 200, kind: "content", arms: ["a"] },
    ]);
    // a control turned into a campaign is a change of what it shows too
    const swapped = recordChange(
      stored,
      arms(personal(), {
        variants: [
          { id: "a", weight: 1, content: personal() },
          { id: "b", weight: 1, content: personal() },
        ],
      }),
      300,
    );
    expect(swapped.recorded).toEqual([{ at: 300, kind: "content", arms: ["b"] }]);
  });

  it("the same content sent again, its keys in another order, is no change; weights alone are a change of shares", () => {
    const stored = withPhase(null, arms(personal()), 100);
    const reordered = personal({
      default: { id: "picks", type: "recommendations", items: { boost: { categories: { bags: 0.25, shoes: 0.5 } } } },
    });
    const same = recordChange(stored, arms(reordered, { coverage: 0.5 }), 200);
    expect(same.recorded).toEqual([]);
    expect(same.experiment.phaseStart).toBeUndefined();
    const reweighted = recordChange(
      stored,
      experiment({
        variants: [
          { id: "a", weight: 3, content: personal() },
          { id: "b", weight: 1, content: "popular" },
        ],
      }),
      300,
    );
    expect(reweighted.recorded).toEqual([{ at: 300, kind: "shares" }]);
    // both in one PUT: one phase, both recorded
    const both = recordChange(
      stored,
      experiment({
        variants: [
          { id: "a", weight: 3, content: personal({ badge: "x" }) },
          { id: "b", weight: 1, content: "popular" },
        ],
      }),
      400,
    );
    expect(both.experiment.phaseStart).toBe(400);
    expect(both.recorded).toEqual([
      { at: 400, kind: "shares" },
      { at: 400, kind: "content", arms: ["a"] },
    ]);
  });

  it("records each stop and start with its time, never what a request says, and keeps the newest MAX_CHANGES", () => {
    const stored = withPhase(null, arms(personal(), { changes: [{ at: 1, kind: "stopped" }] }), 100);
    expect(stored.changes).toEqual([{ at: 100, kind: "started" }]);
    expect(withPhase(null, arms(personal(), { status: "stopped" }), 100).changes).toBeUndefined();
    const stopped = withPhase(stored, arms(personal(), { status: "stopped" }), 500);
    expect(stopped.changes?.at(-1)).toEqual({ at: 500, kind: "stopped" });
    expect(stopped.phaseStart).toBeUndefined();
    const again = withPhase(stopped, arms(personal()), 900);
    expect(again.changes?.at(-1)).toEqual({ at: 900, kind: "started" });
    let e = again;
    for (let i = 0; i < MAX_CHANGES; i++)
      e = withPhase(e, arms(personal(), { status: i % 2 ? "running" : "stopped" }), 1000 + i);
    expect(e.changes).toHaveLength(MAX_CHANGES);
    expect(e.changes?.at(-1)?.at).toBe(1000 + MAX_CHANGES - 1);
    expect(ExperimentSchema.parse(JSON.parse(JSON.stringify(e)))).toEqual(e);
  });
});

describe("an arm shipped (the dashboard's Ship this arm)", () => {
  const two = (status: string) =>
    experiment({
      status,
      variants: [
        { id: "a", weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });

  it("is recorded with its arm just before the stop, with no new phase; after an earlier stop, alone", () => {
    const running = withPhase(null, two("running"), 100);
    const { experiment: stopped, recorded } = recordChange(running, two("stopped"), 500, "a");
    expect(recorded).toEqual([
      { at: 500, kind: "shipped", arms: ["a"] },
      { at: 500, kind: "stopped" },
    ]);
    expect(stopped.phaseStart).toBeUndefined();
    expect(ExperimentSchema.parse(JSON.parse(JSON.stringify(stopped)))).toEqual(stopped);
    expect(recordChange(stopped, two("stopped"), 900, "a").recorded).toEqual([
      { at: 900, kind: "shipped", arms: ["a"] },
    ]);
  });
});

describe("runRefusal", () => {
  it("refuses to run one arm with no holdout, or coverage 0, and never refuses a stop", () => {
    expect(runRefusal(experiment())).toMatch(/^variants: one variant and no holdout compares nothing/);
    expect(runRefusal(experiment({ holdout: 0.1 }))).toBeNull();
    const two = {
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
      ],
    };
    expect(runRefusal(experiment({ ...two, coverage: 0 }))).toMatch(/^coverage: 0 covers no reader/);
    expect(runRefusal(experiment({ ...two }))).toBeNull();
    expect(runRefusal(experiment({ status: "stopped" }))).toBeNull();
    expect(runRefusal(experiment({ ...two, coverage: 0, status: "stopped" }))).toBeNull();
  });
});

describe("a bandit turned off", () => {
  const arms = (over: Record<string, unknown> = {}) =>
    experiment({
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
      ],
      ...over,
    });

  it("starts a phase: its arms were drawn at the bandit's shares, not at the weights stored beside them", () => {
    const bandit = arms({ bandit: { goal: "click", floor: 0.05 } });
    // the same stored weights: readers are drawn at 50/50 from now on, at the bandit's (say 90/10) before
    const off = withPhase(bandit, arms(), 700);
    expect(off.phaseStart).toBe(700);
    // so the ratio check counts the readers drawn since: 9,000 / 1,000 under the bandit, then 1,000 / 1,000
    const counts = [emptyArm("a", 10_000), emptyArm("b", 2_000)];
    // all of them against 50/50 would be a mismatch, which no broken assignment or counting made
    expect(experimentResults(arms(), counts).srm?.mismatch).toBe(true);
    const phaseExposed = new Map([
      ["a", 1_000],
      ["b", 1_000],
    ]);
    expect(experimentResults(off, counts, { phaseExposed }).srm).toMatchObject({ mismatch: false, since: 700 });
    // turned on, or its goal or floor changed, the shares are the bandit's to move: no phase
    expect(withPhase(arms(), bandit, 800).phaseStart).toBeUndefined();
    expect(withPhase(bandit, arms({ bandit: { goal: "purchase", floor: 0.1 } }), 800).phaseStart).toBeUndefined();
  });
});

describe("a bandit's report, weighted by period", () => {
  const row = clickRow;

  it("keeps taking in new hours after a variant is removed: it is weighed over the arms the experiment has now", () => {
    const now = experiment({
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
      ],
    });
    // c ran in hour 1 only; a and b each hour, at 10% in hour 1 and 2% in hour 2
    const periods = [
      row(1, "a", 100, 10),
      row(1, "b", 100, 10),
      row(1, "c", 100, 10),
      row(2, "a", 1000, 20),
      row(2, "b", 1000, 20),
    ];
    const counts = ["a", "b", "c"].map((arm) => {
      const mine = periods.filter((p) => p.arm === arm);
      const exposed = mine.reduce((s, p) => s + p.exposed, 0);
      return { ...emptyArm(arm, exposed), clickers: mine.reduce((s, p) => s + p.clickers, 0) };
    });
    const r = experimentResults(now, counts, { bandit: true, periods });
    expect(r.weighting).toBe("period");
    // hour 2 counts: weighed over a and b, the hours weigh 200 / 2,200 and 2,000 / 2,200
    const expected = (200 / 2200) * 0.1 + (2000 / 2200) * 0.02;
    expect(r.arms.find((x) => x.arm === "a")?.ctr).toBeCloseTo(expected, 12);
    // the removed arm shows pooled, without a comparison
    expect(r.arms.find((x) => x.arm === "c")).toMatchObject({ ctr: 0.1, vsControl: null });
  });

  it("weighs the variants over their own hours, as the bandit's update does: hours a small holdout missed count", () => {
    const withHoldout = experiment({
      holdout: 0.01,
      bandit: { goal: "click", floor: 0.05 },
      variants: [
        { id: "personal", weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    // 48 hours of 200 readers a variant (15% and 10%); the holdout's readers came in two of them, and one hour alone
    const periods = Array.from({ length: 48 }, (_, h) => [
      row(h, "personal", 200, 30),
      row(h, "popular", 200, 20),
    ]).flat();
    periods.push(row(3, "holdout", 2, 0), row(7, "holdout", 2, 1), row(60, "holdout", 2, 0));
    const counts = ["personal", "popular", "holdout"].map((arm) => {
      const mine = periods.filter((p) => p.arm === arm);
      const exposed = mine.reduce((s, p) => s + p.exposed, 0);
      return { ...emptyArm(arm, exposed), clickers: mine.reduce((s, p) => s + p.clickers, 0) };
    });
    const r = experimentResults(withHoldout, counts, { bandit: true, periods });
    const arm = (id: string) => r.arms.find((x) => x.arm === id);
    expect(arm("personal")?.ctr).toBeCloseTo(0.15, 12);
    expect(arm("popular")?.ctr).toBeCloseTo(0.1, 12);
    expect(arm("personal")?.vsControl?.ctr.absolute?.estimate).toBeCloseTo(0.05, 12);
    // the holdout shows pooled, and is compared with the control over the two hours both had readers
    expect(arm("holdout")?.ctr).toBeCloseTo(1 / 6, 12);
    expect(arm("holdout")?.vsControl?.ctr.absolute?.estimate).toBeCloseTo(0.25 - 0.1, 12);
  });
});

describe("a subject-line bandit's report, weighted by period", () => {
  it("weighs the open rates it shows as it weighs their comparison: the same hour by hour, the same", () => {
    const now = experiment({
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
      ],
      bandit: { goal: "click", floor: 0.05 },
    });
    const row = (period: number, arm: string, exposed: number, opened: number) => ({
      period,
      arm,
      exposed,
      opened,
      clickers: 0,
      buyers: 0,
      payers: 0,
      revenue: 0,
      revenueSquares: 0,
    });
    // readers sent: 40% of both arms opened in hour 1, 10% in hour 2; the bandit moved b's share from most to least
    const periods = [row(1, "a", 100, 40), row(1, "b", 1000, 400), row(2, "a", 1000, 100), row(2, "b", 100, 10)];
    const counts = ["a", "b"].map((arm) => {
      const mine = periods.filter((p) => p.arm === arm);
      const sum = (f: (p: (typeof periods)[number]) => number) => mine.reduce((s, p) => s + f(p), 0);
      return {
        ...emptyArm(
          arm,
          sum((p) => p.exposed),
        ),
        opened: sum((p) => p.opened),
      };
    });
    const r = experimentResults(now, counts, { bandit: true, unit: "sent", periods });
    const [a, b] = r.arms;
    // pooled, 12.7% against 37.3%; the comparison, weighted, finds none
    expect(b?.vsControl?.opens?.absolute?.estimate).toBeCloseTo(0, 12);
    expect(a?.openRate).toBeCloseTo(0.25, 12);
    expect(b?.openRate).toBeCloseTo(0.25, 12);
    // the counts stay the readers' own
    expect([a?.opened, b?.opened]).toEqual([140, 410]);
  });
});

describe("the global holdout's changes", () => {
  it("keeps the seed in force, starts a phase when turned on or moved, and starts afresh after off", () => {
    const on = holdoutAfter(null, { share: 0.05, seed: "s" }, 100);
    expect(on).toEqual({ share: 0.05, seed: "s", phaseStart: 100 });
    expect(holdoutAfter(on, { share: 0.05 }, 200)).toEqual({ share: 0.05, seed: "s", phaseStart: 100 });
    expect(holdoutAfter(on, { share: 0.1 }, 300)).toEqual({ share: 0.1, seed: "s", phaseStart: 300 });
    expect(holdoutAfter(on, { share: 0.05, seed: "t" }, 400)).toEqual({ share: 0.05, seed: "t", phaseStart: 400 });
    expect(holdoutAfter(null, { share: 0.05 }, 600)).toEqual({ share: 0.05, seed: "global-holdout", phaseStart: 600 });
    expect(holdoutAfter(null, { share: 0 }, 600)).toBeNull();
  });

  it("turned off, remembers the share and phase it ended, so its report keeps its arms and its control", () => {
    const on = holdoutAfter(null, { share: 0.05, seed: "s" }, 100) as GlobalHoldout;
    const off = holdoutAfter(on, { share: 0 }, 500) as GlobalHoldout;
    expect(off).toEqual({ share: 0, seed: "s", ended: { share: 0.05, phaseStart: 100, at: 500 } });
    expect(GlobalHoldoutSchema.parse(off)).toEqual(off);
    // off again changes nothing; on again: a new phase, the seed kept
    expect(holdoutAfter(off, { share: 0 }, 600)).toEqual(off);
    expect(holdoutAfter(off, { share: 0.05 }, 700)).toEqual({ share: 0.05, seed: "s", phaseStart: 700 });
    // on again within the second of the phase it ended: another phase still
    expect(holdoutAfter(off, { share: 0.1 }, 100)).toMatchObject({ share: 0.1, phaseStart: 101 });
    // nobody is held while it is off
    expect(inGlobalHoldout(off, "u1", "holdout")).toBe(false);
    const experiment = globalHoldoutExperiment(off, 30);
    expect(experiment).toMatchObject({ holdout: 0.05, phaseStart: 100, status: "stopped" });
    expect(controlOf(experiment)).toBe("holdout");
    // the same counts read the same way on and off (off, they used to read "holdout -20% vs personalized")
    const counts = [
      { ...emptyArm("holdout", 1000), clickers: 80 },
      { ...emptyArm("personalized", 19_000), clickers: 1900 },
    ];
    const whileOn = experimentResults(globalHoldoutExperiment(on, 30), counts);
    const afterOff = experimentResults(experiment, counts);
    expect(afterOff.control).toBe("holdout");
    expect(afterOff.arms).toEqual(whileOn.arms);
  });
});
