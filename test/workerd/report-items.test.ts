/**
 * The report's items (worker/experiments/report-queries.ts itemCounts): the most clicked and bought items of each
 * arm, so a small arm's items are listed beside a large arm's, not crowded out of one list for all arms.
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ensureSchema } from "../../worker/experiments/experiment-db";
import { itemCounts, TOP_ITEMS } from "../../worker/experiments/report-queries";

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
