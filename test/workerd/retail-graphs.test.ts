/**
 * The retail model inside workerd: the content graph, the hybrid re-ranker and the learned ranker reproduce what
 * the trainer computed for golden users; amp-list serves them; v1 profiles are migrated. (/v1/send-time:
 * send-time.test.ts.)
 */
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { base64ToBytes } from "../../core/base64";
import type { HybridGoldenCase } from "../../core/golden";
import { HYBRID_FEATURES, HYBRID_FEATURES_BEFORE_NEIGHBOURS, neighboursWeight } from "../../core/hybrid";
import { kvKeys } from "../../core/kv-keys";
import { MANIFEST_SCHEMA_VERSION, type ModelManifest, RankerManifestSchema } from "../../core/manifest";
import { MAX_TREE_DEPTH } from "../../core/tree-ensemble";
import { getConfig } from "../../worker/env";
import { resetModelCache } from "../../worker/model/model-store";
import { createScoringSession } from "../../worker/ort/ort-runtime";
import { recommend } from "../../worker/recs/recommend";
import { chainTree } from "../shared/chain-tree";
import {
  call,
  clearKv,
  goldenRecommendation,
  type RecsBody,
  rankerServing,
  retailFixture,
  seedModel,
  token,
} from "./support/harness";

const manifest = () => JSON.parse(retailFixture().manifestJson) as ModelManifest;

describe("content graph in workerd", () => {
  it("ORT top-k equals the int8 reference exactly for the golden users", async () => {
    const f = retailFixture();
    expect(f.contentOnnxBase64).not.toBeNull();
    const session = await createScoringSession(base64ToBytes(f.contentOnnxBase64 as string));
    expect(f.golden.content.length).toBeGreaterThanOrEqual(8);
    for (const g of f.golden.content) {
      const out = await session.topK(Float32Array.from(g.vector), g.k);
      expect(out.indices).toEqual(g.expectedIndices);
      expect(out.scores).toEqual(g.expectedScores);
    }
  });
});

describe("hybrid re-ranker in workerd", () => {
  beforeEach(async () => {
    await clearKv();
    // the ranker chosen for neither mode: the hybrid serves every mode, with the neighbour table its sums read
    await seedModel({ fixture: rankerServing({ all: "hybrid", novel: "hybrid" }) });
  });

  it("weighs the EASE neighbour sums of the reader's items (the fixture's weights do)", () => {
    const h = manifest().hybrid as NonNullable<ModelManifest["hybrid"]>;
    expect(h.features).toEqual([...HYBRID_FEATURES]);
    expect([neighboursWeight(h.all), neighboursWeight(h.novel)]).not.toEqual([0, 0]);
  });

  it("a model from before the neighbour sum (ten weights) still loads and serves its hybrid", async () => {
    const f = retailFixture();
    const m = JSON.parse(f.manifestJson) as ModelManifest;
    const h = m.hybrid as NonNullable<ModelManifest["hybrid"]>;
    const ten = (w: { weights: number[]; intercept: number }) => ({
      ...w,
      weights: w.weights.slice(0, HYBRID_FEATURES_BEFORE_NEIGHBOURS),
    });
    const before = {
      ...h,
      features: HYBRID_FEATURES.slice(0, HYBRID_FEATURES_BEFORE_NEIGHBOURS),
      all: ten(h.all),
      novel: ten(h.novel),
    };
    // as such a model was: no ranker either (so no linear terms, format 1)
    const { ranker: _, ...rest } = m;
    const old = { ...rest, schema: MANIFEST_SCHEMA_VERSION, hybrid: before };
    await seedModel({ fixture: { ...f, manifestJson: JSON.stringify(old) }, ranker: false });
    const g = f.golden.hybrid[0];
    const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
    expect(res.headers.get("X-Opentime-Scorer")).toBe("hybrid");
  });

  it("reproduces the trainer's top-10 for golden users, in both modes", async () => {
    const f = retailFixture();
    const ids = manifest().itemIds;
    expect(f.golden.hybrid.length).toBeGreaterThanOrEqual(16);
    for (const g of f.golden.hybrid) {
      const rec = await goldenRecommendation(g);
      expect(rec.scorer).toBe("hybrid");
      expect(rec.items.map((i) => i.id)).toEqual(g.expectedIndices.map((i) => ids[i]));
    }
  });

  it("amp-list answers with the hybrid for a reader with both vectors", async () => {
    const g = retailFixture().golden.hybrid[0];
    const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Opentime-Scorer")).toBe("hybrid");
    expect(((await res.json()) as RecsBody).items).toHaveLength(5);
  });

  it("novel mode never recommends what the reader bought", async () => {
    const g = retailFixture().golden.hybrid.find((x) => x.profile.purchases.length > 3);
    const profile = g?.profile;
    const config = { ...getConfig(env), recsMode: "novel" as const };
    const rec = await recommend({ kv: env.OPENTIME_KV, config, token: await token(profile?.userId as string), n: 10 });
    const bought = new Set(profile?.purchases.map((p) => p.item));
    expect(rec.items).toHaveLength(10);
    expect(rec.items.some((i) => bought.has(i.id))).toBe(false);
  });

  it("a v1 profile (from an earlier release) is migrated and still personalized", async () => {
    const p = retailFixture().golden.hybrid[0]?.profile;
    const v1 = {
      v: 1,
      userId: p?.userId,
      updatedAt: p?.updatedAt,
      factors: p?.factors,
      recentPurchases: p?.purchases.slice(0, 3).map((x) => ({ item: x.item, ts: x.lastTs })),
    };
    await env.OPENTIME_KV.put(kvKeys.profile(p?.userId as string), JSON.stringify(v1));
    const res = await call(`/v1/amp/recs?t=${await token(p?.userId as string)}&n=4`);
    expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
    // v1 has no content vector: ALS alone
    expect(res.headers.get("X-Opentime-Scorer")).toBe("als");
  });
});

