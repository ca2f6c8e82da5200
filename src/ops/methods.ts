/** Installs the array methods (x.add(y).sum()) on NdArray; declared in core/methods-types.ts. */
import { NdArray } from "../core/array.js";
import type { ArrayMethods } from "../core/methods-types.js";
import * as b from "./binary.js";
import { index } from "./index.js";
import { broadcastTo, expandDims, flatten, matrixTranspose, reshape, squeeze, transpose } from "./layout.js";
import { matmul } from "./linalg.js";
import * as r from "./reduce.js";
import { at } from "./scatter.js";
import { slice } from "./shape.js";
import { argsort, sort } from "./sort.js";
import * as u from "./unary.js";

const methods: Omit<ArrayMethods, "T" | typeof Symbol.iterator> & ThisType<NdArray> = {
  add(y) {
    return b.add(this, y);
  },
  sub(y) {
    return b.subtract(this, y);
  },
  mul(y) {
    return b.multiply(this, y);
  },
  div(y) {
    return b.divide(this, y);
  },
  pow(y) {
    return b.power(this, y);
  },
  maximum(y) {
    return b.maximum(this, y);
  },
  minimum(y) {
    return b.minimum(this, y);
  },
  equal(y) {
    return b.equal(this, y);
  },
  notEqual(y) {
    return b.notEqual(this, y);
  },
  less(y) {
    return b.less(this, y);
  },
  lessEqual(y) {
    return b.lessEqual(this, y);
  },
  greater(y) {
    return b.greater(this, y);
  },
  greaterEqual(y) {
    return b.greaterEqual(this, y);
  },
  neg() {
    return u.negative(this);
  },
  abs() {
    return u.abs(this);
  },
  exp() {
    return u.exp(this);
  },
  log() {
    return u.log(this);
  },
  sqrt() {
    return u.sqrt(this);
  },
  square() {
    return u.square(this);
  },
  tanh() {
    return u.tanh(this);
  },
  sum(o) {
    return r.sum(this, o);
  },
  mean(o) {
    return r.mean(this, o);
  },
  max(o) {
    return r.max(this, o);
  },
  min(o) {
    return r.min(this, o);
  },
  prod(o) {
    return r.prod(this, o);
  },
  argmax(o) {
    return r.argmax(this, o);
  },
  argmin(o) {
    return r.argmin(this, o);
  },
  sort(o) {
    return sort(this, o);
  },
  argsort(o) {
    return argsort(this, o);
  },
  reshape(shape) {
    return reshape(this, shape);
  },
  transpose(axes) {
    return transpose(this, axes);
  },
  flatten(startAxis) {
    return flatten(this, startAxis);
  },
  squeeze(axis) {
    return squeeze(this, axis);
  },
  expandDims(axis) {
    return expandDims(this, axis);
  },
  broadcastTo(shape) {
    return broadcastTo(this, shape);
  },
  astype(dtype) {
    return b.astype(this, dtype);
  },
  matmul(y) {
    return matmul(this, y);
  },
  index(...items) {
    return index(this, ...items);
  },
  at(...items) {
    return at(this, ...items);
  },
};

Object.assign(NdArray.prototype, methods);
NdArray.prototype[Symbol.iterator] = function* (this: NdArray): Generator<NdArray> {
  if (this.ndim === 0) throw new TypeError("iteration over a 0-d array");
  const rest = this.shape.slice(1);
  for (let i = 0; i < this.shape[0]!; i++) yield reshape(slice(this, [{ start: i, stop: i + 1 }]), rest);
};
Object.defineProperty(NdArray.prototype, "T", {
  get(this: NdArray) {
    return matrixTranspose(this);
  },
});
