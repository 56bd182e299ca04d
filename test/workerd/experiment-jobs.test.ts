/**
 * The Cron Triggers' jobs and the dashboard, in workerd with real KV, D1 and the fixture model: the bandit's
 * hourly update moves a bandit's weights toward the arm that converts better, never under its floor, and records
 * the shares, past 1,000 stored experiments too (the admin list and the dashboard page through them); the daily
 * drift job measures today's readers against the manifest's reference and alerts above its thresholds (a feature
 * only with enough readers; the calibration once its 30 days are over, then kept); the dashboard is behind the
 * admin key and shows the report's numbers.
 */
import {
  createExecutionContext,
  createScheduledController,
  env,
  runInDurableObject,
  waitOnExecutionContext,
} from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { base64ToBytes, base64ToFloat32, float32ToBase64 } from "../../core/base64";
import { CALIBRATION_MIN_READERS, DRIFT_MIN_READERS } from "../../core/drift";
import type { Experiment } from "../../core/experiments/experiment";
import { kvKeys } from "../../core/kv-keys";
import type { Profile } from "../../core/profile";
import { DRIFT_SAMPLE, runDrift } from "../../worker/drift/drift-job";
import { type DriftRun, freezeCalibration, frozenCalibration, recentDriftRuns } from "../../worker/drift/drift-store";
import { ensureSchema } from "../../worker/experiments/experiment-db";
import type { ExperimentReport } from "../../worker/experiments/experiment-report";
import { resetExperimentCache, runningExperiment } from "../../worker/experiments/experiment-store";
import { experimentRegistry } from "../../worker/experiments/registry-stub";
import worker from "../../worker/index";
import type { ExperimentRegistry } from "../../worker/state/experiment-registry";
import {
  ADMIN_HEADERS,
  clearExperimentRegistry,
  clearKv,
  fixture,
  putExperiment,
  seedModel,
  send,
} from "./support/harness";

/** runDrift called directly awaits what it starts: nothing to keep alive */
const ignore = () => undefined;

const db = () => env.DB as D1Database;

/** Exposures and clicks written as the shards write them (the store's own rows), at `at` (unix s). */
async function exposeAndClick(
  experiment: string,
  arm: string,
  exposed: number,
  clickers: number,
  at = Math.floor(Date.now() / 1000),
): Promise<void> {
  const day = new Date(at * 1000).toISOString().slice(0, 10);
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < exposed; i++) {
    const user = `${arm}-${at}-${i}`;
    statements.push(
      db()
        .prepare("INSERT INTO exposures (experiment, user, arm, campaign, at, day) VALUES (?, ?, ?, 'c', ?, ?)")
        .bind(experiment, user, arm, at, day),
    );
    if (i < clickers) {
      statements.push(
        db()
          .prepare(
            "INSERT INTO outcomes (experiment, user, event, kind, arm, slot, item, value, at, day) VALUES (?, ?, 'c1', 'click', ?, 'amp', 'p1', 0, ?, ?)",
          )
          .bind(experiment, user, arm, at, day),
      );
    }
  }
  await db().batch(statements);
}

async function scheduled(cron: string, bindings: typeof env = env): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), bindings, ctx);
  await waitOnExecutionContext(ctx);
}

beforeEach(async () => {
  await clearKv();
  await clearExperimentRegistry();
  await seedModel();
  resetExperimentCache();
  await ensureSchema(db());
  await db().batch([db().prepare("DELETE FROM exposures"), db().prepare("DELETE FROM outcomes")]);
});

const PERSONAL = { v: 2, default: { id: "picks", type: "recommendations" } };

