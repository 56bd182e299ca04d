/**
 * The shared contract every recommender trainer passes (one suite, every entry of RECOMMENDERS), plus
 * the answer ALS must find on planted structure: far better than popularity.
 */
import { describe, expect, it } from "vitest";
import { rowIndices } from "../../scripts/data/sparse";
import { ImplicitAls } from "../../scripts/train/als";
import { Popularity } from "../../scripts/train/popularity";
import { type Recommender, recommend } from "../../scripts/train/recommender";
import { RECOMMENDERS } from "../../scripts/train/recommenders";
import { plantedBlocks } from "./support/planted";

const data = plantedBlocks();

describe.each(Object.entries(RECOMMENDERS))("recommender contract: %s", (_name, make) => {
  const model = make(1);
  model.fit({ matrix: data.train });

  it("scores every item with a finite number", () => {
    const s = model.scores(0);
    expect(s.length).toBe(data.train.cols);
    expect(Array.from(s).every(Number.isFinite)).toBe(true);
  });

  it("recommends n distinct items and never an excluded one", () => {
    const exclude = new Set(rowIndices(data.train, 3));
    const recs = recommend(model, 3, 10, exclude);
    expect(recs).toHaveLength(10);
    expect(new Set(recs).size).toBe(10);
    expect(recs.some((j) => exclude.has(j))).toBe(false);
  });

  it("is deterministic for a seed", () => {
    const again = make(1);
    again.fit({ matrix: data.train });
    expect(recommend(again, 7, 10)).toEqual(recommend(model, 7, 10));
  });

  it("reports its hyperparameters", () => {
    expect(typeof model.hyperparameters()).toBe("object");
  });
});

function blockShareAndHits(model: Recommender) {
  let inBlock = 0;
  let hits = 0;
  let total = 0;
  for (let u = 0; u < data.train.rows; u++) {
    const recs = recommend(model, u, 10, new Set(rowIndices(data.train, u)));
    const g = data.groupOfUser[u];
    inBlock += recs.filter((j) => data.groupOfItem[j] === g).length;
    hits += recs.filter((j) => data.heldOut.get(u)?.has(j)).length;
    total += recs.length;
  }
  return { blockShare: inBlock / total, hitsPerUser: hits / data.train.rows };
}

describe("implicit ALS on planted structure", () => {
  it("recovers the planted blocks far better than popularity", () => {
    const als = new ImplicitAls({ factors: 16, iterations: 10, seed: 1 });
    als.fit({ matrix: data.train });
    const pop = new Popularity();
    pop.fit({ matrix: data.train });
    const a = blockShareAndHits(als);
    const p = blockShareAndHits(pop);
    expect(a.blockShare).toBeGreaterThan(0.9);
    expect(p.blockShare).toBeLessThan(0.3);
    expect(a.hitsPerUser).toBeGreaterThan(3 * p.hitsPerUser);
  });

  it("decreases its training loss", () => {
    const als = new ImplicitAls({ factors: 16, iterations: 6, seed: 2 });
    als.fit({ matrix: data.train });
    const h = als.lossHistory;
    expect(h).toHaveLength(6);
    expect(h[h.length - 1]).toBeLessThan(h[0] as number);
  });

  it("fits factors of the configured shape", () => {
    const als = new ImplicitAls({ factors: 8, iterations: 2 });
    als.fit({ matrix: data.train });
    expect(als.userFactors.length).toBe(data.train.rows * 8);
    expect(als.itemFactors.length).toBe(data.train.cols * 8);
  });
});
