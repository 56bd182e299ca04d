/**
 * `npm run bench [-- --items 100000 --requests 500 --cold-runs 3]`: measures in workerd (Miniflare):
 *  - warm per-open latency of /v1/amp/recs (demo catalog, and a synthetic catalog of --items, 64 factors);
 *  - ONNX int8 graph vs the plain-TypeScript int8 kernel on the same data (ms per inference);
 *  - the cold first request of a fresh isolate (ORT start-up, model load from KV, first inference);
 *  - the warm isolate's memory, serving: its heap and ArrayBuffers through V8's inspector (isolate-heap.ts);
 *  - the deployable bundle, gzipped, against Cloudflare's limits.
 * Prints a table and writes bench/results.json. Times are wall-clock from Node around each request.
 */
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { mintToken } from "../../core/token";
import { buildBundle } from "../build";
import { generateDemo } from "../demo/generate";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { freePort } from "../lib/free-port";
import { trainAndExport } from "../train/pipeline";
import { isolateHeap, mib } from "./isolate-heap";
import { jpegCdn } from "./jpeg-cdn";
import { runLoadTest } from "./load-test";
import { benchPools } from "./pools-bench";
import {
  COPY_CAMPAIGN,
  countdownCampaign,
  EXPERIMENT_ON_PLAIN,
  PLAIN_CAMPAIGN,
  RULES_CAMPAIGN,
} from "./rules-campaign";
import { demoScenario, type Scenario, syntheticRankerScenario, syntheticScenario } from "./scenarios";
import { type LatencySummary, summarize } from "./stats";
import { imageOpenProblem, warmAnswerProblem } from "./warm-answer";
import {
  BENCH_ADMIN_KEY,
  BENCH_EVENTS_KEY,
  BENCH_SECRET,
  BENCH_SENDER,
  bundleBenchWorker,
  seedKv,
  startWorkerd,
  timedFetch,
} from "./workerd-harness";
import { workerdMemory } from "./workerd-memory";

const USAGE =
  "usage: npm run bench -- [--items 100000] [--requests 500] [--cold-runs 3] [--kernel-iters 200] [--ingest-users 1000] [--out file] [--only rules|ranker|als|pools]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      items: { type: "string", default: "100000" },
      requests: { type: "string", default: "500" },
      "cold-runs": { type: "string", default: "3" },
      "kernel-iters": { type: "string", default: "200" },
      "ingest-users": { type: "string", default: "1000" },
      /** default: bench/results.json, or bench/<only>.json with --only */
      out: { type: "string" },
      /**
       * `pools`: only the trainer's pools step (scripts/bench/pools-bench.ts, 1,000 readers at --items);
       * `rules`: only the campaign-rules comparison (both scenarios); `ranker` / `als`: only the synthetic catalog's
       * amp-list latency with the learned ranker / ALS alone; written to --out
       */
      only: { type: "string" },
    },
  },
  z.object({
    items: wholeNumber(100, 2_000_000),
    requests: wholeNumber(1, 1_000_000),
    "cold-runs": wholeNumber(1, 100),
    "kernel-iters": wholeNumber(1, 100_000),
    "ingest-users": wholeNumber(1, 1_000_000),
    only: z.enum(["rules", "ranker", "als", "pools"]).optional(),
  }),
);
const ONLY_RULES = values.only === "rules";
const OUT = values.out ?? (values.only ? `bench/${values.only}.json` : "bench/results.json");
const ms = (v: number | undefined) => (v === undefined ? "?" : Math.round(v * 10) / 10);
/** the isolate's memory in MiB: its heap as V8 holds it, its ArrayBuffers and ORT's wasm memory */
const memoryText = (r: ScenarioResult) => {
  const m = r.memory_mib;
  const total = Math.round((m.heap_total + m.buffers + (m.wasm ?? 0)) * 10) / 10;
  return `${total} (heap ${m.heap_total}, buffers ${m.buffers}, wasm ${m.wasm ?? "?"})`;
};
const REQUESTS = values.requests;
const COLD_RUNS = values["cold-runs"];
const IMAGE_REQUESTS = 200;
const RECS_WARMUP = 500;
const KERNEL_ITERS = values["kernel-iters"];
const log = (m: string) => console.error(`[bench] ${m}`);

interface ScenarioResult {
  scenario: string;
  items: number;
  dims: number;
  warm_recs_ms: LatencySummary;
  /** the same requests inside the Worker (`Server-Timing`): the whole answer, and the ranking alone (personalized) */
  warm_recs_in_worker_ms: LatencySummary | null;
  warm_recs_score_ms: LatencySummary | null;
  personalized_share: number;
  ort_ms_per_inference: number;
  js_ms_per_inference: number;
  cold_first_request_ms: LatencySummary;
  workerd_start_ms: LatencySummary;
  /**
   * memory once the warm requests are served (the model loaded), after a full collection: the Worker's JavaScript
   * heap (`heap_used`, and `heap_total` as V8 holds it), its ArrayBuffers' contents outside it (`buffers`: typed
   * arrays) and ORT's wasm memory (`wasm`, which V8 counts in neither; it only grows, so the most it held): the
   * three make up what the isolate's 128 MB limit counts; and the whole workerd process's resident memory, idle and
   * serving (Miniflare's own KV and cache workers included: an upper bound, null off Linux)
   */
  memory_mib: {
    heap_used: number;
    heap_total: number;
    buffers: number;
    wasm: number | null;
    process_idle: number | null;
    process_serving: number | null;
    process_peak: number | null;
  };
  /** absent for an amp-list-only scenario (the learned ranker's) */
  images?: ImageResult;
  /** the same opens under a campaign without rules, one with rules and one with copy (rules-campaign.ts), in turn */
  campaign_rules?: RulesResult;
  /** the same catalog with photo-like pictures (synthetic scenario only) */
  images_photo_like?: ImageResult;
  /** the same catalog with sized JPEG photos fetched from a stand-in CDN (synthetic scenario only) */
  images_jpeg_cdn?: ImageResult;
}