describe("the bandit's hourly update", () => {
  it("moves the weights toward the better arm, keeps the floor, and records the shares", async () => {
    const res = await putExperiment("bandit-1", {
      campaign: "b",
      variants: [
        { id: "good", weight: 1, content: PERSONAL },
        { id: "poor", weight: 1, content: "popular" },
        { id: "awful", weight: 1, content: "popular" },
      ],
      bandit: { goal: "click", floor: 0.1 },
    });
    expect(res.status).toBe(200);
    await exposeAndClick("bandit-1", "good", 400, 80);
    await exposeAndClick("bandit-1", "poor", 400, 40);
    await exposeAndClick("bandit-1", "awful", 400, 8);
    await scheduled("0 * * * *");
    // the job writes its own key; the experiment as the admin stored it is untouched
    const weights = (await env.OPENTIME_KV.get(kvKeys.banditWeights("bandit-1"), "json")) as {
      weights: Record<string, number>;
    };
    const total = Object.values(weights.weights).reduce((s, w) => s + w, 0);
    const share = Object.fromEntries(Object.entries(weights.weights).map(([id, w]) => [id, w / total]));
    const stored = (await env.OPENTIME_KV.get(kvKeys.campaignExperiment("b"), "json")) as {
      variants: { weight: number }[];
    };
    expect(stored.variants.map((v) => v.weight)).toEqual([1, 1, 1]);
    // opens read the experiment with the bandit's weights over it
    resetExperimentCache();
    const served = await runningExperiment(env.OPENTIME_KV, "b");
    expect(served?.variants.map((v) => v.weight)).toEqual(Object.values(weights.weights));
    // its report checks no sample ratio: the weights move by design
    const report = (await (
      await send("/v1/admin/experiments/bandit-1/report", { headers: ADMIN_HEADERS })
    ).json()) as ExperimentReport;
    expect(report.srm).toBeNull();
    expect(share.good).toBeGreaterThan(0.75);
    expect(share.poor).toBeCloseTo(0.1, 2);
    expect(share.awful).toBeCloseTo(0.1, 2);
    const recorded = await db().prepare("SELECT shares FROM bandit_shares WHERE experiment = 'bandit-1'").all();
    expect(recorded.results).toHaveLength(1);
    // a fixed experiment is left alone
    const fixed = [
      { id: "a", weight: 3, content: "popular" },
      { id: "b", weight: 1, content: "popular" },
    ];
    expect((await putExperiment("fixed-1", { campaign: "f", variants: fixed })).status).toBe(200);
    await scheduled("0 * * * *");
    expect(
      ((await env.OPENTIME_KV.get(kvKeys.experiment("fixed-1"), "json")) as { variants: { weight: number }[] })
        .variants[0]?.weight,
    ).toBe(3);
  });

  it("gives a variant added to a running bandit an equal share until the next update weighs it", async () => {
    const arms = [
      { id: "good", weight: 1, content: PERSONAL },
      { id: "poor", weight: 1, content: "popular" },
    ];
    const bandit = { goal: "click", floor: 0.1 };
    expect((await putExperiment("bandit-add", { campaign: "ba", variants: arms, bandit })).status).toBe(200);
    await exposeAndClick("bandit-add", "good", 400, 80);
    await exposeAndClick("bandit-add", "poor", 400, 8);
    await scheduled("0 * * * *");
    // a third arm, added with the weight a marketer would give it beside two arms of 1
    const added = [...arms, { id: "fresh", weight: 1, content: "popular" }];
    expect((await putExperiment("bandit-add", { campaign: "ba", variants: added, bandit })).status).toBe(200);
    resetExperimentCache();
    const served = (await runningExperiment(env.OPENTIME_KV, "ba")) as Experiment;
    const weights = Object.fromEntries(served.variants.map((v) => [v.id, v.weight]));
    const total = Object.values(weights).reduce((a, b) => a + b, 0);
    // one arm in three, not its weight of 1 against the bandit's 100 (about 1%)
    expect((weights.fresh as number) / total).toBeCloseTo(1 / 3, 5);
    // the other two share the rest as the bandit ordered them, poor (at its floor before) still at it
    const bandits = (await env.OPENTIME_KV.get(kvKeys.banditWeights("bandit-add"), "json")) as {
      weights: Record<string, number>;
    };
    expect(bandits.weights.good as number).toBeGreaterThan(bandits.weights.poor as number);
    expect(weights.good as number).toBeGreaterThan(weights.poor as number);
    expect((weights.poor as number) / total).toBeCloseTo(0.1, 6);
  });

  it("a bandit turned off serves the weights the PUT gives, not the bandit's last", async () => {
    const arms = [
      { id: "good", weight: 1, content: PERSONAL },
      { id: "poor", weight: 1, content: "popular" },
    ];
    const bandit = { goal: "click", floor: 0.1 };
    expect((await putExperiment("bandit-off", { campaign: "bo", variants: arms, bandit })).status).toBe(200);
    await exposeAndClick("bandit-off", "good", 400, 80);
    await exposeAndClick("bandit-off", "poor", 400, 8);
    await scheduled("0 * * * *");
    expect(await env.OPENTIME_KV.get(kvKeys.banditWeights("bandit-off"))).not.toBeNull();
    // the marketer fixes the shares at 1:3 and turns the bandit off
    const fixed = [
      { id: "good", weight: 1, content: PERSONAL },
      { id: "poor", weight: 3, content: "popular" },
    ];
    expect((await putExperiment("bandit-off", { campaign: "bo", variants: fixed })).status).toBe(200);
    resetExperimentCache();
    const served = (await runningExperiment(env.OPENTIME_KV, "bo")) as Experiment;
    expect(served.variants.map((v) => [v.id, v.weight])).toEqual([
      ["good", 1],
      ["poor", 3],
    ]);
  });

  it("keeps every arm at its floor between updates: beside an added variant, or under a floor raised since", async () => {
    const arms = [
      { id: "good", weight: 1, content: PERSONAL },
      { id: "poor", weight: 1, content: "popular" },
    ];
    expect(
      (await putExperiment("bandit-floor", { campaign: "bf", variants: arms, bandit: { floor: 0.1 } })).status,
    ).toBe(200);
    await exposeAndClick("bandit-floor", "good", 400, 80);
    await exposeAndClick("bandit-floor", "poor", 400, 8);
    await scheduled("0 * * * *");
    const shares = async () => {
      resetExperimentCache();
      const served = (await runningExperiment(env.OPENTIME_KV, "bf")) as Experiment;
      const total = served.variants.reduce((s, v) => s + v.weight, 0);
      return Object.fromEntries(served.variants.map((v) => [v.id, v.weight / total]));
    };
    // the update kept poor at its floor: 90% / 10%
    expect((await shares()).poor).toBeCloseTo(0.1, 6);
    // a third arm takes one share in three; poor stays at its floor, good gives up the rest
    const added = [...arms, { id: "fresh", weight: 1, content: "popular" }];
    expect(
      (await putExperiment("bandit-floor", { campaign: "bf", variants: added, bandit: { floor: 0.1 } })).status,
    ).toBe(200);
    const three = await shares();
    expect(three.fresh).toBeCloseTo(1 / 3, 6);
    expect(three.poor).toBeCloseTo(0.1, 6);
    expect(three.good).toBeCloseTo(1 - 1 / 3 - 0.1, 6);
    // a floor raised to 0.3 holds from the PUT on, not from the next hourly update
    expect(
      (await putExperiment("bandit-floor", { campaign: "bf", variants: added, bandit: { floor: 0.3 } })).status,
    ).toBe(200);
    const raised = await shares();
    expect(raised.poor).toBeCloseTo(0.3, 6);
    expect(raised.fresh).toBeCloseTo(1 / 3, 6);
    expect(raised.good).toBeCloseTo(1 - 1 / 3 - 0.3, 6);
  });

  it("compares arms hour by hour: shares that moved while the rates fell do not make an arm look worse", async () => {
    const res = await putExperiment("bandit-3", {
      campaign: "b3",
      variants: [
        { id: "a", weight: 1, content: PERSONAL },
        { id: "b", weight: 1, content: "popular" },
      ],
      bandit: { goal: "click", floor: 0.05 },
    });
    expect(res.status).toBe(200);
    // the same click rate in both arms each hour (12%, then 3%), but b got most of its readers in the low hour:
    // pooled, a reads 7.5% and b 3.9% ("a +92%, p < 1e-15")
    const hour = 3600 * Math.floor(Date.now() / 1000 / 3600) - 7200;
    await exposeAndClick("bandit-3", "a", 200, 24, hour);
    await exposeAndClick("bandit-3", "b", 200, 24, hour);
    await exposeAndClick("bandit-3", "a", 200, 6, hour + 3600);
    await exposeAndClick("bandit-3", "b", 1800, 54, hour + 3600);
    const report = (await (
      await send("/v1/admin/experiments/bandit-3/report?intervals=fixed", { headers: ADMIN_HEADERS })
    ).json()) as ExperimentReport;
    expect(report.weighting).toBe("period");
    const [a, b] = ["a", "b"].map((id) => report.arms.find((x) => x.arm === id));
    expect(a?.exposed).toBe(400);
    expect(b?.exposed).toBe(2000);
    expect(a?.ctr).toBeCloseTo(0.045, 6);
    expect(b?.ctr).toBeCloseTo(0.045, 6);
    // b, the popular variant, is the control
    expect(report.control).toBe("b");
    const vs = a?.vsControl?.ctr.absolute;
    expect(vs?.ciLow).toBeLessThan(0);
    expect(vs?.ciHigh).toBeGreaterThan(0);
    expect(vs?.pValue).toBeGreaterThan(0.5);
    // the bandit's update reads the same: neither arm is the better
    await scheduled("0 * * * *");
    const weights = (await env.OPENTIME_KV.get(kvKeys.banditWeights("bandit-3"), "json")) as {
      weights: Record<string, number>;
    };
    const share = (weights.weights.a ?? 0) / ((weights.weights.a ?? 0) + (weights.weights.b ?? 0));
    expect(share).toBeGreaterThan(0.3);
    expect(share).toBeLessThan(0.7);
  });

  it("refuses floors that cannot all be met", async () => {
    const res = await putExperiment("bandit-2", {
      campaign: "b2",
      variants: [
        { id: "a", weight: 1, content: "popular" },
        { id: "b", weight: 1, content: "popular" },
        { id: "c", weight: 1, content: "popular" },
      ],
      bandit: { floor: 0.4 },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain("bandit.floor");
  });
});

/** The fixture's readers copied under new ids until there are `n` (the drift job judges a feature from 100). */
async function seedReaders(n: number): Promise<void> {
  const profiles = fixture().profiles;
  for (let i = profiles.length; i < n; i++) {
    const p = profiles[i % profiles.length] as (typeof profiles)[number];
    const userId = `copy-${i}-${p.userId}`;
    await env.OPENTIME_KV.put(kvKeys.profile(userId), JSON.stringify({ ...p, userId }));
  }
}

async function latestDriftRun(): Promise<DriftRun> {
  const row = await db().prepare("SELECT result FROM drift_runs ORDER BY at DESC LIMIT 1").first<{ result: string }>();
  return JSON.parse(row?.result ?? "{}") as DriftRun;
}

/**
 * `n` stopped experiments stored as the registry stores them, its rows and their KV records (ids `old-0000`..):
 * experiments are never deleted, so a shop's stopped ones pile up.
 */
async function storeStopped(n: number, template: Experiment): Promise<void> {
  const stopped = Array.from({ length: n }, (_, i): Experiment => {
    const id = `old-${String(i).padStart(4, "0")}`;
    return { ...template, id, seed: id, campaign: `old-campaign-${i}`, status: "stopped" };
  });
  await runInDurableObject(experimentRegistry(env), async (_: ExperimentRegistry, state) => {
    for (const e of stopped)
      state.storage.sql.exec(
        "INSERT INTO experiments (id, campaign, running, body) VALUES (?, ?, 0, ?)",
        e.id,
        e.campaign,
        JSON.stringify(e),
      );
  });
  for (let i = 0; i < stopped.length; i += 100)
    await Promise.all(
      stopped.slice(i, i + 100).map((e) => env.OPENTIME_KV.put(kvKeys.experiment(e.id), JSON.stringify(e))),
    );
}

describe("past 1,000 stored experiments", () => {
  it("updates a running bandit sorting after them, lists them a page at a time, and the dashboard opens any", async () => {
    const res = await putExperiment("zz-bandit", {
      campaign: "zb",
      variants: [
        { id: "good", weight: 1, content: PERSONAL },
        { id: "poor", weight: 1, content: "popular" },
      ],
      bandit: { goal: "click", floor: 0.1 },
    });
    expect(res.status).toBe(200);
    const template = ((await res.json()) as { experiment: Experiment }).experiment;
    await storeStopped(1100, template);
    await exposeAndClick("zz-bandit", "good", 400, 80);
    await exposeAndClick("zz-bandit", "poor", 400, 8);
    await scheduled("0 * * * *");
    const weights = (await env.OPENTIME_KV.get(kvKeys.banditWeights("zz-bandit"), "json")) as {
      weights: Record<string, number>;
    } | null;
    expect(weights?.weights.good).toBeGreaterThan(weights?.weights.poor ?? Infinity);
    // the list: 1,000 a page, then the rest after the cursor
    const page = async (query: string) =>
      (await (await send(`/v1/admin/experiments${query}`, { headers: ADMIN_HEADERS })).json()) as {
        ids: string[];
        cursor: string | null;
      };
    const first = await page("");
    expect(first.ids).toHaveLength(1000);
    expect(first.cursor).toBe("old-0999");
    const second = await page(`?cursor=${first.cursor}`);
    expect(second.ids).toHaveLength(101);
    expect(second.ids.at(-1)).toBe("zz-bandit");
    expect(second.cursor).toBeNull();
    expect(await page("?limit=2&cursor=old-1098")).toEqual({ ids: ["old-1099", "zz-bandit"], cursor: null });
    expect((await send("/v1/admin/experiments?limit=0", { headers: ADMIN_HEADERS })).status).toBe(400);
    // the dashboard's picker lists the first 1,000; asked for, the bandit after them is shown
    const html = await (await send("/dashboard?experiment=zz-bandit", { headers: ADMIN_HEADERS })).text();
    expect(html).toContain('data-metric="good:exposed" data-value="400"');
  });
});

describe("the daily drift job", () => {
  it("measures today's readers against the training reference, stores the run and alerts above the thresholds", async () => {
    // enough copies that every feature has DRIFT_MIN_READERS readers (30% of the fixture have no propensity)
    await seedReaders(2 * DRIFT_MIN_READERS);
    const logs: string[] = [];
    const warn = console.warn;
    console.warn = (line: string) => logs.push(line);
    try {
      await scheduled("30 4 * * *", { ...env, DRIFT_PSI_ALERT: "0.000001" });
    } finally {
      console.warn = warn;
    }
    const run = await latestDriftRun();
    expect(run.readers).toBeGreaterThanOrEqual(DRIFT_MIN_READERS);
    expect(Object.keys(run.features).sort()).toEqual([
      "daysSinceLastPurchase",
      "itemsBought",
      "propensity",
      "topScore",
    ]);
    // the fixture's readers are the training's own: their top scores are drawn from the reference itself
    expect(run.features.topScore?.psi).toBeLessThan(0.25);
    // above a threshold every measure alerts; at the default one, the readers' own scores do not
    expect(run.alerts).toEqual(expect.arrayContaining(["topScore", "propensity"]));
    expect(logs.some((l) => l.includes('"drift.alert"') && l.includes('"topScore"'))).toBe(true);
    await scheduled("30 4 * * *");
    expect((await latestDriftRun()).alerts).not.toContain("topScore");
  });

  it("leaves a reader whose stored factors are not finite out of the top score, as their opens leave them", async () => {
    const before = await runDrift(env, Date.now(), ignore);
    const scored = before?.features.topScore?.n ?? 0;
    expect(scored).toBeGreaterThan(0);
    // copies of readers with factors, each vector made NaN (or Infinity) where it is stored
    const withFactors = fixture()
      .profiles.filter((p) => p.factors !== null)
      .slice(0, 6);
    expect(withFactors).toHaveLength(6);
    for (const [i, p] of withFactors.entries()) {
      const factors = p.factors as NonNullable<Profile["factors"]>;
      const bad = base64ToFloat32(factors.vector).map((v, j) => (j === 0 ? (i % 2 ? Infinity : Number.NaN) : v));
      const userId = `not-finite-${i}`;
      const profile = { ...p, userId, factors: { ...factors, vector: float32ToBase64(bad) } };
      await env.OPENTIME_KV.put(kvKeys.profile(userId), JSON.stringify(profile));
    }
    const after = await runDrift(env, Date.now(), ignore);
    expect(after?.readers).toBe((before?.readers ?? 0) + withFactors.length);
    expect(after?.features.topScore?.n).toBe(scored);
  });

  it("stores the PSI of a feature too few readers have, flagged, and never alerts on it", async () => {
    expect(fixture().profiles.length).toBeLessThan(DRIFT_MIN_READERS);
    await scheduled("30 4 * * *", { ...env, DRIFT_PSI_ALERT: "0.000001" });
    const run = await latestDriftRun();
    expect(run.readers).toBe(fixture().profiles.length);
    for (const f of Object.values(run.features)) {
      expect(f?.notJudged).toBe("too-few-readers");
      expect(f?.psi).toBeGreaterThan(0.000001);
    }
    // nor on the calibration of so few (a figure it would have kept for the model's life): shown, not judged
    expect(run.calibration?.window).toBe("complete");
    expect(run.calibration?.notJudged).toBe("too-few-readers");
    const strict = await runDrift(
      { ...env, DRIFT_PSI_ALERT: "0.000001", DRIFT_ECE_ALERT: "0.000001" },
      Date.now(),
      ignore,
    );
    expect(strict?.alerts).toEqual([]);
    const kept = await db().prepare("SELECT count(*) AS n FROM drift_calibration").first<{ n: number }>();
    expect(kept?.n).toBe(0);
    // the dashboard shows the PSI, and that it was not judged
    const html = await (await send("/dashboard", { headers: ADMIN_HEADERS })).text();
    expect(html).toContain('data-metric="psi:propensity"');
    expect(html).toContain("too few readers to judge (under 100)");
    expect(html).toContain(`too few readers to judge: under ${CALIBRATION_MIN_READERS}`);
    expect(html).not.toContain('class="bad">drift<');
  });

  it("takes no figure an earlier version kept from too few readers as the model's: shown, not judged, replaced", async () => {
    await recentDriftRuns(db());
    await db().batch([db().prepare("DELETE FROM drift_calibration"), db().prepare("DELETE FROM drift_runs")]);
    const version = (JSON.parse(fixture().manifestJson) as { version: string }).version;
    // kept before CALIBRATION_MIN_READERS: 50 readers' figure, frozen for the model's life
    const old = { ece: 0.5, n: 50, window: "complete", measuredAt: "2026-01-01T00:00:00.000Z" };
    await db()
      .prepare("INSERT INTO drift_calibration (model, result) VALUES (?, ?)")
      .bind(version, JSON.stringify(old))
      .run();
    const run = await runDrift(env, Date.now(), ignore);
    expect(run?.alerts).not.toContain("calibration");
    expect(run?.calibration?.measuredAt).not.toBe(old.measuredAt);
    // the first figure of enough readers replaces it, and is then kept
    const judged = {
      ece: 0.05,
      n: CALIBRATION_MIN_READERS,
      window: "complete" as const,
      measuredAt: "2026-02-01T00:00:00.000Z",
    };
    expect(await freezeCalibration(db(), version, judged)).toEqual(judged);
    expect(await freezeCalibration(db(), version, { ...judged, ece: 0.2 })).toEqual(judged);
    expect(await frozenCalibration(db(), version)).toEqual(judged);
  });

  it("measures the calibration once the 30 days are over and keeps that figure as the model ages", async () => {
    await recentDriftRuns(db());
    await db().batch([db().prepare("DELETE FROM drift_calibration"), db().prepare("DELETE FROM drift_runs")]);
    const f = fixture();
    const asOf = (JSON.parse(f.manifestJson) as { reference: { asOf: number } }).reference.asOf;
    const day = 86400;
    // enough readers with a propensity to judge (CALIBRATION_MIN_READERS), all of them in the job's sample
    const withP = f.profiles.filter((p) => p.propensity !== null);
    await Promise.all(
      f.profiles.filter((p) => p.propensity === null).map((p) => env.OPENTIME_KV.delete(kvKeys.profile(p.userId))),
    );
    const readers = Array.from({ length: CALIBRATION_MIN_READERS + 40 }, (_, i) => {
      const p = withP[i % withP.length] as Profile;
      return i < withP.length ? p : { ...p, userId: `cal-${i}-${p.userId}` };
    });
    expect(readers.length).toBeLessThanOrEqual(DRIFT_SAMPLE);
    // every other reader bought within the 30 days after the training cutoff
    const buyers = readers.filter((_, i) => i % 2 === 0);
    const bought = (ts: number) => async (p: Profile) =>
      env.OPENTIME_KV.put(
        kvKeys.profile(p.userId),
        JSON.stringify({ ...p, purchases: [{ item: "later", invoices: 1, lastTs: ts }, ...p.purchases] }),
      );
    await Promise.all(readers.map((p) => env.OPENTIME_KV.put(kvKeys.profile(p.userId), JSON.stringify(p))));
    await Promise.all(buyers.map(bought(asOf + 5 * day)));
    const strict = { ...env, DRIFT_ECE_ALERT: "0.000001" };
    const at = (days: number) => (asOf + days * day) * 1000;
    // within the 30 days: partial, shown, never an alert
    const early = await runDrift(strict, at(10), ignore);
    expect(early?.calibration?.window).toBe("partial");
    expect(early?.alerts).not.toContain("calibration");
    // the first run past them measures it, and stores it
    const first = await runDrift(strict, at(31), ignore);
    expect(first?.calibration?.window).toBe("complete");
    expect(first?.calibration?.n).toBeGreaterThanOrEqual(CALIBRATION_MIN_READERS);
    expect(first?.calibration?.notJudged).toBeUndefined();
    expect(first?.calibration?.measuredAt).toBe(new Date(at(31)).toISOString());
    expect(first?.alerts).toContain("calibration");
    // the buyers buy the same item again after the window: the summary keeps only that time, so measured now
    // they would read as not having bought
    await Promise.all(buyers.map(bought(asOf + 40 * day)));
    const later = await runDrift(strict, at(45), ignore);
    expect(later?.calibration).toEqual(first?.calibration);
    const html = await (await send("/dashboard", { headers: ADMIN_HEADERS })).text();
    expect(html).toContain(`data-metric="ece" data-value="${first?.calibration?.ece}"`);
    expect(html).toContain("when the 30 days were over, and kept");
  });
});

describe("the dashboard", () => {
  it("needs the admin key off loopback, and shows the report's numbers", async () => {
    expect((await send("/dashboard")).status).toBe(401);
    await putExperiment("dash-1", {
      campaign: "d",
      variants: [
        { id: "personal", weight: 1, content: PERSONAL },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    await exposeAndClick("dash-1", "personal", 120, 30);
    await exposeAndClick("dash-1", "popular", 110, 11);
    const page = await send("/dashboard?experiment=dash-1", { headers: ADMIN_HEADERS });
    expect(page.status).toBe(200);
    const html = await page.text();
    const report = (await (
      await send("/v1/admin/experiments/dash-1/report", { headers: ADMIN_HEADERS })
    ).json()) as ExperimentReport;
    for (const arm of report.arms) {
      expect(html).toContain(`data-metric="${arm.arm}:exposed" data-value="${arm.exposed}"`);
      expect(html).toContain(`data-metric="${arm.arm}:ctr" data-value="${arm.ctr}"`);
    }
    const uplift = report.arms.find((a) => a.arm === "personal")?.vsControl?.ctr.relative;
    // at a hundred readers an arm the sequential interval cannot bound the control's rate away from 0, so the uplift
    // (Fieller's ratio) is unbounded and shown as – (its cell empty); the difference is shown
    expect(uplift).toBeNull();
    expect(html).toContain(`data-metric="personal:ctrUplift" data-value=""`);
    expect(html).toContain("<svg");
    expect(html).toContain("Sample ratio OK");
    expect(html).toContain("Per reader who opened (CTR is click-to-open)");
  });

  it("says that no experiment has an id it is asked for, lists the ones there are, and shows no other's report", async () => {
    await putExperiment("dash-known", {
      campaign: "d2",
      variants: [
        { id: "personal", weight: 1, content: PERSONAL },
        { id: "popular", weight: 1, content: "popular" },
      ],
    });
    await exposeAndClick("dash-known", "personal", 5, 1);
    for (const asked of ["dash-unknown", "x".repeat(600), "<b>bold</b>"]) {
      const page = await send(`/dashboard?experiment=${encodeURIComponent(asked)}`, { headers: ADMIN_HEADERS });
      expect(page.status).toBe(404);
      const html = await page.text();
      // not the first experiment's report passed off as the one asked for
      expect(html).not.toContain('data-testid="experiment-id"');
      expect(html).not.toContain('data-metric="personal:exposed"');
      const shownId = asked.length > 64 ? `${asked.slice(0, 64)}…` : asked;
      const escaped = shownId.replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/\//g, "&#x2F;");
      expect(html).toContain(`No experiment has the id “${escaped}”`);
      expect(html).not.toContain("<b>bold</b>");
      // the ones there are, each a link; and the rest of the page (model health) as ever
      expect(html).toContain('href="?experiment=dash-known"');
      expect(html).toContain('data-testid="model-health"');
    }
    // no id asked for: the first experiment, as before
    const first = await send("/dashboard", { headers: ADMIN_HEADERS });
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('data-testid="experiment-id">dash-known<');
  });
});

describe("model versions from the admin API and the dashboard", () => {
  it("activates a version only after its check, rolls back, and the dashboard's form needs its own origin", async () => {
    const f = fixture();
    const refused = await send("/v1/admin/models/activate", {
      method: "POST",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ version: "not-stored" }),
    });
    expect(refused.status).toBe(409);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("MODEL_REFUSED");
    // a second version: the same parts under another name
    const copy = `${f.version}-copy`;
    const manifest = { ...JSON.parse(f.manifestJson), version: copy };
    await env.OPENTIME_KV.put(kvKeys.manifest(copy), JSON.stringify(manifest));
    await env.OPENTIME_KV.put(kvKeys.catalog(copy), f.catalogJson);
    await env.OPENTIME_KV.put(kvKeys.onnx(copy), base64ToBytes(f.onnxBase64));
    const moved = await send("/v1/admin/models/activate", {
      method: "POST",
      headers: ADMIN_HEADERS,
      body: JSON.stringify({ version: copy }),
    });
    expect(moved.status).toBe(200);
    expect(await moved.json()).toMatchObject({ previous: { version: f.version }, pointer: { version: copy } });
    // the dashboard's rollback button: refused from another origin, done from its own
    const form = (origin: string) =>
      send("/dashboard/models/rollback", { method: "POST", headers: { ...ADMIN_HEADERS, Origin: origin } });
    expect((await form("https://evil.example")).status).toBe(403);
    const back = await form("https://opentime.test");
    expect(back.status).toBe(303);
    expect(back.headers.get("Location")).toBe(`/dashboard?model=rolled-back&version=${f.version}`);
    expect(((await env.OPENTIME_KV.get(kvKeys.activeModel, "json")) as { version: string }).version).toBe(f.version);
    const page = await (await send("/dashboard", { headers: ADMIN_HEADERS })).text();
    expect(page).toContain(`value="${copy}"`);
    // its activate button posts that form; a body past the form's size is refused before it is parsed
    const activate = (body: string) =>
      send("/dashboard/models/activate", {
        method: "POST",
        headers: {
          Authorization: ADMIN_HEADERS.Authorization,
          "Content-Type": "application/x-www-form-urlencoded",
          Origin: "https://opentime.test",
        },
        body,
      });
    const huge = await activate(`version=${copy}&pad=${"x".repeat(100_000)}`);
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { error: { code: string } }).error.code).toBe("PAYLOAD_TOO_LARGE");
    const again = await activate(new URLSearchParams({ version: copy }).toString());
    expect(again.status).toBe(303);
    expect(again.headers.get("Location")).toBe(`/dashboard?model=activated&version=${copy}`);
  });
});
