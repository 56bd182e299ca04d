/**
 * `npm run seed` never writes anything again for an erased reader: it lists the `erased:` tombstones first
 * (core/erasure-key.ts, computable without TOKEN_SECRET) and skips those readers' features and profiles,
 * saying how many it skipped. In memory, then end to end through wrangler's local state.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { erasureKey } from "../../core/erasure-key";
import type { KvClient } from "../../core/kv-client";
import { kvKeys } from "../../core/kv-keys";
import { emptyProfile } from "../../core/profile";
import { allEntries, erasedTombstones, keysOfErasedSince } from "../../scripts/seed/kv-entries";
import { bulkDelete, wranglerKv } from "../../scripts/seed/wrangler-kv";
import { tinyModel } from "./support/tiny-model";

const VERSION = "seed-erased-v1";
const READERS = ["r-kept-1", "r-erased", "r-kept-2"];

function memoryKv(keys: string[]): Pick<KvClient, "list"> {
  return { list: async (prefix) => keys.filter((k) => k.startsWith(prefix)).sort() };
}

/** A small, schema-valid model directory (the ONNX bytes are opaque to seeding) with three readers' profiles. */
function modelDir(base: string): string {
  const dir = join(base, VERSION);
  const { manifest, catalog, onnx } = tinyModel(VERSION, { users: 3 });
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(join(dir, "catalog.json"), JSON.stringify(catalog));
  writeFileSync(join(dir, "model.onnx"), onnx);
  const profiles = READERS.map((u) => JSON.stringify(emptyProfile(u, "2026-01-01T00:00:00.000Z")));
  writeFileSync(join(dir, "profiles.jsonl"), `${profiles.join("\n")}\n`);
  return dir;
}

const ownKeys = (keys: readonly string[], user: string) =>
  keys.filter((k) => k === kvKeys.profile(user) || k.startsWith(kvKeys.featuresPrefix(user)));

describe("npm run seed: erased readers", () => {
  let base: string;
  let dir: string;
  beforeAll(() => {
    base = mkdtempSync(join(tmpdir(), "ot-seed-erased-"));
    dir = modelDir(base);
  });
  afterAll(() => rmSync(base, { recursive: true, force: true }));

  it("writes no features and no profile for a reader with a tombstone, and counts them", async () => {
    const tombstones = await erasedTombstones(memoryKv([await erasureKey("r-erased"), "erased:someone-else", "x:1"]));
    expect(tombstones.size).toBe(2);
    const res = await allEntries(dir, true, tombstones);
    const keys = res.entries.map((e) => e.key);
    expect(res.skipped).toBe(1);
    expect(res.users).toBe(2);
    expect(res.profiles).toBe(2);
    expect(ownKeys(keys, "r-erased")).toEqual([]);
    for (const kept of ["r-kept-1", "r-kept-2"]) {
      expect(ownKeys(keys, kept).sort()).toEqual([kvKeys.features(kept, VERSION), kvKeys.profile(kept)].sort());
    }
    expect(keys.at(-1)).toBe(kvKeys.activeModel);
    // no tombstones: everyone, as before
    const all = await allEntries(dir, false, new Set());
    expect(all.skipped).toBe(0);
    expect(all.entries.filter((e) => e.key.startsWith("features:"))).toHaveLength(3);
  });

  it("end to end: the CLI lists the namespace's tombstones first and says how many readers it skipped", async () => {
    const state = join(base, "state");
    const kv = wranglerKv({ persistTo: state });
    await kv.put(await erasureKey("r-erased"), "1");
    const run = spawnSync(
      "npx",
      ["tsx", "scripts/seed/cli.ts", "--model", dir, "--persist-to", state, "--with-profiles"],
      { encoding: "utf8" },
    );
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1) as string) as Record<string, unknown>;
    expect(out).toMatchObject({
      version: VERSION,
      users: 2,
      profiles: 2,
      skipped_erased: 1,
      deleted_erased_meanwhile: 0,
    });
    expect(run.stderr).toContain("skipped 1 erased reader");
    const [features, profiles] = await Promise.all([kv.list("features:"), kv.list("profile:")]);
    expect(features.sort()).toEqual([kvKeys.features("r-kept-1", VERSION), kvKeys.features("r-kept-2", VERSION)]);
    expect(profiles.sort()).toEqual([kvKeys.profile("r-kept-1"), kvKeys.profile("r-kept-2")]);
  }, 120_000);

  it("a reader erased while the seed wrote is found after: their keys are named and deleted again", async () => {
    const before = new Set([await erasureKey("r-erased")]);
    const after = new Set([...before, await erasureKey("r-kept-2"), "erased:someone-else"]);
    expect(await keysOfErasedSince(READERS, before, after, VERSION, true)).toEqual([
      kvKeys.features("r-kept-2", VERSION),
      kvKeys.profile("r-kept-2"),
    ]);
    expect(await keysOfErasedSince(READERS, before, before, VERSION, true)).toEqual([]);
    // and wrangler's bulk delete removes them (absent keys are no error)
    const state = join(base, "state-late");
    const kv = wranglerKv({ persistTo: state });
    await kv.put(kvKeys.features("r-kept-2", VERSION), "{}");
    await kv.put(kvKeys.features("r-kept-1", VERSION), "{}");
    await bulkDelete([kvKeys.features("r-kept-2", VERSION), kvKeys.profile("r-kept-2")], { persistTo: state });
    expect(await kv.list("features:")).toEqual([kvKeys.features("r-kept-1", VERSION)]);
  }, 120_000);
});