/** Open-time images (`/v1/img`): latency in workerd and PNG sizes. */
interface ImageResult {
  /** first request to a fresh workerd: resvg + ORT start, model load, decision, picture, drawing */
  cold_first_image_ms: LatencySummary;
  /** a first open in a warm isolate: decision (model inference) + KV write + drawing (or its cached copy) */
  warm_first_open_ms: Record<string, LatencySummary>;
  /** the same, inside the Worker (its `Server-Timing` total: no dispatch from Node, no body transfer) */
  warm_first_open_in_worker_ms: Record<string, LatencySummary>;
  /** share of those first opens whose drawing was already cached (same product, layout and scale) */
  warm_first_open_drawing_cached: Record<string, number>;
  /** a drawing that is never cached: a product's first drawing in the isolate */
  warm_uncached_drawing_ms: Record<string, LatencySummary>;
  /** where an uncached first open's time goes, inside the Worker (`Server-Timing`) */
  warm_uncached_phases_ms: Record<string, Record<string, LatencySummary>>;
  /** a re-open right after its first open: the stored decision and its cached drawing */
  warm_reopen_ms: Record<string, LatencySummary>;
  /** re-opens that found no stored decision (its write not landed yet) and decided again: left out of warm_reopen_ms */
  warm_reopen_decided_again: Record<string, number>;
  /** a whole block's first open: all its slots requested at once (as a mail client does), until the last is in */
  warm_block_open_ms: Record<string, LatencySummary>;
  /** row-0@2x first opens with the events consumer applying the open events in the same workerd */
  warm_first_open_with_consumer_ms: LatencySummary;
  png_bytes: Record<string, LatencySummary>;
  /**
   * the isolate once every open above is served (its image caches as full as these opens make them), after a full
   * collection: heap, ArrayBuffers (drawn cards and pictures are), ORT's wasm memory; and the workerd process's
   * resident memory, now and at its peak, which alone counts resvg's and the JPEG decoder's wasm memory too
   */
  memory_after_mib: {
    heap_used: number;
    buffers: number;
    ort_wasm: number | null;
    process: number | null;
    process_peak: number | null;
  };
}

const IMAGE_SLOTS = ["row-0", "row-0@2x", "card-0", "card-0@2x", "grid-0", "grid-0@2x"] as const;
/** first opens per slot before measuring: the isolate has drawn this size before (JIT, wasm memory grown) */
const IMAGE_WARMUP = 20;

/** `decide;dur=1.0, picture;dur=3.0` -> { decide: 1, picture: 3 } */
function serverTiming(header: string | null): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of (header ?? "").split(",")) {
    const [name, dur] = part.trim().split(";dur=");
    if (name && dur !== undefined) out[name] = Number(dur);
  }
  return out;
}

async function imageFetch(mf: ReturnType<typeof startWorkerd>, path: string, type = "image/png") {
  const t0 = performance.now();
  const res = await mf.dispatchFetch(`http://localhost${path}`);
  const bytes = (await res.arrayBuffer()).byteLength;
  const ms = performance.now() - t0;
  if (res.status !== 200 || res.headers.get("Content-Type") !== type) throw new Error(`image ${path}: ${res.status}`);
  return {
    ms,
    bytes,
    render: res.headers.get("X-Opentime-Render"),
    reason: res.headers.get("X-Opentime-Reason"),
    decision: res.headers.get("X-Opentime-Decision"),
    experiment: res.headers.get("X-Opentime-Experiment"),
    timing: serverTiming(res.headers.get("Server-Timing")),
  };
}

interface RulesResult {
  recs_plain_ms: LatencySummary;
  recs_rules_ms: LatencySummary;
  /** the plain campaign with block copy (COPY_CAMPAIGN) */
  recs_copy_ms: LatencySummary;
  /** PLAIN_CAMPAIGN under an experiment of one variant like it: the arm's own cost */
  recs_experiment_ms: LatencySummary;
  image_plain_ms: LatencySummary;
  image_rules_ms: LatencySummary;
  image_copy_ms: LatencySummary;
  image_experiment_ms: LatencySummary;
  /** countdown GIF opens (row-0@2x), and the drawings made for an open (Server-Timing `countdown`) */
  countdown_open_ms: LatencySummary;
  countdown_drawn_ms: LatencySummary;
  countdown_gif_bytes: number;
  /** the same opens' time to decide, in the Worker (Server-Timing `decide`) */
  image_decide_plain_ms: LatencySummary;
  image_decide_rules_ms: LatencySummary;
  /** what the rules did, from one answer (X-Opentime-Block, X-Opentime-Rules) */
  sample: { block: string | null; rules: string | null };
}

