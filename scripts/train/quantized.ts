/**
 * A dot-product recommender (ALS, content) scored through its int8 item table: exactly what the
 * exported ONNX graph computes (core/int8-kernel.ts is its bit-exact reference).
 */
import { type QuantizedItems, quantizeItems, scoreInt8 } from "../../core/int8-kernel";
import type { TrainData } from "../data/train-data";
import type { Recommender } from "../ranking/recommender-contract";

export interface DotProductModel extends Recommender {
  userVector(user: number): Float32Array;
}

export class QuantizedRecommender implements Recommender {
  readonly name: string;
  readonly items: QuantizedItems;

  constructor(
    private readonly inner: DotProductModel,
    itemVectors: Float32Array,
    dims: number,
  ) {
    this.name = `${inner.name}_int8`;
    this.items = quantizeItems(itemVectors, itemVectors.length / dims, dims);
  }

  fit(_data: TrainData): void {
    throw new Error("a quantized recommender wraps a fitted model; fit the inner model");
  }

  scores(user: number): Float32Array {
    return scoreInt8(this.items, this.inner.userVector(user));
  }

  hyperparameters() {
    return { ...this.inner.hyperparameters(), quantization: "int8 per-item symmetric, uint8 dynamic user" };
  }
}
