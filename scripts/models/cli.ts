/**
 * `npm run models -- list | activate <version> | rollback | delete <version> [--url <worker> | --remote |
 * --persist-to <dir>] [--json]`
 * The model versions in KV and which one serves. `activate` checks the version as the Worker would
 * (manifest, known feature spec, ONNX bytes and their sha256, catalog) before the `model:active` pointer
 * moves, and records the version it replaces; `rollback` returns to that one. With `--url`, the Worker at that
 * address lists and makes the moves through its admin API (key: ADMIN_API_KEY), in its one writer of moves (the
 * ModelMover), so a move cannot race the dashboard's or another CLI's and a listing shows the moves' own state;
 * otherwise this CLI reads and writes KV itself: local wrangler state (as `npm start` uses it) by default, the
 * real namespace with --remote. `delete` removes a version's keys only when nothing can serve it
 * (core/model-deletion.ts), through the ModelMover too with `--url`.
 */
import { segmentsWarning } from "../../core/campaign-segments";
import { CLI_READ_LIMITS, deleteVersion } from "../../core/model-deletion";
import {
  activate,
  type Listing,
  type ListingPage,
  listVersions,
  MAX_LISTED_VERSIONS,
  ModelsError,
  type Move,
  rollback,
} from "../../core/model-versions";
import { cliArgs, kvPlaceOrExit, workerUrlOrExit } from "../lib/cli-args";
import { adminKey } from "../lib/dev-vars";
import { deleteViaWorker, listViaWorker, moveViaWorker } from "../lib/worker-admin";
import { wranglerKv } from "../seed/wrangler-kv";

const USAGE =
  "usage: npm run models -- list | activate <version> | rollback | delete <version> [--url <worker> | --remote | --persist-to <dir>] [--json]";

const { values, positionals } = cliArgs(USAGE, {
  allowPositionals: true,
  options: {
    url: { type: "string" },
    remote: { type: "boolean", default: false },
    "persist-to": { type: "string" },
    json: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

function printListing(l: Listing): void {
  const rows = l.versions.map((v) => [
    v.active ? "*" : " ",
    v.version,
    v.createdAt ?? "-",
    v.featureSpec ?? "-",
    v.items === null ? "-" : String(v.items),
    v.check === "ok" ? (v.detail ? `ok (${v.detail})` : "ok") : `${v.check}: ${v.detail ?? ""}`,
  ]);
  const header = [" ", "version", "created", "spec", "items", "check (manifest, ONNX sha256, catalog)"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  for (const r of [header, ...rows])
    console.log(
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number)))
        .join("  ")
        .trimEnd(),
    );
  if (l.versions.length === 0) console.log("(no model versions in KV)");
  console.log(`active: ${l.active ? `${l.active.version} since ${l.active.activatedAt}` : "none"}`);
  if (l.active && !l.versions.some((v) => v.active)) console.log("  (the active version has no manifest in KV)");
  console.log(`history (rollback goes to the last): ${l.history.map((h) => h.version).join(", ") || "empty"}`);
}

/**
 * Every version, page after page (each page a bounded request of the Worker's), with the pointer and history as the
 * first page gave them.
 */
async function everyVersion(list: (page: ListingPage) => Promise<Listing>): Promise<Listing> {
  const first = await list({ limit: MAX_LISTED_VERSIONS });
  const versions = [...first.versions];
  for (let cursor = first.cursor; cursor !== null; ) {
    const next = await list({ limit: MAX_LISTED_VERSIONS, cursor });
    versions.push(...next.versions);
    cursor = next.cursor;
  }
  return { ...first, versions, cursor: null };
}

function printMove(what: string, m: Move): void {
  if (m.unchanged) console.log(`${m.pointer.version} is already active (since ${m.pointer.activatedAt})`);
  else console.log(`${what} ${m.pointer.version} (was ${m.previous?.version ?? "none"})`);
  if (m.warning) console.log(`warning: ${m.warning}; this version serves ALS alone`);
  printCampaignSegments(m);
  if (!m.unchanged) console.log("isolates switch at their next pointer check (MODEL_REFRESH_SECONDS)");
}

/** What is wrong with the command line's words, said before the usage line (as a bad option is), or null. */
function commandProblem(command: string | undefined, version: string | undefined, extra: string[]): string | null {
  const commands = "list, activate <version>, rollback or delete <version>";
  if (command === undefined) return `name a command: ${commands}`;
  if (!["list", "activate", "rollback", "delete"].includes(command))
    return `unknown command ${JSON.stringify(command)}: ${commands}`;
  const named = command === "activate" || command === "delete";
  if (named && version === undefined) return `${command}: name the version to ${command}`;
  const more = named ? extra : [version, ...extra].filter((w) => w !== undefined);
  if (more.length > 0) return `${command}: unexpected ${more.map((w) => JSON.stringify(w)).join(" ")}`;
  return null;
}

/** The conditions naming a segment the version now served lacks, and whether every campaign was read. */
function printCampaignSegments(m: Move): void {
  const lines = segmentsWarning(m.pointer.version, m.campaignSegmentsMissing, m.campaignsChecked);
  if (lines.length > 0) console.log(lines.join("\n"));
}

const [command, version, ...extra] = positionals;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const problem = commandProblem(command, version, extra);
if (problem) {
  console.error(`${problem}\n${USAGE}`);
  process.exit(2);
}
if (values.url !== undefined && (values.remote || values["persist-to"] !== undefined)) {
  console.error("--url asks the Worker, which reads its own KV: drop --remote and --persist-to");
  process.exit(2);
}
kvPlaceOrExit(values.remote, values["persist-to"]);
const kv = wranglerKv({ remote: values.remote, persistTo: values["persist-to"] });
const worker = workerUrlOrExit(values.url);
try {
  if (command === "list" && !version) {
    const listing = await everyVersion((page) =>
      worker ? listViaWorker(worker.base, adminKey(worker.base, "--url"), fetch, page) : listVersions(kv, page),
    );
    if (values.json) console.log(JSON.stringify(listing, null, 2));
    else printListing(listing);
  } else if (command === "activate" && version) {
    const move = worker
      ? await moveViaWorker(worker.base, adminKey(worker.base, "--url"), { kind: "activate", version })
      : await activate(kv, version);
    if (values.json) console.log(JSON.stringify(move));
    else printMove("activated", move);
  } else if (command === "rollback" && !version) {
    const move = worker
      ? await moveViaWorker(worker.base, adminKey(worker.base, "--url"), { kind: "rollback" })
      : await rollback(kv);
    if (values.json) console.log(JSON.stringify(move));
    else printMove("rolled back to", move);
  } else if (command === "delete" && version) {
    const deletion = worker
      ? await deleteViaWorker(worker.base, adminKey(worker.base, "--url"), version)
      : await deleteVersion(kv, version, CLI_READ_LIMITS);
    if (values.json) console.log(JSON.stringify(deletion));
    else console.log(`deleted ${deletion.version}: ${deletion.deleted.length} keys (${deletion.deleted.join(", ")})`);
  } else {
    console.error(USAGE);
    process.exit(2);
  }
} catch (e) {
  console.error(e instanceof ModelsError ? e.message : `models failed: ${(e as Error).message}`);
  process.exit(1);
}
