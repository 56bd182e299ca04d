/**
 * `npm run seed` refuses, before writing anything, an entry larger than Workers KV takes (25 MiB a value, 512
 * bytes a key; local KV would take it, so the failure would first show in production, mid-publication): a
 * 100k-item catalog with long URLs is over. Base64 entries are measured by the bytes KV stores.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { bytesToBase64 } from "../../core/base64";
import { kvKeys } from "../../core/kv-keys";
import { allEntries, checkKvLimits, entryBytes, KV_MAX_VALUE_BYTES, modelEntries } from "../../scripts/seed/kv-entries";
import { tinyModel } from "./support/tiny-model";

const VERSION = "seed-limits-v1";
const base = mkdtempSync(join(tmpdir(), "ot-seed-limits-"));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** A schema-valid model directory whose catalog's URLs are `urlLength` characters long. */
function modelDir(name: string, urlLength: number): string {
  const dir = join(base, name);
  const { manifest, catalog, onnx } = tinyModel(VERSION, { users: 1 });
  const long = `https://shop.example/${"p".repeat(Math.max(0, urlLength - 21))}`;
  const items = catalog.items.map((i) => ({ ...i, url: long, image: long }));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.json"), JSON.stringify(manifest));
  writeFileSync(join(dir, "catalog.json"), JSON.stringify({ ...catalog, items }));
  writeFileSync(join(dir, "model.onnx"), onnx);
  writeFileSync(join(dir, "profiles.jsonl"), "");
  return dir;
}

describe("KV's limits, checked before a publication", () => {
  it("measures a base64 entry by its decoded bytes", () => {
    for (const n of [0, 1, 2, 3, 1000, 1001, 1002])
      expect(entryBytes({ key: "k", value: bytesToBase64(new Uint8Array(n)), base64: true })).toBe(n);
    expect(entryBytes({ key: "k", value: "é" })).toBe(2);
  });

  it("refuses a value over 25 MiB and a key over 512 bytes, naming them; takes one at the limit", () => {
    const at = "x".repeat(KV_MAX_VALUE_BYTES);
    expect(() => checkKvLimits([{ key: "model:v:catalog", value: at }])).not.toThrow();
    expect(() => checkKvLimits([{ key: "model:v:catalog", value: `${at}x` }])).toThrow(
      /model:v:catalog is 25\.0 MiB; Workers KV takes at most 25 MiB/,
    );
    expect(() => checkKvLimits([{ key: "k".repeat(513), value: "" }])).toThrow(/longer than 512 bytes/);
  });

  it("allEntries refuses a catalog too large for KV, and takes the same catalog with short URLs", async () => {
    const { catalog } = tinyModel(VERSION, { users: 1 });
    // long enough that the catalog passes 25 MiB whatever the tiny model's item count
    const urlLength = Math.ceil(KV_MAX_VALUE_BYTES / catalog.items.length / 2) + 100;
    await expect(allEntries(modelDir("big", urlLength), false)).rejects.toThrow(`model:${VERSION}:catalog is`);
    const ok = await allEntries(modelDir("small", 40), false);
    expect(ok.entries.map((e) => e.key)).toContain(`model:${VERSION}:catalog`);
  });
});

describe("a model directory the Worker would refuse", () => {
  it("is refused before anything is written, naming what is wrong, not published and made active", async () => {
    const dir = modelDir("no-onnx", 40);
    rmSync(join(dir, "model.onnx"));
    // before: its manifest and catalog were written and model:active moved to a version with no graph to serve
    await expect(allEntries(dir, false)).rejects.toThrow(
      new RegExp(`^${dir}: the Worker would refuse version ${VERSION} \\(model-missing: no ONNX bytes\\)`),
    );
    const damaged = modelDir("damaged", 40);
    writeFileSync(join(damaged, "model.onnx"), "not the graph the manifest names");
    await expect(allEntries(damaged, false)).rejects.toThrow(/\(model-corrupt: ONNX sha256 [0-9a-f]{64} != manifest\)/);
    // a content graph the manifest names and the directory lacks: the version would serve ALS alone
    const noContent = modelDir("no-content", 40);
    const manifest = JSON.parse(readFileSync(join(noContent, "manifest.json"), "utf8"));
    const content = { featureSpec: "content-user-vector/1", dims: 4, onnxSha256: "0".repeat(64), onnxBytes: 10 };
    writeFileSync(join(noContent, "manifest.json"), JSON.stringify({ ...manifest, content }));
    // (said as what the Worker would do: serve it, ALS alone, not refuse it)
    await expect(allEntries(noContent, false)).rejects.toThrow(
      new RegExp(
        `the Worker would serve version ${VERSION} without its content graph, ALS alone \\(no content ONNX bytes\\)`,
      ),
    );
  });
});

describe("the fallback items", () => {
  it("name each item once when the popular list names one twice (a version's check allows it)", () => {
    const { manifest, catalog, onnx } = tinyModel("v-fallback");
    const entries = modelEntries({ dir: "", manifest, catalog: { ...catalog, popular: [1, 1, 0] }, onnx });
    const fallback = entries.find((e) => e.key === kvKeys.fallbackItems);
    // before: b, b, a (an email without a model showed b twice)
    expect((JSON.parse(fallback?.value ?? "{}") as { items: { id: string }[] }).items.map((i) => i.id)).toEqual([
      "b",
      "a",
    ]);
  });
});
