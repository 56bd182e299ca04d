/**
 * Global setup (runs in Node): generates a small demo shop, trains and exports a 64-factor int8 model
 * with the real pipeline, and provides its artifacts and some profiles to the tests inside workerd.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { readInteractionLog } from "../../scripts/data/interaction-log";
import { generateDemo } from "../../scripts/demo/generate";
import { buildProfiles, readUserFactors } from "../../scripts/profiles/build-profiles";
import { trainAndExport } from "../../scripts/train/pipeline";
import type { ModelFixture } from "./fixture";

export default async function setup(project: TestProject) {
  const base = mkdtempSync(join(tmpdir(), "ot-workerd-"));
  try {
    await generateDemo(join(base, "demo"), { products: 480, customers: 1500, seed: 21 });
    const { dir, manifest } = await trainAndExport({
      data: join(base, "demo/events.csv"),
      catalog: join(base, "demo/products.json"),
      out: join(base, "models"),
      als: { factors: 64, iterations: 12 },
      goldenUsers: 30,
    });
    const log = await readInteractionLog(join(base, "demo/events.csv"));
    const profiles = buildProfiles(log, await readUserFactors(dir, manifest.version, manifest.dims)).slice(0, 40);
    const planted = Object.fromEntries(
      readFileSync(join(base, "demo/customers.csv"), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => line.split(","))
        .map((cols) => [cols[0] as string, (cols[3] ?? "").split("|")]),
    );
    const fixture: ModelFixture = {
      version: manifest.version,
      manifestJson: readFileSync(join(dir, "manifest.json"), "utf8"),
      catalogJson: readFileSync(join(dir, "catalog.json"), "utf8"),
      onnxBase64: readFileSync(join(dir, "model.onnx")).toString("base64"),
      golden: JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")),
      profiles,
      plantedCategories: Object.fromEntries(profiles.map((p) => [p.userId, planted[p.userId] ?? []])),
    };
    project.provide("model", fixture);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
