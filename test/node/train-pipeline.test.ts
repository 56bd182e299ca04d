/** Train -> export on a small demo: a complete, self-consistent model directory. */
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CatalogSchema } from "../../core/catalog";
import { ModelManifestSchema } from "../../core/manifest";
import { generateDemo } from "../../scripts/demo/generate";
import { type GoldenCase, type TrainResult, trainAndExport } from "../../scripts/train/pipeline";

describe("train and export", () => {
  const base = mkdtempSync(join(tmpdir(), "ot-train-"));
  let res: TrainResult;

  beforeAll(async () => {
    await generateDemo(join(base, "demo"), { products: 240, customers: 800 });
    res = await trainAndExport({
      data: join(base, "demo/events.csv"),
      catalog: join(base, "demo/products.json"),
      out: join(base, "models"),
      als: { factors: 16, iterations: 8 },
    });
  });

  it("writes a manifest that validates and matches the ONNX bytes", () => {
    const manifest = ModelManifestSchema.parse(JSON.parse(readFileSync(join(res.dir, "manifest.json"), "utf8")));
    const onnx = readFileSync(join(res.dir, "model.onnx"));
    expect(manifest.onnxSha256).toBe(createHash("sha256").update(onnx).digest("hex"));
    expect(manifest.onnxBytes).toBe(onnx.length);
    expect(manifest.version).toBe(res.manifest.version);
    expect(manifest.dims).toBe(16);
  });

  it("writes a catalog in model order, with real product data", () => {
    const catalog = CatalogSchema.parse(JSON.parse(readFileSync(join(res.dir, "catalog.json"), "utf8")));
    expect(catalog.items.map((i) => i.id)).toEqual(res.manifest.itemIds);
    expect(catalog.items.every((i) => i.title && i.price > 0)).toBe(true);
    expect(catalog.popular.length).toBeGreaterThan(0);
  });

  it("beats popularity on the holdout, and int8 stays within 2% of float", () => {
    const m = res.manifest.metrics;
    expect(m.als_ndcg_at_10).toBeGreaterThan(1.5 * (m.popularity_ndcg_at_10 as number));
    expect(Math.abs((m.als_int8_ndcg_at_10 as number) - (m.als_ndcg_at_10 as number))).toBeLessThan(
      0.02 * (m.als_ndcg_at_10 as number),
    );
  });

  it("writes golden cases and user factors for every user", () => {
    const golden = JSON.parse(readFileSync(join(res.dir, "golden.json"), "utf8")) as GoldenCase[];
    expect(golden.length).toBeGreaterThanOrEqual(20);
    expect(golden[0]?.vector).toHaveLength(16);
    const ids = JSON.parse(readFileSync(join(res.dir, "user-ids.json"), "utf8")) as string[];
    expect(readFileSync(join(res.dir, "user-factors.f32")).length).toBe(ids.length * 16 * 4);
  });

  it("gives the same version for the same data and options", async () => {
    const again = await trainAndExport({
      data: join(base, "demo/events.csv"),
      catalog: join(base, "demo/products.json"),
      out: join(base, "models2"),
      als: { factors: 16, iterations: 8 },
    });
    expect(again.manifest.version).toBe(res.manifest.version);
  });
});
