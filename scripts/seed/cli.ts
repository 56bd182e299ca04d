/**
 * `npm run seed -- [--model models/<version>] [--remote] [--no-profiles]`
 * Puts a trained model (manifest, ONNX graphs, catalog), fallback items, the profiles exported with it
 * and finally the `model:active` pointer into KV: local wrangler state by default, the real namespace
 * with --remote.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { allEntries } from "./kv-entries";
import { bulkPut } from "./wrangler-kv";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    remote: { type: "boolean", default: false },
    "no-profiles": { type: "boolean", default: false },
    "persist-to": { type: "string" },
  },
});
const log = (m: string) => console.error(`[seed] ${m}`);
try {
  const dir = values.model ?? (JSON.parse(await readFile("models/latest.json", "utf8")) as { dir: string }).dir;
  const { artifacts, entries, profiles } = await allEntries(dir, !values["no-profiles"]);
  await bulkPut(entries, { remote: values.remote, persistTo: values["persist-to"], log });
  console.log(
    JSON.stringify({ version: artifacts.manifest.version, profiles, entries: entries.length, remote: values.remote }),
  );
} catch (e) {
  console.error(`seed failed: ${(e as Error).message}`);
  process.exit(1);
}
