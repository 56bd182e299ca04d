/**
 * Training step 7: write a version's files into `<out>/<version>/` and point `<out>/latest.json` at it:
 * model.onnx and item-table.json (ALS, with the Gram matrix for fold-in), content.onnx, neighbours.bin (the
 * ranker's), segments.onnx and
 * segments.json, manifest.json, catalog.json, golden.json, profiles.jsonl, pools.jsonl (the readers' pools, with a ranker).
 * The version's files are written into a directory of their own and then take the version's place whole: a version is
 * named by its content, so a retrain of the same log into the same `--out` lands in the directory an earlier run
 * filled, and a file that run wrote and this one does not (its pools, under --no-pools) would otherwise stay beside
 * the new model, for `npm run seed` to publish with it. profiles.jsonl and pools.jsonl are written a line at a time
 * (scripts/lib/jsonl.ts): a million readers' lines joined into one string pass Node's string length limit.
 */
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bytesToBase64 } from "../../../core/base64";
import type { Catalog } from "../../../core/catalog";
import { type ItemTable, itemGram } from "../../../core/fold-in";
import type { Golden } from "../../../core/golden";
import type { QuantizedItems } from "../../../core/int8-kernel";
import type { ModelManifest } from "../../../core/manifest";
import type { Profile } from "../../../core/profile";
import { writeLines } from "../../lib/jsonl";
import type { Engagement } from "./fit-engagement";
import type { Recommenders } from "./fit-recommenders";

export interface ModelFiles {
  recs: Recommenders;
  engagement: Engagement;
  manifest: ModelManifest;
  catalog: Catalog;
  golden: Golden;
  profiles: Profile[];
  /** each reader's stored pool (core/reader-pool.ts), by user id */
  pools: ReadonlyMap<string, string>;
}

/** Writes the version's files; returns its directory. */
export async function writeModel(out: string, files: ModelFiles, log: (msg: string) => void): Promise<string> {
  const { recs, profiles } = files;
  const dir = join(out, recs.version);
  const staging = join(out, `.${recs.version}.partial-${process.pid}`);
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  try {
    await writeFiles(staging, files);
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    throw e;
  }
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  // written whole or not at all (a run stopped while writing leaves the one before): `npm start` and seed read it
  const latest = join(out, `.latest.json.partial-${process.pid}`);
  await writeFile(latest, `${JSON.stringify({ version: recs.version, dir }, null, 2)}\n`);
  await rename(latest, join(out, "latest.json"));
  log(
    `exported ${recs.version} (${(recs.alsOnnx.length / 1024).toFixed(0)} KiB ALS ONNX, ${profiles.length} profiles) to ${dir}`,
  );
  return dir;
}

/** Every file of the version into `dir`, those a model lacks (content, ranker, segments, pools) left out. */
async function writeFiles(dir: string, files: ModelFiles): Promise<void> {
  const { recs, engagement, manifest, catalog, golden, profiles, pools } = files;
  await writeFile(join(dir, "model.onnx"), recs.alsOnnx);
  await writeFile(join(dir, "item-table.json"), JSON.stringify(itemTable(recs.alsItems)));
  if (recs.contentOnnx) await writeFile(join(dir, "content.onnx"), recs.contentOnnx);
  if (recs.ranker) await writeFile(join(dir, "neighbours.bin"), recs.ranker.neighbours);
  if (engagement.segmentOnnx && engagement.segments) {
    await writeFile(join(dir, "segments.onnx"), engagement.segmentOnnx);
    await writeFile(join(dir, "segments.json"), `${JSON.stringify(engagement.segments.model, null, 2)}\n`);
  }
  await writeFile(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  await writeFile(join(dir, "catalog.json"), JSON.stringify(catalog));
  await writeFile(join(dir, "golden.json"), JSON.stringify(golden));
  await writeLines(join(dir, "profiles.jsonl"), profileLines(profiles));
  if (pools.size > 0) await writeLines(join(dir, "pools.jsonl"), poolLines(pools));
}

/** One JSON line a profile; none, a single empty line (the file's bytes as they always were). */
function* profileLines(profiles: readonly Profile[]): Generator<string> {
  if (profiles.length === 0) yield "";
  for (const p of profiles) yield JSON.stringify(p);
}

function* poolLines(pools: ReadonlyMap<string, string>): Generator<string> {
  for (const [userId, pool] of pools) yield JSON.stringify({ userId, pool });
}

/** The ALS graph's int8 item table and Gram matrix, for fold-in at the edge. */
function itemTable(items: QuantizedItems): ItemTable {
  const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  return {
    n: items.n,
    d: items.d,
    q: b64(items.q),
    scales: b64(items.scales),
    gram: b64(Float32Array.from(itemGram(items))),
  };
}