/**
 * Warm amp-list opens and first image opens (row-0@2x) under PLAIN_CAMPAIGN, RULES_CAMPAIGN and COPY_CAMPAIGN,
 * taking turns request by request (the order rotating) so all see the same machine; each image open is a
 * reader's first under its campaign.
 */
async function benchRules(persist: string, users: readonly string[]): Promise<RulesResult> {
  await seedKv(persist, [
    { key: "campaign:bench-plain", value: JSON.stringify(PLAIN_CAMPAIGN) },
    { key: "campaign:bench-rules", value: JSON.stringify(RULES_CAMPAIGN) },
    { key: "campaign:bench-copy", value: JSON.stringify(COPY_CAMPAIGN) },
    { key: "campaign:bench-countdown", value: JSON.stringify(countdownCampaign(Date.now() + 86_400_000)) },
    { key: "campaign:bench-experiment", value: JSON.stringify(PLAIN_CAMPAIGN) },
    { key: "experiment-of:bench-experiment", value: JSON.stringify(EXPERIMENT_ON_PLAIN("bench-experiment")) },
  ]);
  const tokens = (campaign: string) =>
    Promise.all(users.map((u) => mintToken(BENCH_SECRET, { user: u, campaign, ttlSeconds: 3600 })));
  const kinds = ["plain", "rules", "copy", "experiment"] as const;
  const t = Object.fromEntries(await Promise.all(kinds.map(async (k) => [k, await tokens(`bench-${k}`)]))) as Record<
    (typeof kinds)[number],
    string[]
  >;
  /** the campaigns in turn, the first one moving each round (none always first or last) */
  const turns = (i: number) => kinds.map((_, j) => kinds[(i + j) % kinds.length] as (typeof kinds)[number]);
  const headers = { "AMP-Email-Sender": BENCH_SENDER };
  const mf = startWorkerd(persist, IMAGE_BINDINGS);
  await mf.ready;
  const recs = { plain: [] as number[], rules: [] as number[], copy: [] as number[], experiment: [] as number[] };
  const recsPath = (tk: string[], i: number) => `/v1/amp/recs?t=${tk[i % tk.length]}&n=6`;
  for (let i = 0; i < RECS_WARMUP; i++) for (const k of kinds) await timedFetch(mf, recsPath(t[k], i), headers);
  for (let i = 0; i < REQUESTS; i++) {
    for (const k of turns(i)) {
      const r = await timedFetch(mf, recsPath(t[k], i), headers);
      // a fallback, or the experiment's campaign served without its arm, would be timed as the campaign's cost
      const problem = warmAnswerProblem({ experiment: k === "experiment" }, r);
      if (problem) throw new Error(`campaign ${k}, amp-list open ${i}: ${problem}`);
      recs[k].push(r.ms);
    }
  }
  const probe = await mf.dispatchFetch(`http://localhost${recsPath(t.rules, 0)}`, { headers });
  await probe.arrayBuffer();
  const sample = { block: probe.headers.get("X-Opentime-Block"), rules: probe.headers.get("X-Opentime-Rules") };
  const images = { plain: [] as number[], rules: [] as number[], copy: [] as number[], experiment: [] as number[] };
  const n = Math.min(IMAGE_REQUESTS, users.length);
  // warm-up: the last readers' opens (the block memo keeps a reader's ranking for 5 s: the timed opens are others')
  for (let i = users.length - IMAGE_WARMUP; i < users.length; i++)
    for (const k of kinds) await imageFetch(mf, `/v1/img/${t[k][i]}/row-0@2x.png`);
  // the time to decide (Server-Timing), apart from drawing: a later open of a reader may find the product
  // drawn by an earlier one; the order rotates so no campaign is always first
  const decide = { plain: [] as number[], rules: [] as number[], copy: [] as number[], experiment: [] as number[] };
  for (let i = 0; i < n - IMAGE_WARMUP; i++) {
    for (const k of turns(i)) {
      const out = await imageFetch(mf, `/v1/img/${t[k][i]}/row-0@2x.png`);
      const problem = imageOpenProblem({ open: "first", experiment: k === "experiment" }, out);
      if (problem) throw new Error(`campaign ${k}, image open ${i}: ${problem}`);
      images[k].push(out.ms);
      decide[k].push(out.timing.decide ?? Number.NaN);
    }
  }
  // countdown GIFs (row-0@2x, 60 frames): every open, and the drawings made for an open (the others share the
  // drawing of their second)
  const countdownTokens = await tokens("bench-countdown");
  const countdown = { open: [] as number[], drawn: [] as number[], bytes: 0 };
  for (let i = 0; i < n; i++) {
    const out = await imageFetch(mf, `/v1/img/${countdownTokens[i]}/row-0@2x.png`, "image/gif");
    countdown.open.push(out.ms);
    if (out.render?.startsWith("countdown;")) countdown.drawn.push(out.timing.countdown ?? Number.NaN);
    countdown.bytes = out.bytes;
  }
  await mf.dispose();
  return {
    countdown_open_ms: summarize(countdown.open),
    countdown_drawn_ms: summarize(countdown.drawn),
    countdown_gif_bytes: countdown.bytes,
    recs_plain_ms: summarize(recs.plain),
    recs_rules_ms: summarize(recs.rules),
    recs_copy_ms: summarize(recs.copy),
    recs_experiment_ms: summarize(recs.experiment),
    image_plain_ms: summarize(images.plain),
    image_rules_ms: summarize(images.rules),
    image_copy_ms: summarize(images.copy),
    image_experiment_ms: summarize(images.experiment),
    image_decide_plain_ms: summarize(decide.plain),
    image_decide_rules_ms: summarize(decide.rules),
    sample,
  };
}

