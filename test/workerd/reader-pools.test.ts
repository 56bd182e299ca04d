/**
 * Readers' pools in workerd (core/reader-pool.ts): an open ranks from the reader's pool, and gets what scoring
 * every item in the graphs gets, at later times and under exclusions too; a pool that cannot give that answer
 * (made from another own history, too few candidates left, damaged) is passed over for the graphs.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { HybridGoldenCase } from "../../core/golden";
import type { ModelManifest } from "../../core/manifest";
import { decodePool, encodePool } from "../../core/reader-pool";
import { resetCampaignCache } from "../../worker/decisions/campaign-store";
import {
  call,
  clearKv,
  goldenRecommendation,
  putCampaign,
  rankerServing,
  retailFixture,
  seedModel,
  token,
} from "./support/harness";

const DAY = 86400;
const manifest = () => JSON.parse(retailFixture().manifestJson) as ModelManifest;

/** The case's pool with every item's ALS score turned around: an answer ranked from it is not the true one. */
function turnedPool(g: HybridGoldenCase): string {
  const pool = decodePool(g.pool as string, manifest().itemCount);
  if (!pool) throw new Error("the golden pool does not decode");
  return encodePool({ ...pool, als: pool.als.map((s) => -s) });
}

const shown = (rec: { items: { id: string }[] }) => rec.items.map((it) => it.id).join();

