/** Runs exported ONNX models in ONNX Runtime (onnxruntime-node, a dev dependency) for the export tests. */

import * as ort from "onnxruntime-node";
import { ConcreteArray, type DType, type NdArray } from "../../src/index.js";

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: "float32",
  float64: "float64",
  int32: "int32",
  bool: "bool",
  uint8: "uint8",
  int8: "int8",
  uint16: "uint16",
  int16: "int16",
  uint32: "uint32",
};

/** Runs `model` on `inputs` (input_0, input_1, ...) and returns its outputs as tracegrad arrays. */
export async function runOnnx(model: Uint8Array, inputs: readonly NdArray[]): Promise<ConcreteArray[]> {
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: 1,
    graphOptimizationLevel: "disabled",
  });
  const feeds: Record<string, ort.Tensor> = {};
  inputs.forEach((x, i) => {
    const c = x.concrete();
    const type = ORT_TYPE[c.dtype];
    if (type === undefined) throw new Error(`runOnnx: no ONNX Runtime tensor type for ${c.dtype}`);
    const data = c.dtype === "bool" ? Uint8Array.from(c.storage, (v) => (v ? 1 : 0)) : c.storage;
    feeds[`input_${i}`] = new ort.Tensor(type, data as ort.Tensor.DataType, [...c.shape]);
  });
  const results = await session.run(feeds);
  await session.release();
  return session.outputNames.map((name) => {
    const t = results[name]!;
    const dtype = (Object.entries(ORT_TYPE).find(([, v]) => v === t.type)?.[0] ?? "float32") as DType;
    const data = t.type === "bool" ? Uint8Array.from(t.data as Uint8Array) : (t.data as Float32Array);
    return new ConcreteArray([...t.dims], dtype, data);
  });
}