/**
 * The demo shop's pictures are served by the Worker itself (`/demo/img/<id>.png`, in-process). The events
 * consumer is off: locally it runs in the same workerd process, and each batch of 100 open events stalls
 * requests for 200-300 ms (measured apart, in `warm_first_open_with_consumer_ms`).
 */
const IMAGE_BINDINGS = { bindings: { DEMO_ROUTES: "true" }, consumer: false };

/**
 * `run` prefixes every campaign id: a second run on the same KV must not find the first run's stored
 * decisions. `outbound` answers the Worker's picture fetches to other origins (a stand-in CDN).
 */
async function benchImages(
  persist: string,
  users: readonly string[],
  run = "flat",
  outbound?: (req: Request) => Promise<Response>,
): Promise<ImageResult> {
  const workerd = (consumer = false, inspectorPort?: number) =>
    startWorkerd(persist, { ...IMAGE_BINDINGS, consumer, outbound, inspectorPort });
  const token = (u: string, campaign: string) =>
    mintToken(BENCH_SECRET, { user: u, campaign: `${run}-${campaign}`, ttlSeconds: 3600 });
  const cold: number[] = [];
  for (let r = 0; r < COLD_RUNS; r++) {
    const mf = workerd();
    await mf.ready;
    cold.push(
      (await imageFetch(mf, `/v1/img/${await token(users[r % users.length] as string, `cold${r}`)}/row-0@2x.png`)).ms,
    );
    await mf.dispose();
  }
  const inspectorPort = await freePort();
  const mf = workerd(false, inspectorPort);
  await mf.ready;
  const first: Record<string, LatencySummary> = {};
  const inWorker: Record<string, LatencySummary> = {};
  const cachedShare: Record<string, number> = {};
  const uncached: Record<string, LatencySummary> = {};
  const phases: Record<string, Record<string, LatencySummary>> = {};
  const reopen: Record<string, LatencySummary> = {};
  const decidedAgain: Record<string, number> = {};
  const sizes: Record<string, LatencySummary> = {};
  // the warm-up opens are first opens of other users (the last ones): their drawings are not reused below
  const warmupUsers = users.slice(-IMAGE_WARMUP);
  for (const slot of IMAGE_SLOTS)
    for (const [i, u] of warmupUsers.entries())
      await imageFetch(mf, `/v1/img/${await token(u, `warmup-${i}`)}/${slot}.png`);
  for (const slot of IMAGE_SLOTS) {
    const drawnBefore: number[] = [];
    const fresh: number[] = [];
    const worker: number[] = [];
    const parts: Record<string, number[]> = {};
    const again: number[] = [];
    let reDecided = 0;
    const bytes: number[] = [];
    let cached = 0;
    const n = Math.min(IMAGE_REQUESTS, users.length - IMAGE_WARMUP);
    for (let i = 0; i < n; i++) {
      // a new campaign per request: nothing stored, so each is a first open that decides
      const t = await token(users[i] as string, `open-${slot.replace("@", "_")}-${i}`);
      const out = await imageFetch(mf, `/v1/img/${t}/${slot}.png`);
      const problem = imageOpenProblem({ open: "first" }, out);
      if (problem) throw new Error(`image ${slot}: ${problem}`);
      (out.render === "cached" ? drawnBefore : fresh).push(out.ms);
      worker.push(out.timing.total ?? Number.NaN);
      if (out.render === "cached") cached++;
      else if (out.render !== "ok") throw new Error(`image ${slot}: drawn without its picture (${out.render})`);
      else
        for (const [phase, ms] of Object.entries(out.timing)) {
          if (phase === "total") continue;
          parts[phase] = [...(parts[phase] ?? []), ms];
        }
      bytes.push(out.bytes);
      const re = await imageFetch(mf, `/v1/img/${t}/${slot}.png`);
      // the first open's decision is written in the background (waitUntil): a re-open that came before it landed
      // decides again, and is not the stored path it would be timed as
      if (imageOpenProblem({ open: "re-open" }, re)) reDecided++;
      else again.push(re.ms);
    }
    first[slot] = summarize([...drawnBefore, ...fresh]);
    inWorker[slot] = summarize(worker);
    cachedShare[slot] = Math.round((cached / n) * 1000) / 1000;
    uncached[slot] = summarize(fresh);
    phases[slot] = Object.fromEntries(Object.entries(parts).map(([phase, v]) => [phase, summarize(v)]));
    reopen[slot] = summarize(again);
    decidedAgain[slot] = reDecided;
    sizes[slot] = summarize(bytes);
  }
  const blocks: Record<string, LatencySummary> = {};
  for (const [layout, slots] of [
    ["row", 3],
    ["grid", 4],
  ] as const) {
    const times: number[] = [];
    for (let i = 0; i < Math.min(IMAGE_REQUESTS, users.length); i++) {
      const t = await token(users[i] as string, `block-${layout}-${i}`);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: slots }, (_, s) => imageFetch(mf, `/v1/img/${t}/${layout}-${s}@2x.png`)));
      times.push(performance.now() - t0);
    }
    blocks[`${layout}@2x`] = summarize(times);
  }
  const { heap, wasm } = await isolateMemory(mf, inspectorPort);
  const proc = workerdMemory();
  const memoryAfter = {
    heap_used: heap.used_mib,
    buffers: heap.buffers_mib,
    ort_wasm: wasm,
    process: proc?.rss_mib ?? null,
    process_peak: proc?.peak_mib ?? null,
  };
  await mf.dispose();

  const withConsumer = workerd(true);
  await withConsumer.ready;
  // a fresh workerd: warmed up as the opens above were (its first open starts ORT, loads the model, starts resvg),
  // so the timed opens differ from the others by the consumer alone
  for (const [i, u] of warmupUsers.entries())
    await imageFetch(withConsumer, `/v1/img/${await token(u, `consumer-warmup-${i}`)}/row-0@2x.png`);
  const contended: number[] = [];
  for (let i = 0; i < Math.min(IMAGE_REQUESTS, users.length); i++) {
    const t = await token(users[i] as string, `consumer-${i}`);
    contended.push((await imageFetch(withConsumer, `/v1/img/${t}/row-0@2x.png`)).ms);
  }
  await withConsumer.dispose();
  return {
    cold_first_image_ms: summarize(cold),
    warm_first_open_with_consumer_ms: summarize(contended),
    warm_first_open_ms: first,
    warm_first_open_in_worker_ms: inWorker,
    warm_first_open_drawing_cached: cachedShare,
    warm_uncached_drawing_ms: uncached,
    warm_uncached_phases_ms: phases,
    warm_reopen_ms: reopen,
    warm_reopen_decided_again: decidedAgain,
    warm_block_open_ms: blocks,
    png_bytes: sizes,
    memory_after_mib: memoryAfter,
  };
}

