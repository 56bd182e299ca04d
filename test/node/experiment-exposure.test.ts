/**
 * Exposures and attribution (core/experiments/exposure.ts, through core/apply-events.ts): the first exposure
 * applied is kept (arm and window); the window runs from the exposure, however old the facts it came with; an
 * arm assigned at the send is kept by the open and attracts nothing until then; a click carrying the open's
 * exposure is counted for it; clicks count for experiments on their campaign (the global holdout: any),
 * purchases for every experiment, inside each window only; the profile keeps at most MAX_EXPOSURES.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyEvents } from "../../core/apply-events";
import type { QueuedEvent } from "../../core/events";
import {
  ANY_CAMPAIGN,
  attributedRows,
  type ExposureFacts,
  type Exposures,
  lateAttributedRows,
  MAX_EXPOSURES,
  windowsStarted,
  withExposure,
} from "../../core/experiments/exposure";
import { emptyProfile, ProfileV3Schema } from "../../core/profile";

const T = 1_800_000_000;
const facts = (over: Partial<ExposureFacts> = {}): ExposureFacts => ({
  experiment: "e1",
  arm: "personal",
  campaign: "spring",
  days: 7,
  ...over,
});
const exposure = (id: string, ts: number, over: Partial<ExposureFacts> = {}): QueuedEvent => ({
  id,
  type: "exposure",
  user: "u1",
  ts,
  exposure: facts(over),
});
const assignment = (ts: number, over: Partial<ExposureFacts> = {}): QueuedEvent => ({
  ...exposure("assignment:e1", ts, over),
  type: "assignment",
});
const click = (id: string, ts: number, campaign = "spring"): QueuedEvent => ({
  id,
  type: "email_click",
  user: "u1",
  item: "p1",
  campaign,
  ts,
  slot: "row-0",
});
const purchase = (id: string, ts: number, value = 10): QueuedEvent => ({
  id,
  type: "purchase",
  user: "u1",
  item: "p1",
  ts,
  value,
});
const apply = (events: QueuedEvent[]) => applyEvents(emptyProfile("u1", "2027-01-01T00:00:00Z"), events, "now");

describe("exposure", () => {
  it("keeps the first exposure applied: its arm and its window", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 1000 }), { minLength: 1, maxLength: 6 }), (times) => {
        let x = {};
        for (const [i, t] of times.entries()) x = withExposure(x, facts({ arm: `a${i}` }), T + t);
        const e1 = (x as Record<string, { at: number; arm: string; until: number }>).e1;
        expect(e1).toMatchObject({
          arm: "a0",
          at: T + (times[0] as number),
          until: T + (times[0] as number) + 7 * 86400,
        });
      }),
    );
  });

  it("a click carrying the open's exposure is counted for it, in one event", () => {
    const r = apply([{ ...click("c1", T), exposures: [facts({ block: "picks" })] }]);
    expect(r.experimentRows.map((x) => [x.kind, "arm" in x ? x.arm : null])).toEqual([
      ["exposure", "personal"],
      ["click", "personal"],
    ]);
    expect(r.experimentRows[0]).toMatchObject({ block: "picks", at: T });
    // the window runs from that click
    expect(r.profile.experiments.e1?.until).toBe(T + 7 * 86400);
  });

  it("keeps an arm assigned at the send: the open exposes it, and nothing counts before", () => {
    const r = apply([
      assignment(T, { arm: "subject-b" }),
      click("c0", T + 5),
      exposure("exposure:e1", T + 10, { arm: "subject-a" }),
      click("c1", T + 20),
    ]);
    expect(r.profile.experiments.e1).toMatchObject({ arm: "subject-b", exposed: true, at: T + 10 });
    // the send's row (reports per sent reader count it), then the open's, in the assigned arm
    expect(r.experimentRows.map((x) => [x.kind, "arm" in x ? x.arm : null])).toEqual([
      ["assignment", "subject-b"],
      ["exposure", "subject-b"],
      ["click", "subject-b"],
    ]);
    expect(r.experimentRows[1]).toMatchObject({ via: "open" });
    // the phase the send drew the arm in goes with it: an open in a later phase does not make it that phase's
    const phased = apply([assignment(T, { phase: 5 }), exposure("exposure:e1", T + 10, { phase: 9 })]).experimentRows;
    expect(phased.map((x) => [x.kind, "phase" in x ? x.phase : undefined])).toEqual([
      ["assignment", 5],
      ["exposure", 5],
    ]);
    // an assignment applied after the open (a retried message) in the reader's arm: they were sent, so its row
    // is written (the store keeps the first per reader); in another arm, none; the global holdout's, none
    expect(apply([exposure("exposure:e1", T), assignment(T + 5)]).experimentRows.map((x) => x.kind)).toEqual([
      "exposure",
      "assignment",
    ]);
    expect(
      apply([exposure("exposure:e1", T), assignment(T + 5, { arm: "other" })]).experimentRows.map((x) => x.kind),
    ).toEqual(["exposure"]);
    expect(apply([assignment(T, { experiment: "global-holdout" })]).experimentRows).toEqual([]);
    const later = withExposure(r.profile.experiments, facts({ arm: "other" }), T + 30, false);
    expect(later).toBe(r.profile.experiments);
  });

  it("a reader exposed by a click whose open arrives after it is an opener after all", () => {
    const clickWithExposure: QueuedEvent = { ...click("c1", T + 5), exposures: [facts()] };
    // the click's message applied first, the open's (earlier, retried) after it
    const first = apply([clickWithExposure]);
    const r = applyEvents(first.profile, [exposure("exposure:e1", T + 1)], "now");
    expect([...first.experimentRows, ...r.experimentRows].map((x) => [x.kind, "via" in x ? x.via : undefined])).toEqual(
      [
        ["exposure", "click"],
        ["click", undefined],
        ["opened", undefined],
      ],
    );
    expect(r.profile.experiments.e1?.via).toBeUndefined();
    // a repeat open changes nothing more
    expect(applyEvents(r.profile, [exposure("exposure:e1-again", T + 9)], "now").experimentRows).toEqual([]);
    // seen only by the click: it stays so
    expect(first.profile.experiments.e1?.via).toBe("click");
  });

  it("counts the same whatever order an open, the click that carried it and purchases arrive in (property)", () => {
    // the experiment store as experiment-db.ts writes it: the first exposure row; an `opened` row turns a click's
    // exposure into an open's, moving it back and taking back outcomes past the window it starts; outcomes once
    const stored = (batches: QueuedEvent[][]) => {
      let profile = emptyProfile("u1", "2027-01-01T00:00:00Z");
      let exposed: { at: number; via: string } | null = null;
      const outcomes = new Map<string, number>();
      const earlier: QueuedEvent[] = [];
      for (const batch of batches) {
        const r = applyEvents(profile, batch, "now");
        const late = lateAttributedRows(earlier, r.profile.experiments, windowsStarted(r.experimentRows));
        for (const row of [...r.experimentRows, ...late]) {
          if (row.kind === "exposure") exposed ??= { at: row.at, via: row.via };
          if (row.kind === "opened" && exposed?.via === "click") {
            if (row.at !== undefined && row.until !== undefined) {
              for (const [id, at] of outcomes) if (at > row.until) outcomes.delete(id);
              exposed.at = Math.min(exposed.at, row.at);
            }
            exposed.via = "open";
          }
          if ((row.kind === "click" || row.kind === "purchase") && !outcomes.has(row.event))
            outcomes.set(row.event, row.at);
        }
        profile = r.profile;
        earlier.push(...batch.filter((e) => e.type === "purchase" || e.type === "email_click"));
      }
      return { exposed, outcomes: [...outcomes.keys()].sort() };
    };
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 3 * 86400 }),
        fc.array(fc.integer({ min: -86400, max: 12 * 86400 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(3), { minLength: 8, maxLength: 8 }),
        (clickAfter, buys, batchOf) => {
          const events: QueuedEvent[] = [
            exposure("exposure:e1", T),
            { ...click("c1", T + clickAfter), exposures: [facts()] },
            ...buys.map((at, i) => purchase(`b${i}`, T + at)),
          ];
          const batches = [0, 1, 2, 3].map((b) => events.filter((_, i) => (batchOf[i] ?? 0) === b));
          expect(stored(batches)).toEqual(stored([events]));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("attributes clicks on the campaign and purchases inside the window, once per event", () => {
    const r = apply([
      purchase("before", T - 1),
      exposure("exposure:e1", T),
      click("c1", T + 1),
      click("other", T + 2, "autumn"),
      purchase("p1", T + 3, 25),
      purchase("late", T + 8 * 86400),
      purchase("p1", T + 3, 25),
    ]);
    expect(r.experimentRows.map((x) => ("event" in x ? x.event : x.kind))).toEqual(["exposure", "c1", "p1"]);
    expect(r.experimentRows[2]).toMatchObject({ kind: "purchase", value: 25, arm: "personal", slot: null });
    expect(r.experimentRows[1]).toMatchObject({ kind: "click", slot: "row-0", item: "p1" });
  });

  it("credits clicks and purchases applied before an exposure they followed, as if it had come first", () => {
    const earlier = [
      purchase("before", T - 1),
      click("c1", T + 1),
      click("other", T + 2, "autumn"),
      purchase("p1", T + 3, 25),
    ];
    // the outcomes applied first: nothing to attribute then
    const first = apply(earlier);
    expect(first.experimentRows).toEqual([]);
    // the exposure arrives: the late rows equal what the events in time order make
    const then = applyEvents(first.profile, [exposure("exposure:e1", T)], "now");
    const newly = then.experimentRows.filter((r) => r.kind === "exposure").map((r) => r.experiment);
    expect(newly).toEqual(["e1"]);
    const late = lateAttributedRows(earlier, then.profile.experiments, newly);
    const inOrder = apply([exposure("exposure:e1", T), ...earlier]).experimentRows.filter((r) => r.kind !== "exposure");
    expect(late).toEqual(inOrder);
    expect(late.map((r) => ("event" in r ? r.event : r.kind))).toEqual(["c1", "p1"]);
    // only the experiments the late exposure newly exposed are credited: one exposed before the outcomes (whose
    // rows they made as they applied) is not credited again
    const before = applyEvents(
      emptyProfile("u1", "2027-01-01T00:00:00Z"),
      [exposure("exposure:e0", T - 10, { experiment: "e0" }), ...earlier],
      "now",
    );
    expect(before.experimentRows.filter((r) => r.kind !== "exposure").map((r) => r.experiment)).toEqual([
      "e0",
      "e0",
      "e0",
    ]);
    const after = applyEvents(before.profile, [exposure("exposure:e1", T)], "now").profile.experiments;
    expect(Object.keys(after).sort()).toEqual(["e0", "e1"]);
    const credited = lateAttributedRows(earlier, after, ["e1"]);
    expect(credited.map((r) => r.experiment)).toEqual(["e1", "e1"]);
  });

  it("counts any campaign's clicks for the global holdout", () => {
    const x = withExposure({}, facts({ experiment: "global-holdout", campaign: ANY_CAMPAIGN }), T);
    expect(attributedRows(click("c", T + 1, "whatever"), x)).toHaveLength(1);
  });

  it("keeps the newest MAX_EXPOSURES and a profile that validates", () => {
    let x = {};
    for (let i = 0; i < MAX_EXPOSURES + 5; i++) x = withExposure(x, facts({ experiment: `e${i}` }), T + i);
    expect(Object.keys(x)).toHaveLength(MAX_EXPOSURES);
    expect(Object.keys(x)).not.toContain("e0");
    const profile = { ...emptyProfile("u1", "2027-01-01T00:00:00Z"), experiments: x };
    expect(ProfileV3Schema.safeParse(profile).success).toBe(true);
    // one applied late with an older time than all of them is kept (its store row is written): the oldest other goes
    const late = withExposure(x, facts({ experiment: "late" }), T - 100);
    expect(Object.keys(late)).toHaveLength(MAX_EXPOSURES);
    expect(late.late?.at).toBe(T - 100);
    expect(Object.keys(late)).not.toContain("e5");
    expect(attributedRows(purchase("p-late", T - 50), late).map((r) => r.experiment)).toEqual(["late"]);
  });

  it("never forgets the reader's global holdout arm, however many experiments come after it", () => {
    let x: Exposures = withExposure(
      {},
      facts({ experiment: "global-holdout", arm: "holdout", campaign: ANY_CAMPAIGN }),
      T,
    );
    for (let i = 0; i < MAX_EXPOSURES + 5; i++) x = withExposure(x, facts({ experiment: `e${i}` }), T + 1 + i);
    expect(Object.keys(x)).toHaveLength(MAX_EXPOSURES);
    expect(x["global-holdout"]?.arm).toBe("holdout");
    // the oldest of the others went
    expect(Object.keys(x)).not.toContain("e5");
    expect(Object.keys(x)).toContain("e6");
  });
});
