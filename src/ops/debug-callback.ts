/**
 * The effect primitive behind `debug.print`, `debug.callback` and `debug.check` (JAX's debug_callback):
 * it has no outputs and calls a JS function with its operands' concrete values when it runs, eagerly or
 * as a host step of a jitted plan. Its rules keep that call where the user wrote it under every transform:
 * jvp passes the primals only (the tangents are not the callback's business), so under grad the
 * callback sees primal values, once, in the forward pass; the batch rule calls it once per example, as
 * JAX does; and `hasSideEffects` keeps dead-code elimination, CSE and constant folding from dropping,
 * merging or running it early.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import { NARROW_DTYPES } from "../core/dtype.js";
import { OnnxExportError } from "../core/onnx-rule.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { batchSize, moveAxisTo0, reshape } from "./layout.js";
import { slicePrim } from "./shape.js";

export interface DebugCallbackParams {
  /** What the user called (the IR printer shows it with `label`). */
  readonly kind: "print" | "callback" | "check";
  /** The format string of a print or check, the function's name for a callback. */
  readonly label: string;
  /** Called with the operands' values (copies: the callback may keep them) each time the equation runs. */
  readonly callback: (args: readonly ConcreteArray[]) => void;
}

export const debugCallbackPrim: Primitive<DebugCallbackParams> = primitive<DebugCallbackParams>({
  name: "debug_callback",
  narrowDtypes: NARROW_DTYPES,
  hasSideEffects: () => true,
  abstractEval: () => [],
  impl(args, { callback }) {
    // Inside a plan the operands are views on buffers that later steps overwrite.
    callback(args.map((a) => new ConcreteArray(a.shape, a.dtype, a.storage.slice())));
    return [];
  },
  jvp(primals, _tangents, params) {
    debugCallbackPrim.bind(primals, params);
    return { primalsOut: [], tangentsOut: [] };
  },
  batch(args, dims, params) {
    // Once per example, in order (JAX unrolls its debug_callback the same way).
    const size = batchSize(args, dims);
    const leading = args.map((x, k) => (dims[k] === null ? x : moveAxisTo0(x, dims[k]!)));
    for (let i = 0; i < size; i++) {
      const example = leading.map((x, k) => (dims[k] === null ? x : exampleOf(x, i)));
      debugCallbackPrim.bind(example, params);
    }
    return [[], []];
  },
  // An ONNX graph cannot call back into JS: a print or a check (debugging aids with no outputs) is left
  // out of the model, as value checks are; a user callback would lose its effect, so it is refused.
  onnx(_g, inputs, { kind, label }) {
    if (kind === "callback")
      throw new OnnxExportError(
        `onnx export: debug_callback (debug.callback ${JSON.stringify(label)} on ${inputs.length} operands) cannot run in an ONNX graph`,
      );
    return [];
  },
  formatParams: ({ kind, label }) => `${kind} ${JSON.stringify(label)}`,
});

/** Element `i` of the leading axis, without that axis. */
function exampleOf(x: NdArray, i: number): NdArray {
  const rest = x.shape.slice(1);
  const row = slicePrim.bind1([x], {
    start: [i, ...rest.map(() => 0)],
    limit: [i + 1, ...rest],
    strides: x.shape.map(() => 1),
  });
  return reshape(row, rest);
}
