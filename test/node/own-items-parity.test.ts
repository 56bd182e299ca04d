/**
 * Train/serve parity of the reader's own items, the inputs of the hybrid's and the learned ranker's reader features
 * (own, log_invoices, recencies, invoice_share, reader_log_items, reader_log_max_invoices, ...): the trainer reads a
 * reader from its window's matrix (scripts/train/hybrid.ts), the Worker from the profile `train` writes
 * (scripts/profiles/build-profiles.ts, at most MAX_PURCHASE_HISTORY items). Both ways, on the same purchase log,
 * they must be the same items with the same counts and times, a reader of more items than a profile keeps too.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ownItems } from "../../core/hybrid";
import { MAX_PURCHASE_HISTORY } from "../../core/profile";
import { rankerCandidates } from "../../core/ranker";
import { buildProfile, purchaseSummaries } from "../../scripts/profiles/build-profiles";
import { HybridRecommender } from "../../scripts/train/hybrid";
import { loadTrainingSet } from "../../scripts/train/training-set";
import { type RetailRow, syntheticRetail, writeRetailCsv } from "./support/retail-csv";

/** A wholesaler: one invoice a day, each of three new items, past the profile's bound. */
function wholesaler(items: number): RetailRow[] {
  const rows: RetailRow[] = [];
  const start = Date.UTC(2011, 0, 3, 9);
  for (let k = 0; k < items; k++) {
    const day = Math.floor(k / 3);
    rows.push({
      invoice: String(700000 + day),
      code: String(30000 + k),
      description: `ITEM ${k}`,
      quantity: 1,
      date: new Date(start + day * 86400_000).toISOString().replace("T", " ").slice(0, 19),
      price: 2,
      customer: "99999",
      country: "United Kingdom",
    });
  }
  // a few of them again, on a later invoice each
  for (const k of [0, 5, items - 1]) {
    rows.push({ ...(rows[k] as RetailRow), invoice: String(800000 + k), date: "2011-06-01 10:00:00" });
  }
  return rows;
}

describe("a reader's own items, as the trainer and the Worker read them", () => {
  it("are the same items, order counts and times, in the same order, for a reader of more items than a profile keeps", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ot-own-parity-"));
    const path = join(dir, "retail.csv");
    writeRetailCsv(path, [...syntheticRetail(5, 120), ...wholesaler(MAX_PURCHASE_HISTORY + 40)], "i");
    const ts = await loadTrainingSet({ data: path, holdoutDays: 30 });
    const { full } = ts;
    const hybrid = new HybridRecommender({ factors: 8, iterations: 2 }, {}, full.end);
    hybrid.fit(full.data);
    const itemIndex = new Map(full.itemIds.map((id, i) => [id, i]));
    const summaries = purchaseSummaries(ts.purchases);
    const customerIndex = new Map(ts.purchases.customerIds.map((id, i) => [id, i]));
    // in the profile's order too: the hybrid's neighbour sums add their rows in it
    const inOrder = (own: readonly { item: number; invoices: number; lastTs: number }[]) =>
      own.map((o) => [o.item, o.invoices, Math.floor(o.lastTs)]);
    let checked = 0;
    for (const [u, user] of full.userIds.entries()) {
      const c = customerIndex.get(user) as number;
      // the Worker: the profile `train` writes, its purchases as the model's own items
      const profile = buildProfile(user, { model: "v", purchases: summaries.get(c) ?? [] });
      const served = ownItems(profile.purchases, itemIndex);
      // the trainer: the same reader's row of the window
      const trained = hybrid.components(u).own;
      expect([user, inOrder(trained)]).toEqual([user, inOrder(served)]);
      checked++;
    }
    expect(checked).toBe(full.userIds.length);
    // and so the reader features the trees learn from are those the Worker computes for them
    const u = full.userIds.indexOf("99999");
    const c = customerIndex.get("99999") as number;
    const trained = hybrid.components(u);
    const profile = buildProfile("99999", { model: "v", purchases: summaries.get(c) ?? [] });
    expect(profile.purchases).toHaveLength(MAX_PURCHASE_HISTORY);
    const edge = { ...trained, own: ownItems(profile.purchases, itemIndex) };
    const atTraining = rankerCandidates(
      { ...trained, neighbours: null, hybrid: hybrid.scoresFor("all", trained) },
      "all",
    );
    const atEdge = rankerCandidates({ ...edge, neighbours: null, hybrid: hybrid.scoresFor("all", edge) }, "all");
    expect(atTraining.items).toEqual(atEdge.items);
    expect(Array.from(atTraining.rows)).toEqual(Array.from(atEdge.rows));
  });
});
