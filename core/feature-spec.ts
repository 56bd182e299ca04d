/**
 * Versioned feature specs: what a model's inputs and outputs mean.
 * Every manifest names the spec it was trained for; the runtime serves only specs listed here,
 * and answers with fallback content for any other (never scores a model it cannot interpret).
 */

export const ALS_USER_VECTOR_V1 = "als-user-vector/1" as const;

export interface FeatureSpec {
  id: string;
  description: string;
  /** ONNX graph input names */
  inputs: readonly string[];
  /** ONNX graph output names */
  outputs: readonly string[];
}

export const FEATURE_SPECS: Readonly<Record<string, FeatureSpec>> = {
  [ALS_USER_VECTOR_V1]: {
    id: ALS_USER_VECTOR_V1,
    description:
      "input `user`: float32 [1, dims] implicit-ALS user factors; input `k`: int64 [1]; " +
      "outputs `scores` float32 [1, k] and `indices` int64 [1, k] into the manifest's item table",
    inputs: ["user", "k"],
    outputs: ["scores", "indices"],
  },
};

export function isKnownFeatureSpec(id: string): boolean {
  return Object.hasOwn(FEATURE_SPECS, id);
}