/**
 * The isolate's memory: its heap and ArrayBuffers after a full collection (V8's inspector) and ORT's wasm memory in
 * MiB (null before ORT starts).
 */
async function isolateMemory(mf: ReturnType<typeof startWorkerd>, inspectorPort: number) {
  const heap = await isolateHeap(inspectorPort, async () => {
    await timedFetch(mf, "/v1/health");
  });
  const ort = JSON.parse((await timedFetch(mf, "/bench/memory")).body) as { wasm_bytes: number | null };
  return { heap, wasm: ort.wasm_bytes === null ? null : mib(ort.wasm_bytes) };
}

async function demoModelDir(): Promise<string> {
  if (existsSync("models/latest.json")) {
    const { dir } = JSON.parse(await readFile("models/latest.json", "utf8")) as { dir: string };
    if (existsSync(join(dir, "manifest.json"))) return dir;
  }
  log("no trained demo model: generating the demo shop and training (as npm start does)");
  if (!existsSync("build/demo/summary.json")) await generateDemo("build/demo");
  return (await trainAndExport({ data: "build/demo/events.csv", catalog: "build/demo/products.json", out: "models" }))
    .dir;
}

/** ms per inference: (time of N inferences - time of 0) / N, best of 3 to damp noise. */
async function perInference(mf: ReturnType<typeof startWorkerd>, route: string): Promise<number> {
  await timedFetch(mf, `/bench/${route}?iters=${KERNEL_ITERS}`); // warm-up (V8 tiers up over the first ~1000 runs)
  const runs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const base = (await timedFetch(mf, `/bench/${route}?iters=0`)).ms;
    const full = (await timedFetch(mf, `/bench/${route}?iters=${KERNEL_ITERS}`)).ms;
    runs.push((full - base) / KERNEL_ITERS);
  }
  return Math.round(Math.min(...runs) * 1000) / 1000;
}

