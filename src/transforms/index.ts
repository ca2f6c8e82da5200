export { jvp } from "./jvp.js";
export { grad, linearize, valueAndGrad, vjp, type GradOptions } from "./vjp.js";
export { vmap, type VmapOptions } from "./vmap.js";
export { hessian, jacfwd, jacrev, type JacobianOptions } from "./jacobian.js";
export { makeProgram, type TracedProgram } from "./make-program.js";
export { customVjp } from "./custom-vjp.js";
export { jit, type JitOptions, type JittedFunction, type Lowered } from "./jit.js";
