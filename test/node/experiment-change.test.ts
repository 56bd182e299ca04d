/**
 * Which change of an experiment the registry accepts (core/experiments/experiment-change.ts): a new one, or one
 * that keeps its campaign and seed; a start only where no other experiment runs; a stop always.
 */
import { describe, expect, it } from "vitest";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { experimentConflict } from "../../core/experiments/experiment-change";

const experiment = (over: Record<string, unknown> = {}): Experiment =>
  ExperimentSchema.parse({
    v: 1,
    id: "spring-test",
    campaign: "spring",
    variants: [{ id: "popular", weight: 1, content: "popular" }],
    ...over,
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
});
