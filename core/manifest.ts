/** Model manifest and active-version pointer: the contract between the exporter and the Worker. */
import { z } from "zod";

export const MANIFEST_SCHEMA_VERSION = 1;

export const ModelManifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA_VERSION),
  /** unique model version, also the KV key prefix */
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  kind: z.literal("als"),
  featureSpec: z.string(),
  createdAt: z.string(),
  dims: z.number().int().positive(),
  itemCount: z.number().int().positive(),
  /** item ids in model-index order (index i = output index i) */
  itemIds: z.array(z.string()),
  quantization: z.object({
    scheme: z.literal("int8-per-item-symmetric+uint8-dynamic-user"),
    opset: z.number().int(),
  }),
  /** sha256 (hex) of the ONNX bytes; the Worker refuses a model whose bytes do not match */
  onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
  onnxBytes: z.number().int().positive(),
  hyperparameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  metrics: z.record(z.string(), z.number()),
  training: z.object({
    users: z.number().int(),
    items: z.number().int(),
    interactions: z.number().int(),
    seconds: z.number(),
  }),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

export const ActivePointerSchema = z.object({
  version: z.string().min(1),
  activatedAt: z.string(),
});
export type ActivePointer = z.infer<typeof ActivePointerSchema>;
