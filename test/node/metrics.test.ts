/** Ranking and classification metrics against hand-computed values. */
import { describe, expect, it } from "vitest";
import { calibrationTable, logLoss, rocAuc } from "../../scripts/engagement/classification-metrics";
import { evaluateRankings, userMetrics } from "../../scripts/ranking/ranking-metrics";

describe("ranking metrics", () => {
  it("computes precision, recall, NDCG and AP for one list", () => {
    // hits at ranks 1 and 3; 3 relevant items
    const m = userMetrics([7, 1, 9, 2], new Set([7, 9, 5]), 10);
    expect(m.precision).toBeCloseTo(2 / 10);
    expect(m.recall).toBeCloseTo(2 / 3);
    const dcg = 1 / Math.log2(2) + 1 / Math.log2(4);
    const idcg = 1 / Math.log2(2) + 1 / Math.log2(3) + 1 / Math.log2(4);
    expect(m.ndcg).toBeCloseTo(dcg / idcg);
    expect(m.ap).toBeCloseTo((1 / 1 + 2 / 3) / 3);
    expect(m.hit).toBe(1);
  });

  it("averages over users and measures coverage over candidate items", () => {
    const r = evaluateRankings(
      new Map([
        [0, [1, 2]],
        [1, [3, 4]],
      ]),
      new Map([
        [0, new Set([1])],
        [1, new Set([9])],
      ]),
      2,
      8,
    );
    expect(r.hit_rate_at_k).toBe(0.5);
    expect(r.ndcg_at_k).toBeCloseTo(0.5);
    expect(r.coverage).toBe(4 / 8);
    expect(r.users).toBe(2);
    // each user's NDCG, in the relevant map's order
    expect([...r.ndcg_per_user]).toEqual([1, 0]);
  });
});

describe("classification metrics", () => {
  it("AUC: perfect, reversed, ties and a hand-counted case", () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // positives 0.8, 0.4; negatives 0.6, 0.2: pairs won 3 of 4
    expect(rocAuc([0.8, 0.6, 0.4, 0.2], [1, 0, 1, 0])).toBe(0.75);
  });

  it("log loss and calibration bins", () => {
    expect(logLoss([0.5, 0.5], [0, 1])).toBeCloseTo(Math.log(2));
    const bins = calibrationTable([0.1, 0.1, 0.9, 0.9], [0, 0, 1, 1], 2);
    expect(bins).toEqual([
      { bin: 1, count: 2, mean_predicted: 0.1, observed_rate: 0 },
      { bin: 2, count: 2, mean_predicted: 0.9, observed_rate: 1 },
    ]);
  });
});
