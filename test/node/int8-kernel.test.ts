/**
 * The int8 kernel: quantization error bounds, ONNX TopK tie order, and bit-exact parity between the
 * TypeScript reference and the exported ONNX graph run by onnxruntime-web (wasm, in Node).
 */
import fc from "fast-check";
import * as ort from "onnxruntime-web";
import { beforeAll, describe, expect, it } from "vitest";
import {
  dequantizeItems,
  dynamicQuantizeUint8,
  quantizeItems,
  roundHalfEven,
  scoreInt8,
  scoreInt8Many,
  topK,
} from "../../core/int8-kernel";
import { buildScoringGraph } from "../../scripts/export/onnx-graph";
import { Rng } from "../../scripts/lib/rng";

describe("int8 kernel", () => {
  it("rounds half to even", () => {
    expect([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, -0, -2, -2, 2, 3]);
  });

  it("quantizes each item within half a step of its own scale", () => {
    const rng = new Rng(3);
    const n = 50;
    const d = 16;
    const f = Float32Array.from({ length: n * d }, () => rng.normal() * (rng.next() < 0.2 ? 5 : 0.2));
    const q = quantizeItems(f, n, d);
    const back = dequantizeItems(q);
    for (let j = 0; j < n; j++) {
      for (let k = 0; k < d; k++) {
        expect(Math.abs((back[j * d + k] as number) - (f[j * d + k] as number))).toBeLessThanOrEqual(
          (q.scales[j] as number) / 2 + 1e-6,
        );
      }
    }
  });

  it("quantizes a user vector over a range that includes zero", () => {
    const { q, scale, zeroPoint } = dynamicQuantizeUint8([0.5, 1, 2]);
    expect(zeroPoint).toBe(0);
    expect(scale).toBeCloseTo(2 / 255, 7);
    // 1 / fround(2/255) is 127.49999... in float32 arithmetic, so 127 (as ONNX Runtime computes it)
    expect(Array.from(q)).toEqual([64, 127, 255]);
  });

  it("scores several users at once to the same bits as one at a time (any count: blocks of eight, a last block made up to eight, the rest one at a time)", () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 1_000_000 }),
          n: fc.integer({ min: 1, max: 120 }),
          d: fc.integer({ min: 1, max: 70 }),
          users: fc.integer({ min: 0, max: 21 }),
        }),
        ({ seed, n, d, users }) => {
          const r = new Rng(seed);
          const scale = [1e-3, 1, 50][seed % 3] as number;
          const factors = Float32Array.from({ length: n * d }, () => (r.next() < 0.1 ? 0 : r.normal() * scale));
          const items = quantizeItems(
            factors,
            n,
            d,
            Float32Array.from({ length: n }, () => r.normal()),
          );
          // a zero vector, a one-signed one, and mixed ones
          const us = Array.from({ length: users }, (_, u) =>
            Float32Array.from({ length: d }, () =>
              u === 1 ? 0 : u === 2 ? Math.abs(r.normal()) * scale : r.normal() * scale,
            ),
          );
          const many = scoreInt8Many(items, us);
          expect(many.length).toBe(users);
          us.forEach((u, i) => {
            expect(Buffer.from((many[i] as Float32Array).buffer)).toEqual(Buffer.from(scoreInt8(items, u).buffer));
          });
        },
      ),
      { numRuns: 300 },
    );
    // the largest sums two users share a float64 with (every dimension at +-255 x +-127, 257 of them), and past
    // them (the users then go one at a time; at 260 such sums would no longer unpack); a zero vector after a
    // negative sum, over a bias of -0, keeps its +0
    for (const d of [257, 258, 260]) {
      const items = quantizeItems(
        Float32Array.from({ length: 2 * d }, (_, i) => (i < d ? 1 : -1)),
        2,
        d,
        [-0, -0],
      );
      const us = [1, 0, -1, 0, -1, 1, 0, -1].map((v) => new Float32Array(d).fill(v));
      const many = scoreInt8Many(items, us);
      us.forEach((u, i) => {
        expect(Buffer.from((many[i] as Float32Array).buffer)).toEqual(Buffer.from(scoreInt8(items, u).buffer));
      });
      expect(Math.abs((many[0] as Float32Array)[0] as number)).toBeGreaterThan(0);
    }
    expect(() =>
      scoreInt8Many(
        quantizeItems(new Float32Array(8), 2, 4),
        Array.from({ length: 4 }, () => new Float32Array(3)),
      ),
    ).toThrow(/3 dims/);
  });

  it("orders equal scores by lower index first, and honours skip", () => {
    expect(topK([1, 3, 3, 2, 3], 3).indices).toEqual([1, 2, 4]);
    expect(topK([1, 3, 3, 2, 3], 3, (j) => j === 2).indices).toEqual([1, 4, 3]);
    expect(topK([5], 3)).toEqual({ indices: [0], scores: [5] });
  });

  it("asks skip only of items that would enter the list, and still finds what a filtered sort does", () => {
    const rng = new Rng(3);
    const scores = Float64Array.from({ length: 5000 }, () => rng.int(50));
    const banned = (j: number) => j % 7 === 0;
    let asked = 0;
    const top = topK(scores, 20, (j) => {
      asked++;
      return banned(j);
    });
    const sorted = [...scores.keys()]
      .filter((j) => !banned(j))
      .sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b)
      .slice(0, 20);
    expect(top.indices).toEqual(sorted);
    // a full list's floor turns away almost every item before skip is asked
    expect(asked).toBeLessThan(500);
  });
});

describe("ONNX graph parity (onnxruntime-web)", () => {
  const rng = new Rng(11);
  const n = 1500;
  const d = 32;
  const factors = Float32Array.from({ length: n * d }, () => rng.normal() * (rng.next() < 0.1 ? 1.5 : 0.3));
  const bias = Float32Array.from({ length: n }, (_, j) => (j % 97 === 0 ? -1e30 : 0));
  const items = quantizeItems(factors, n, d, bias);
  let session: ort.InferenceSession;

  beforeAll(async () => {
    ort.env.wasm.numThreads = 1;
    session = await ort.InferenceSession.create(buildScoringGraph(items, "test"));
  });

  it("returns exactly the reference top-k (indices and float32 scores) for 300 users", async () => {
    let compared = 0;
    for (let t = 0; t < 300; t++) {
      const scale = t % 3 === 0 ? 0.01 : 1;
      const user = Float32Array.from({ length: d }, () => rng.normal() * scale + (t % 5 === 0 ? 0.4 : 0));
      if (t === 7) user.fill(0);
      const k = 1 + (t % 25);
      const out = await session.run({
        user: new ort.Tensor("float32", user, [1, d]),
        k: new ort.Tensor("int64", BigInt64Array.of(BigInt(k)), [1]),
      });
      const ref = topK(scoreInt8(items, user), k);
      expect(Array.from(out.indices?.data as BigInt64Array, Number)).toEqual(ref.indices);
      expect(Array.from(out.scores?.data as Float32Array)).toEqual(ref.scores);
      compared++;
    }
    expect(compared).toBe(300);
  });

  it("never ranks an item whose bias excludes it", async () => {
    const user = Float32Array.from({ length: d }, () => rng.normal());
    const out = await session.run({
      user: new ort.Tensor("float32", user, [1, d]),
      k: new ort.Tensor("int64", BigInt64Array.of(100n), [1]),
    });
    const indices = Array.from(out.indices?.data as BigInt64Array, Number);
    expect(indices.some((j) => j % 97 === 0)).toBe(false);
  });
});
