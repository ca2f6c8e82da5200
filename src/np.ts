/** The numpy-style namespace: `np.array`, `np.add`, `np.sum(x, { axis })`, ... */
import "./ops/methods.js";

export * from "./ops/binary.js";
export * from "./ops/creation.js";
export { einsum, tensordot } from "./ops/einsum.js";
export { oneHot, scatterAdd, take, takeAlongAxis } from "./ops/indexing.js";
export {
  broadcastArrays,
  broadcastTo,
  expandDims,
  flatten,
  matrixTranspose,
  moveaxis,
  reshape,
  squeeze,
  transpose,
} from "./ops/layout.js";
export { dot, matmul, outer } from "./ops/linalg.js";
export {
  all,
  any,
  argmax,
  argmin,
  cumsum,
  max,
  mean,
  min,
  prod,
  std,
  sum,
  variance as var,
  variance,
} from "./ops/reduce.js";
export { concatenate, flip, pad, repeat, slice, split, stack, tile } from "./ops/shape.js";
export * from "./ops/unary.js";
