/**
 * tracegrad: functional, immutable arrays with composable transforms (`grad`, `vjp`, `jvp`, `vmap`,
 * `jit`, in any nesting), numpy-style `np`, and PyTorch-style `nn`, `layers` and `optim`.
 * @module
 */

export { type BackendInfo, backend, type Platform, setBackend, startThreads } from "./backend/index.js";
export { WebgpuError, WebgpuUnavailableError } from "./backend/webgpu/device.js";
export { DeviceArray, DeviceArrayReadError } from "./backend/webgpu/device-array.js";
export {
  type AbstractValue,
  ConcreteArray,
  ConcretizationError,
  DonationError,
  NdArray,
  NdArray as Array,
  ShapeDtype,
} from "./core/array.js";
export { FloatingPointError, setDebugNans } from "./core/debug-nans.js";
export { type DType, DTypeError, MAX_ARRAY_BYTES, promoteTypes } from "./core/dtype.js";
export { ShapeError } from "./core/shape.js";
export * as debug from "./debug/index.js";
export * as io from "./io/index.js";
export * as lax from "./lax.js";
export * as layers from "./layers/index.js";
export * as nn from "./nn/index.js";
export * as np from "./np.js";
export * as onnx from "./onnx/index.js";
export { IndexError } from "./ops/index-spec.js";
export { stopGradient } from "./ops/unary.js";
export * as optim from "./optim/index.js";
export * as random from "./random/index.js";
export * as scipy from "./scipy.js";
export * as testing from "./testing/index.js";
export {
  type AbstractArgs,
  type CustomJvpFunction,
  type CustomJvpOptions,
  type CustomJvpRule,
  type CustomJvpTerm,
  checkpoint,
  cond,
  customJvp,
  customVjp,
  type EagerCompileOptions,
  evalShape,
  forLoop,
  type GradOptions,
  grad,
  type HessianResult,
  hessian,
  type JacobianOptions,
  type JacobianResult,
  type JacobianTree,
  type JacrevOptions,
  type JitOptions,
  type JittedFunction,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  makeProgram,
  type OnnxRuntimeBackendInfo,
  type OnnxRuntimeCacheInfo,
  type OnnxRuntimeJitOptions,
  type OnnxRuntimeJittedFunction,
  ReverseModeError,
  type ShapeDtypeTree,
  scan,
  setEagerCompile,
  switchCase,
  type TracedProgram,
  type VmapOptions,
  valueAndGrad,
  vjp,
  vmap,
  whileLoop,
} from "./transforms/index.js";
export * as tree from "./tree/index.js";
export * as viz from "./viz/index.js";
