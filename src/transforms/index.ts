export { jvp } from "./jvp.js";
export { grad, linearize, valueAndGrad, vjp, type GradOptions } from "./vjp.js";
export { vmap, type VmapOptions } from "./vmap.js";
