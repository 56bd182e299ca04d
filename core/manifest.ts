/**
 * Model manifest and active-version pointer: the contract between the exporter and the Worker.
 * One version bundles the ALS scoring graph (required) and, when trained, the content graph, the hybrid
 * re-ranker's weights and item statistics, segments and send-time distributions. `checkModelVersion` is
 * the one check of a version's stored parts, run by the Worker before it serves a version and by
 * `npm run models -- activate` before the pointer moves.
 */
import { z } from "zod";
import { CalibrationSchema } from "./calibration";
import { type Catalog, CatalogSchema } from "./catalog";
import { DriftReferenceSchema } from "./drift";
import { isKnownFeatureSpec } from "./feature-spec";
import { HYBRID_FEATURES, HYBRID_FEATURES_BEFORE_NEIGHBOURS } from "./hybrid";
import { TreeEnsembleSchema } from "./tree-ensemble";

/**
 * The manifest's format. 1: every model before the ranker's linear terms. 2: a ranker ensemble carries `linear`
 * terms (core/tree-ensemble.ts: the hybrid logit blended with the trees), which a Worker that knows only 1 would
 * strip and then serve the trees alone, at a tree count chosen for the blend; such a Worker refuses 2 instead. The
 * exporter writes 2 only then (manifestSchemaFor), so every other model still loads on Workers from before it, and
 * checkModelVersion refuses a manifest whose number says otherwise.
 */
export const MANIFEST_SCHEMA_VERSION = 1;
export const MANIFEST_LINEAR_SCHEMA_VERSION = 2;

/**
 * A model version: a KV key part (never ':') and a response header value (`X-Opentime-Model`), so a closed,
 * header-safe charset and length.
 */
export const ModelVersionSchema = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/);

const GraphSchema = z.object({
  featureSpec: z.string(),
  dims: z.number().int().positive(),
  /** sha256 (hex) of the ONNX bytes; the Worker refuses a graph whose bytes do not match */
  onnxSha256: z.string().regex(/^[0-9a-f]{64}$/),
  onnxBytes: z.number().int().positive(),
});

/**
 * A hybrid weight set: one weight per HYBRID_FEATURES entry, or per all but the last for a model from before the
 * neighbour sum was one (it weighs the sum 0). A Worker from before that refuses the longer set
 * (model-manifest-invalid).
 */
const LinearSchema = z.object({
  weights: z.array(z.number()).min(HYBRID_FEATURES_BEFORE_NEIGHBOURS).max(HYBRID_FEATURES.length),
  intercept: z.number(),
});

