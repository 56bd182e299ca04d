/** The names of every Workers KV key opentime reads or writes, in one place. */

export const kvKeys = {
  /** JSON `ActivePointer`: which model version serves */
  activeModel: "model:active",
  manifest: (version: string) => `model:${version}:manifest`,
  /** ONNX bytes of the scoring graph */
  onnx: (version: string) => `model:${version}:onnx`,
  /** JSON `Catalog` the model's item indices refer to */
  catalog: (version: string) => `model:${version}:catalog`,
  /** JSON `FallbackItems`: generic content when no model can be loaded at all */
  fallbackItems: "fallback:items",
  profile: (userId: string) => `profile:${userId}`,
} as const;
