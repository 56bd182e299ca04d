/** Reads the int8 item table back out of an exported scoring graph (the inverse of buildScoringGraph). */
import onnxProto from "onnx-proto";
import type { QuantizedItems } from "../../core/int8-kernel";

const { onnx } = onnxProto;

export function readScoringGraph(bytes: Uint8Array): QuantizedItems {
  const model = onnx.ModelProto.decode(bytes);
  const init = new Map((model.graph?.initializer ?? []).map((t) => [t.name, t]));
  const raw = (name: string) => {
    const t = init.get(name);
    if (!t?.rawData) throw new Error(`initializer ${name} missing`);
    return { dims: (t.dims ?? []).map(Number), data: t.rawData };
  };
  const q = raw("items_q");
  const [d, n] = q.dims as [number, number];
  const transposed = new Int8Array(q.data.buffer, q.data.byteOffset, q.data.byteLength);
  const items = new Int8Array(n * d);
  for (let k = 0; k < d; k++) for (let j = 0; j < n; j++) items[j * d + k] = transposed[k * n + j] as number;
  const f32 = (name: string) => {
    const r = raw(name).data;
    return new Float32Array(r.buffer.slice(r.byteOffset, r.byteOffset + r.byteLength));
  };
  return { n, d, q: items, scales: f32("item_scale"), bias: f32("bias") };
}
