/**
 * Model manifest and active-version pointer: the contract between the exporter and the Worker.
 * One version bundles the ALS scoring graph (required) and, when trained, the content graph, the hybrid
 * re-ranker's weights and item statistics, segments and send-time distributions.
 */
import { z } from "zod";
import { HYBRID_FEATURES } from "./hybrid";

export const MANIFEST_SCHEMA_VERSION = 1;

const GraphSchema = z.object({
  featureSpec: z.string(),
  dims: z.number().int().positive(),
  /** sha256 (hex) of the ONNX bytes; the Worker refuses a graph whose bytes do not match */
  onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
  onnxBytes: z.number().int().positive(),
});

const LinearSchema = z.object({ weights: z.array(z.number()).length(HYBRID_FEATURES.length), intercept: z.number() });

export const ModelManifestSchema = z.object({
  schema: z.literal(MANIFEST_SCHEMA_VERSION),
  /** unique model version, also the KV key prefix */
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/),
  kind: z.literal("als"),
  /** the ALS graph's feature spec (see feature-spec.ts) */
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
  onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
  onnxBytes: z.number().int().positive(),
  /** content (LSA) graph over the same item table */
  content: GraphSchema.optional(),
  hybrid: z
    .object({
      features: z.array(z.string()),
      all: LinearSchema,
      novel: LinearSchema,
      itemStats: z.object({
        logBuyers: z.array(z.number()),
        repeatRate: z.array(z.number()),
        logRecentBuyers: z.array(z.number()),
      }),
    })
    .optional(),
  segments: z
    .object({
      names: z.array(z.string()),
      descriptions: z.array(z.string()),
      onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
      onnxBytes: z.number().int().positive(),
    })
    .optional(),
  /** what the Worker needs to fold a user's new behaviour into a factor vector (core/fold-in.ts) */
  foldIn: z
    .object({
      alpha: z.number().nonnegative(),
      regularization: z.number().positive(),
      weights: z.union([z.literal("invoices"), z.record(z.string(), z.number())]),
      windowEnd: z.number(),
    })
    .optional(),
  sendTime: z
    .object({
      /** shop-wide hour-of-week distribution (168 values, 0 = Sunday 00:00 UTC) */
      shop: z.array(z.number()).length(168),
      segments: z.array(z.array(z.number()).length(168)),
    })
    .optional(),
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