describe("readers' pools in workerd", () => {
  const cases = () => retailFixture().golden.ranker;

  beforeEach(async () => {
    await clearKv();
    await seedModel({ fixture: rankerServing() });
  });

  it("ranks from the pool, and months later and under an exclusion window still as scoring every item does", async () => {
    for (const at of [{ days: 0 }, { days: 45 }, { days: 400 }, { days: 10, excludePurchasedDays: 120 }]) {
      let fromPool = 0;
      for (const g of cases()) {
        const opts = { now: g.now + at.days * DAY, excludePurchasedDays: at.excludePurchasedDays };
        const pooled = await goldenRecommendation(g, opts);
        const whole = await goldenRecommendation(g, { ...opts, pool: null });
        expect(pooled.scorer).toBe("ranker");
        expect([shown(pooled), pooled.scores]).toEqual([shown(whole), whole.scores]);
        // the pool is what ranked: with its ALS scores turned around, the answer moves
        if (shown(await goldenRecommendation(g, { ...opts, pool: turnedPool(g) })) !== shown(whole)) fromPool++;
      }
      expect(fromPool).toBeGreaterThan(cases().length / 2);
    }
  });

  it("answers from the pool where the hybrid serves: the trainer's top-10, and what scoring every item gives", async () => {
    await seedModel({ fixture: rankerServing({ all: "hybrid", novel: "hybrid" }) });
    const f = retailFixture();
    const ids = manifest().itemIds;
    let fromPool = 0;
    for (const [i, g] of f.golden.hybrid.entries()) {
      // the ranker's case for the same reader and mode carries their pool
      const ranker = f.golden.ranker[i] as HybridGoldenCase;
      expect([ranker.user, ranker.mode]).toEqual([g.user, g.mode]);
      const rec = await goldenRecommendation(g, { pool: ranker.pool });
      expect(rec.scorer).toBe("hybrid");
      expect(shown(rec)).toBe(g.expectedIndices.map((j) => ids[j]).join());
      const later = { now: g.now + 400 * DAY, excludePurchasedDays: 500 };
      const pooled = await goldenRecommendation(g, { ...later, pool: ranker.pool });
      const whole = await goldenRecommendation(g, { ...later, pool: null });
      expect([shown(pooled), pooled.scores]).toEqual([shown(whole), whole.scores]);
      if (shown(await goldenRecommendation(g, { pool: turnedPool(ranker) })) !== shown(rec)) fromPool++;
    }
    expect(fromPool).toBeGreaterThan(f.golden.hybrid.length / 2);
  });

  it("passes over a pool made from another own history, and one whose candidates exclusions leave too few", async () => {
    const ids = manifest().itemIds;
    let checked = 0;
    for (const g of cases()) {
      // only readers whose answer a turned pool moves: for them an answer equal to the graphs' was not the pool's
      const turned = turnedPool(g);
      if (shown(await goldenRecommendation(g, { pool: turned })) === shown(await goldenRecommendation(g))) continue;
      checked++;
      const bought = ids.find((id) => !g.profile.purchases.some((p) => p.item === id)) as string;
      const [first, ...rest] = g.profile.purchases;
      if (!first) continue;
      // since the pool was made (inside the model's window: not folded in), one more item, or one of theirs again
      for (const purchases of [
        [...g.profile.purchases, { item: bought, invoices: 1, lastTs: g.now - DAY }],
        [{ ...first, invoices: first.invoices + 1, lastTs: g.now - 60 }, ...rest],
      ]) {
        const other = { ...g, profile: { ...g.profile, purchases } };
        const whole = await goldenRecommendation(other, { pool: null });
        expect(whole.scorer).toBe("ranker");
        expect(shown(await goldenRecommendation(other, { pool: turned }))).toBe(shown(whole));
      }
      // more items asked for than the pool holds: the hybrid's order fills, which needs every item's score
      const n = (decodePool(g.pool as string, ids.length)?.items.length ?? 0) + 1;
      const wide = await goldenRecommendation(g, { pool: null, n });
      // (the fixture's catalog is small: what it has to show, however many are asked for)
      expect(wide.items.length).toBeGreaterThan(10);
      expect(shown(await goldenRecommendation(g, { pool: turned, n }))).toBe(shown(wide));
    }
    expect(checked).toBeGreaterThan(cases().length / 2);
  });

  it("the amp-list says whether the reader's pool or the whole catalog was ranked", async () => {
    const g = cases()[0] as HybridGoldenCase;
    for (const [pool, ranking] of [
      [g.pool, "pool"],
      [null, "catalog"],
    ] as const) {
      // stores the reader with or without their pool
      await goldenRecommendation(g, { pool });
      const res = await call(`/v1/amp/recs?t=${await token(g.user)}&n=5`);
      expect(res.status).toBe(200);
      expect([res.headers.get("X-Opentime-Scorer"), res.headers.get("X-Opentime-Ranking")]).toEqual([
        "ranker",
        ranking,
      ]);
    }
    // a campaign's static block shows the same for everyone: it says nothing of the ranking made to decide recording
    const banner = {
      id: "sale",
      type: "static",
      title: "Sale",
      image: "/demo/img/banner.png",
      url: "https://shop.example/",
    };
    expect((await putCampaign("test", { v: 2, default: banner })).status).toBe(200);
    const fixed = await call(`/v1/amp/recs?t=${await token(g.user)}&n=5`);
    expect([fixed.headers.get("X-Opentime-Scorer"), fixed.headers.get("X-Opentime-Ranking")]).toEqual(["static", null]);
    resetCampaignCache();
    // no model, no ranking: popular items, and nothing said of one
    await clearKv();
    const res = await call(`/v1/amp/recs?t=${await token(g.user)}&n=5`);
    expect(res.headers.get("X-Opentime-Scorer")).toBe("popular");
    expect(res.headers.get("X-Opentime-Ranking")).toBeNull();
  });

  it("passes over a damaged pool or one not stored right, and still ranks", async () => {
    const g = cases()[0] as HybridGoldenCase;
    const whole = shown(await goldenRecommendation(g, { pool: null }));
    for (const pool of ["", "AAAA", `${g.pool as string}AAAA`, "%%%"]) {
      const rec = await goldenRecommendation(g, { pool });
      expect([rec.reason, rec.scorer, shown(rec)]).toEqual(["personalized", "ranker", whole]);
    }
  });
});
