/**
 * `npm run fuzz -- --runs 200000 [--seed <n>] [--routes image,click] [--mode collect|assert] [--verbose]`:
 * runs the workerd fuzz suite (test/workerd/fuzz.test.ts) with more generated requests than `npm test`'s
 * 10,000 and prints its figures: requests, per-route counts, statuses and reasons, time, and the failures
 * (the smallest request per route, rule and status). `collect` (the default here) runs every request and
 * keeps the failures; `assert` stops each route at its first failure and shrinks it to a minimal request.
 * `--routes` takes the names in route-names.ts; another is refused with them, exit 2, before anything runs.
 */
import { spawn } from "node:child_process";
import { z } from "zod";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { FUZZ_ROUTE_NAMES } from "./route-names";

interface RouteFigures {
  requests: number;
  statuses: Record<string, number>;
  reasons: Record<string, number>;
  ms: number;
}
interface Figures {
  seed: number;
  mode: string;
  requests: number;
  unbuildable: number;
  queueRefused: number;
  ms: number;
  routes: Record<string, RouteFigures>;
  failures: { route: string; rule: string; status: number; detail: string; request: string }[];
}

const USAGE =
  "usage: npm run fuzz -- [--runs 200000] [--seed <n>] [--routes image,click] [--mode collect|assert] [--verbose]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      runs: { type: "string", default: "200000" },
      seed: { type: "string" },
      routes: { type: "string" },
      mode: { type: "string", default: "collect" },
      verbose: { type: "boolean", default: false },
    },
  },
  z.object({
    runs: wholeNumber(1),
    seed: wholeNumber(-(2 ** 31), 2 ** 31 - 1).optional(),
    mode: z.enum(["collect", "assert"]),
    // names the suite knows, checked here: one it does not know would select no route, and the run would report
    // zero requests and no failure, exit 0, after minutes of training
    routes: z
      .string()
      .transform((raw, ctx) => {
        const names = raw.split(",").map((n) => n.trim());
        const unknown = names.filter((n) => !(FUZZ_ROUTE_NAMES as readonly string[]).includes(n));
        if (unknown.length === 0) return names.join(",");
        ctx.addIssue({
          code: "custom",
          message: `no route ${unknown.map((n) => JSON.stringify(n)).join(", ")}: name some of ${FUZZ_ROUTE_NAMES.join(",")}`,
        });
        return z.NEVER;
      })
      .optional(),
  }),
);
const runs = values.runs;
const seed = String(values.seed ?? Date.now() % 2 ** 31);

const started = Date.now();
console.log(
  `fuzz: ${runs} requests, seed ${seed}, mode ${values.mode}${values.routes ? `, routes ${values.routes}` : ""}`,
);
const child = spawn("npx", ["vitest", "run", "--config", "test/workerd/vitest.fuzz.config.ts"], {
  env: {
    ...process.env,
    FUZZ_RUNS: String(runs),
    FUZZ_SEED: seed,
    FUZZ_MODE: values.mode,
    FUZZ_ROUTES: values.routes ?? "",
  },
  stdio: ["ignore", "pipe", "pipe"],
});
let out = "";
for (const stream of [child.stdout, child.stderr]) {
  stream.setEncoding("utf8");
  stream.on("data", (chunk: string) => {
    out += chunk;
    if (out.length > 20_000_000) out = out.slice(-10_000_000);
    if (values.verbose) process.stdout.write(chunk);
  });
}
const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? 1)));
const wall = (Date.now() - started) / 1000;

const line = out.split("\n").find((l) => l.includes("FUZZ_FIGURES "));
if (!line) {
  console.log(out.slice(-6000));
  console.error(`fuzz: no figures (vitest exited ${code} after ${wall.toFixed(0)} s)`);
  process.exit(code || 1);
}
const figures = JSON.parse(line.slice(line.indexOf("FUZZ_FIGURES ") + "FUZZ_FIGURES ".length)) as Figures;

const top = (m: Record<string, number>, n = 6) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${k} ${v}`)
    .join(", ");
console.log(
  `\n${figures.requests} requests in ${(figures.ms / 1000).toFixed(1)} s of requests ` +
    `(${((figures.ms * 1000) / Math.max(1, figures.requests)).toFixed(0)} us each; ${wall.toFixed(0)} s wall with ` +
    `model training and workerd start), seed ${figures.seed}, ${figures.unbuildable} not buildable by the platform, ` +
    `${figures.queueRefused} answered 503 EVENTS_UNAVAILABLE while the local queue refused a probe too`,
);
console.log("\nroute            requests   ms     statuses                         reasons");
for (const [route, r] of Object.entries(figures.routes)) {
  console.log(
    `${route.padEnd(16)} ${String(r.requests).padStart(8)} ${String(r.ms).padStart(6)}   ${top(r.statuses).padEnd(32)} ${top(r.reasons, 4)}`,
  );
}
if (figures.failures.length === 0) console.log("\nfailures: none");
else {
  console.log(`\nfailures: ${figures.failures.length} (route, rule, status; the smallest request of each)`);
  for (const f of figures.failures) {
    console.log(`- ${f.route} ${f.rule} (${f.status}): ${f.detail.slice(0, 200)}\n    ${f.request.slice(0, 600)}`);
  }
}
if (code !== 0 && figures.failures.length === 0) console.log(out.slice(-4000));
process.exit(code);
