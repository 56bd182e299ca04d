/**
 * Exports a segment model as ONNX: raw [recency_days, frequency, monetary] float[1,3] ->
 * Add(1) -> Log -> Sub(mean) -> Div(sd) -> Sub(centroids[k,3]) -> Mul(self) -> ReduceSum(axis 1) ->
 * ArgMin -> `segment` int64[1], plus `distances` float[k]. Reference: core/segments.ts.
 */
import onnxProto, { type onnx as Onnx } from "onnx-proto";
import type { SegmentModel } from "../../core/segments";

const { onnx } = onnxProto;
const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

function floats(name: string, dims: number[], values: number[]): Onnx.ITensorProto {
  return { name, dataType: T.FLOAT, dims, floatData: values.map((v) => Math.fround(v)) };
}

export function buildSegmentGraph(model: SegmentModel): Uint8Array {
  const k = model.centroids.length;
  const d = model.features.length;
  const graph: Onnx.IGraphProto = {
    name: "opentime_segments",
    initializer: [
      floats("one", [1], [1]),
      floats("mean", [1, d], model.mean),
      floats("sd", [1, d], model.sd),
      floats("centroids", [k, d], model.centroids.flat()),
      { name: "axes", dataType: T.INT64, dims: [1], int64Data: [1] },
    ],
    input: [
      { name: "rfm", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: 1 }, { dimValue: d }] } } } },
    ],
    output: [
      { name: "segment", type: { tensorType: { elemType: T.INT64, shape: { dim: [{ dimValue: 1 }] } } } },
      { name: "distances", type: { tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimValue: k }] } } } },
    ],
    node: [
      { opType: "Add", input: ["rfm", "one"], output: ["plus_one"] },
      { opType: "Log", input: ["plus_one"], output: ["logged"] },
      { opType: "Sub", input: ["logged", "mean"], output: ["centred"] },
      { opType: "Div", input: ["centred", "sd"], output: ["z"] },
      { opType: "Sub", input: ["z", "centroids"], output: ["diff"] },
      { opType: "Mul", input: ["diff", "diff"], output: ["sq"] },
      {
        opType: "ReduceSum",
        input: ["sq", "axes"],
        output: ["distances"],
        attribute: [{ name: "keepdims", type: A.INT, i: 0 }],
      },
      {
        opType: "ArgMin",
        input: ["distances"],
        output: ["segment"],
        attribute: [
          { name: "axis", type: A.INT, i: 0 },
          { name: "keepdims", type: A.INT, i: 1 },
        ],
      },
    ],
  };
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 7,
      producerName: "opentime",
      opsetImport: [{ domain: "", version: 13 }],
      graph,
    }),
  ).finish();
}
