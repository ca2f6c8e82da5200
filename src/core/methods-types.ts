/** The methods every array offers (x.add(y).sum()); installed by ops/methods.ts. */
import type { NdArray } from "./array.js";
import type { DType } from "./dtype.js";

export type ArrayLike = NdArray | number | boolean;
export type Axis = number | readonly number[] | null;
export interface ReduceOptions {
  axis?: Axis;
  keepdims?: boolean;
}

export interface ArrayMethods {
  add(y: ArrayLike): NdArray;
  sub(y: ArrayLike): NdArray;
  mul(y: ArrayLike): NdArray;
  div(y: ArrayLike): NdArray;
  pow(y: ArrayLike): NdArray;
  maximum(y: ArrayLike): NdArray;
  minimum(y: ArrayLike): NdArray;
  equal(y: ArrayLike): NdArray;
  notEqual(y: ArrayLike): NdArray;
  less(y: ArrayLike): NdArray;
  lessEqual(y: ArrayLike): NdArray;
  greater(y: ArrayLike): NdArray;
  greaterEqual(y: ArrayLike): NdArray;
  neg(): NdArray;
  abs(): NdArray;
  exp(): NdArray;
  log(): NdArray;
  sqrt(): NdArray;
  square(): NdArray;
  tanh(): NdArray;
  sum(options?: ReduceOptions): NdArray;
  mean(options?: ReduceOptions): NdArray;
  max(options?: ReduceOptions): NdArray;
  min(options?: ReduceOptions): NdArray;
  prod(options?: ReduceOptions): NdArray;
  argmax(options?: { axis?: number; keepdims?: boolean }): NdArray;
  argmin(options?: { axis?: number; keepdims?: boolean }): NdArray;
  reshape(shape: readonly number[]): NdArray;
  transpose(axes?: readonly number[]): NdArray;
  flatten(startAxis?: number): NdArray;
  squeeze(axis?: Axis): NdArray;
  expandDims(axis: number): NdArray;
  broadcastTo(shape: readonly number[]): NdArray;
  astype(dtype: DType): NdArray;
  matmul(y: NdArray): NdArray;
  /** Iterates over the first axis, like numpy (`const [k1, k2] = random.split(key)`). */
  [Symbol.iterator](): Iterator<NdArray>;
  /** Transposed: the last two axes swapped (all axes reversed for rank < 2 is a no-op). */
  readonly T: NdArray;
}