async function runScenario(s: Scenario): Promise<ScenarioResult> {
  const persist = await mkdtemp(join(tmpdir(), "ot-bench-kv-"));
  try {
    await seedKv(persist, s.entries);

    const tokens = await Promise.all(
      s.users.map((u) => mintToken(BENCH_SECRET, { user: u, campaign: "bench", ttlSeconds: 3600 })),
    );
    const headers = { "AMP-Email-Sender": BENCH_SENDER };
    const path = (i: number) => `/v1/amp/recs?t=${tokens[i % tokens.length]}&n=6`;

    const cold: number[] = [];
    const starts: number[] = [];
    for (let r = 0; r < COLD_RUNS; r++) {
      const t0 = performance.now();
      const mf = startWorkerd(persist);
      await mf.ready;
      starts.push(performance.now() - t0);
      const first = await timedFetch(mf, path(r), headers);
      if (first.status !== 200 || first.reason !== "personalized")
        throw new Error(`cold request: ${first.status} ${first.reason}`);
      cold.push(first.ms);
      await mf.dispose();
    }

    const inspectorPort = await freePort();
    const mf = startWorkerd(persist, { inspectorPort });
    await mf.ready;
    const idle = workerdMemory();
    // V8 keeps tiering up the request path over the first few hundred requests
    for (let i = 0; i < RECS_WARMUP; i++) await timedFetch(mf, path(i), headers);
    const warm: number[] = [];
    const inWorker: number[] = [];
    const score: number[] = [];
    let personalized = 0;
    for (let i = 0; i < REQUESTS; i++) {
      const r = await timedFetch(mf, path(i), headers);
      const timing = serverTiming(r.serverTiming);
      if (timing.total !== undefined) inWorker.push(timing.total);
      if (timing.score !== undefined) score.push(timing.score);
      // every timed answer is the path the scenario names: a fallback (popular items) would be timed as a ranking
      const problem = warmAnswerProblem(s, r);
      if (problem) throw new Error(`warm request ${i}: ${problem}`);
      personalized++;
      warm.push(r.ms);
    }
    const serving = workerdMemory();
    const { heap, wasm } = await isolateMemory(mf, inspectorPort);
    const ort = await perInference(mf, "ort");
    const js = await perInference(mf, "js");
    await mf.dispose();
    const recs = {
      scenario: s.name,
      items: s.items,
      dims: s.dims,
      warm_recs_ms: summarize(warm),
      warm_recs_in_worker_ms: inWorker.length ? summarize(inWorker) : null,
      warm_recs_score_ms: score.length ? summarize(score) : null,
      personalized_share: personalized / REQUESTS,
      ort_ms_per_inference: ort,
      js_ms_per_inference: js,
      cold_first_request_ms: summarize(cold),
      workerd_start_ms: summarize(starts),
      memory_mib: {
        heap_used: heap.used_mib,
        heap_total: heap.total_mib,
        buffers: heap.buffers_mib,
        wasm,
        process_idle: idle?.rss_mib ?? null,
        process_serving: serving?.rss_mib ?? null,
        process_peak: serving?.peak_mib ?? null,
      },
    };
    if (s.recsOnly) return recs;
    const images = await benchImages(persist, s.users);
    const campaignRules = await benchRules(persist, s.users);
    let photo: ImageResult | undefined;
    if (s.photoPictures) {
      await seedKv(persist, s.photoPictures);
      photo = await benchImages(persist, s.users, "photo");
    }
    let jpeg: ImageResult | undefined;
    if (s.jpegPictures) {
      await seedKv(persist, s.jpegPictures);
      const cdn = await jpegCdn();
      jpeg = await benchImages(persist, s.users, "jpeg", cdn.handler);
      if (cdn.served() === 0) throw new Error("the JPEG run fetched no picture from the stand-in CDN");
    }
    return {
      ...recs,
      images,
      campaign_rules: campaignRules,
      ...(photo ? { images_photo_like: photo } : {}),
      ...(jpeg ? { images_jpeg_cdn: jpeg } : {}),
    };
  } finally {
    await rm(persist, { recursive: true, force: true });
  }
}

if (values.only === "pools") {
  const readers = 1000;
  log(`the trainer's pools step: ${readers} readers, ${values.items.toLocaleString("en")} items`);
  const r = await benchPools(values.items, readers);
  await mkdir("bench", { recursive: true });
  await writeFile(OUT, `${JSON.stringify({ at: new Date().toISOString(), pools: r }, null, 2)}\n`);
  const m = r.ms_per_reader;
  console.log(
    `pools at ${r.items} items: ${m.one_at_a_time} ms a reader one at a time, ${m.eight_at_a_time} eight at a time, ${m.eight_at_a_time_in_workers} in ${r.workers} workers; identical: ${r.identical}`,
  );
  process.exit(r.identical ? 0 : 1);
}

