/**
 * JAX's `lax` names for what tracegrad has of it: the dynamic slices (`lax.dynamicSlice`, ...) with
 * traced starts, and the structured control flow they are used in (`scan`, `cond`, `forLoop`). The same
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
export { stopGradient } from "./ops/unary.js";
export { cond, forLoop, type ScanOptions, scan } from "./transforms/control-flow.js";
