/**
 * Readers' pools in workerd (core/reader-pool.ts): an open ranks from the reader's pool, and gets what scoring
 * every item in the graphs gets, at later times too; a pool that cannot give that answer (made from other own
 * items, too few candidates left after exclusions) is passed over for the graphs.
 */
import { beforeEach, describe, expect, it } from "vitest";
import type { HybridGoldenCase } from "../../core/golden";
import type { ModelManifest } from "../../core/manifest";
import { decodePool, encodePool } from "../../core/reader-pool";
import { clearKv, goldenRecommendation, rankerServing, retailFixture, seedModel } from "./support/harness";

const DAY = 86400;

/** The case's pool with every item's ALS score turned around: ranking from it must change what is shown. */
function turnedPool(g: HybridGoldenCase): string {
  const itemCount = (JSON.parse(retailFixture().manifestJson) as ModelManifest).itemCount;
  const pool = decodePool(g.pool as string, itemCount);
  if (!pool) throw new Error("the golden pool does not decode");
  return encodePool({ ...pool, als: pool.als.map((s) => -s) });
}

const shown = (rec: { items: { id: string }[] }) => rec.items.map((it) => it.id);

describe("readers' pools in workerd", () => {
  const cases = () => retailFixture().golden.ranker;

  beforeEach(async () => {
    await clearKv();
    await seedModel({ fixture: rankerServing() });
  });

  it("ranks from the pool, and months later still as scoring every item does", async () => {
    for (const g of cases()) {
      for (const days of [45, 400]) {
        const now = g.now + days * DAY;
        const pooled = await goldenRecommendation(g, { now });
        const whole = await goldenRecommendation(g, { now, pool: null });
        expect(pooled.scorer).toBe("ranker");
        expect([shown(pooled), pooled.scores]).toEqual([shown(whole), whole.scores]);
      }
    }
    // the pool is what ranked them: with its ALS scores turned around, some reader is shown something else
    const changed = await Promise.all(
      cases().map(
        async (g) =>
          shown(await goldenRecommendation(g, { pool: turnedPool(g) })).join() !==
          shown(await goldenRecommendation(g)).join(),
      ),
    );
    expect(changed).toContain(true);
  });

  it("answers from the pool where the hybrid serves: the trainer's top-10, and what scoring every item gives", async () => {
    await seedModel({ fixture: rankerServing({ all: "hybrid", novel: "hybrid" }) });
    const f = retailFixture();
    const ids = (JSON.parse(f.manifestJson) as ModelManifest).itemIds;
    let changed = 0;
    for (const [i, g] of f.golden.hybrid.entries()) {
      // the ranker's case for the same reader and mode carries their pool
      const pool = f.golden.ranker[i]?.pool as string;
      expect([f.golden.ranker[i]?.user, f.golden.ranker[i]?.mode]).toEqual([g.user, g.mode]);
      const rec = await goldenRecommendation(g, { pool });
      expect(rec.scorer).toBe("hybrid");
      expect(shown(rec)).toEqual(g.expectedIndices.map((j) => ids[j]));
      const later = g.now + 400 * DAY;
      const whole = await goldenRecommendation(g, { now: later, pool: null });
      expect([shown(whole), whole.scores]).toEqual(
        (({ items, scores }) => [shown({ items }), scores])(await goldenRecommendation(g, { now: later, pool })),
      );
      const turned = await goldenRecommendation(g, { pool: turnedPool(f.golden.ranker[i] as HybridGoldenCase) });
      if (shown(turned).join() !== shown(rec).join()) changed++;
    }
    // and it is the pool that answered
    expect(changed).toBeGreaterThan(0);
  });

  it("passes over a pool made from other own items, and one whose candidates exclusions leave too few", async () => {
    const itemIds = (JSON.parse(retailFixture().manifestJson) as ModelManifest).itemIds;
    for (const g of cases().slice(0, 6)) {
      // a turned pool would change the answer were it used (checked above): here every answer is the graphs'
      const turned = turnedPool(g);
      // bought one more item since the pool was made (not after the model's window: not folded in either)
      const bought = itemIds.find((id) => !g.profile.purchases.some((p) => p.item === id)) as string;
      const more = {
        ...g,
        profile: {
          ...g.profile,
          purchases: [...g.profile.purchases, { item: bought, invoices: 1, lastTs: g.now - DAY }],
        },
      };
      const whole = await goldenRecommendation(more, { pool: null });
      expect(whole.scorer).toBe("ranker");
      expect(shown(await goldenRecommendation(more, { pool: turned }))).toEqual(shown(whole));
      // more items asked for than the pool holds: the hybrid's order fills, which needs every item's score
      const n = (decodePool(g.pool as string, itemIds.length)?.items.length ?? 0) + 1;
      const wide = await goldenRecommendation(g, { pool: null, n });
      // (the fixture's catalog is small: what it has to show, however many are asked for)
      expect(wide.items.length).toBeGreaterThan(10);
      expect(shown(await goldenRecommendation(g, { pool: turned, n }))).toEqual(shown(wide));
    }
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
