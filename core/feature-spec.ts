/**
 * Versioned feature specs: what a model's inputs and outputs mean.
 * Every manifest names the spec it was trained for; the runtime serves only specs listed here,
 * and answers with fallback content for any other (never scores a model it cannot interpret).
 */

export const ALS_USER_VECTOR_V1 = "als-user-vector/1" as const;
export const CONTENT_USER_VECTOR_V1 = "content-user-vector/1" as const;

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
      "outputs `scores` float32 [1, k] and `indices` int64 [1, k] into the manifest's item table, and " +
      "`item_scores` float32 [1, items] (every item, for re-ranking)",
    inputs: ["user", "k"],
    outputs: ["scores", "indices", "item_scores"],
  },
  [CONTENT_USER_VECTOR_V1]: {
    id: CONTENT_USER_VECTOR_V1,
    description:
      "the ALS graph's shape over unit-length LSA item vectors of item text; input `user` is the normalized, " +
      "log(1 + orders)-weighted sum of the user's items' vectors",
    inputs: ["user", "k"],
    outputs: ["scores", "indices", "item_scores"],
  },
};

export function isKnownFeatureSpec(id: string): boolean {
  return Object.hasOwn(FEATURE_SPECS, id);
}
