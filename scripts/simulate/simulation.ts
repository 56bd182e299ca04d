/**
 * The experiment simulation (`npm run simulate`): a demo campaign sent to simulated readers through a running
 * Worker, every step through its real API. It stores a campaign and an experiment on it (a personalized
 * variant against popular items, half each), posts each reader's history (views in their favourite
 * categories: the Worker folds them in), opens the email for the readers who open (the Worker assigns,
 * serves and records the exposure), then posts the clicks and purchases the readers make given what they were
 * shown (reader-model.ts), and waits until the Worker's experiment store counts them. It ends with the
 * report's figures per variant, the uplift, the sample-ratio check, and whether the store's counts equal the
 * simulation's own. With `skew`, the simulated mail client loses that share of the control's opens (an
 * exposure imbalance the sample-ratio check must catch).
 */
import { assign } from "../../core/experiments/assignment";
import { type Experiment, ExperimentSchema } from "../../core/experiments/experiment";
import { type ArmCounts, controlOf, type ExperimentResults } from "../../core/experiments/report";
import { fnv1a32 } from "../../core/fnv";
import type { Estimate } from "../../core/stats/estimate";
import { mintToken } from "../../core/token";
import { Rng } from "../lib/rng";
import {
  buyProbability,
  clickedIndex,
  clickProbability,
  HISTORY_VIEWS,
  OPEN_RATE,
  type SimReader,
} from "./reader-model";

export interface SimProduct {
  id: string;
  category: string;
  price: number;
}

export interface SimulationOptions {
  send: (path: string, init?: RequestInit) => Promise<Response>;
  adminKey: string;
  eventsKey: string;
  /** the Worker's TOKEN_SECRET: the simulation mints the email's tokens as `npm run email` does */
  tokenSecret: string;
  /** an allowed AMP sender (AMP_ALLOWED_SENDERS) */
  sender: string;
  readers: readonly SimReader[];
  products: readonly SimProduct[];
  seed: number;
  /** share of the control's opens the mail client loses (0: none) */
  skew: number;
  /** names the campaign, the experiment and the events, so that runs never share them (readers may repeat) */
  runId: string;
  concurrency: number;
  /** how long to wait for the store to count everything */
  settleSeconds: number;
  log: (line: string) => void;
}

export interface VariantFigures {
  assigned: number;
  exposed: number;
  clicks: number;
  purchases: number;
  ctr: number | null;
  conversion: number | null;
}

interface Interval {
  estimate: number | null;
  ci_low: number | null;
  ci_high: number | null;
}

export interface SimulationResult {
  experiment: string;
  readers: number;
  variants: Record<string, VariantFigures>;
  uplift: { ctr: Interval; conversion: Interval };
  srm_p: number | null;
  /** the Worker's store counted exactly the exposures, clicks and purchases the simulation made */
  reconciled: boolean;
  /** what the simulation itself made, per variant */
  simulated: Record<string, { exposed: number; clicks: number; purchases: number }>;
  /** exposures the Worker served another arm than the hashes give (must be 0) */
  arm_mismatches: number;
  /** per arm, how many opens the Worker served with each `X-Opentime-Reason` */
  served: Record<string, Record<string, number>>;
  /**
   * opens of the personalized arm the Worker did not personalize (any reason but `personalized`: a model or
   * profile it could not use). Must be 0: else the uplift measures a fallback, not personalization.
   */
  unpersonalized: number;
  seconds: number;
}

const PERSONALIZED = "personalized";
const CONTROL = "popular";
const AMP_ITEMS = 6;
const EVENTS_PER_POST = 500;

/** What the simulation reads of the report (the API's JSON: core/experiments/report.ts). */
type Report = Pick<ExperimentResults, "arms" | "srm">;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs `work` over `items`, `concurrency` at a time. */
async function pool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
}

