/** Train -> export: complete, self-consistent model directories (drift reference included) for both kinds of log. */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { base64ToFloat32 } from "../../core/base64";
import { CatalogSchema } from "../../core/catalog";
import { DRIFT_FEATURES, driftReference, readerDriftFeatures } from "../../core/drift";
import { decodeItemTable, type ItemTable } from "../../core/fold-in";
import { HYBRID_FEATURES } from "../../core/hybrid";
import { scoreInt8 } from "../../core/int8-kernel";
import { checkModelVersion, ModelManifestSchema, RankerManifestSchema } from "../../core/manifest";
import { decodeNeighbours } from "../../core/neighbour-table";
import { type Profile, ProfileV3Schema, parseProfile, UserFeaturesSchema } from "../../core/profile";
import { RANKER_FEATURES } from "../../core/ranker";
import { decodePool, type ReaderPool } from "../../core/reader-pool";
import { isWellFormed, type TreeEnsemble } from "../../core/tree-ensemble";
import { readPurchaseLog } from "../../scripts/data/purchase-log";
import { temporalSplit } from "../../scripts/data/temporal-split";
import { generateDemo } from "../../scripts/demo/generate";
import { allEntries, FEATURES_TTL_SECONDS } from "../../scripts/seed/kv-entries";
import { type Golden, type TrainResult, trainAndExport } from "../../scripts/train/pipeline";
import { loadTrainingSet } from "../../scripts/train/training-set";
import { syntheticRetail, writeRetailCsv } from "./support/retail-csv";

