/**
 * Samplers, each a pure function of a key written with array ops on the `random_bits` primitive, so
 * they trace (jit, vmap, grad) like any other code. The algorithms are JAX's (jax/_src/random.py):
 * uniform floats from mantissa bits, normals as sqrt(2) * erfinv(uniform(-1, 1)), randint from two
 * words of bits, categorical by Gumbel-max, permutation by repeated sorts on random keys. Integer and
 * bit-level results agree with JAX bit for bit; normals differ from JAX's float32 erfinv polynomial by
 * at most a few float32 ulp, since our erfinv is accurate to float64.
 */
import { fmtAval, NdArray } from "../core/array.js";
import { type DType, isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { broadcastShapes, fmtShape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import * as np from "../np.js";
import { checkKey, checkSampleShape, type Key, split } from "./keys.js";
import { sortByKey } from "./sort.js";
import { erfInv } from "./special.js";
import { randomBitsPrim } from "./threefry.js";

type Bound = number | NdArray;

const TWO_32 = 2 ** 32;
const INT32_MAX = 2 ** 31 - 1;
const INT32_MIN = -(2 ** 31);

function checkFloatDType(fn: string, dtype: DType): void {
  if (!isFloat(dtype)) throw new TypeError(`${fn}: dtype must be float32 or float64, got ${String(dtype)}`);
}

/** A bound (number or array) as an array of `dtype`. */
function boundArray(x: Bound, dtype: DType): NdArray {
  return typeof x === "number" ? np.scalar(x, dtype) : np.astype(x, dtype);
}

function checkParamShapes(fn: string, shape: readonly number[], ...params: (readonly number[])[]): void {
  let common: number[];
  try {
    common = broadcastShapes(fn, shape, ...params);
  } catch {
    common = [];
  }
  if (!shapeEquals(common, shape) || params.some((p) => p.length > shape.length)) {
    throw new ShapeError(
      `${fn}: parameter shapes ${params.map(fmtShape).join(", ")} must broadcast to the sample shape ${fmtShape(shape)}`,
    );
  }
}

/** The two keys of `split(key)`. */
function splitPair(key: Key): [Key, Key] {
  const keys = split(key, 2);
  return [np.take(keys, 0, { axis: 0 }), np.take(keys, 1, { axis: 0 })];
}

/** uint32 bits (int32 storage) as their unsigned value, exactly, in float64. */
function unsignedValue(bits: NdArray): NdArray {
  const f = np.astype(bits, "float64");
  return np.where(np.less(bits, 0), np.add(f, TWO_32), f);
}

/** x mod 2^32 for exact float64 integers in [0, 2^64). */
function wrap32(x: NdArray): NdArray {
  return np.mod(x, TWO_32);
}

/**
 * Uniform floats in [0, 1) from random mantissa bits, exactly as JAX: the top 23 (float32) or 52
 * (float64, from 64 bits = two words) bits of the random word over an exponent of 1, minus 1.
 */
function unitFloats(key: Key, shape: readonly number[], dtype: DType): NdArray {
  if (dtype === "float32") {
    const u = unsignedValue(randomBitsPrim.bind1([key], { shape: [...shape] }));
    return np.astype(np.multiply(np.floor(np.multiply(u, 2 ** -9)), 2 ** -23), "float32");
  }
  // JAX's 64-bit words: threefry over 2*size counters; the first half are the high words.
  const words = unsignedValue(randomBitsPrim.bind1([key], { shape: [2, ...shape] }));
  const ones = shape.map(() => 1);
  const keep = np.array([1, 2 ** -12], { shape: [2, ...ones], dtype: "float64" });
  const place = np.array([2 ** -32, 2 ** -52], { shape: [2, ...ones], dtype: "float64" });
  // high * 2^-32 + (low >>> 12) * 2^-52: the 52 mantissa bits, exactly.
  return np.sum(np.multiply(np.floor(np.multiply(words, keep)), place), { axis: 0 });
}

/** Options of `uniform`. */
export interface UniformOptions {
  /** Inclusive lower bound (number or array broadcastable to the shape). Default 0. */
  minval?: Bound;
  /** Exclusive upper bound. Default 1. */
  maxval?: Bound;
  /** float32 (default) or float64. */
  dtype?: DType;
}

/** Uniform floats in [minval, maxval). */
export function uniform(key: Key, shape: readonly number[] = [], options: UniformOptions = {}): NdArray {
  checkOptions("random.uniform", options, ["minval", "maxval", "dtype"]);
  checkKey("random.uniform", key);
  checkSampleShape("random.uniform", shape);
  const dtype = options.dtype ?? "float32";
  checkFloatDType("random.uniform", dtype);
  const minval = boundArray(options.minval ?? 0, dtype);
  const maxval = boundArray(options.maxval ?? 1, dtype);
  checkParamShapes("random.uniform", shape, minval.shape, maxval.shape);
  const floats = unitFloats(key, shape, dtype);
  return np.maximum(minval, np.add(np.multiply(floats, np.subtract(maxval, minval)), minval));
}

/** Options of the float samplers (`normal`, `gumbel`, `exponential`, ...). */
export interface FloatOptions {
  /** float32 (default) or float64. */
  dtype?: DType;
}

/** Standard normal floats: sqrt(2) * erfinv(u), u uniform in (-1, 1). */
export function normal(key: Key, shape: readonly number[] = [], options: FloatOptions = {}): NdArray {
  checkOptions("random.normal", options, ["dtype"]);
  checkKey("random.normal", key);
  checkSampleShape("random.normal", shape);
  const dtype = options.dtype ?? "float32";
  checkFloatDType("random.normal", dtype);
  // The float just above -1, so erfinv never sees -1.
  const lo = dtype === "float32" ? -(1 - 2 ** -24) : -(1 - 2 ** -53);
  const u = uniform(key, shape, { minval: lo, maxval: 1, dtype });
  return np.multiply(erfInv(u), Math.SQRT2);
}

/** The next representable `dtype` value after x toward +inf (direction 1) or -inf (-1). */
function nextAfterNumber(x: number, direction: 1 | -1, dtype: DType): number {
  if (Number.isNaN(x) || x === direction * Number.POSITIVE_INFINITY) return x;
  if (dtype === "float32") {
    const f = new Float32Array([x]);
    const bitsView = new Int32Array(f.buffer);
    if (f[0] === 0) bitsView[0] = direction > 0 ? 1 : 0x80000001 | 0;
    else bitsView[0] = bitsView[0]! + (f[0]! > 0 === direction > 0 ? 1 : -1);
    return f[0]!;
  }
  const d = new Float64Array([x]);
  const words = new BigInt64Array(d.buffer);
  if (d[0] === 0) words[0] = direction > 0 ? 1n : -(2n ** 63n) + 1n;
  else words[0] = words[0]! + (d[0]! > 0 === direction > 0 ? 1n : -1n);
  return d[0]!;
}

/**
 * The bound moved strictly inward by about one ulp: exact for JS numbers; for arrays x + |x| * 2^-mant
 * (one or two ulp, still strictly inside), which stays in array ops.
 */
function nudge(x: Bound, direction: 1 | -1, dtype: DType): NdArray {
  if (typeof x === "number") return np.scalar(nextAfterNumber(x, direction, dtype), dtype);
  const a = np.astype(np.stopGradient(x), dtype);
  const mantissa = dtype === "float32" ? 23 : 52;
  const smallest = dtype === "float32" ? 2 ** -149 : 2 ** -1074;
  const step = np.maximum(np.multiply(np.abs(a), 2 ** -mantissa), smallest);
  return np.where(np.isfinite(a), np.add(a, np.multiply(step, direction)), a);
}

/**
 * Standard normals truncated to the open interval (lower, upper), by the inverse CDF as JAX. The shape
 * defaults to the broadcast of the bounds' shapes.
 */
export function truncatedNormal(
  key: Key,
  lower: Bound,
  upper: Bound,
  shape?: readonly number[],
  options: FloatOptions = {},
): NdArray {
  checkKey("random.truncatedNormal", key);
  checkOptions("random.truncatedNormal", options, ["dtype"]);
  const dtype = options.dtype ?? "float32";
  checkFloatDType("random.truncatedNormal", dtype);
  const lowerArray = boundArray(lower, dtype);
  const upperArray = boundArray(upper, dtype);
  const outShape =
    shape === undefined
      ? broadcastShapes("random.truncatedNormal", lowerArray.shape, upperArray.shape)
      : checkSampleShape("random.truncatedNormal", shape);
  checkParamShapes("random.truncatedNormal", outShape, lowerArray.shape, upperArray.shape);
  const sqrt2 = np.scalar(Math.SQRT2, dtype);
  const a = np.erf(np.divide(lowerArray, sqrt2));
  const b = np.erf(np.divide(upperArray, sqrt2));
  const u = uniform(key, outShape, { minval: a, maxval: b, dtype });
  const out = np.multiply(sqrt2, erfInv(u));
  // Rounding (or u = a exactly) could land on a bound; keep to the open interval.
  return np.clip(out, nudge(lower, 1, dtype), nudge(upper, -1, dtype));
}

/** Booleans that are true with probability p (number or float array). Shape defaults to p's. */
export function bernoulli(key: Key, p: Bound = 0.5, shape?: readonly number[]): NdArray {
  checkKey("random.bernoulli", key);
  if (p instanceof NdArray && !isFloat(p.dtype)) {
    throw new TypeError(`random.bernoulli: p must be a float array or a number, got ${fmtAval(p)}`);
  }
  const probability = typeof p === "number" ? np.scalar(p, "float32") : p;
  const outShape = shape === undefined ? probability.shape : checkSampleShape("random.bernoulli", shape);
  checkParamShapes("random.bernoulli", outShape, probability.shape);
  return np.less(uniform(key, outShape, { dtype: probability.dtype }), probability);
}

/** An integer bound as int32, with whether a JS number was above the int32 range (JAX clips, then widens). */
function intBound(name: string, x: Bound): [NdArray, boolean] {
  if (typeof x === "number") {
    if (!Number.isInteger(x)) throw new TypeError(`random.randint: ${name} must be an integer, got ${x}`);
    return [np.scalar(Math.min(Math.max(x, INT32_MIN), INT32_MAX), "int32"), x > INT32_MAX];
  }
  return [np.astype(x, "int32"), false];
}

/** Options of `randint`. */
export interface IntOptions {
  /** Only int32 (the default) is supported. */
  dtype?: DType;
}

/**
 * Uniform integers in [minval, maxval) (int32), from two words of random bits per element as JAX, so the
 * modulo bias is negligible. If maxval <= minval the result is minval.
 */
export function randint(
  key: Key,
  shape: readonly number[],
  minval: Bound,
  maxval: Bound,
  options: IntOptions = {},
): NdArray {
  checkKey("random.randint", key);
  checkOptions("random.randint", options, ["dtype"]);
  checkSampleShape("random.randint", shape);
  if ((options.dtype ?? "int32") !== "int32")
    throw new TypeError(`random.randint: dtype must be int32, got ${options.dtype}`);
  const [lo, loBeyond] = intBound("minval", minval);
  const [hi, hiBeyond] = intBound("maxval", maxval);
  if (loBeyond) throw new RangeError(`random.randint: minval ${minval} is above the int32 range`);
  checkParamShapes("random.randint", shape, lo.shape, hi.shape);
  const [k1, k2] = splitPair(key);
  const higherBits = unsignedValue(randomBitsPrim.bind1([k1], { shape: [...shape] }));
  const lowerBits = unsignedValue(randomBitsPrim.bind1([k2], { shape: [...shape] }));
  // The uint32 arithmetic of JAX, in exact float64 (values below 2^33) plus int32 wrapping products.
  let span = np.subtract(np.astype(hi, "float64"), np.astype(lo, "float64"));
  span = np.where(np.lessEqual(hi, lo), 1, span);
  // maxval beyond int32: the span is one larger (2^32 stands for uint32's wrapped 0: "mod 0" is identity).
  if (hiBeyond) span = np.where(np.greater(hi, lo), np.add(span, 1), span);
  let multiplier = np.mod(np.full(span.shape, 2 ** 16, { dtype: "float64" }), span);
  multiplier = np.mod(wrap32(np.multiply(multiplier, multiplier)), span);
  const product = unsignedValue(
    np.multiply(np.astype(np.mod(higherBits, span), "int32"), np.astype(multiplier, "int32")),
  );
  const offset = np.mod(wrap32(np.add(product, np.mod(lowerBits, span))), span);
  // int32 addition wraps like uint32; the true result lies in [minval, maxval).
  return np.broadcastTo(np.add(lo, np.astype(offset, "int32")), shape);
}

/** Standard Gumbel floats: -log(-log(u)), u uniform in [tiny, 1). */
export function gumbel(key: Key, shape: readonly number[] = [], options: FloatOptions = {}): NdArray {
  checkOptions("random.gumbel", options, ["dtype"]);
  checkKey("random.gumbel", key);
  checkSampleShape("random.gumbel", shape);
  const dtype = options.dtype ?? "float32";
  checkFloatDType("random.gumbel", dtype);
  const tiny = dtype === "float32" ? 2 ** -126 : 2 ** -1022;
  return np.negative(np.log(np.negative(np.log(uniform(key, shape, { minval: tiny, maxval: 1, dtype })))));
}

/** Exponential floats with rate 1: -log(1 - u). */
export function exponential(key: Key, shape: readonly number[] = [], options: FloatOptions = {}): NdArray {
  checkOptions("random.exponential", options, ["dtype"]);
  checkKey("random.exponential", key);
  checkSampleShape("random.exponential", shape);
  const dtype = options.dtype ?? "float32";
  checkFloatDType("random.exponential", dtype);
  return np.negative(np.log1p(np.negative(uniform(key, shape, { dtype }))));
}

/** Options of `categorical`. */
export interface CategoricalOptions {
  /** The axis of `logits` holding the categories. Default -1. */
  axis?: number;
  /** The sample shape; must end with the logits' batch shape (logits' shape without `axis`). */
  shape?: readonly number[];
  /**
   * Divides the logits before sampling: below 1 sharpens the distribution, above 1 flattens it; 0 is
   * greedy decoding (the argmax, first on ties, for every sample; the key is not used). Default 1.
   */
  temperature?: number;
}

/**
 * Category indices (int32) drawn with probabilities softmax(logits / temperature) along `axis`, by
 * Gumbel-max as `jax.random.categorical` (bit for bit with JAX at temperature 1). Logits of -inf (e.g.
 * from `topKFilter`/`topPFilter`) are never drawn.
 */
export function categorical(key: Key, logits: NdArray, options: CategoricalOptions = {}): NdArray {
  checkOptions("random.categorical", options, ["axis", "shape", "temperature"]);
  checkKey("random.categorical", key);
  if (!(logits instanceof NdArray) || !isFloat(logits.dtype) || logits.ndim === 0) {
    throw new TypeError(
      `random.categorical: logits must be a float array of rank >= 1, got ${describeValue(logits)}`,
    );
  }
  const rank = logits.ndim;
  const requested = options.axis ?? -1;
  if (!Number.isInteger(requested) || requested < -rank || requested >= rank) {
    throw new ShapeError(`random.categorical: axis ${requested} is out of bounds for logits of rank ${rank}`);
  }
  const axis = requested >= 0 ? requested - rank : requested; // negative, as JAX
  const batchShape = logits.shape.filter((_, i) => i !== rank + axis);
  const shape =
    options.shape === undefined ? batchShape : checkSampleShape("random.categorical", options.shape);
  checkParamShapes("random.categorical", shape, batchShape);
  const temperature = options.temperature ?? 1;
  if (typeof temperature !== "number" || !Number.isFinite(temperature) || temperature < 0) {
    throw new RangeError(
      `random.categorical: temperature must be a finite number >= 0, got ${String(temperature)}`,
    );
  }
  if (temperature === 0) return np.broadcastTo(np.argmax(logits, { axis: rank + axis }), shape);
  const scaled = temperature === 1 ? logits : np.divide(logits, temperature);
  const prefix = shape.slice(0, shape.length - batchShape.length);
  const logitsShape = [...shape.slice(shape.length - batchShape.length)];
  logitsShape.splice(rank + axis, 0, logits.shape[rank + axis]!);
  const noise = gumbel(key, [...prefix, ...logitsShape], { dtype: logits.dtype });
  const expanded = np.reshape(scaled, [...prefix.map(() => 1), ...logits.shape]);
  return np.argmax(np.add(noise, expanded), { axis: prefix.length + logitsShape.length + axis });
}

function describeValue(x: unknown): string {
  return x instanceof NdArray ? fmtAval(x) : typeof x;
}

/**
 * JAX's `_shuffle`: enough stable sorts on fresh 32-bit random keys that ties are negligible (one round
 * up to ~1600 elements), applied along `axis` of `values` with one key per position.
 */
function shuffle(key: Key, values: NdArray, axis: number): NdArray {
  const n = values.shape[axis]!;
  const rounds = Math.ceil((3 * Math.log(Math.max(1, sizeOf(values.shape)))) / Math.log(2 ** 32 - 1));
  let out = values;
  let current = key;
  for (let r = 0; r < rounds; r++) {
    const [next, subkey] = splitPair(current);
    current = next;
    out = sortByKey(randomBitsPrim.bind1([subkey], { shape: [n] }), out, axis);
  }
  return out;
}

/**
 * A random permutation of `arange(n)` (for a number) or of an array's entries along `axis` (default 0),
 * bit for bit as `jax.random.permutation`.
 */
export function permutation(key: Key, x: number | NdArray, options: { axis?: number } = {}): NdArray {
  checkOptions("random.permutation", options, ["axis"]);
  checkKey("random.permutation", key);
  if (typeof x === "number") {
    if (!Number.isInteger(x) || x < 0)
      throw new TypeError(`random.permutation: n must be a non-negative integer, got ${x}`);
    return shuffle(key, np.arange(x), 0);
  }
  if (!(x instanceof NdArray) || x.ndim === 0) {
    throw new TypeError(
      `random.permutation: expected a non-negative integer or an array of rank >= 1, got ${describeValue(x)}`,
    );
  }
  const requested = options.axis ?? 0;
  if (!Number.isInteger(requested) || requested < -x.ndim || requested >= x.ndim) {
    throw new ShapeError(
      `random.permutation: axis ${requested} is out of bounds for an array of rank ${x.ndim}`,
    );
  }
  const axis = requested < 0 ? requested + x.ndim : requested;
  if (x.ndim === 1) return shuffle(key, x, axis);
  return np.take(x, shuffle(key, np.arange(x.shape[axis]!), 0), { axis });
}

/** Options of `choice`, as jax.random.choice's. */
export interface ChoiceOptions {
  /** The sample shape. Default [] (one draw). */
  shape?: readonly number[];
  /** With replacement (default true). */
  replace?: boolean;
  /** Probabilities of the entries (1-D, summing to 1); with replace: false this is not supported. */
  p?: NdArray;
  /** The axis of an array `a` to draw entries along (default 0). */
  axis?: number;
}

/** Random entries of `arange(a)` (a number) or of an array along `axis`, as `jax.random.choice`. */
export function choice(key: Key, a: number | NdArray, options: ChoiceOptions = {}): NdArray {
  checkOptions("random.choice", options, ["shape", "replace", "p", "axis"]);
  checkKey("random.choice", key);
  const shape = checkSampleShape("random.choice", options.shape ?? []);
  const replace = options.replace ?? true;
  const isRange = typeof a === "number";
  if (isRange && (!Number.isInteger(a) || a < 0))
    throw new TypeError(`random.choice: a must be a non-negative integer, got ${a}`);
  if (!isRange && (!(a instanceof NdArray) || a.ndim === 0)) {
    throw new TypeError(
      `random.choice: a must be a non-negative integer or an array of rank >= 1, got ${describeValue(a)}`,
    );
  }
  const requested = options.axis ?? 0;
  const axis = isRange ? 0 : requested < 0 ? requested + a.ndim : requested;
  if (!isRange && (axis < 0 || axis >= a.ndim))
    throw new ShapeError(`random.choice: axis ${requested} is out of bounds`);
  const n = isRange ? a : a.shape[axis]!;
  const draws = sizeOf(shape);
  const outShape = isRange ? [...shape] : [...a.shape.slice(0, axis), ...shape, ...a.shape.slice(axis + 1)];
  if (draws === 0) return np.zeros(outShape, { dtype: isRange ? "int32" : a.dtype });
  if (n <= 0) throw new RangeError("random.choice: a must be greater than 0 unless no samples are taken");
  if (!replace && draws > n) {
    throw new RangeError(
      `random.choice: cannot take a larger sample (${draws}) than the population (${n}) without replacement`,
    );
  }
  let indices: NdArray;
  if (options.p === undefined) {
    if (replace) indices = randint(key, shape, 0, n);
    else
      return np.reshape(
        np.slice(permutation(key, isRange ? n : a, { axis }), [
          ...Array.from({ length: axis }, () => ({})),
          { stop: draws },
        ]),
        outShape,
      );
  } else {
    const p = options.p;
    if (!(p instanceof NdArray) || !isFloat(p.dtype) || !shapeEquals(p.shape, [n])) {
      throw new ShapeError(
        `random.choice: p must be a float vector of shape [${n}], got ${describeValue(p)}`,
      );
    }
    if (!replace) throw new TypeError("random.choice: p with replace: false is not supported");
    // Inverse CDF: the first index whose cumulative probability reaches r (searchsorted, side left).
    const cumulative = np.cumsum(p);
    const total = np.take(cumulative, n - 1);
    const r = np.multiply(total, np.subtract(1, uniform(key, shape, { dtype: p.dtype })));
    indices = np.sum(np.less(cumulative, np.expandDims(r, -1)), { axis: -1 });
  }
  return isRange ? indices : np.reshape(np.take(a, indices, { axis }), outShape);
}