export async function runSimulation(o: SimulationOptions): Promise<SimulationResult> {
  const started = Date.now();
  const admin = { Authorization: `Bearer ${o.adminKey}`, "Content-Type": "application/json" };
  const json = async (path: string, init: RequestInit, expected = 200): Promise<unknown> => {
    const res = await o.send(path, init);
    if (res.status !== expected) throw new Error(`${init.method ?? "GET"} ${path}: ${res.status} ${await res.text()}`);
    return res.json();
  };
  const campaign = `sim-${o.runId}`;
  const experimentId = `sim-${o.runId}`;
  await json(`/v1/admin/campaigns/${campaign}`, {
    method: "PUT",
    headers: admin,
    body: JSON.stringify({ v: 2, default: { id: "picks", type: "recommendations" } }),
  });
  const stored = (await json(`/v1/admin/experiments/${experimentId}`, {
    method: "PUT",
    headers: admin,
    body: JSON.stringify({
      campaign,
      // the seed, not the run, places readers: the same --seed assigns the same readers to the same arms
      seed: `sim-${o.seed}`,
      variants: [
        { id: PERSONALIZED, weight: 1, content: { v: 2, default: { id: "picks", type: "recommendations" } } },
        { id: CONTROL, weight: 1, content: "popular" },
      ],
    }),
  })) as { experiment: unknown };
  const experiment: Experiment = ExperimentSchema.parse(stored.experiment);
  const control = controlOf(experiment);
  const armOf = (reader: string) => {
    const a = assign(experiment, reader);
    return a.kind === "variant" ? a.variant : a.kind;
  };
  const byCategory = new Map<string, SimProduct[]>();
  for (const p of o.products) {
    const list = byCategory.get(p.category);
    if (list) list.push(p);
    else byCategory.set(p.category, [p]);
  }
  const productById = new Map(o.products.map((p) => [p.id, p]));
  const readerById = new Map(o.readers.map((r) => [r.id, r]));
  const rngOf = (reader: string, step: string) => new Rng(fnv1a32(`${o.seed}:${step}:${reader}`));
  const nowSec = () => Math.floor(Date.now() / 1000);

  const postEvents = async (events: readonly Record<string, unknown>[]) => {
    const headers = { Authorization: `Bearer ${o.eventsKey}`, "Content-Type": "application/json" };
    const batches: Record<string, unknown>[][] = [];
    for (let i = 0; i < events.length; i += EVENTS_PER_POST) batches.push(events.slice(i, i + EVENTS_PER_POST));
    await pool(batches, o.concurrency, async (batch) => {
      for (let attempt = 0; ; attempt++) {
        const res = await o.send("/v1/events", { method: "POST", headers, body: JSON.stringify({ events: batch }) });
        if (res.status === 202) return;
        // 503 is back-pressure: wait as told and send again (the Worker counts repeats once)
        if (res.status !== 503 || attempt >= 100) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
        await sleep(1000 * Number(res.headers.get("Retry-After") ?? "1"));
      }
    });
  };

  // 1. each reader's history: views in their favourite categories, an hour ago (the Worker folds them in)
  o.log(`posting ${o.readers.length * HISTORY_VIEWS} history events for ${o.readers.length} readers`);
  const history: Record<string, unknown>[] = [];
  const hourAgo = nowSec() - 3600;
  for (const r of o.readers) {
    const rng = rngOf(r.id, "history");
    const liked = r.tastes.flatMap((t) => byCategory.get(t) ?? []);
    for (let i = 0; i < HISTORY_VIEWS && liked.length > 0; i++) {
      const item = rng.pick(liked);
      history.push({ id: `${o.runId}:${r.id}:view:${i}`, type: "view", user: r.id, item: item.id, ts: hourAgo + i });
    }
  }
  await postEvents(history);
  await waitFor(o, "the readers' history to reach the edge", async () => {
    const sample = o.readers.filter((_, i) => i % Math.max(1, Math.floor(o.readers.length / 25)) === 0);
    const seen = await Promise.all(
      sample.map(async (r) => {
        const res = await o.send(`/v1/users/${encodeURIComponent(r.id)}?view=edge`, { headers: admin });
        if (res.status !== 200) return false;
        const body = (await res.json()) as { profile?: { recentItems?: RecentItem[] } };
        return historyArrived(body.profile?.recentItems ?? [], hourAgo);
      }),
    );
    return seen.every(Boolean);
  });

  // 2. the email opens: the Worker assigns each reader, serves their arm and records the exposure
  const assigned: Record<string, number> = {};
  for (const r of o.readers) assigned[armOf(r.id)] = (assigned[armOf(r.id)] ?? 0) + 1;
  const openers = o.readers.filter((r) => {
    const rng = rngOf(r.id, "open");
    if (rng.next() >= OPEN_RATE) return false;
    // the skewed mail client loses some of the control's opens before they reach the Worker
    return !(o.skew > 0 && armOf(r.id) === control && rng.next() < o.skew);
  });
  o.log(`opening the email for ${openers.length} readers`);
  const shown = new Map<string, { arm: string; items: string[]; reason: string }>();
  let mismatches = 0;
  await pool(openers, o.concurrency, async (r) => {
    const t = await mintToken(o.tokenSecret, { user: r.id, campaign, ttlSeconds: 7 * 86400 });
    const res = await o.send(`/v1/amp/recs?t=${encodeURIComponent(t)}&n=${AMP_ITEMS}`, {
      headers: { "AMP-Email-Sender": o.sender },
    });
    if (res.status !== 200) throw new Error(`GET /v1/amp/recs: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items: { id: string }[] };
    const label = res.headers.get("X-Opentime-Experiment") ?? "";
    const arm = label.startsWith(`${experimentId}:`) ? label.slice(experimentId.length + 1) : "none";
    if (arm !== armOf(r.id)) mismatches++;
    const reason = res.headers.get("X-Opentime-Reason") ?? "none";
    shown.set(r.id, { arm, items: body.items.map((i) => i.id), reason });
  });
  const simulated: SimulationResult["simulated"] = {};
  const tally = (arm: string) => {
    simulated[arm] ??= { exposed: 0, clicks: 0, purchases: 0 };
    return simulated[arm];
  };
  const served: SimulationResult["served"] = {};
  for (const { arm, reason } of shown.values()) {
    tally(arm).exposed++;
    served[arm] ??= {};
    served[arm][reason] = (served[arm][reason] ?? 0) + 1;
  }
  const unpersonalized = Object.entries(served[PERSONALIZED] ?? {})
    .filter(([reason]) => reason !== "personalized")
    .reduce((sum, [, n]) => sum + n, 0);
  await waitFor(o, "the exposures to be counted", async () => {
    const report = await readReport(o, admin, experimentId);
    return Object.entries(simulated).every(([arm, s]) => report.arms.find((a) => a.arm === arm)?.exposed === s.exposed);
  });

  // 3. what the readers do with what they were shown: clicks, and purchases of what they clicked
  const outcomes: Record<string, unknown>[] = [];
  const ts = nowSec() + 1;
  for (const [reader, { arm, items }] of shown) {
    const r = readerById.get(reader) as SimReader;
    const rng = rngOf(reader, "outcome");
    const categories = items.map((id) => productById.get(id)?.category);
    if (items.length === 0 || rng.next() >= clickProbability(categories, r.tastes)) continue;
    const clicked = items[clickedIndex(categories, r.tastes)] as string;
    outcomes.push({ id: `${o.runId}:${reader}:click`, type: "email_click", user: reader, item: clicked, campaign, ts });
    tally(arm).clicks++;
    const product = productById.get(clicked);
    if (rng.next() < buyProbability(product?.category, r.tastes)) {
      const value = Math.round((product?.price ?? 10) * 100) / 100;
      outcomes.push({
        id: `${o.runId}:${reader}:buy`,
        type: "purchase",
        user: reader,
        item: clicked,
        ts: ts + 1,
        properties: { value },
      });
      tally(arm).purchases++;
    }
  }
  o.log(`posting ${outcomes.length} clicks and purchases`);
  await postEvents(outcomes);
  let report = await readReport(o, admin, experimentId);
  const reconciled = await waitFor(
    o,
    "the clicks and purchases to be counted",
    async () => {
      report = await readReport(o, admin, experimentId);
      return storeCounted(simulated, report);
    },
    false,
  );

  const variants: Record<string, VariantFigures> = {};
  for (const a of report.arms) {
    variants[a.arm] = {
      assigned: assigned[a.arm] ?? 0,
      exposed: a.exposed,
      clicks: a.clicks,
      purchases: a.purchases,
      ctr: a.ctr,
      conversion: a.conversion,
    };
  }
  const treated = report.arms.find((a) => a.arm === PERSONALIZED)?.vsControl;
  const interval = (e: Estimate | null | undefined): Interval => ({
    estimate: e?.estimate ?? null,
    ci_low: e?.ciLow ?? null,
    ci_high: e?.ciHigh ?? null,
  });
  return {
    experiment: experimentId,
    readers: o.readers.length,
    variants,
    uplift: { ctr: interval(treated?.ctr.relative), conversion: interval(treated?.conversion.relative) },
    srm_p: report.srm?.pValue ?? null,
    reconciled,
    simulated,
    arm_mismatches: mismatches,
    served,
    unpersonalized,
    seconds: Math.round((Date.now() - started) / 100) / 10,
  };
}

type RecentItem = { item?: unknown; type?: unknown; ts?: unknown };

/**
 * Whether this run's history views (ts `since` .. `since + HISTORY_VIEWS - 1`) are in a reader's edge profile.
 * Not merely HISTORY_VIEWS recent items: a reader of an earlier run with the same --seed has those already (its
 * views, clicks and purchases), and the opens would then be decided before this run's history was folded in.
 */
export function historyArrived(recent: readonly RecentItem[], since: number): boolean {
  const ours = recent.filter(
    (e) => e.type === "view" && typeof e.ts === "number" && e.ts >= since && e.ts < since + HISTORY_VIEWS,
  );
  return ours.length >= HISTORY_VIEWS;
}

/**
 * Whether the store counted exactly what the simulation made, arm by arm. A simulated reader clicks at most once
 * and buys at most once, so clickers equal clicks and buyers equal purchases: the rates the report gives
 * (CTR = clickers / exposed, conversion = buyers / exposed) are checked, not only the event counts.
 */
export function storeCounted(
  simulated: SimulationResult["simulated"],
  report: { arms: readonly Pick<ArmCounts, "arm" | "exposed" | "clicks" | "clickers" | "purchases" | "buyers">[] },
): boolean {
  return Object.entries(simulated).every(([arm, s]) => {
    const a = report.arms.find((x) => x.arm === arm);
    return (
      a?.exposed === s.exposed &&
      a.clicks === s.clicks &&
      a.clickers === s.clicks &&
      a.purchases === s.purchases &&
      a.buyers === s.purchases
    );
  });
}

/** The report with fixed-horizon intervals: the simulation looks once, at its end. */
async function readReport(o: SimulationOptions, headers: Record<string, string>, id: string): Promise<Report> {
  const res = await o.send(`/v1/admin/experiments/${id}/report?intervals=fixed`, { headers });
  if (res.status !== 200) throw new Error(`report: ${res.status} ${await res.text()}`);
  return (await res.json()) as Report;
}

/** Polls `done` once a second until it holds (true) or settleSeconds pass (throws, or false when not `strict`). */
async function waitFor(
  o: SimulationOptions,
  what: string,
  done: () => Promise<boolean>,
  strict = true,
): Promise<boolean> {
  const until = Date.now() + o.settleSeconds * 1000;
  o.log(`waiting for ${what}`);
  for (;;) {
    if (await done()) return true;
    if (Date.now() > until) {
      if (strict) throw new Error(`gave up waiting for ${what} after ${o.settleSeconds} s`);
      o.log(`gave up waiting for ${what}`);
      return false;
    }
    await sleep(1000);
  }
}
