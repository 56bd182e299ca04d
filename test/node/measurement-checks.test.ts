/**
 * The measurement tools' own checks (npm run bench, npm run simulate): a timed warm answer that fell back to
 * popular items is refused, a latency sample that is not a number is refused rather than sorted into the
 * percentiles, and the simulation's reconciliation covers the buyers that the reported conversion divides.
 */
import { describe, expect, it } from "vitest";
import { summarize } from "../../scripts/bench/stats";
import { imageOpenProblem, warmAnswerProblem } from "../../scripts/bench/warm-answer";
import { historyArrived, storeCounted } from "../../scripts/simulate/simulation";

describe("bench: a warm answer is timed only when it took the scenario's path", () => {
  const ranker = { scorer: "ranker", ranking: "pool" };
  const ok = { status: 200, reason: "personalized", scorer: "ranker", ranking: "pool" };
  it("takes a personalized answer ranked from the pool", () => {
    expect(warmAnswerProblem(ranker, ok)).toBeNull();
  });
  it("refuses a fallback to popular items, which skips the ranking it would be timed as", () => {
    expect(warmAnswerProblem(ranker, { ...ok, reason: "model-unavailable", scorer: "popular", ranking: null })).toMatch(
      /not personalized/,
    );
    expect(warmAnswerProblem({}, { ...ok, reason: "profile-missing", scorer: "popular" })).toMatch(/not personalized/);
  });
  it("refuses another scorer, another ranking, another status", () => {
    expect(warmAnswerProblem(ranker, { ...ok, ranking: "catalog" })).toMatch(/catalog/);
    expect(warmAnswerProblem(ranker, { ...ok, scorer: "hybrid" })).toMatch(/hybrid/);
    expect(warmAnswerProblem({}, { ...ok, status: 500 })).toMatch(/500/);
  });
});

describe("bench: the campaign and image opens are timed only on the path they are timed as", () => {
  const ok = { status: 200, reason: "personalized", scorer: "als", ranking: null };
  it("refuses an amp-list answer of a campaign under an experiment that no arm served", () => {
    expect(warmAnswerProblem({ experiment: true }, { ...ok, experiment: "bench-experiment-test:only" })).toBeNull();
    expect(warmAnswerProblem({ experiment: true }, { ...ok, experiment: null })).toMatch(/experiment/);
    expect(warmAnswerProblem({}, { ...ok, experiment: null })).toBeNull();
  });
  it("takes a first image open that decided, personalized, and a re-open that served the stored decision", () => {
    expect(imageOpenProblem({ open: "first" }, { decision: "decided", reason: "personalized" })).toBeNull();
    expect(imageOpenProblem({ open: "re-open" }, { decision: "stored", reason: "stored-frozen" })).toBeNull();
  });
  it("refuses a first open that fell back to popular items, found a stored decision, or missed its arm", () => {
    expect(imageOpenProblem({ open: "first" }, { decision: "decided", reason: "model-loading" })).toMatch(
      /not personalized/,
    );
    expect(imageOpenProblem({ open: "first" }, { decision: "stored", reason: "stored-frozen" })).toMatch(/stored/);
    expect(
      imageOpenProblem({ open: "first", experiment: true }, { decision: "decided", reason: "personalized" }),
    ).toMatch(/experiment/);
  });
  it("refuses a re-open that decided again (its first open stored nothing)", () => {
    expect(imageOpenProblem({ open: "re-open" }, { decision: "decided", reason: "personalized" })).toMatch(/again/);
  });
});

describe("bench: latency summaries refuse what is not a time", () => {
  it("throws on NaN instead of sorting it into wrong percentiles", () => {
    // before: p50 1 and max 4 for these samples (NaN compares as neither smaller nor larger)
    expect(() => summarize([5, Number.NaN, 1, 4, 2, 3])).toThrow(RangeError);
    expect(() => summarize([1, Number.POSITIVE_INFINITY])).toThrow(RangeError);
    expect(summarize([5, 1, 4, 2, 3])).toMatchObject({ p50: 3, max: 5 });
  });
});

describe("simulate: the store's counts against the simulation's", () => {
  const simulated = {
    personalized: { exposed: 100, clicks: 15, purchases: 5 },
    popular: { exposed: 100, clicks: 4, purchases: 1 },
  };
  const arm = (name: string, s: { exposed: number; clicks: number; purchases: number }) => ({
    arm: name,
    exposed: s.exposed,
    clicks: s.clicks,
    clickers: s.clicks,
    purchases: s.purchases,
    buyers: s.purchases,
  });
  const exact = [arm("personalized", simulated.personalized), arm("popular", simulated.popular)];
  it("reconciles when every count is the simulation's", () => {
    expect(storeCounted(simulated, { arms: exact })).toBe(true);
  });
  it("does not reconcile when the buyers (conversion's numerator) are off, the purchases right", () => {
    const arms = exact.map((a) => (a.arm === "personalized" ? { ...a, buyers: 0 } : a));
    expect(storeCounted(simulated, { arms })).toBe(false);
  });
  it("does not reconcile when an arm is missing or an exposure is off", () => {
    expect(storeCounted(simulated, { arms: exact.slice(0, 1) })).toBe(false);
    expect(storeCounted(simulated, { arms: exact.map((a) => ({ ...a, exposed: a.exposed + 1 })) })).toBe(false);
  });
});

describe("simulate: the wait for the readers' history waits for this run's", () => {
  const since = 1_800_000_000;
  const views = (from: number) => [0, 1, 2, 3].map((i) => ({ item: `p${i}`, type: "view", ts: from + i }));
  it("holds once this run's four views are in the profile", () => {
    expect(historyArrived(views(since), since)).toBe(true);
    expect(historyArrived([...views(since - 7200), ...views(since)], since)).toBe(true);
  });
  it("does not hold on an earlier run's history (same --seed, same readers), however long", () => {
    const earlier = [
      ...views(since - 7200),
      { item: "p9", type: "email_click", ts: since + 3000 },
      { item: "p9", type: "purchase", ts: since + 3001 },
    ];
    expect(historyArrived(earlier, since)).toBe(false);
    expect(historyArrived([...earlier, ...views(since).slice(0, 3)], since)).toBe(false);
  });
});
