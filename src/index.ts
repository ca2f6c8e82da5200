/** tracegrad: functional, immutable arrays with composable transforms. */
export * as np from "./np.js";
export * as tree from "./tree/index.js";
export * as nn from "./nn/index.js";
export * as layers from "./layers/index.js";
export * as io from "./io/index.js";
export { NdArray, NdArray as Array, ConcreteArray, ConcretizationError, ShapeDtype, type AbstractValue } from "./core/array.js";
export type { DType } from "./core/dtype.js";
export { ShapeError } from "./core/shape.js";
export {
  checkpoint,
  cond,
  customVjp,
  forLoop,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  makeProgram,
  scan,
  valueAndGrad,
  vjp,
  vmap,
  type GradOptions,
  type JacobianOptions,
  type JitOptions,
  type JittedFunction,
  type TracedProgram,
  type VmapOptions,
} from "./transforms/index.js";
export { stopGradient } from "./ops/unary.js";
export * as random from "./random/index.js";
export { type BackendInfo, backend, setBackend } from "./backend/index.js";
export * as optim from "./optim/index.js";
export * as testing from "./testing/index.js";
export * as viz from "./viz/index.js";
