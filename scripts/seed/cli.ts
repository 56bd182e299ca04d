/**
 * `npm run seed -- [--model models/<version>] [--remote] [--with-profiles]`
 * Publishes a trained model into KV: manifest, ONNX graphs, catalog, fallback items, every user's model
 * features (`features:<user>:<version>`) and finally the `model:active` pointer. `--with-profiles` also
 * writes the exported profiles (purchase history): for a first load only, since it replaces real-time
 * state (consent, events). Local wrangler state by default; the real namespace with --remote.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { allEntries } from "./kv-entries";
import { bulkPut } from "./wrangler-kv";

const { values } = parseArgs({
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
  const { artifacts, entries, users, profiles } = await allEntries(dir, values["with-profiles"] ?? false);
  await bulkPut(entries, { remote: values.remote, persistTo: values["persist-to"], log });
  console.log(
    JSON.stringify({
      version: artifacts.manifest.version,
      users,
      profiles,
      entries: entries.length,
      remote: values.remote,
    }),
  );
} catch (e) {
  console.error(`seed failed: ${(e as Error).message}`);
  process.exit(1);
}
