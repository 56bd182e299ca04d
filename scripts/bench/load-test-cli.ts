/**
 * `npm run loadtest -- [--url http://127.0.0.1:8787] [--users 5000] [--events-per-user 20] [--concurrency 8]
 *   [--poll-concurrency 16] [--duplicate-batches 10] [--lag-samples 50] [--drain-seconds 600] [--stall-seconds 60]`
 * Runs the ingestion load test. Without --url it starts a Worker of its own (`wrangler dev`, fresh state in
 * memory, stopped afterwards: load-test-server.ts); with --url, against that running Worker (`npm run dev`, or a
 * deployment), keys from EVENTS_API_KEYS / ADMIN_API_KEYS or .dev.vars. Progress and a readable summary go to stderr; stdout gets one line, the result as JSON (also written
 * to bench/loadtest.json). Exits 1 unless every reader reconciled exactly.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { z } from "zod";
import { cliArgs, wholeNumber } from "../lib/cli-args";
import { adminKey, firstKey, readDevVars } from "../lib/dev-vars";
import { exitCode, resultLine, runLoadTest } from "./load-test";
import { startLoadTestServer } from "./load-test-server";

const USAGE =
  "usage: npm run loadtest -- [--url http://127.0.0.1:8787] [--users 5000] [--events-per-user 20] [--concurrency 8] [--poll-concurrency 16] [--duplicate-batches 10] [--lag-samples 50] [--drain-seconds 600] [--stall-seconds 60]";
const { values } = cliArgs(
  USAGE,
  {
    options: {
      url: { type: "string" },
      users: { type: "string", default: "5000" },
      "events-per-user": { type: "string", default: "20" },
      concurrency: { type: "string", default: "8" },
      "poll-concurrency": { type: "string", default: "16" },
      "duplicate-batches": { type: "string", default: "10" },
      "lag-samples": { type: "string", default: "50" },
      "drain-seconds": { type: "string", default: "600" },
      "stall-seconds": { type: "string", default: "60" },
    },
  },
  z.object({
    users: wholeNumber(1, 1_000_000),
    "events-per-user": wholeNumber(1, 1000),
    concurrency: wholeNumber(1, 256),
    "poll-concurrency": wholeNumber(1, 256),
    "duplicate-batches": wholeNumber(0, 10_000),
    "lag-samples": wholeNumber(0, 10_000),
    "drain-seconds": wholeNumber(1, 86_400),
    "stall-seconds": wholeNumber(1, 86_400),
  }),
);
const log = (line: string) => process.stderr.write(`${line}\n`);
const vars = readDevVars();
const first = (s: string | undefined) => firstKey(s) ?? "";
// without --url: a Worker of its own (load-test-server.ts), stopped at the end
const own = values.url ? null : await startLoadTestServer(log);
const url = (own?.url ?? (values.url as string)).replace(/\/$/, "");
const result = await runLoadTest({
  send: (path, init) => fetch(`${url}${path}`, init),
  eventsKey: own?.eventsKey ?? first(process.env.EVENTS_API_KEYS ?? vars.EVENTS_API_KEYS),
  // .dev.vars' key only for a Worker on this machine
  adminKey: own?.adminKey ?? adminKey(url, "--url"),
  users: values.users,
  eventsPerUser: values["events-per-user"],
  concurrency: values.concurrency,
  pollConcurrency: values["poll-concurrency"],
  duplicateBatches: values["duplicate-batches"],
  lagSamples: values["lag-samples"],
  drainSeconds: values["drain-seconds"],
  stallSeconds: values["stall-seconds"],
  prefix: `lt${Date.now().toString(36)}`,
  log,
}).finally(() => own?.stop());
const at = new Date().toISOString();
await mkdir("bench", { recursive: true });
await writeFile("bench/loadtest.json", `${JSON.stringify({ at, url, ...result }, null, 2)}\n`);
const r = result.reconciled;
log(
  `${result.events} events for ${result.users} readers: ${result.events_per_second_end_to_end} events/s end to end ` +
    `(posted in ${result.post_seconds} s, ${result.accepted_per_second} events/s accepted; drained in ${result.drain_seconds} s); ` +
    `reconciled ${r.exact}/${result.users} exactly (${r.mismatched} mismatched, ${r.missing} missing); ` +
    `POST-to-visible (${result.lag_view}) p50 ${Math.round(result.lag_ms.p50)} ms, p99 ${Math.round(result.lag_ms.p99)} ms` +
    (result.lag_timeouts ? ` (${result.lag_timeouts} probes timed out)` : ""),
);
console.log(resultLine(result, { at, url }));
process.exitCode = exitCode(result);
