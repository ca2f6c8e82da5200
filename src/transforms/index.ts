export type { StepProfile } from "../compiler/executor.js";
export { checkpoint, cond, forLoop, type ScanOptions, scan } from "./control-flow.js";
export { customVjp } from "./custom-vjp.js";
export { hessian, type JacobianOptions, type JacrevOptions, jacfwd, jacrev } from "./jacobian.js";
export { type JitOptions, type JittedFunction, jit, type Lowered } from "./jit.js";
export { jvp } from "./jvp.js";
export { makeProgram, type TracedProgram } from "./make-program.js";
export { type GradOptions, grad, linearize, valueAndGrad, vjp } from "./vjp.js";
export { type VmapOptions, vmap } from "./vmap.js";
