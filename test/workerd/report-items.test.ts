/**
 * The report's items (worker/experiments/report-queries.ts itemCounts): the most clicked and bought items of each
 * arm, so a small arm's items are listed beside a large arm's, not crowded out of one list for all arms. And the
 * report's sums of money (per arm, item, day and currency): in the currency's minor unit, no float noise.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ExperimentSchema } from "../../core/experiments/experiment";
import { ensureSchema } from "../../worker/experiments/experiment-db";
import { experimentReport } from "../../worker/experiments/experiment-report";
import {
  armCounts,
  dailyCounts,
  itemCounts,
  revenueCurrencies,
  TOP_ITEMS,
} from "../../worker/experiments/report-queries";

describe("the report's items", () => {
  it("lists each arm's most clicked and bought, a 90/10 split's small arm included", async () => {
    const db = env.DB as D1Database;
    await ensureSchema(db);
    const insert = db.prepare(
      `INSERT INTO outcomes (experiment, user, event, kind, arm, slot, item, value, at, day, currency)
       VALUES ('top-items', ?1, ?2, ?3, ?4, NULL, ?5, ?6, 1800000000, '2027-01-15', 'GBP')`,
    );
    const rows: D1PreparedStatement[] = [];
    // the large arm: 60 items, each clicked twice and bought once
    for (let i = 0; i < 60; i++) {
      rows.push(insert.bind(`u${i}`, `c${i}`, "click", "large", `p${i}`, 0));
      rows.push(insert.bind(`u${i}`, `d${i}`, "click", "large", `p${i}`, 0));
      rows.push(insert.bind(`u${i}`, `b${i}`, "purchase", "large", `p${i}`, 10));
    }
    // the small arm: two items, one click each, one of them bought
    rows.push(insert.bind("s1", "sc1", "click", "small", "rare-1", 0));
    rows.push(insert.bind("s2", "sc2", "click", "small", "rare-2", 0));
    rows.push(insert.bind("s2", "sb2", "purchase", "small", "rare-2", 25));
    await db.batch(rows);

    const items = await itemCounts(db, "top-items", { report: "GBP", shop: null });
    const small = items.filter((i) => i.arm === "small");
    expect(small).toEqual([
      { arm: "small", item: "rare-2", clicks: 1, purchases: 1, revenue: 25 },
      { arm: "small", item: "rare-1", clicks: 1, purchases: 0, revenue: 0 },
    ]);
    const large = items.filter((i) => i.arm === "large");
    expect(large).toHaveLength(TOP_ITEMS);
    expect(large[0]).toMatchObject({ clicks: 2, purchases: 1, revenue: 10 });
  });
});

describe("the report's sums of money", () => {
  it("are rounded to the currency's minor unit where they are summed (42.10 three times is 126.30, not 126.30000000000001)", async () => {
    const db = env.DB as D1Database;
    await ensureSchema(db);
    const exposure = db.prepare(
      `INSERT INTO exposures (experiment, user, arm, campaign, at, day) VALUES ('sums', ?1, 'a', 'c', 1800000000, '2027-01-15')`,
    );
    const purchase = db.prepare(
      `INSERT INTO outcomes (experiment, user, event, kind, arm, slot, item, value, at, day, currency)
       VALUES ('sums', ?1, ?2, 'purchase', 'a', NULL, 'p1', ?3, 1800000000, '2027-01-15', ?4)`,
    );
    await db.batch([
      exposure.bind("u1"),
      exposure.bind("u2"),
      // a reader's three purchases: summed per reader, arm, item, day and currency
      purchase.bind("u1", "b1", 42.1, "GBP"),
      purchase.bind("u1", "b2", 42.1, "GBP"),
      purchase.bind("u1", "b3", 42.1, "GBP"),
      // dinars have three digits: 0.1 + 0.2 is 0.30000000000000004 in floats
      purchase.bind("u2", "b5", 0.1, "BHD"),
      purchase.bind("u2", "b6", 0.2, "BHD"),
    ]);
    const gbp = { report: "GBP", shop: null };
    const [arm] = await armCounts(db, "sums", "opened", gbp);
    expect(arm?.revenue).toBe(126.3);
    expect((await itemCounts(db, "sums", gbp)).map((i) => i.revenue)).toEqual([126.3]);
    expect((await dailyCounts(db, "sums", gbp)).map((d) => d.revenue)).toEqual([126.3]);
    expect(await revenueCurrencies(db, "sums", null)).toEqual([
      { currency: "GBP", purchases: 3, revenue: 126.3 },
      { currency: "BHD", purchases: 2, revenue: 0.3 },
    ]);
  });
});

describe("the report's items and its readers", () => {
  it("count the readers the arms' table counts, whatever the phase: a reader seen only by a click is in neither", async () => {
    const db = env.DB as D1Database;
    await ensureSchema(db);
    await db.batch([
      db.prepare(
        "INSERT INTO exposures (experiment, user, arm, campaign, block, via, phase, at, day) VALUES ('x-items', 'u1', 'a', 'c', 'b', 'click', 50, 100, '1970-01-01')",
      ),
      db.prepare(
        "INSERT INTO outcomes (experiment, user, event, kind, arm, slot, item, value, currency, at, day) VALUES ('x-items', 'u1', 'e1', 'click', 'a', 'row-0', 'sku-1', 0, NULL, 101, '1970-01-01')",
      ),
    ]);
    const experiment = ExperimentSchema.parse({
      v: 1,
      id: "x-items",
      campaign: "c",
      variants: [
        { id: "a", weight: 1, content: { v: 2, default: { id: "b", type: "recommendations" } } },
        { id: "p", weight: 1, content: "popular" },
      ],
      phaseStart: 50,
    });
    for (const phase of ["all", "current"] as const) {
      const r = await experimentReport(db, experiment, { intervals: "fixed", phase });
      expect(r.arms.find((a) => a.arm === "a")).toMatchObject({ exposed: 0, clickers: 0, clickOnly: 1 });
      expect(r.slots).toEqual([]);
      // the dashboard's items (phase all, its default) listed the click the table leaves out
      expect(r.items).toEqual([]);
    }
  });
});
