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
 */
import { readFile } from "node:fs/promises";
import { modelState } from "../../core/model-versions";
import { cliArgs } from "../lib/cli-args";
import { allEntries, erasedTombstones, keysOfErasedSince } from "./kv-entries";
import { bulkDelete, bulkPut, wranglerKv } from "./wrangler-kv";

const USAGE = "usage: npm run seed -- [--model models/<version>] [--remote] [--with-profiles] [--persist-to <dir>]";
const { values } = cliArgs(USAGE, {
  options: {
    model: { type: "string" },
    remote: { type: "boolean", default: false },
    "with-profiles": { type: "boolean", default: false },
    "persist-to": { type: "string" },
  },
});
const log = (m: string) => console.error(`[seed] ${m}`);
try {
  const dir = values.model ?? (JSON.parse(await readFile("models/latest.json", "utf8")) as { dir: string }).dir;
  const kv = wranglerKv({ remote: values.remote, persistTo: values["persist-to"] });
  const tombstones = await erasedTombstones(kv);
  // the version this one replaces goes into model:history, so `npm run models -- rollback` returns to it
  const { artifacts, entries, written, users, profiles, skipped } = await allEntries(
    dir,
    values["with-profiles"] ?? false,
    tombstones,
    await modelState(kv),
  );
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
  console.log(
    JSON.stringify({
      version: artifacts.manifest.version,
      users,
      profiles,
      skipped_erased: skipped,
      deleted_erased_meanwhile: late.length,
      entries: entries.length,
      remote: values.remote,
    }),
  );
} catch (e) {
  console.error(`seed failed: ${(e as Error).message}`);
  process.exit(1);
}