/** The check the Worker and `npm run models -- activate` run, over an exported directory's parts. */
const checkExport = (dir: string, version: string) => {
  const json = (f: string) => JSON.parse(readFileSync(join(dir, f), "utf8"));
  const content = join(dir, "content.onnx");
  return checkModelVersion(version, {
    manifest: json("manifest.json"),
    catalog: json("catalog.json"),
    onnx: readFileSync(join(dir, "model.onnx")),
    contentOnnx: existsSync(content) ? readFileSync(content) : null,
  });
};
const sha = (p: string) => createHash("sha256").update(readFileSync(p)).digest("hex");
const profilesOf = (dir: string) =>
  readFileSync(join(dir, "profiles.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => ProfileV3Schema.parse(JSON.parse(l)));

describe("train and export: demo events", () => {
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
    expect(manifest.onnxSha256).toBe(sha(join(res.dir, "model.onnx")));
    expect(manifest.version).toBe(res.manifest.version);
    expect(manifest.dims).toBe(16);
    // event logs serve ALS (the hybrid's repeat features are defined on purchase logs)
    expect(manifest.hybrid).toBeUndefined();
    expect(manifest.segments?.onnxSha256).toBe(sha(join(res.dir, "segments.onnx")));
    expect(new Set(manifest.segments?.names).size).toBe(manifest.segments?.names.length);
  });

  it("writes a catalog in model order, with real product data", () => {
    const catalog = CatalogSchema.parse(JSON.parse(readFileSync(join(res.dir, "catalog.json"), "utf8")));
    expect(catalog.items.map((i) => i.id)).toEqual(res.manifest.itemIds);
    expect(catalog.items.every((i) => i.title && i.price > 0)).toBe(true);
    // the whole popularity order (this catalog is far under 10,000 items): what fills an answer its rules leave
    // short, however far down the list the allowed items are (the first 200 alone left a price-floored block short)
    expect(catalog.popular.length).toBe(catalog.items.length);
    expect(new Set(catalog.popular).size).toBe(catalog.popular.length);
  });

  it("exports a version that passes the check before it serves", async () => {
    expect(await checkExport(res.dir, res.manifest.version)).toMatchObject({ ok: true, contentProblem: null });
  });

  it("tunes ALS on validation and beats popularity there", () => {
    const m = res.manifest.metrics;
    expect(m.validation_als_ndcg_at_10).toBeGreaterThan(1.5 * (m.validation_popularity_ndcg_at_10 as number));
  });

  it("writes profiles with factors, purchases, segment and send time", () => {
    const profiles = profilesOf(res.dir);
    expect(profiles.length).toBe(res.profiles);
    const withAll = profiles.filter((p) => p.factors && p.purchases.length && p.segment && p.sendTime);
    expect(withAll.length).toBeGreaterThan(100);
    expect(withAll[0]?.factors?.model).toBe(res.manifest.version);
    expect(withAll[0]?.sendTime?.bestHours).toHaveLength(3);
  });

  it("writes ALS golden cases", () => {
    const golden = JSON.parse(readFileSync(join(res.dir, "golden.json"), "utf8")) as Golden;
    expect(golden.als.length).toBeGreaterThanOrEqual(20);
    expect(golden.als[0]?.vector).toHaveLength(16);
  });

  it("publishes the readers' drift reference, as the Worker computes it from what it reads", () => {
    const manifest = ModelManifestSchema.parse(JSON.parse(readFileSync(join(res.dir, "manifest.json"), "utf8")));
    const reference = manifest.reference;
    if (!reference) throw new Error("the manifest has no drift reference");
    const profiles = profilesOf(res.dir);
    const newest = Math.max(...profiles.flatMap((p) => p.purchases.map((x) => x.lastTs)));
    expect(reference.asOf).toBeGreaterThan(newest);
    expect(reference.asOf - (manifest.foldIn?.windowEnd ?? 0)).toBeLessThanOrEqual(1);
    // the Worker's view: the stored profiles and the int8 item table (no bias), every reader (fewer than the cap)
    const table = JSON.parse(readFileSync(join(res.dir, "item-table.json"), "utf8")) as ItemTable;
    const { items } = decodeItemTable(table);
    const readers = profiles.map((p) =>
      readerDriftFeatures(
        p,
        p.factors ? Math.max(...scoreInt8(items, base64ToFloat32(p.factors.vector))) : null,
        reference.asOf,
      ),
    );
    expect(reference).toEqual(driftReference(readers, reference.asOf, reference.calibration));
    expect(Object.keys(reference.features).sort()).toEqual([...DRIFT_FEATURES].sort());
    expect(reference.features.topScore?.n).toBe(profiles.filter((p) => p.factors).length);
    expect(reference.features.itemsBought?.n).toBe(profiles.length);
    expect(reference.features.topScore?.edges).toHaveLength(9);
    // the propensity model's calibration on its validation split
    expect(reference.calibration?.bins).toHaveLength(10);
    expect(reference.calibration?.n).toBeGreaterThan(100);
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

  it("gives another version when only the catalog changed: isolates load a version once, by its name", async () => {
    const products = JSON.parse(readFileSync(join(base, "demo/products.json"), "utf8")) as Record<string, unknown>[];
    const first = products[0] as Record<string, unknown>;
    writeFileSync(
      join(base, "demo/products-repriced.json"),
      JSON.stringify([{ ...first, price: Number(first.price) + 1, image: "/img/new.png" }, ...products.slice(1)]),
    );
    const repriced = await trainAndExport({
      data: join(base, "demo/events.csv"),
      catalog: join(base, "demo/products-repriced.json"),
      out: join(base, "models3"),
      als: { factors: 16, iterations: 8 },
    });
    expect(repriced.manifest.version).not.toBe(res.manifest.version);
    expect(repriced.manifest.onnxSha256).not.toBe(res.manifest.onnxSha256); // the graph names its version
  });
});

describe("train and export: a UCI-layout purchase log", () => {
  const base = mkdtempSync(join(tmpdir(), "ot-train-retail-"));
  let res: TrainResult;

  const written = syntheticRetail(5, 300);

  beforeAll(async () => {
    writeRetailCsv(join(base, "retail.csv.gz"), written, "ii");
    res = await trainAndExport({
      data: join(base, "retail.csv.gz"),
      out: join(base, "models"),
      als: { iterations: 8 },
    });
  });

  it("exports ALS, content and the hybrid, with checksums", () => {
    const m = res.manifest;
    expect(m.content?.onnxSha256).toBe(sha(join(res.dir, "content.onnx")));
    expect(m.hybrid?.all.weights).toHaveLength(HYBRID_FEATURES.length);
    expect(m.hybrid?.features).toEqual([...HYBRID_FEATURES]);
    expect(m.hybrid?.itemStats.logBuyers).toHaveLength(m.itemCount);
    expect(m.sendTime?.shop).toHaveLength(168);
    expect(existsSync(join(res.dir, "segments.json"))).toBe(true);
    expect(m.reference?.features.propensity?.n).toBeGreaterThan(0);
    expect(m.reference?.features.topScore?.n).toBe(m.training.users);
  });

  it("exports a version that passes the check before it serves, its content graph included", async () => {
    expect(await checkExport(res.dir, res.manifest.version)).toMatchObject({ ok: true, contentProblem: null });
  });

  it("learns from the windows the evaluation scores: its validation split, and that split's own", async () => {
    const file = join(base, "retail.csv.gz");
    const ts = await loadTrainingSet({ data: file });
    const log = await readPurchaseLog(file);
    const val = temporalSplit(log, 30);
    const before = temporalSplit(log, 30, val.cutoff);
    // the log's last purchase before the validation cutoff is not at it: a window cut 30 days before the cutoff
    // itself would differ from the evaluation's
    expect(before.cutoff).not.toBe(val.cutoff - 30 * 86_400);
    expect(ts.validation?.end).toBe(val.cutoff);
    expect(ts.earlier?.end).toBe(before.cutoff);
    expect(ts.earlier?.userIds).toEqual(before.userIds);
    expect(ts.earlier?.relevantAll).toEqual(before.testAll);
    expect(ts.earlier?.relevantNovel).toEqual(before.testNovel);
  });

  it("titles items from their descriptions and prices them by the median", () => {
    const catalog = CatalogSchema.parse(JSON.parse(readFileSync(join(res.dir, "catalog.json"), "utf8")));
    expect(catalog.items[0]?.title).toMatch(/^(Red|Blue|White) [A-Z][a-z]+ \d+$/);
    expect(catalog.items.every((i) => i.price > 0 && i.currency === "GBP")).toBe(true);
  });

  it("profiles carry content vectors and purchase history with invoice counts", () => {
    const p = profilesOf(res.dir).find((x) => x.purchases.some((y) => y.invoices > 1));
    expect(p?.contentVector?.model).toBe(res.manifest.version);
    expect(p?.propensity).toBeGreaterThan(0);
    // the time-to-purchase hazard's 7-day answer: below the 30-day propensity for nearly everyone
    const profiles = profilesOf(res.dir).filter((x) => x.buyWithin7d !== null && x.propensity !== null);
    expect(profiles.length).toBeGreaterThan(100);
    const below = profiles.filter((x) => (x.buyWithin7d as number) < (x.propensity as number)).length;
    expect(below / profiles.length).toBeGreaterThan(0.9);
    expect(parseProfile(p).ok).toBe(true);
  });

  it("writes hybrid golden cases for both modes", () => {
    const golden = JSON.parse(readFileSync(join(res.dir, "golden.json"), "utf8")) as Golden;
    expect(golden.hybrid.filter((g) => g.mode === "all").length).toBeGreaterThan(5);
    expect(golden.hybrid.filter((g) => g.mode === "novel").length).toBeGreaterThan(5);
    expect(golden.content.length).toBeGreaterThan(5);
  });

  it("exports the learned ranker: trees on the ranker's features, its neighbour table, and which mode it serves", () => {
    const r = RankerManifestSchema.parse(res.manifest.ranker);
    const bytes = readFileSync(join(res.dir, "neighbours.bin"));
    expect(r?.neighbours.sha256).toBe(sha(join(res.dir, "neighbours.bin")));
    // a row per modelled item (every item bought in this small shop): header, item ids, k indices and weights
    const rows = res.manifest.itemCount;
    expect(r?.neighbours.bytes).toBe(4 + rows * 4 + rows * (r?.neighbours.k ?? 0) * 8);
    const table = decodeNeighbours(bytes, res.manifest.itemCount, r?.neighbours.k ?? 0);
    expect(table.index.some((j) => j >= 0)).toBe(true);
    for (const m of [r?.all, r?.novel]) {
      expect(m?.features).toEqual([...RANKER_FEATURES]);
      expect(isWellFormed(m as TreeEnsemble)).toBe(true);
      expect(m?.trees.length).toBeGreaterThanOrEqual(25);
    }
    // the choice is the validation holdout's, published beside it
    const v = res.manifest.metrics;
    for (const [mode, suffix] of [
      ["all", ""],
      ["novel", "_novel"],
    ] as const) {
      const ranker = v[`validation_holdout_ranker${suffix}_ndcg_at_10`] as number;
      const hybrid = v[`validation_holdout_hybrid${suffix}_ndcg_at_10`] as number;
      const margin = v[`validation_holdout_margin${suffix}`] as number;
      expect(margin).toBeGreaterThan(0);
      // forward in time: the window before validation's trees and weights on validation's readers
      const fRanker = v[`validation_forward_ranker${suffix}_ndcg_at_10`] as number;
      const fHybrid = v[`validation_forward_hybrid${suffix}_ndcg_at_10`] as number;
      const fMargin = v[`validation_forward_margin${suffix}`] as number;
      expect(v[`validation_forward${suffix}_users`]).toBeGreaterThan(0);
      // and the older window's trees, judged on the earlier window's readers: the count is picked over both
      expect(v[`validation_forward${suffix}_picked_over`]).toBeGreaterThan(
        v[`validation_forward${suffix}_users`] as number,
      );
      expect(fMargin).toBeGreaterThan(0);
      // forward: reported; the hybrid serves only past the margin of the held-out readers' paired differences
      expect([typeof fRanker, typeof fHybrid]).toEqual(["number", "number"]);
      expect(r?.chosen[mode]).toBe(hybrid - ranker > margin ? "hybrid" : "ranker");
    }
    const golden = JSON.parse(readFileSync(join(res.dir, "golden.json"), "utf8")) as Golden;
    expect(golden.ranker).toHaveLength(golden.hybrid.length);
    // it learned from the window before validation too (this shop's log reaches back that far)
    expect(v.validation_ranker_windows).toBe(2);
    // the items' momentum: each item's distinct buyers in the 7 and 14 days up to the log's last purchase,
    // counted here from the rows written (less the return, the postage and the guest the protocol drops)
    const { weekBuyers, fortnightBuyers } = r?.itemStats ?? { weekBuyers: [], fortnightBuyers: [] };
    const kept = written.filter((x) => !x.invoice.startsWith("C") && x.code !== "POST" && x.customer !== "");
    const at = (x: (typeof kept)[number]) => Date.parse(`${x.date.replace(" ", "T")}Z`) / 1000;
    const end = Math.max(...kept.map(at));
    const buyers = (days: number) =>
      res.manifest.itemIds.map(
        (id) => new Set(kept.filter((x) => x.code === id && at(x) >= end - days * 86400).map((x) => x.customer)).size,
      );
    expect(weekBuyers).toEqual(buyers(7));
    expect(fortnightBuyers).toEqual(buyers(14));
    expect(weekBuyers.some((w, j) => w > 0 && w < (fortnightBuyers[j] as number))).toBe(true);
  });

  it("stores each reader's pool with their features: their own items and more, as the golden cases carry it", async () => {
    const { entries } = await allEntries(res.dir, false);
    const features = entries
      .filter((e) => e.key.startsWith("features:"))
      .map((e) => UserFeaturesSchema.parse(JSON.parse(e.value)));
    const profiles = new Map(
      readFileSync(join(res.dir, "profiles.jsonl"), "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Profile)
        .map((p) => [p.userId, p]),
    );
    const ids = res.manifest.itemIds;
    const withPool = features.filter((f) => f.pool !== null);
    // every reader with both vectors (all of them, in a purchase log) has one
    expect(withPool.length).toBe(features.filter((f) => f.factors && f.contentVector).length);
    expect(withPool.length).toBeGreaterThan(100);
    for (const f of withPool) {
      const pool = decodePool(f.pool as string, res.manifest.itemCount);
      expect(pool).not.toBeNull();
      const own = [...(pool as ReaderPool).items].filter((_, i) => pool?.own[i] === 1).map((j) => ids[j]);
      const known = new Set(ids);
      const bought = new Set(
        profiles
          .get(f.userId)
          ?.purchases.map((p) => p.item)
          .filter((id) => known.has(id)),
      );
      expect(new Set(own)).toEqual(bought);
      // the generators' proposals besides
      expect(pool?.items.length).toBeGreaterThan(own.length);
    }
    const golden = JSON.parse(readFileSync(join(res.dir, "golden.json"), "utf8")) as Golden;
    const byUser = new Map(withPool.map((f) => [f.userId, f.pool]));
    for (const g of golden.ranker) expect(g.pool).toBe(byUser.get(g.user));
  });
});

describe("publishing a model to KV", () => {
  it("writes features for every user and profiles only on a first load", async () => {
    const base = mkdtempSync(join(tmpdir(), "ot-publish-"));
    await generateDemo(join(base, "demo"), { products: 120, customers: 200 });
    const res = await trainAndExport({
      data: join(base, "demo/events.csv"),
      out: join(base, "models"),
      als: { factors: 8, iterations: 4 },
      tune: false,
    });
    const update = await allEntries(res.dir, false);
    const keys = update.entries.map((e) => e.key);
    expect(keys.some((k) => k.startsWith("profile:"))).toBe(false);
    expect(keys.filter((k) => k.startsWith("features:")).length).toBe(res.profiles);
    expect(update.entries.find((e) => e.key.startsWith("features:"))?.expiration_ttl).toBe(FEATURES_TTL_SECONDS);
    expect(keys.at(-1)).toBe("model:active");
    // an event log's model has no ranker: no pools
    expect(
      update.entries.filter((e) => e.key.startsWith("features:")).every((e) => JSON.parse(e.value).pool === null),
    ).toBe(true);
    const first = await allEntries(res.dir, true);
    expect(first.entries.filter((e) => e.key.startsWith("profile:")).length).toBe(res.profiles);
    expect(keys).not.toContain("model:history"); // nothing was active
    // a version replacing another records it before the pointer moves (`npm run models -- rollback` returns to it)
    const older = { version: "older", activatedAt: "2026-11-01T00:00:00.000Z" };
    const active = { version: "active", activatedAt: "2026-11-20T00:00:00.000Z" };
    const next = await allEntries(res.dir, false, new Set(), { pointer: active, history: [older] });
    expect(next.entries.map((e) => e.key).slice(-2)).toEqual(["model:history", "model:active"]);
    expect(JSON.parse(next.entries.at(-2)?.value ?? "null")).toEqual([older, active]);
    // a seed tried again after its pointer write failed (the history landed): recorded once, not again
    const retried = await allEntries(res.dir, false, new Set(), { pointer: active, history: [older, active] });
    expect(retried.entries.map((e) => e.key)).not.toContain("model:history");
    // the same version seeded again records nothing
    const version = JSON.parse(next.entries.at(-1)?.value ?? "{}").version as string;
    const same = await allEntries(res.dir, false, new Set(), { pointer: { ...active, version }, history: [older] });
    expect(same.entries.map((e) => e.key)).not.toContain("model:history");
    // `npm run seed -- --url`: the version stored, neither history nor pointer (the Worker's ModelMover moves them)
    const stored = await allEntries(res.dir, false, new Set(), null);
    expect(stored.entries.map((e) => e.key)).toEqual(keys.filter((k) => k !== "model:active"));
  });
});
