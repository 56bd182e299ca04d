/**
 * `npm run seed -- [--model models/<version>] [--remote] [--with-profiles]`
 * Publishes a trained model into KV: manifest, ONNX graphs, catalog, fallback items, every user's model
 * features (`features:<user>:<version>`), the version it replaces into `model:history` (for `npm run models --
 * rollback`) and finally the `model:active` pointer. `--with-profiles` also
 * writes the exported profiles (purchase history): for a first load only, since it replaces real-time
 * state (consent, events). Local wrangler state by default; the real namespace with --remote.
 * Erased readers (`erased:` tombstones, listed first) are skipped: no features, no profile; the output's
 * `skipped_erased` says how many. The tombstones are listed again once everything is written: what was written
 * for a reader erased meanwhile is deleted (`deleted_erased_meanwhile`: how many keys).
 * `--url <worker>`: everything but the pointer and history is written here, then the Worker at that address
 * activates the version through its admin API (key: ADMIN_API_KEY), in its one writer of model moves, so the
 * move cannot race another; without it this CLI moves the pointer itself (README, Known limits).
 */
import { readFile } from "node:fs/promises";
import { segmentsWarning } from "../../core/campaign-segments";
import { campaignSegments, ModelsError, modelState } from "../../core/model-versions";
import { cliArgs, kvPlaceOrExit, workerUrlOrExit } from "../lib/cli-args";
import { adminKey } from "../lib/dev-vars";
import { checkAdminAccess, moveViaWorker } from "../lib/worker-admin";
import { allEntries, erasedTombstones, keysOfErasedSince } from "./kv-entries";
import { bulkDelete, bulkPut, wranglerKv } from "./wrangler-kv";

const USAGE =
  "usage: npm run seed -- [--model models/<version>] [--remote] [--with-profiles] [--persist-to <dir>] [--url <worker>]";
const { values } = cliArgs(USAGE, {
  options: {
    model: { type: "string" },
    remote: { type: "boolean", default: false },
    "with-profiles": { type: "boolean", default: false },
    "persist-to": { type: "string" },
    url: { type: "string" },
  },
});
const log = (m: string) => console.error(`[seed] ${m}`);
kvPlaceOrExit(values.remote, values["persist-to"]);
const worker = workerUrlOrExit(values.url);
// the Worker at --url reads the namespace this seed writes: a deployed one the real namespace, a local one local KV
// (a `wrangler dev --remote` on this machine is not told apart: seed it without --url, then move with models --url)
if (worker && worker.local === values.remote) {
  console.error(
    values.remote
      ? `--url ${values.url} is a local Worker, which reads local KV: drop --remote`
      : `--url ${values.url} is a deployed Worker, which reads the real namespace: add --remote`,
  );
  process.exit(2);
}
/** The model `npm run train` wrote last (models/latest.json); before any training, what to do. */
async function latestModel(): Promise<string> {
  const text = await readFile("models/latest.json", "utf8").catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT")
      throw new Error("no trained model: run `npm run train` first, or pass --model models/<version>");
    throw e;
  });
  return (JSON.parse(text) as { dir: string }).dir;
}
try {
  const dir = values.model ?? (await latestModel());
  const kv = wranglerKv({ remote: values.remote, persistTo: values["persist-to"] });
  // before anything is written: the Worker answers and takes the key (a deployed one never gets .dev.vars' key)
  const key = worker ? adminKey(worker.base, "--url") : null;
  if (worker && key !== null) await checkAdminAccess(worker.base, key);
  const tombstones = await erasedTombstones(kv);
  // the version this one replaces goes into model:history, so `npm run models -- rollback` returns to it
  const { artifacts, entries, written, users, profiles, skipped } = await allEntries(
    dir,
    values["with-profiles"] ?? false,
    tombstones,
    key === null ? await modelState(kv) : null,
  );
  // which model (read and checked): without --model, the one train last wrote into models/ (one trained with --out
  // elsewhere is not it)
  log(values.model ? `model ${dir}` : `model ${dir} (models/latest.json; for one trained with --out, pass --model)`);
  if (skipped > 0) log(`skipped ${skipped} erased reader(s): no features or profile written for them`);
  const where = { remote: values.remote, persistTo: values["persist-to"], log };
  await bulkPut(entries, where);
  // a reader erased while the entries were written (the erasure deleted their keys before these landed): what
  // was written for them goes again
  const late = await keysOfErasedSince(
    written,
    tombstones,
    await erasedTombstones(kv),
    artifacts.manifest.version,
    values["with-profiles"] ?? false,
  );
  await bulkDelete(late, where);
  const move = worker && key !== null ? await activateStored(worker.base, key, artifacts.manifest.version) : undefined;
  // campaign conditions naming a segment this version lacks: the Worker's move says, else read here as it would
  const version = artifacts.manifest.version;
  const segments = move ?? (await campaignSegments(kv, { version, names: artifacts.manifest.segments?.names ?? [] }));
  for (const line of segmentsWarning(version, segments.campaignSegmentsMissing, segments.campaignsChecked)) log(line);
  console.log(
    JSON.stringify({
      version: artifacts.manifest.version,
      users,
      profiles,
      skipped_erased: skipped,
      deleted_erased_meanwhile: late.length,
      entries: entries.length,
      remote: values.remote,
      campaign_segments_missing: segments.campaignSegmentsMissing.length,
      ...(move
        ? { activated_by: worker?.base, previous: move.previous?.version ?? null, unchanged: move.unchanged }
        : {}),
    }),
  );
} catch (e) {
  console.error(`seed failed: ${(e as Error).message}`);
  process.exit(1);
}

/** The version is stored; the Worker checks it and moves the pointer (a refusal leaves it stored, not serving). */
async function activateStored(url: string, key: string, version: string) {
  try {
    return await moveViaWorker(url, key, { kind: "activate", version });
  } catch (e) {
    const again = `npm run models -- activate ${version} --url ${url}`;
    if (e instanceof ModelsError)
      throw new Error(`${e.message}. The version is stored but not serving; after a fix: ${again}`);
    throw new Error(`${(e as Error).message}. The version is stored but not serving: ${again}`);
  }
}
