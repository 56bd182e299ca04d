/**
 * Fits run in worker threads (scripts/lib/worker-pool.ts) give what the same fit gives in this thread, to the
 * bit: ALS, EASE and the trees. The evaluation and the trainer fit side by side there, so their figures must not
 * depend on where a fit ran. A failure in a worker reaches the caller as an error. And the trees' fit grows what it
 * grew before it partitioned rows in place. Work done here while a fit runs there never leaves the fit unread.
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fitGbdt } from "../../scripts/learn/gbdt";
import { Rng } from "../../scripts/lib/rng";
import { allEnded, alongside, inWorker, workerCount } from "../../scripts/lib/worker-pool";
import { fitAlsInWorker, ImplicitAls } from "../../scripts/train/als";
import { Ease, fitEaseInWorker } from "../../scripts/train/ease";
import { plantedBlocks } from "./support/planted";

const data = plantedBlocks();

describe("fits in worker threads", () => {
  it("runs them in workers here (more than one core), else the tests below would compare a thread with itself", () => {
    expect(workerCount()).toBeGreaterThan(1);
  });

  it("ALS: the same factors", async () => {
    const options = { factors: 8, iterations: 4, alpha: 2, regularization: 5 };
    const here = new ImplicitAls(options);
    here.fit(data.data);
    const there = await fitAlsInWorker(options, data.data);
    expect(there.userFactors).toEqual(here.userFactors);
    expect(there.itemFactors).toEqual(here.itemFactors);
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

  it("a function that throws, a missing export and a worker that ends without an answer reject; later calls run", async () => {
    const module = new URL("../../scripts/learn/gbdt.ts", import.meta.url);
    const bad = { x: new Float64Array(3), y: new Uint8Array(1), features: ["a", "b"], groups: Int32Array.from([0, 1]) };
    const quits = new URL("./support/worker-exits.ts", import.meta.url);
    // more failures at once than there are workers: each gives its place back
    const failures = await Promise.allSettled([
      inWorker(module, "fitGbdt", [bad, {}]),
      inWorker(module, "noSuchExport", []),
      inWorker(quits, "quit", []),
      inWorker(quits, "quit", []),
    ]);
    expect(failures.map((f) => (f.status === "rejected" ? String(f.reason) : "fulfilled"))).toEqual([
      expect.stringContaining("x must be rows x features"),
      expect.stringContaining("is not a function"),
      expect.stringContaining("without an answer"),
      expect.stringContaining("without an answer"),
    ]);
    const set = {
      x: Float64Array.from([0, 1, 2, 3]),
      y: Uint8Array.from([0, 0, 1, 1]),
      features: ["a"],
      groups: Int32Array.from([0, 4]),
    };
    await expect(inWorker(module, "fitGbdt", [set, { trees: 1, minHessian: 0 }])).resolves.toMatchObject({
      features: ["a"],
    });
  });
});

describe("work done here while a call runs in a worker (alongside)", () => {
  /** a call whose end the test decides */
  function pending<T>() {
    let settle!: { resolve: (v: T) => void; reject: (e: Error) => void };
    const call = new Promise<T>((resolve, reject) => {
      settle = { resolve, reject };
    });
    return { call, ...settle };
  }

  it("gives both results", async () => {
    const p = pending<number>();
    const out = alongside(p.call, () => "rows");
    p.resolve(7);
    await expect(out).resolves.toEqual({ result: 7, made: "rows" });
  });

  it("when the work here throws, waits for the call to end before the error goes on", async () => {
    const p = pending<number>();
    let ended = false;
    const out = alongside(p.call, () => {
      throw new Error("rows failed");
    }).catch((e: Error) => {
      ended = true;
      return e.message;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(ended).toBe(false);
    p.resolve(1);
    await expect(out).resolves.toBe("rows failed");
  });

  it("when both fail, the caller hears the work's error and the call's is not left unhandled", async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      const p = pending<number>();
      const out = alongside(p.call, () => {
        throw new Error("rows failed");
      });
      p.reject(new Error("fit failed"));
      await expect(out).rejects.toThrow("rows failed");
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
  });
});

describe("every call ended (allEnded)", () => {
  it("gives the results in order", async () => {
    await expect(allEnded([Promise.resolve(1), Promise.resolve("two")] as const)).resolves.toEqual([1, "two"]);
  });

  it("on a failure, waits for the other calls to end, then gives the first failure", async () => {
    let release!: () => void;
    const slow = new Promise<number>((r) => {
      release = () => r(2);
    });
    let ended = false;
    const out = allEnded([Promise.reject(new Error("first")), slow, Promise.reject(new Error("second"))]).catch(
      (e: Error) => {
        ended = true;
        return e.message;
      },
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(ended).toBe(false);
    release();
    await expect(out).resolves.toBe("first");
  });
});

describe("the trees' fit, since it partitions rows in place", () => {
  // sha256 of the ensembles' JSON as the fit before that change grew them (commit 5dbdaa5), same data and settings
  const BEFORE = {
    logloss: "f80158d5783fd19c2134f875badfcf0d29b43e7e7573622f9fb610b3c7012400",
    lambdarank: "f7b6cf2b36e9866c797e0cbe7f9fc750bfb7e0bd53ff0f0146f884df36379982",
  };

  it.each(["logloss", "lambdarank"] as const)("grows the same %s trees to the bit", (objective) => {
    const rng = new Rng(11);
    const rows = 3000;
    const f = 4;
    const x = Float64Array.from({ length: rows * f }, (_, i) =>
      i % f === 3 ? Math.floor(rng.next() * 3) : rng.next(),
    );
    const y = Uint8Array.from({ length: rows }, (_, r) =>
      (x[r * f] as number) * 2 + (x[r * f + 1] as number) - (x[r * f + 3] as number) * 0.3 + rng.next() > 1.6 ? 1 : 0,
    );
    const set = { x, y, features: ["a", "b", "c", "d"], groups: Int32Array.from({ length: 101 }, (_, g) => g * 30) };
    const model = fitGbdt(set, { objective, trees: 30, depth: 4, subsample: 0.7, minHessian: 2 });
    expect(model.trees).toHaveLength(30);
    expect(createHash("sha256").update(JSON.stringify(model)).digest("hex")).toBe(BEFORE[objective]);
  });
});
