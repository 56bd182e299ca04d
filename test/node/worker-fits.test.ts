/**
 * Fits run in worker threads (scripts/lib/worker-pool.ts) give what the same fit gives in this thread, to the
 * bit: ALS, EASE and the trees. The evaluation and the trainer fit side by side there, so their figures must not
 * depend on where a fit ran. And a failure in a worker reaches the caller as an error.
 */
import { describe, expect, it } from "vitest";
import { fitGbdt } from "../../scripts/learn/gbdt";
import { Rng } from "../../scripts/lib/rng";
import { inWorker, workerCount } from "../../scripts/lib/worker-pool";
import { fitAlsInWorker, ImplicitAls } from "../../scripts/train/als";
import { Ease, fitEaseInWorker } from "../../scripts/train/ease";
import { plantedBlocks } from "./support/planted";

const data = plantedBlocks();

describe("fits in worker threads", () => {
  it("runs them in workers here (more than one core), else the tests below would compare a thread with itself", () => {
    expect(workerCount()).toBeGreaterThan(1);
  });

  it("ALS: the same factors and losses", async () => {
    const options = { factors: 8, iterations: 4, alpha: 2, regularization: 5 };
    const here = new ImplicitAls(options);
    here.fit(data.data);
    const there = await fitAlsInWorker(options, data.data);
    expect(there.userFactors).toEqual(here.userFactors);
    expect(there.itemFactors).toEqual(here.itemFactors);
    expect(there.lossHistory).toEqual(here.lossHistory);
    expect(there.scores(3)).toEqual(here.scores(3));
  });

  it("EASE: the same weights and scores", async () => {
    const here = new Ease({ lambda: 20 });
    here.fit(data.data);
    const there = await fitEaseInWorker({ lambda: 20 }, data.data);
    expect(there.state()).toEqual(here.state());
    expect(there.scores(5)).toEqual(here.scores(5));
    expect(there.neighbours(5)).toEqual(here.neighbours(5));
  });

  it("trees: the same ensemble, two fits at once", async () => {
    const rows = 400;
    const features = ["a", "b", "c"];
    const rng = new Rng(1);
    const x = Float64Array.from({ length: rows * 3 }, () => rng.next());
    const y = Uint8Array.from({ length: rows }, (_, r) =>
      (x[r * 3] as number) + (x[r * 3 + 1] as number) > 1 ? 1 : 0,
    );
    const set = { x, y, features, groups: Int32Array.from({ length: 41 }, (_, g) => g * 10) };
    const module = new URL("../../scripts/learn/gbdt.ts", import.meta.url);
    for (const objective of ["logloss", "lambdarank"] as const) {
      const options = { objective, trees: 20, depth: 3, subsample: 0.8 };
      const [a, b] = await Promise.all([
        inWorker(module, "fitGbdt", [set, options]),
        inWorker(module, "fitGbdt", [set, { ...options, seed: 8 }]),
      ]);
      expect(a).toEqual(fitGbdt(set, options));
      expect(b).toEqual(fitGbdt(set, { ...options, seed: 8 }));
      expect(b).not.toEqual(a);
    }
  });

  it("a function that throws in a worker rejects with its message", async () => {
    const module = new URL("../../scripts/learn/gbdt.ts", import.meta.url);
    const bad = { x: new Float64Array(3), y: new Uint8Array(1), features: ["a", "b"], groups: Int32Array.from([0, 1]) };
    await expect(inWorker(module, "fitGbdt", [bad, {}])).rejects.toThrow("x must be rows x features");
    await expect(inWorker(module, "noSuchExport", [])).rejects.toThrow(/noSuchExport/);
  });
});
