/**
 * Training step 6: the manifest the Worker loads a version by (core/manifest.ts): graphs and their hashes, the
 * hybrid's weights and item statistics, segments, fold-in and send-time parameters, calibration, the drift
 * reference, hyperparameters, validation metrics and the training's size, time and the log's dropped rows.
 */
import type { DriftReference } from "../../../core/drift";
import { CONTENT_USER_VECTOR_V1 } from "../../../core/feature-spec";
import { type ModelManifest, manifestSchemaFor } from "../../../core/manifest";
import { DEFAULT_TYPE_WEIGHTS } from "../../data/interaction-log";
import { baseManifest, sha256Hex } from "../../export/manifest";
import type { TrainingSet } from "../training-set";
import type { Engagement } from "./fit-engagement";
import type { Recommenders } from "./fit-recommenders";
import type { Tuned } from "./tune-on-validation";

export function modelManifest(
  ts: TrainingSet,
  tuned: Tuned,
  recs: Recommenders,
  engagement: Engagement,
  reference: DriftReference,
  seconds: number,
): ModelManifest {
  const { full } = ts;
  const { als, content, contentOnnx, hybrid } = recs;
  const { segments, segmentOnnx, sendTime } = engagement;
  const { weights, calibration } = tuned;
  const models = recs.ranker?.ranker.models;
  return {
    ...baseManifest(recs.version, full.itemIds, als.options.factors, recs.alsOnnx),
    // 2 when the ranker blends the hybrid in (linear terms), which a Worker knowing only 1 must refuse
    schema: manifestSchemaFor(models && hybrid.parts ? models : undefined),
    content:
      contentOnnx && content
        ? {
            featureSpec: CONTENT_USER_VECTOR_V1,
            dims: content.dims,
            onnxSha256: sha256Hex(contentOnnx),
            onnxBytes: contentOnnx.length,
          }
        : undefined,
    hybrid:
      content && hybrid.parts
        ? {
            features: [...weights.features],
            all: weights.all,
            novel: weights.novel,
            itemStats: {
              logBuyers: Array.from(hybrid.parts.stats.logBuyers),
              repeatRate: Array.from(hybrid.parts.stats.repeatRate),
              logRecentBuyers: Array.from(hybrid.parts.stats.logRecentBuyers),
            },
          }
        : undefined,
    ranker:
      recs.ranker?.ranker.models && hybrid.parts
        ? {
            chosen: recs.ranker.choice.chosen,
            all: recs.ranker.ranker.models.all,
            novel: recs.ranker.ranker.models.novel,
            neighbours: {
              k: recs.ranker.k,
              sha256: sha256Hex(recs.ranker.neighbours),
              bytes: recs.ranker.neighbours.length,
            },
            itemStats: {
              weekBuyers: Array.from(hybrid.parts.stats.weekBuyers),
              fortnightBuyers: Array.from(hybrid.parts.stats.fortnightBuyers),
            },
          }
        : undefined,
    segments:
      segments && segmentOnnx
        ? {
            names: segments.model.segments.map((s) => s.name),
            descriptions: segments.model.segments.map((s) => s.description),
            onnxSha256: sha256Hex(segmentOnnx),
            onnxBytes: segmentOnnx.length,
          }
        : undefined,
    foldIn: {
      alpha: als.options.alpha,
      regularization: als.options.regularization,
      weights: ts.source === "purchases" ? "invoices" : { ...DEFAULT_TYPE_WEIGHTS },
      windowEnd: full.end,
    },
    sendTime: sendTime
      ? { shop: Array.from(sendTime.shop), segments: sendTime.segments.map((s) => Array.from(s)) }
      : undefined,
    ...(Object.keys(calibration).length > 0 && { calibration }),
    reference,
    hyperparameters: als.hyperparameters(),
    metrics: tuned.metrics,
    training: {
      users: full.userIds.length,
      items: full.itemIds.length,
      interactions: full.data.matrix.indices.length,
      seconds: +seconds.toFixed(2),
      rowsRead: ts.read,
      dropped: { ...ts.dropped },
    },
  };
}
