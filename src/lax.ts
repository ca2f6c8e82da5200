/**
 * JAX's `lax` names for what tracegrad has of it: the dynamic slices (`lax.dynamicSlice`, ...) with
 * traced starts, and the structured control flow they are used in (`scan`, `cond`, `switchCase`, `whileLoop`, `forLoop`). The same
 * functions are reachable from `np` and the package root; this namespace is where JAX users look.
 * @module
 */
export {
  type DynamicIndexOptions,
  type DynamicSliceOptions,
  dynamicIndexInDim,
  dynamicSlice,
  dynamicSliceInDim,
  dynamicUpdateIndexInDim,
  dynamicUpdateSlice,
  dynamicUpdateSliceInDim,
  type StartIndex,
  type StartIndices,
} from "./ops/dynamic-slice.js";
export * as linalg from "./ops/lax-linalg.js";
export { stopGradient } from "./ops/unary.js";
export { type ScanOptions, scan } from "./transforms/control-flow.js";
export { cond, switchCase } from "./transforms/control-flow-switch.js";
export { forLoop, ReverseModeError, whileLoop } from "./transforms/control-flow-while.js";