const started = performance.now();
log("bundling (wrangler deploy --dry-run)");
const bundle = buildBundle("build/deploy-bundle");
bundleBenchWorker();
if (values.only === "ranker" || values.only === "als") {
  const s =
    values.only === "ranker"
      ? syntheticRankerScenario(values.items)
      : { ...syntheticScenario(values.items), recsOnly: true };
  log(`scenario ${s.name}`);
  const r = await runScenario(s);
  await mkdir("bench", { recursive: true });
  await writeFile(OUT, `${JSON.stringify({ at: new Date().toISOString(), scenarios: [r] }, null, 2)}\n`);
  console.log(
    `${r.scenario}: warm p50/p99 ${ms(r.warm_recs_ms.p50)}/${ms(r.warm_recs_ms.p99)} ms (in the Worker ${ms(r.warm_recs_in_worker_ms?.p50)}/${ms(r.warm_recs_in_worker_ms?.p99)}, ranking ${ms(r.warm_recs_score_ms?.p50)}/${ms(r.warm_recs_score_ms?.p99)}), cold first request p50 ${ms(r.cold_first_request_ms.p50)} ms; isolate ${memoryText(r)} MiB (workerd process ${r.memory_mib.process_idle} -> ${r.memory_mib.process_serving} MiB)`,
  );
  process.exit(0);
}
const scenarios: Scenario[] = [
  await demoScenario(await demoModelDir()),
  syntheticScenario(values.items),
  syntheticRankerScenario(values.items),
];
if (ONLY_RULES) {
  const out: Record<string, RulesResult> = {};
  for (const s of scenarios) {
    log(`scenario ${s.name}: campaign rules only`);
    const persist = await mkdtemp(join(tmpdir(), "ot-bench-kv-"));
    await seedKv(persist, s.entries);
    out[s.name] = await benchRules(persist, s.users);
    await rm(persist, { recursive: true, force: true });
    printRules(s.name, out[s.name] as RulesResult);
  }
  await mkdir("bench", { recursive: true });
  await writeFile(OUT, `${JSON.stringify({ at: new Date().toISOString(), campaign_rules: out }, null, 2)}\n`);
  process.exit(0);
}
const results: ScenarioResult[] = [];
for (const s of scenarios) {
  log(`scenario ${s.name}`);
  results.push(await runScenario(s));
}

// ingestion: the load test's shape, smaller, in the same workerd (Miniflare's queue has a 10,000-timer cap)
log("ingestion (POST /v1/events -> queue -> profiles)");
const ingestionPersist = await mkdtemp(join(tmpdir(), "ot-bench-ingest-"));
const ingestMf = startWorkerd(ingestionPersist);
await ingestMf.ready;
const ingestion = await runLoadTest({
  send: async (path, init) =>
    (await ingestMf.dispatchFetch(`http://localhost${path}`, init as never)) as unknown as Response,
  eventsKey: BENCH_EVENTS_KEY,
  adminKey: BENCH_ADMIN_KEY,
  users: values["ingest-users"],
  eventsPerUser: 20,
  concurrency: 4,
  duplicateBatches: 4,
  lagSamples: 30,
  drainSeconds: 300,
  prefix: "bench",
});
await ingestMf.dispose();
await rm(ingestionPersist, { recursive: true, force: true });

const report = {
  at: new Date().toISOString(),
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, node: process.version },
  method:
    "Miniflare 4.20260426 (workerd) driven from Node; wall time around dispatchFetch incl. reading the body. " +
    `Warm: ${REQUESTS} sequential requests after ${RECS_WARMUP} warm-up, tokens of 256 users in turn. ` +
    `Kernels: (time of ${KERNEL_ITERS} inferences - time of 0) / ${KERNEL_ITERS}, best of 3, k=10. ` +
    `Cold: ${COLD_RUNS} fresh workerd processes, first request after startup (ORT init + model load from KV + inference). ` +
    `Images: per slot ${IMAGE_WARMUP} warm-up opens, then ${IMAGE_REQUESTS} first opens (a new campaign each, so every one decides ` +
    "and writes KV; drawings of products drawn before come from the isolate's cache, reported apart) and as many re-opens; " +
    "in-Worker times and phases from the image's Server-Timing; blocks: all slots of a row/grid requested at once; " +
    "pictures: the demo shop's flat ones, drawn per request (demo, synthetic), then photo-like grained ones served from " +
    "the demo route's memory (synthetic, images_photo_like), then sized JPEG photos from a stand-in CDN answering the " +
    "Worker's outbound fetches (synthetic, images_jpeg_cdn); cold = first image request of a fresh workerd.",
  bundle: {
    bytes: bundle.totalBytes,
    gzip_bytes: bundle.totalGzipBytes,
    fits_free_3mb: bundle.fitsFree,
    fits_paid_10mb: bundle.fitsPaid,
  },
  scenarios: results,
  ingestion,
  seconds: Math.round((performance.now() - started) / 100) / 10,
};
await mkdir("bench", { recursive: true });
await writeFile(OUT, `${JSON.stringify(report, null, 2)}\n`);