/** The neighbour table's reference: K, and the stored bytes' sha256 and length. */
const NeighboursRefSchema = z.object({
  k: z.number().int().positive(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  bytes: z.number().int().positive(),
});

/**
 * The learned ranker (core/ranker.ts candidates, core/tree-ensemble.ts trees) and, per mode, whether it serves or
 * the hybrid does (chosen on held-out validation readers); its neighbour table is `model:<v>:neighbours`.
 */
export const RankerManifestSchema = z.object({
  chosen: z.object({ all: z.enum(["ranker", "hybrid"]), novel: z.enum(["ranker", "hybrid"]) }),
  all: TreeEnsembleSchema,
  novel: TreeEnsembleSchema,
  neighbours: NeighboursRefSchema,
  /** per item, distinct buyers in the last 7 and 14 days of the window (core/ranker.ts RankerItemStats) */
  itemStats: z.object({
    weekBuyers: z.array(z.number().int().nonnegative()),
    fortnightBuyers: z.array(z.number().int().nonnegative()),
  }),
});
export type RankerManifest = z.infer<typeof RankerManifestSchema>;

/**
 * The ranker entry's reference to its neighbour table alone, which the hybrid's neighbour sums read too: trees this
 * Worker cannot serve do not cost the hybrid its table.
 */
export const RankerNeighboursSchema = z.object({ neighbours: NeighboursRefSchema });

/**
 * The format a manifest with this ranker is written in (MANIFEST_SCHEMA_VERSION): read loosely, as the manifest
 * holds its ranker unchecked (a malformed one only leaves the hybrid serving).
 */
export function manifestSchemaFor(
  ranker: unknown,
): typeof MANIFEST_SCHEMA_VERSION | typeof MANIFEST_LINEAR_SCHEMA_VERSION {
  const hasLinear = (e: unknown) => {
    const linear = (e as { linear?: unknown } | null | undefined)?.linear;
    return Array.isArray(linear) && linear.length > 0;
  };
  const r = ranker as { all?: unknown; novel?: unknown } | null | undefined;
  return hasLinear(r?.all) || hasLinear(r?.novel) ? MANIFEST_LINEAR_SCHEMA_VERSION : MANIFEST_SCHEMA_VERSION;
}

export const ModelManifestSchema = z.object({
  schema: z.union([z.literal(MANIFEST_SCHEMA_VERSION), z.literal(MANIFEST_LINEAR_SCHEMA_VERSION)]),
  /** unique model version, also the KV key prefix */
  version: ModelVersionSchema,
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
    .refine((h) => h.all.weights.length === h.features.length && h.novel.weights.length === h.features.length, {
      message: "hybrid weights: one per feature",
    })
    .refine((h) => h.features.join() === HYBRID_FEATURES.slice(0, h.features.length).join(), {
      message: `hybrid features: ${HYBRID_FEATURES.join(", ")}, or all but the last`,
    })
    .optional(),
  /**
   * the learned ranker (RankerManifestSchema), checked apart when a version loads: a malformed one leaves the
   * version serving its hybrid instead of failing it
   */
  ranker: z.unknown().optional(),
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
  /**
   * the top item's score as a probability that the reader buys it (core/calibration.ts), one Platt fit per
   * scorer on the validation split: the `topProbability` fact of campaign conditions
   */
  // keyed by scorer; a key this Worker does not know (a later scorer's) is carried, never a reason to refuse a version
  calibration: z.record(z.string(), CalibrationSchema).optional(),
  /** the readers' feature distributions at training time, what the drift job compares today's with (core/drift.ts) */
  reference: DriftReferenceSchema.optional(),
  hyperparameters: z.record(z.string(), z.union([z.number(), z.string(), z.boolean()])),
  metrics: z.record(z.string(), z.number()),
  training: z.object({
    users: z.number().int(),
    items: z.number().int(),
    interactions: z.number().int(),
    seconds: z.number(),
    /** data rows the training log held, and those dropped while reading it, by reason (absent before they were kept) */
    rowsRead: z.number().int().nonnegative().optional(),
    dropped: z.record(z.string(), z.number().int().nonnegative()).optional(),
  }),
});
export type ModelManifest = z.infer<typeof ModelManifestSchema>;

export const ActivePointerSchema = z.object({
  version: ModelVersionSchema,
  activatedAt: z.string().max(64),
});
export type ActivePointer = z.infer<typeof ActivePointerSchema>;

/** Previously active versions, oldest first (`npm run models -- rollback` returns to the last one). */
export const MODEL_HISTORY_MAX = 20;
export const ModelHistorySchema = z.array(ActivePointerSchema).max(MODEL_HISTORY_MAX);
export type ModelHistory = z.infer<typeof ModelHistorySchema>;

/** Why a version cannot serve (the Worker's reasons, a closed set). */
export const MODEL_CHECK_FAILURES = [
  "model-manifest-invalid",
  "model-spec-unknown",
  "model-missing",
  "model-corrupt",
  "catalog-invalid",
] as const;
export type ModelCheckFailure = (typeof MODEL_CHECK_FAILURES)[number];

export interface ModelParts {
  /** parsed JSON of `model:<v>:manifest`, null when absent */
  manifest: unknown;
  /** parsed JSON of `model:<v>:catalog`, null when absent */
  catalog: unknown;
  /** `model:<v>:onnx`, null when absent */
  onnx: ArrayBuffer | Uint8Array | null;
  /** `model:<v>:content-onnx`, null when absent (optional: checked only when the manifest names one) */
  contentOnnx?: ArrayBuffer | Uint8Array | null;
}

export type ModelCheck =
  | {
      ok: true;
      manifest: ModelManifest;
      catalog: Catalog;
      /** why the manifest's optional content graph cannot serve (the model then serves ALS alone) */
      contentProblem: string | null;
    }
  /** `catalog` is set when the catalog itself is valid (it can still serve generic content) */
  | { ok: false; reason: ModelCheckFailure; detail: string; catalog?: Catalog };

/**
 * Checks one version's stored parts: catalog present and valid, manifest valid and naming this version,
 * a known feature spec, catalog and manifest agreeing on the items (the same ids in the same order, none twice,
 * every popular index one of them), the ONNX bytes present and matching
 * the manifest's sha256. A damaged optional content graph (checked when `contentOnnx` is given) is not a
 * failure: the model then serves ALS alone.
 * Whether ORT can parse the bytes is left to the Worker's session (the sha256 ties them to the export).
 */
export async function checkModelVersion(version: string, parts: ModelParts): Promise<ModelCheck> {
  const catalogParse = CatalogSchema.safeParse(parts.catalog);
  if (!catalogParse.success)
    return {
      ok: false,
      reason: "catalog-invalid",
      detail: parts.catalog === null ? "catalog missing" : "catalog fails schema",
    };
  const catalog = catalogParse.data;
  const manifestParse = ModelManifestSchema.safeParse(parts.manifest);
  if (!manifestParse.success)
    return {
      ok: false,
      reason: "model-manifest-invalid",
      detail: parts.manifest === null ? "manifest missing" : manifestParse.error.message.slice(0, 300),
      catalog,
    };
  const manifest = manifestParse.data;
  if (manifest.version !== version)
    return {
      ok: false,
      reason: "model-manifest-invalid",
      detail: `manifest names version ${manifest.version}`,
      catalog,
    };
  if (manifest.schema !== manifestSchemaFor(manifest.ranker))
    return {
      ok: false,
      reason: "model-manifest-invalid",
      detail: `schema ${manifest.schema}, but its ranker ${manifest.schema === MANIFEST_SCHEMA_VERSION ? "has" : "has no"} linear terms`,
      catalog,
    };
  if (!isKnownFeatureSpec(manifest.featureSpec))
    return { ok: false, reason: "model-spec-unknown", detail: manifest.featureSpec.slice(0, 64), catalog };
  if (catalog.items.length !== manifest.itemCount || manifest.itemIds.length !== manifest.itemCount)
    return { ok: false, reason: "catalog-invalid", detail: "catalog and manifest disagree on the item count" };
  const itemsProblem = catalogItemsProblem(catalog, manifest.itemIds);
  if (itemsProblem) return { ok: false, reason: "catalog-invalid", detail: itemsProblem };
  const stats = manifest.hybrid?.itemStats;
  if (stats && Object.values(stats).some((a) => a.length !== manifest.itemCount))
    return {
      ok: false,
      reason: "model-manifest-invalid",
      detail: "hybrid item statistics of another item count",
      catalog,
    };
  if (!parts.onnx) return { ok: false, reason: "model-missing", detail: "no ONNX bytes", catalog };
  const digest = await sha256Hex(parts.onnx);
  if (digest !== manifest.onnxSha256)
    return { ok: false, reason: "model-corrupt", detail: `ONNX sha256 ${digest} != manifest`, catalog };
  let contentProblem: string | null = null;
  if (manifest.content && parts.contentOnnx !== undefined) {
    if (!parts.contentOnnx) contentProblem = "no content ONNX bytes";
    else if (!isKnownFeatureSpec(manifest.content.featureSpec))
      contentProblem = "content graph has an unknown feature spec";
    else if ((await sha256Hex(parts.contentOnnx)) !== manifest.content.onnxSha256)
      contentProblem = "content ONNX sha256 does not match the manifest";
  }
  return { ok: true, manifest, catalog, contentProblem };
}

/**
 * Why the catalog does not hold the manifest's items in its order (index i, the model's output i, is item
 * itemIds[i]), or its popular list points past them; null when it does. One pass, so a 100k-item model checks
 * quickly. Both lists are of one length here.
 */
function catalogItemsProblem(catalog: Catalog, itemIds: readonly string[]): string | null {
  const quote = (id: string | undefined) => JSON.stringify((id ?? "").slice(0, 64));
  const seen = new Set<string>();
  for (let i = 0; i < itemIds.length; i++) {
    const id = itemIds[i] as string;
    if (seen.has(id)) return `manifest itemIds repeat ${quote(id)} at index ${i}`;
    seen.add(id);
    const item = catalog.items[i]?.id;
    if (item !== id) return `catalog item ${i} is ${quote(item)}, manifest itemIds[${i}] is ${quote(id)}`;
  }
  // named by value, not position: the parsed list holds each index once, so a position would not be the file's
  const bad = catalog.popular.find((p) => !Number.isInteger(p) || p < 0 || p >= itemIds.length);
  if (bad !== undefined) return `the popular list holds ${bad}, not an item index below ${itemIds.length}`;
  return null;
}

export async function sha256Hex(bytes: ArrayBuffer | Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as BufferSource);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
