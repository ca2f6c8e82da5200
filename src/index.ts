/** tracegrad: functional, immutable arrays with composable transforms. */
export * as np from "./np.js";
export * as tree from "./tree/index.js";
export * as nn from "./nn/index.js";
export { NdArray, NdArray as Array, ConcreteArray, ConcretizationError, type AbstractValue } from "./core/array.js";
export type { DType } from "./core/dtype.js";
export { ShapeError } from "./core/shape.js";
export { grad, jvp, linearize, valueAndGrad, vjp, vmap, type GradOptions, type VmapOptions } from "./transforms/index.js";
export { stopGradient } from "./ops/unary.js";