const rows = [
  ["scenario", "warm p50", "warm p99", "ORT/inf", "TS int8/inf", "cold 1st req", "workerd start", "isolate MiB"],
  ...results.map((r) => [
    r.scenario,
    `${r.warm_recs_ms.p50} ms`,
    `${r.warm_recs_ms.p99} ms`,
    `${r.ort_ms_per_inference} ms`,
    `${r.js_ms_per_inference} ms`,
    `${r.cold_first_request_ms.p50} ms`,
    `${Math.round(r.workerd_start_ms.p50)} ms`,
    memoryText(r),
  ]),
];
const widths = (rows[0] as string[]).map((_, c) => Math.max(...rows.map((r) => (r[c] as string).length)));
for (const r of rows) console.log(r.map((cell, c) => cell.padEnd(widths[c] as number)).join("  "));
console.log(
  `bundle: ${(bundle.totalGzipBytes / 1048576).toFixed(2)} MB gzipped (${(bundle.totalBytes / 1048576).toFixed(2)} MB raw): ` +
    `${bundle.fitsFree ? "fits" : "over"} Free 3 MB, ${bundle.fitsPaid ? "fits" : "over"} Paid 10 MB`,
);
console.log(
  `ingestion: ${ingestion.events} events for ${ingestion.users} users: ${ingestion.accepted_per_second} events/s accepted, ` +
    `drained in ${ingestion.drain_seconds} s, reconciled ${ingestion.reconciled.exact}/${ingestion.users} exactly; ` +
    `POST-to-visible lag p50 ${Math.round(ingestion.lag_ms.p50)} ms, p99 ${Math.round(ingestion.lag_ms.p99)} ms`,
);
function printRules(scenario: string, cr: RulesResult): void {
  const pair = (a: LatencySummary, b: LatencySummary) =>
    `p50 ${ms(a.p50)} -> ${ms(b.p50)}, p99 ${ms(a.p99)} -> ${ms(b.p99)} ms (${b.p99 >= a.p99 ? "+" : ""}${Math.round((b.p99 / a.p99 - 1) * 100)}%)`;
  console.log(
    `campaign rules (${scenario}): amp-list ${pair(cr.recs_plain_ms, cr.recs_rules_ms)}; ` +
      `first image row-0@2x ${pair(cr.image_plain_ms, cr.image_rules_ms)}, deciding ${pair(cr.image_decide_plain_ms, cr.image_decide_rules_ms)}; ` +
      `sample: ${cr.sample.rules}`,
  );
  console.log(
    `block copy (${scenario}): amp-list ${pair(cr.recs_plain_ms, cr.recs_copy_ms)}; ` +
      `first image row-0@2x ${pair(cr.image_plain_ms, cr.image_copy_ms)}`,
  );
  console.log(
    `experiment (${scenario}): amp-list ${pair(cr.recs_plain_ms, cr.recs_experiment_ms)}; ` +
      `first image row-0@2x ${pair(cr.image_plain_ms, cr.image_experiment_ms)}`,
  );
  console.log(
    `countdown GIF (${scenario}, row-0@2x, 60 frames, ${Math.round(cr.countdown_gif_bytes / 1024)} KB): every open p50/p99 ` +
      `${ms(cr.countdown_open_ms.p50)}/${ms(cr.countdown_open_ms.p99)} ms; drawn for the open (${cr.countdown_drawn_ms.n}) ` +
      `p50/p99 ${ms(cr.countdown_drawn_ms.p50)}/${ms(cr.countdown_drawn_ms.p99)} ms in the Worker`,
  );
}

function printImages(label: string, im: ImageResult): void {
  console.log(
    `images (${label}): cold first image p50 ${ms(im.cold_first_image_ms.p50)} ms; row-0@2x with the events ` +
      `consumer in the same workerd: p50/p99 ${ms(im.warm_first_open_with_consumer_ms.p50)}/${ms(im.warm_first_open_with_consumer_ms.p99)} ms`,
  );
  const m = im.memory_after_mib;
  console.log(
    `  isolate after the opens: heap ${m.heap_used} MiB, ArrayBuffers ${m.buffers} MiB, ORT wasm ${m.ort_wasm} MiB; ` +
      `workerd process ${m.process} MiB (peak ${m.process_peak} MiB)`,
  );
  console.log(
    `  whole blocks, slots at once: ${Object.entries(im.warm_block_open_ms)
      .map(([b, v]) => `${b} p50/p99 ${ms(v.p50)}/${ms(v.p99)} ms`)
      .join(", ")}`,
  );
  for (const s of IMAGE_SLOTS) {
    const phases = Object.entries(im.warm_uncached_phases_ms[s] ?? {})
      .map(([phase, v]) => `${phase} ${ms(v.p50)}/${ms(v.p99)}`)
      .join(", ");
    console.log(
      `  ${s.padEnd(9)} first open p50/p99 ${ms(im.warm_first_open_ms[s]?.p50)}/${ms(im.warm_first_open_ms[s]?.p99)} ms ` +
        `(in the Worker ${ms(im.warm_first_open_in_worker_ms[s]?.p50)}/${ms(im.warm_first_open_in_worker_ms[s]?.p99)}); ` +
        `uncached drawing ${ms(im.warm_uncached_drawing_ms[s]?.p50)}/${ms(im.warm_uncached_drawing_ms[s]?.p99)} ms [${phases}]; ` +
        `re-open p50 ${ms(im.warm_reopen_ms[s]?.p50)} ms (${im.warm_reopen_decided_again[s] ?? 0} decided again, left out); ${Math.round((im.png_bytes[s]?.p50 ?? 0) / 1024)} KB`,
    );
  }
}
for (const r of results) {
  if (r.images) printImages(r.scenario, r.images);
  if (r.images_photo_like) printImages(`${r.scenario}, photo-like pictures`, r.images_photo_like);
  if (r.images_jpeg_cdn) printImages(`${r.scenario}, JPEG photos from a CDN`, r.images_jpeg_cdn);
  if (r.campaign_rules) printRules(r.scenario, r.campaign_rules);
}
console.log(`written ${OUT} in ${report.seconds} s`);
