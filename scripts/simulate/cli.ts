/**
 * `npm run simulate -- [--readers 20000] [--skew 0.45] [--seed 1] [--url http://127.0.0.1:8787]
 *   [--concurrency 16] [--settle-seconds 300]`
 * Sends a demo campaign under an experiment (personalized against popular items) to simulated readers through
 * a running Worker (`npm start` or `npm run dev`; keys and TOKEN_SECRET from .dev.vars or the environment):
 * simulation.ts. Reader i takes the tastes of demo customer i (modulo their number: build/demo/customers.csv).
 * Progress goes to stderr; stdout gets one JSON line:
 * {"variants":{...},"uplift":{"ctr":{...},"conversion":{...}},"srm_p":x,"reconciled":true,...}.
 * Exits 1 unless the Worker's experiment store counted exactly what the simulation did. A `--url` that is not one,
 * or plain http to another machine (the keys would cross a network in clear), ends it at once, exit 2. A setup
 * problem (no TOKEN_SECRET or keys: no .dev.vars; no demo shop, or a malformed one: demo-shop.ts; no Worker, or one
 * that refuses the admin key) ends it before any work with `simulate failed: <what is missing or wrong, and what to
 * run>`, exit 1.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { z } from "zod";
import { cliArgs, decimal, wholeNumber, workerUrlOrExit } from "../lib/cli-args";
import { adminKey, DEV_VARS, firstKey, readDevVars, tokenSecretProblem } from "../lib/dev-vars";
import { checkAdminAccess } from "../lib/worker-admin";
import type { WorkerUrl } from "../lib/worker-url";
import { type DemoShop, readDemoShop } from "./demo-shop";
import type { SimReader } from "./reader-model";
import { runSimulation } from "./simulation";

const USAGE =
  "usage: npm run simulate -- [--readers 20000] [--skew 0] [--seed 1] [--url http://127.0.0.1:8787] [--concurrency 16] [--settle-seconds 300] [--demo build/demo]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      readers: { type: "string", default: "20000" },
      skew: { type: "string", default: "0" },
      seed: { type: "string", default: "1" },
      url: { type: "string", default: "http://127.0.0.1:8787" },
      concurrency: { type: "string", default: "16" },
      "settle-seconds": { type: "string", default: "300" },
      demo: { type: "string", default: "build/demo" },
    },
  },
  z.object({
    readers: wholeNumber(10),
    skew: decimal({ gte: 0, lt: 1 }),
    seed: wholeNumber(0),
    concurrency: wholeNumber(1, 256),
    "settle-seconds": wholeNumber(0, 86_400),
  }),
);
// checked first, as the other CLIs' --url: http(s), plain http only to this machine (the admin key, the events key
// and the tokens would cross a network in clear)
const worker = workerUrlOrExit(values.url) as WorkerUrl;
const log = (line: string) => process.stderr.write(`[simulate] ${line}\n`);
const count = values.readers;
const skew = values.skew;
const vars = readDevVars();
const first = (s: string | undefined) => firstKey(s) ?? "";
// where .dev.vars was looked for: npm runs the scripts in the repository, so it is read from there
const devVars = existsSync(DEV_VARS) ? `${resolve(DEV_VARS)} has none` : `there is no ${resolve(DEV_VARS)}`;
const tokenSecret = process.env.TOKEN_SECRET ?? vars.TOKEN_SECRET ?? "";
if (!tokenSecret)
  fail(
    `no TOKEN_SECRET (${devVars}): run \`npm start\` once (it writes .dev.vars), or set TOKEN_SECRET to the Worker's`,
  );
// one the Worker ignores would have every email's token refused: the simulation would measure nothing
const secretProblem = tokenSecretProblem(tokenSecret);
if (secretProblem) fail(secretProblem);
const eventsKey = first(process.env.EVENTS_API_KEYS ?? vars.EVENTS_API_KEYS);
if (!eventsKey)
  fail(
    `no EVENTS_API_KEYS (${devVars}): run \`npm start\` once (it writes .dev.vars), or set EVENTS_API_KEYS to the Worker's`,
  );

let shop: DemoShop;
try {
  shop = readDemoShop(values.demo as string);
} catch (e) {
  fail((e as Error).message);
}
const { customers, products } = shop;
const seed = values.seed;
const runId = `${seed}-${Date.now().toString(36)}`;
// the same --seed gives the same readers (and arms); each run's events are its own (runId)
const readers: SimReader[] = Array.from({ length: count }, (_, i) => ({
  id: `sim${seed}-${i}`,
  tastes: (customers[i % customers.length]?.top_categories ?? "").split("|").filter(Boolean),
}));
const url = worker.base;
let key: string;
try {
  // .dev.vars' key only for a Worker on this machine
  key = adminKey(url, "--url");
} catch (e) {
  fail((e as Error).message);
}
// a Worker must be running there: say so plainly rather than with a socket error's stack
const health = await fetch(`${url}/v1/health`).catch(() => null);
if (!health) fail(`no Worker answers at ${url}: start one with \`npm start\` (or pass --url)`);
// and takes the admin key (a cheap read), before the campaign and the experiment are stored and the readers posted
await checkAdminAccess(url, key).catch((e: Error) => fail(e.message));
const senders = (process.env.AMP_ALLOWED_SENDERS ?? "newsletter@shop.example").split(",");

const result = await runSimulation({
  send: (path, init) => fetch(`${url}${path}`, init),
  adminKey: key,
  eventsKey,
  tokenSecret,
  sender: (senders[0] as string).trim(),
  readers,
  products,
  seed,
  skew,
  runId,
  concurrency: values.concurrency,
  settleSeconds: values["settle-seconds"],
  log,
  // past the setup, a failure is the Worker's answer or a wait given up: said as a setup problem is, without a stack
}).catch((e: Error) => fail(e.message));
const { variants, uplift, srm_p, reconciled, ...rest } = result;
log(
  Object.entries(variants)
    .map(([arm, v]) => `${arm}: ${v.exposed} exposed, CTR ${pct(v.ctr)}, conversion ${pct(v.conversion)}`)
    .join("; ") +
    `; CTR uplift ${pct(uplift.ctr.estimate)} [${pct(uplift.ctr.ci_low)}, ${pct(uplift.ctr.ci_high)}]; SRM p ${srm_p}; ` +
    `${reconciled ? "the store's counts equal the simulation's" : "NOT reconciled"} (${result.seconds} s)`,
);
if (result.unpersonalized > 0)
  log(
    `${result.unpersonalized} opens of the personalized arm were NOT personalized (${JSON.stringify(result.served.personalized)}): ` +
      "the uplift measures a fallback; see the Worker's log",
  );
console.log(JSON.stringify({ variants, uplift, srm_p, reconciled, ...rest }));
process.exitCode = reconciled && result.arm_mismatches === 0 && result.unpersonalized === 0 ? 0 : 1;

/**
 * A setup problem (a secret, the demo shop, the Worker: what is missing and what to run), or the run's own failure
 * (what the Worker answered, a wait given up): exit 1, no stack.
 */
function fail(problem: string): never {
  console.error(`simulate failed: ${problem}`);
  process.exit(1);
}

function pct(x: number | null): string {
  return x === null ? "n/a" : `${(x * 100).toFixed(2)}%`;
}
