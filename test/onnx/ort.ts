/** Runs exported ONNX models in ONNX Runtime (onnxruntime-node, a dev dependency) for the export tests. */

import * as ort from "onnxruntime-node";
import { expect } from "vitest";
import { isFloat } from "../../src/core/dtype.js";
import { ConcreteArray, type DType, type NdArray, onnx } from "../../src/index.js";

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

/** The relative tolerance of float results, by dtype. */
export const TOLERANCE: Readonly<Record<"float32" | "float64", number>> = { float32: 1e-5, float64: 1e-12 };

/**
 * Exports `f` on `args`, runs the model in ONNX Runtime and compares every output with `f`'s own result:
 * shapes and dtypes equal, integers and bools exactly, floats to `tolerance` relative to the largest
 * magnitude (default TOLERANCE of the output's dtype).
 */
export async function expectSameInOrt(
  f: (...args: NdArray[]) => NdArray | NdArray[],
  args: NdArray[],
  tolerance?: number,
): Promise<void> {
  const model = onnx.exportProgram(f, ...args);
  const outs = await runOnnx(model, args);
  const result = f(...args);
  const expected = Array.isArray(result) ? result : [result];
  expect(outs.length).toBe(expected.length);
  outs.forEach((o, i) => {
    const e = expected[i]!;
    expect(o.shape).toEqual(e.shape);
    expect(o.dtype).toBe(e.dtype);
    if (!isFloat(e.dtype)) {
      expect(Array.from(o.concrete().storage)).toEqual(Array.from(e.concrete().storage));
      return;
    }
    // NaNs and infinities where tracegrad has them, the rest to the tolerance. Zeros compare equal
    // whatever their sign: ONNX Runtime's Where gives +0 where it selects a -0.
    const got = o.concrete().storage;
    const want = e.concrete().storage;
    let scale = 1;
    for (const v of want) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    let err = 0;
    for (let k = 0; k < want.length; k++) {
      const [a, b] = [got[k]!, want[k]!];
      if (Number.isNaN(b) || Number.isNaN(a) || !Number.isFinite(b)) {
        if (!Object.is(a, b)) err = Number.POSITIVE_INFINITY;
      } else err = Math.max(err, Math.abs(a - b) / scale);
    }
    expect(err, `output ${i}`).toBeLessThan(tolerance ?? TOLERANCE[e.dtype as "float32" | "float64"]);
  });
}
