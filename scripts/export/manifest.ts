/** The required part of a model manifest, from the ALS graph's bytes; callers add the optional parts. */
import { createHash } from "node:crypto";
import { ALS_USER_VECTOR_V1 } from "../../core/feature-spec";
import { MANIFEST_SCHEMA_VERSION, type ModelManifest } from "../../core/manifest";
import { ONNX_OPSET } from "./onnx-graph";

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function baseManifest(version: string, itemIds: string[], dims: number, alsOnnx: Uint8Array): ModelManifest {
  return {
    schema: MANIFEST_SCHEMA_VERSION,
    version,
    kind: "als",
    featureSpec: ALS_USER_VECTOR_V1,
    createdAt: new Date().toISOString(),
    dims,
    itemCount: itemIds.length,
    itemIds,
    quantization: { scheme: "int8-per-item-symmetric+uint8-dynamic-user", opset: ONNX_OPSET },
    onnxSha256: sha256Hex(alsOnnx),
    onnxBytes: alsOnnx.length,
    hyperparameters: {},
    metrics: {},
    training: { users: 0, items: itemIds.length, interactions: 0, seconds: 0 },
  };
}
