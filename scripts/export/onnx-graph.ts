/**
 * Writes the int8 scoring graph as ONNX bytes (protobuf via `onnx-proto`):
 *   user float[1,d] -> DynamicQuantizeLinear -> MatMulInteger(items_q int8[d,n]) -> Cast(float)
 *   -> Mul(user_scale * item_scale[n]) -> Add(bias[n]) -> TopK(k) -> scores float[1,k], indices int64[1,k]
 * The pre-TopK vector is also an output (`item_scores`, every item) for re-ranking at the edge.
 * This integer graph runs ~10x faster in onnxruntime-web than a DequantizeLinear -> MatMul graph.
 */
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import type { QuantizedItems } from "../../core/int8-kernel";

export const ONNX_OPSET = 13;
const IR_VERSION = 7;

// onnx-proto is CommonJS (`module.exports = { onnx }`): take the namespace off the default export.
const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;

function tensor(name: string, dataType: number, dims: number[], raw: Uint8Array): Onnx.ITensorProto {
  return { name, dataType, dims, rawData: raw };
}

function valueInfo(name: string, elemType: number, dims: (number | string)[]): Onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function node(opType: string, inputs: string[], outputs: string[], attribute: Onnx.IAttributeProto[] = []) {
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0]}`, attribute };
}

function f32le(values: Float32Array): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) dv.setFloat32(i * 4, values[i] as number, true);
  return out;
}

/** Builds the scoring model. `items.q` is item-major; the graph stores it transposed, [d, n]. */
export function buildScoringGraph(items: QuantizedItems, modelVersion: string, name = "opentime_als_int8"): Uint8Array {
  const { n, d } = items;
  const transposed = new Int8Array(d * n);
  for (let j = 0; j < n; j++) for (let k = 0; k < d; k++) transposed[k * n + j] = items.q[j * d + k] as number;

  const graph: Onnx.IGraphProto = {
    name,
    initializer: [
      tensor("items_q", T.INT8, [d, n], new Uint8Array(transposed.buffer)),
      tensor("item_scale", T.FLOAT, [n], f32le(items.scales)),
      tensor("bias", T.FLOAT, [n], f32le(items.bias)),
    ],
    input: [valueInfo("user", T.FLOAT, [1, d]), valueInfo("k", T.INT64, [1])],
    output: [
      valueInfo("scores", T.FLOAT, [1, "k"]),
      valueInfo("indices", T.INT64, [1, "k"]),
      valueInfo("item_scores", T.FLOAT, [1, n]),
    ],
    node: [
      node("DynamicQuantizeLinear", ["user"], ["user_q", "user_scale", "user_zp"]),
      node("MatMulInteger", ["user_q", "items_q", "user_zp"], ["acc"]),
      node("Cast", ["acc"], ["acc_f"], [{ name: "to", type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }]),
      node("Mul", ["user_scale", "item_scale"], ["combined_scale"]),
      node("Mul", ["acc_f", "combined_scale"], ["raw_scores"]),
      node("Add", ["raw_scores", "bias"], ["item_scores"]),
      node(
        "TopK",
        ["item_scores", "k"],
        ["scores", "indices"],
        [
          { name: "axis", type: onnx.AttributeProto.AttributeType.INT, i: -1 },
          { name: "largest", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
          { name: "sorted", type: onnx.AttributeProto.AttributeType.INT, i: 1 },
        ],
      ),
    ],
  };
  const model: Onnx.IModelProto = {
    irVersion: IR_VERSION,
    producerName: "opentime",
    producerVersion: "1",
    modelVersion: 1,
    docString: `opentime ALS int8 scoring graph, model ${modelVersion}`,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    graph,
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}
