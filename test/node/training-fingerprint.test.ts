/** A model version's name follows everything its training saw (scripts/train/training-fingerprint.ts). */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { fingerprintTrainingSet } from "../../scripts/train/training-fingerprint";
import type { TrainingSet } from "../../scripts/train/training-set";

function trainingSet(over: { price?: number; title?: string } = {}): TrainingSet {
  const matrix = {
    rows: 1,
    cols: 1,
    indptr: Int32Array.of(0, 1),
    indices: Int32Array.of(0),
    data: Float32Array.of(1),
  };
  return {
    source: "purchases",
    full: { data: { matrix }, itemIds: ["p1"], userIds: ["u1"], end: 100 },
    purchases: {
      customerIds: ["u1"],
      itemIds: ["p1"],
      invoiceIds: ["i1"],
      customer: Int32Array.of(0),
      item: Int32Array.of(0),
      invoice: Int32Array.of(0),
      time: Float64Array.of(50),
      quantity: Float64Array.of(1),
      price: Float64Array.of(over.price ?? 2.5),
    },
    catalog: [{ id: "p1", title: over.title ?? "Mug", category: "", price: 2.5, currency: "GBP", image: "", url: "" }],
  } as unknown as TrainingSet;
}

const fingerprint = (ts: TrainingSet) => fingerprintTrainingSet(createHash("sha256"), ts).digest("hex");

describe("the training fingerprint", () => {
  it("is the same for the same training set, and moves with a purchase's price or the catalog", () => {
    expect(fingerprint(trainingSet())).toBe(fingerprint(trainingSet()));
    // the same interactions (so the same graphs), other purchases: profiles and engagement models differ
    expect(fingerprint(trainingSet({ price: 3 }))).not.toBe(fingerprint(trainingSet()));
    expect(fingerprint(trainingSet({ title: "Cup" }))).not.toBe(fingerprint(trainingSet()));
  });
});
