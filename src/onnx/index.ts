/**
 * ONNX export: a traced function as a standard ONNX model (opset 18), for ONNX Runtime and any other
 * ONNX consumer. Every primitive declares its ONNX lowering beside its other rules (its `onnx` rule); the
 * exporter names any primitive that has none.
 * @module
 */
import { programToOnnx } from "../compiler/onnx-export.js";
import { makeProgram } from "../transforms/make-program.js";

export { ONNX_OPSET, type OnnxExportOptions, programToOnnx } from "../compiler/onnx-export.js";
export { OnnxExportError } from "../core/onnx-rule.js";

/**
 * Traces `f` on the shapes and dtypes of `exampleArgs` (arrays, ShapeDtype values or trees of them)
 * and returns the bytes of an ONNX ModelProto (opset 18) that computes it: the model's inputs are the
 * flattened argument leaves (`input_0`, `input_1`, ...), its outputs the flattened result leaves
 * (`output_0`, ...), captured constants are initializers. Shapes are static, as in a jit signature.
 *
 * @throws OnnxExportError naming the first primitive without an ONNX lowering, or a dtype the exporter
 *   does not write (float16, bfloat16).
 *
 * @example
 * ```ts
 * const bytes = onnx.exportProgram((x: NdArray, w: NdArray) => nn.relu(np.matmul(x, w)), x, w);
 * fs.writeFileSync("model.onnx", bytes);
 * ```
 */
export function exportProgram<Args extends unknown[]>(
  f: (...args: Args) => unknown,
  ...exampleArgs: Args
): Uint8Array {
  const traced = makeProgram(f)(...exampleArgs);
  return programToOnnx(traced.program, traced.consts);
}
