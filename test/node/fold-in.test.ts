/** ALS fold-in (core/fold-in.ts): from int8 item factors it recovers what ALS learned for a user. */
import { describe, expect, it } from "vitest";
import { bytesToBase64 } from "../../core/base64";
import { decodeItemTable, foldIn, hasNews, itemGram, profileInteractions } from "../../core/fold-in";
import { quantizeItems, scoreInt8, topK } from "../../core/int8-kernel";
import { emptyProfile } from "../../core/profile";
import { rowData, rowIndices } from "../../scripts/data/sparse";
import { recommend } from "../../scripts/ranking/recommender-contract";
import { ImplicitAls } from "../../scripts/train/als";
import { plantedBlocks } from "./support/planted";

describe("fold-in", () => {
  const data = plantedBlocks();
  const als = new ImplicitAls({ factors: 16, iterations: 10, seed: 3 });
  als.fit(data.data);
  const items = quantizeItems(als.itemFactors, data.train.cols, 16);
  const tables = { items, gram: itemGram(items) };
  const params = {
    alpha: als.options.alpha,
    regularization: als.options.regularization,
    weights: "invoices" as const,
    windowEnd: 0,
  };

  it("gives a user vector whose recommendations match the trained one's", () => {
    let overlap = 0;
    for (let u = 0; u < 40; u++) {
      const r = new Map(Array.from(rowIndices(data.train, u), (j, k) => [j, rowData(data.train, u)[k] as number]));
      const v = foldIn(tables, params, r) as Float32Array;
      const own = new Set(r.keys());
      const folded = topK(scoreInt8(items, v), 10, (j) => own.has(j)).indices;
      const trained = recommend(als, u, 10, own);
      overlap += folded.filter((j) => trained.includes(j)).length / 10;
    }
    expect(overlap / 40).toBeGreaterThan(0.8);
  });

  it("puts a brand-new user with a few interactions in their block", () => {
    const block = [0, 1, 2].map((k) => 2 * 30 + k); // three items of block 2
    const v = foldIn(tables, params, new Map(block.map((j) => [j, 1]))) as Float32Array;
    const recs = topK(scoreInt8(items, v), 10, (j) => block.includes(j)).indices;
    expect(recs.filter((j) => data.groupOfItem[j] === 2).length).toBeGreaterThanOrEqual(9);
  });

  it("returns null when there is nothing to fold in", () => {
    expect(foldIn(tables, params, new Map())).toBeNull();
  });

  it("calls news only what fold-in reads: a weighed event or a purchase after the window, of an item the model knows", () => {
    const itemIndex = new Map([
      ["a", 0],
      ["b", 1],
    ]);
    const end = 1000;
    const events = { ...params, windowEnd: end, weights: { view: 1, cart_add: 3, purchase: 6, email_open: 0 } };
    const invoices = { ...params, windowEnd: end };
    const base = { ...emptyProfile("r", "2026-01-01T00:00:00.000Z"), lastActivity: end + 50 };
    const opened = { ...base, recentItems: [{ item: "a", type: "email_open", ts: end + 50 }] };
    const viewed = { ...base, recentItems: [{ item: "a", type: "view", ts: end + 50 }] };
    const viewedUnknown = { ...base, recentItems: [{ item: "zz", type: "view", ts: end + 50 }] };
    const viewedBefore = { ...base, recentItems: [{ item: "a", type: "view", ts: end - 5 }] };
    const bought = { ...base, purchases: [{ item: "b", invoices: 1, lastTs: end + 50 }] };
    for (const [profile, eventModel, purchaseModel] of [
      [base, false, false],
      [opened, false, false],
      [viewed, true, false],
      [viewedUnknown, false, false],
      [viewedBefore, false, false],
      [bought, true, true],
    ] as const) {
      expect([hasNews(profile, itemIndex, events), hasNews(profile, itemIndex, invoices)]).toEqual([
        eventModel,
        purchaseModel,
      ]);
    }
    // no news: what fold-in would read is what the model was trained on (nothing after its window)
    expect(profileInteractions(opened, itemIndex, events)).toEqual(profileInteractions(base, itemIndex, events));
  });

  it("refuses a stored item table whose scales or Gram matrix do not match n x d (fold-in would give NaN)", () => {
    const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const stored = {
      n: items.n,
      d: items.d,
      q: b64(items.q),
      scales: b64(items.scales),
      gram: b64(Float32Array.from(tables.gram)),
    };
    const decoded = decodeItemTable(stored);
    const v = foldIn(decoded, params, new Map([[0, 1]])) as Float32Array;
    expect(v.every(Number.isFinite)).toBe(true);
    expect(() => decodeItemTable({ ...stored, gram: b64(Float32Array.from(tables.gram).subarray(0, 16)) })).toThrow();
    expect(() => decodeItemTable({ ...stored, scales: b64(items.scales.subarray(1)) })).toThrow();
  });

  it("refuses a stored item table holding a scale or Gram entry that is not finite (every fold-in would be NaN)", () => {
    const b64 = (a: ArrayBufferView) => bytesToBase64(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
    const stored = { n: items.n, d: items.d, q: b64(items.q), scales: b64(items.scales) };
    const spoilt = (a: Float32Array, v: number) => {
      const copy = Float32Array.from(a);
      copy[1] = v;
      return b64(copy);
    };
    const gram = Float32Array.from(tables.gram);
    expect(() => decodeItemTable({ ...stored, gram: b64(gram) })).not.toThrow();
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => decodeItemTable({ ...stored, gram: spoilt(gram, v) })).toThrow(/finite/);
      expect(() => decodeItemTable({ ...stored, scales: spoilt(items.scales, v), gram: b64(gram) })).toThrow(/finite/);
    }
  });
});
