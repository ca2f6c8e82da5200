export type { StepProfile } from "../compiler/executor.js";
export type { WebgpuKernelTime } from "../compiler/webgpu-plan.js";
export { checkpoint, type ScanOptions, scan } from "./control-flow.js";
export { cond, switchCase } from "./control-flow-switch.js";
export { forLoop, ReverseModeError, whileLoop } from "./control-flow-while.js";
export {
  type CustomJvpFunction,
  type CustomJvpOptions,
  type CustomJvpRule,
  type CustomJvpTerm,
  customJvp,
} from "./custom-jvp.js";
export { customVjp } from "./custom-vjp.js";
export { type EagerCompileOptions, setEagerCompile } from "./eager-compile.js";
export { type AbstractArgs, evalShape, type ShapeDtypeTree } from "./eval-shape.js";
export {
  type HessianResult,
  hessian,
  type JacobianOptions,
  type JacobianResult,
  type JacobianTree,
  type JacrevOptions,
  jacfwd,
  jacrev,
} from "./jacobian.js";
export {
  type JitOptions,
  type JittedFunction,
  jit,
  type Lowered,
  type OnnxRuntimeJitOptions,
} from "./jit.js";
export type {
  OnnxRuntimeBackendInfo,
  OnnxRuntimeCacheInfo,
  OnnxRuntimeJittedFunction,
} from "./jit-onnxruntime.js";
export { jvp } from "./jvp.js";
export { makeProgram, type TracedProgram } from "./make-program.js";
export { type GradOptions, grad, linearize, valueAndGrad, vjp } from "./vjp.js";
export { type VmapOptions, vmap } from "./vmap.js";