describe("learned ranker in workerd", () => {
  beforeEach(async () => {
    await clearKv();
    await seedModel({ fixture: rankerServing() });
  });

  it("reproduces the trainer's top-10 for golden readers, in both modes, from their pools and from every item", async () => {
    const f = retailFixture();
    const ids = manifest().itemIds;
    expect(f.golden.ranker.length).toBeGreaterThanOrEqual(16);
    let differsFromHybrid = 0;
    for (const [i, g] of f.golden.ranker.entries()) {
      // the hybrid's case for the same reader and mode, to compare with
      expect([f.golden.hybrid[i]?.user, f.golden.hybrid[i]?.mode]).toEqual([g.user, g.mode]);
      // every golden reader has a pool (stored with their features); without it the graphs score every item
      expect(g.pool).toEqual(expect.any(String));
      for (const pool of [g.pool, null]) {
        const rec = await goldenRecommendation(g, { pool });
        expect([rec.scorer, rec.ranking]).toEqual(["ranker", pool ? "pool" : "catalog"]);
        expect(rec.items.map((it) => it.id)).toEqual(g.expectedIndices.map((j) => ids[j]));
      }
      if (g.expectedIndices.join() !== f.golden.hybrid[i]?.expectedIndices.join()) differsFromHybrid++;
    }
    // the trees rank for themselves: they are not the hybrid's order under another name
    expect(differsFromHybrid).toBeGreaterThan(0);
  });

  it("ranks golden readers opened all at once (interleaved at every await) as it ranks them one by one", async () => {
    const f = retailFixture();
    const ids = manifest().itemIds;
    // a reader in both modes is stored twice with the same profile: each open reads what it needs either way
    const answers = await Promise.all(f.golden.ranker.map((g) => goldenRecommendation(g)));
    answers.forEach((rec, i) => {
      const g = f.golden.ranker[i] as HybridGoldenCase;
      expect([g.user, g.mode, rec.scorer, rec.items.map((it) => it.id)]).toEqual([
        g.user,
        g.mode,
        "ranker",
        g.expectedIndices.map((j) => ids[j]),
      ]);
    });
  });

  it("an email open or a view after the window is no news to a purchase model: the ranker still serves", async () => {
    const f = retailFixture();
    const ids = manifest().itemIds;
    const DAY = 86400;
    for (const g of f.golden.ranker.slice(0, 4)) {
      const later = g.now + 3 * DAY;
      // what every real open records (core/apply-events.ts): the reader's last activity moves past the model's window
      const opened = {
        ...g,
        profile: {
          ...g.profile,
          lastActivity: later - DAY,
          engagement: { score: 1, at: later - DAY },
          recentItems: [{ item: ids[0] as string, type: "view", ts: later - DAY }, ...g.profile.recentItems],
        },
      };
      const before = await goldenRecommendation(g, { now: later });
      const after = await goldenRecommendation(opened, { now: later });
      expect([after.scorer, after.items.map((it) => it.id)]).toEqual(["ranker", before.items.map((it) => it.id)]);
      // a purchase after the window is news: folded in
      const bought = {
        ...opened,
        profile: {
          ...opened.profile,
          purchases: [{ item: ids[0] as string, invoices: 1, lastTs: later - DAY }, ...g.profile.purchases],
        },
      };
      expect((await goldenRecommendation(bought, { now: later })).scorer).toBe("als-foldin");
    }
  });

  it("amp-list answers with the ranker, and novel mode never shows what the reader bought", async () => {
    const g = retailFixture().golden.ranker.find((x) => x.profile.purchases.length > 3);
    const user = g?.user as string;
    const res = await call(`/v1/amp/recs?t=${await token(user)}&n=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Opentime-Scorer")).toBe("ranker");
    expect(((await res.json()) as RecsBody).items).toHaveLength(5);
    const config = { ...getConfig(env), recsMode: "novel" as const };
    const rec = await recommend({ kv: env.OPENTIME_KV, config, token: await token(user), n: 10 });
    const bought = new Set(g?.profile.purchases.map((p) => p.item));
    expect(rec.scorer).toBe("ranker");
    expect(rec.items).toHaveLength(10);
    expect(rec.items.some((i) => bought.has(i.id))).toBe(false);
  });

  it("serves only the modes it was chosen for: the hybrid serves the other", async () => {
    await seedModel({ fixture: rankerServing({ all: "ranker", novel: "hybrid" }) });
    const g = retailFixture().golden.ranker[0] as HybridGoldenCase;
    for (const [mode, scorer] of [
      ["all", "ranker"],
      ["novel", "hybrid"],
    ] as const) {
      const config = { ...getConfig(env), recsMode: mode };
      const rec = await recommend({ kv: env.OPENTIME_KV, config, token: await token(g.user), n: 10 });
      expect(rec.reason).toBe("personalized");
      expect(rec.scorer).toBe(scorer);
    }
  });

  it("a malformed ranker entry in the manifest leaves the version serving its hybrid, with its neighbour sums", async () => {
    const f = rankerServing();
    const m = JSON.parse(f.manifestJson) as ModelManifest;
    const ranker = RankerManifestSchema.parse(m.ranker);
    const ids = m.itemIds;
    for (const broken of [
      { ...ranker, all: { ...ranker.all, trees: [{ feature: [0], threshold: [], left: [], right: [], value: [] }] } },
      { ...ranker, all: { ...ranker.all, features: ["something", "else"] } },
      { ...ranker, chosen: { all: "magic", novel: "ranker" } },
      // deeper than the edge lays trees out (core/tree-ensemble.ts MAX_TREE_DEPTH)
      { ...ranker, all: { ...ranker.all, trees: [...ranker.all.trees, chainTree(MAX_TREE_DEPTH + 1)] } },
      // item statistics of another item count, or none (a ranker entry from before they were exported)
      { ...ranker, itemStats: { ...ranker.itemStats, weekBuyers: ranker.itemStats.weekBuyers.slice(1) } },
      { ...ranker, itemStats: undefined },
    ]) {
      await seedModel({ fixture: { ...f, manifestJson: JSON.stringify({ ...m, ranker: broken }) } });
      const g = f.golden.hybrid[0];
      const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
      expect(res.headers.get("X-Opentime-Scorer")).toBe("hybrid");
      // the entry's reference to the neighbour table still stands: the hybrid keeps its sums, the trainer's top-10
      for (const c of f.golden.hybrid.slice(0, 4)) {
        const rec = await goldenRecommendation(c);
        expect([rec.scorer, rec.items.map((i) => i.id)]).toEqual(["hybrid", c.expectedIndices.map((j) => ids[j])]);
      }
    }
  });

  it("a hybrid whose weights do not match its features is refused as a whole", async () => {
    const f = rankerServing();
    const m = JSON.parse(f.manifestJson) as ModelManifest;
    const h = m.hybrid as NonNullable<ModelManifest["hybrid"]>;
    for (const hybrid of [
      // eleven weights named as ten features, ten weights beside eleven, features in another order
      { ...h, features: h.features.slice(0, HYBRID_FEATURES_BEFORE_NEIGHBOURS) },
      { ...h, novel: { ...h.novel, weights: h.novel.weights.slice(0, HYBRID_FEATURES_BEFORE_NEIGHBOURS) } },
      { ...h, features: [...h.features].reverse() },
    ]) {
      await seedModel({ fixture: { ...f, manifestJson: JSON.stringify({ ...m, hybrid }) } });
      const g = f.golden.hybrid[0];
      const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Opentime-Reason")).toBe("model-manifest-invalid");
    }
  });

  it("a hybrid whose item statistics cover another item count is refused as a whole", async () => {
    const f = rankerServing();
    const m = JSON.parse(f.manifestJson) as ModelManifest;
    const hybrid = m.hybrid as NonNullable<ModelManifest["hybrid"]>;
    const short = { ...hybrid, itemStats: { ...hybrid.itemStats, repeatRate: hybrid.itemStats.repeatRate.slice(1) } };
    await seedModel({ fixture: { ...f, manifestJson: JSON.stringify({ ...m, hybrid: short }) } });
    const g = f.golden.hybrid[0];
    const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Opentime-Reason")).toBe("model-manifest-invalid");
  });

  it("a damaged neighbour table leaves the version serving its hybrid, without its neighbour sums", async () => {
    // the ranker chosen for both modes, and for neither (the table is then the hybrid's alone)
    for (const [f, event] of [
      [rankerServing(), "model.ranker_unavailable"],
      [rankerServing({ all: "hybrid", novel: "hybrid" }), "model.neighbours_unavailable"],
    ] as const) {
      await seedModel({ fixture: f });
      const bytes = base64ToBytes(f.neighboursBase64 as string);
      bytes[0] = (bytes[0] as number) ^ 0xff;
      await env.OPENTIME_KV.put(kvKeys.neighbours(f.version), bytes);
      resetModelCache();
      const lines: string[] = [];
      const spy = vi.spyOn(console, "error").mockImplementation((line: unknown) => lines.push(String(line)));
      const g = f.golden.hybrid[0];
      const res = await call(`/v1/amp/recs?t=${await token(g?.user as string)}&n=5`);
      spy.mockRestore();
      // said once, with what it costs the hybrid
      const said = lines
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l))
        .filter((l) => String(l.event).endsWith("_unavailable"));
      expect(said).toEqual([
        expect.objectContaining({
          event,
          version: f.version,
          detail: "neighbour table does not match the manifest",
          hybrid: "serves without its neighbour sums",
        }),
      ]);
      expect(res.status).toBe(200);
      expect(res.headers.get("X-Opentime-Reason")).toBe("personalized");
      expect(res.headers.get("X-Opentime-Scorer")).toBe("hybrid");
      // its hybrid weighs neighbour sums it cannot read now: a reader's pool (made with them) is passed over
      const withPool = f.golden.ranker[0] as HybridGoldenCase;
      expect(withPool.pool).toEqual(expect.any(String));
      const rec = await goldenRecommendation(withPool);
      expect([rec.reason, rec.scorer, rec.ranking]).toEqual(["personalized", "hybrid", "catalog"]);
    }
  });
});
