/**
 * `npm run seed -- [--model models/<version>] [--events build/demo/events.csv] [--map ...] [--remote]`
 * Puts a trained model (manifest, ONNX, catalog), fallback items, per-user profiles and finally the
 * `model:active` pointer into KV: local wrangler state by default, the real namespace with --remote.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parseMapping, readInteractionLog } from "../data/interaction-log";
import { buildProfiles, readUserFactors } from "../profiles/build-profiles";
import { modelEntries, profileEntries, readModelArtifacts } from "./kv-entries";
import { bulkPut } from "./wrangler-kv";

const { values } = parseArgs({
  options: {
    model: { type: "string" },
    events: { type: "string", default: "build/demo/events.csv" },
    map: { type: "string" },
    remote: { type: "boolean", default: false },
    "no-profiles": { type: "boolean", default: false },
    "persist-to": { type: "string" },
  },
});
const log = (m: string) => console.error(`[seed] ${m}`);
try {
  const dir = values.model ?? (JSON.parse(await readFile("models/latest.json", "utf8")) as { dir: string }).dir;
  const artifacts = await readModelArtifacts(dir);
  const entries = modelEntries(artifacts, false);
  let profiles = 0;
  if (!values["no-profiles"]) {
    const events = await readInteractionLog(values.events as string, {
      mapping: values.map ? parseMapping(values.map) : undefined,
    });
    const factors = await readUserFactors(dir, artifacts.manifest.version, artifacts.manifest.dims);
    const built = buildProfiles(events, factors);
    profiles = built.length;
    entries.push(...profileEntries(built));
  }
  // the pointer last: the model is complete in KV before it goes live
  entries.push(...modelEntries(artifacts, true).slice(-1));
  await bulkPut(entries, { remote: values.remote, persistTo: values["persist-to"], log });
  console.log(
    JSON.stringify({ version: artifacts.manifest.version, profiles, entries: entries.length, remote: values.remote }),
  );
} catch (e) {
  console.error(`seed failed: ${(e as Error).message}`);
  process.exit(1);
}
