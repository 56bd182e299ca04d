/** A small but schema-valid model version (two items; the ONNX bytes are opaque, only their sha256 is checked). */
import { createHash } from "node:crypto";
import { type ModelManifest, ModelManifestSchema } from "../../../core/manifest";

export function tinyModel(version: string, opts: { createdAt?: string; users?: number } = {}) {
  const onnx = new TextEncoder().encode(`onnx bytes of ${version}`);
  const manifest: ModelManifest = ModelManifestSchema.parse({
    schema: 1,
    version,
    kind: "als",
    featureSpec: "als-user-vector/1",
    createdAt: opts.createdAt ?? "2026-01-01T00:00:00.000Z",
    dims: 4,
    itemCount: 2,
    itemIds: ["a", "b"],
    quantization: { scheme: "int8-per-item-symmetric+uint8-dynamic-user", opset: 17 },
    onnxSha256: createHash("sha256").update(onnx).digest("hex"),
    onnxBytes: onnx.length,
    hyperparameters: {},
    metrics: {},
    training: { users: opts.users ?? 1, items: 2, interactions: 3, seconds: 1 },
  });
  const item = (id: string) => ({ id, title: id, category: "c", price: 1, currency: "EUR", image: "/i", url: "/u" });
  const catalog = { items: [item("a"), item("b")], popular: [1, 0] };
  return { manifest, catalog, onnx };
}
