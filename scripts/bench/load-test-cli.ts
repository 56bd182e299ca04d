/**
 * `npm run loadtest -- [--url http://127.0.0.1:8787] [--users 5000] [--events-per-user 20]`
 * Runs the ingestion load test against a running Worker (`npm run dev` in another terminal) and prints
 * the reconciliation; keys default to .dev.vars. Writes bench/loadtest.json.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { readDevVars } from "../lib/dev-vars";
import { runLoadTest } from "./load-test";

const { values } = parseArgs({
  options: {
    url: { type: "string", default: "http://127.0.0.1:8787" },
    users: { type: "string", default: "5000" },
    "events-per-user": { type: "string", default: "20" },
    concurrency: { type: "string", default: "8" },
  },
});
const vars = readDevVars();
const first = (s: string | undefined) => s?.split(",")[0] ?? "";
const url = (values.url as string).replace(/\/$/, "");
const result = await runLoadTest({
  send: (path, init) => fetch(`${url}${path}`, init),
  eventsKey: first(process.env.EVENTS_API_KEYS ?? vars.EVENTS_API_KEYS),
  adminKey: first(process.env.ADMIN_API_KEYS ?? vars.ADMIN_API_KEYS),
  users: Number(values.users),
  eventsPerUser: Number(values["events-per-user"]),
  concurrency: Number(values.concurrency),
  duplicateBatches: 10,
  lagSamples: 50,
  drainSeconds: 600,
  prefix: `lt${Date.now().toString(36)}`,
});
await mkdir("bench", { recursive: true });
await writeFile(
  "bench/loadtest.json",
  `${JSON.stringify({ at: new Date().toISOString(), url, ...result }, null, 2)}\n`,
);
console.log(JSON.stringify(result, null, 2));
if (result.reconciled.exact !== result.users) process.exit(1);
