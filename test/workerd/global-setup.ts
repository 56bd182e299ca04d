/**
 * Global setup (runs in Node): trains two models with the real pipeline and provides their artifacts to
 * the tests inside workerd: the demo shop's events (ALS) and a UCI-layout purchase log (ALS, content,
 * hybrid, ranker, segments, send time).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import type { Profile } from "../../core/profile";
import { generateDemo } from "../../scripts/demo/generate";
import { trainAndExport } from "../../scripts/train/pipeline";
import { syntheticRetail, writeRetailCsv } from "../node/support/retail-csv";
import type { ModelFixture } from "./fixture";

function fixture(
  dir: string,
  version: string,
  pick: (profiles: Profile[]) => Profile[],
  planted: Record<string, string[]> = {},
): ModelFixture {
  const profiles = readFileSync(join(dir, "profiles.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Profile);
  const chosen = pick(profiles);
  const content = join(dir, "content.onnx");
  return {
    version,
    manifestJson: readFileSync(join(dir, "manifest.json"), "utf8"),
    catalogJson: readFileSync(join(dir, "catalog.json"), "utf8"),
    onnxBase64: readFileSync(join(dir, "model.onnx")).toString("base64"),
    contentOnnxBase64: existsSync(content) ? readFileSync(content).toString("base64") : null,
    itemTableJson: existsSync(join(dir, "item-table.json")) ? readFileSync(join(dir, "item-table.json"), "utf8") : null,
    neighboursBase64: existsSync(join(dir, "neighbours.bin"))
      ? readFileSync(join(dir, "neighbours.bin")).toString("base64")
      : null,
    golden: JSON.parse(readFileSync(join(dir, "golden.json"), "utf8")),
    profiles: chosen,
    plantedCategories: Object.fromEntries(chosen.map((p) => [p.userId, planted[p.userId] ?? []])),
  };
}

export default async function setup(project: TestProject) {
  const base = mkdtempSync(join(tmpdir(), "ot-workerd-"));
  try {
    await generateDemo(join(base, "demo"), { products: 480, customers: 1500, seed: 21 });
    const demo = await trainAndExport({
      data: join(base, "demo/events.csv"),
      catalog: join(base, "demo/products.json"),
      out: join(base, "models"),
      als: { factors: 64, iterations: 12, alpha: 2, regularization: 0.1 },
      tune: false,
      goldenUsers: 30,
    });
    const planted = Object.fromEntries(
      readFileSync(join(base, "demo/customers.csv"), "utf8")
        .trim()
        .split("\n")
        .slice(1)
        .map((line) => line.split(","))
        .map((cols) => [cols[0] as string, (cols[3] ?? "").split("|")]),
    );
    project.provide(
      "model",
      fixture(demo.dir, demo.manifest.version, (ps) => ps.filter((p) => p.factors).slice(0, 40), planted),
    );

    writeRetailCsv(join(base, "retail.csv"), syntheticRetail(3, 400), "i");
    const retail = await trainAndExport({
      data: join(base, "retail.csv"),
      out: join(base, "retail-models"),
      als: { iterations: 10 },
      goldenUsers: 12,
    });
    const goldenUsers = new Set(
      (JSON.parse(readFileSync(join(retail.dir, "golden.json"), "utf8")) as { hybrid: { user: string }[] }).hybrid.map(
        (g) => g.user,
      ),
    );
    project.provide(
      "retail",
      fixture(retail.dir, retail.manifest.version, (ps) => ps.filter((p) => goldenUsers.has(p.userId) || p === ps[0])),
    );
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}
