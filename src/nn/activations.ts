/**
 * Activation functions and the stable log-sum-exp family, as compositions of existing primitives (so
 * every transform handles them with no extra rules). Conventions follow torch.nn.functional: relu'(0) = 0,
 * leakyRelu'(0) = negativeSlope, elu'(0) = alpha, hardtanh' = 0 at its bounds, hardswish'(-3) = -0.5 and hardswish'(3) = 1.5.
 */
import type { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import type { Axis } from "../core/methods-types.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { fmtShape, normalizeAxes, normalizeAxis, ShapeError } from "../core/shape.js";
import {
  add,
  astype,
  divide,
  greater,
  greaterEqual,
  less,
  lessEqual,
  maximum,
  minimum,
  multiply,
  subtract,
  where,
} from "../ops/binary.js";
import { full } from "../ops/creation.js";
import { reshape } from "../ops/layout.js";
import { max, sum } from "../ops/reduce.js";
import { split } from "../ops/shape.js";
import {
  abs,
  erf,
  exp,
  expm1,
  isfinite,
  log,
  log1p,
  negative,
  sigmoid as sigmoidOp,
  stopGradient,
  tanh as tanhOp,
} from "../ops/unary.js";

/** max(x, 0); the derivative at 0 is 0 and NaN propagates, as PyTorch. */
export function relu(x: NdArray): NdArray {
  return where(lessEqual(x, 0), 0, x);
}

/** The logistic function 1 / (1 + exp(-x)), without overflow. */
export const sigmoid = sigmoidOp;

/** The hyperbolic tangent (the same function as `np.tanh`). */
export const tanh = tanhOp;

/** x * sigmoid(x) (also called swish). */
export function silu(x: NdArray): NdArray {
  return multiply(x, sigmoidOp(x));
}

/** Options of `softplus`, as torch.nn.functional.softplus. */
export interface SoftplusOptions {
  /** The sharpness: softplus(x) = log(1 + exp(beta * x)) / beta (default 1). */
  beta?: number;
  /** Where `beta * x > threshold` the result is x itself (PyTorch's linear regime; default 20). */
  threshold?: number;
}

/** log(1 + exp(beta * x)) / beta, computed without overflow for any x. */
export function softplus(x: NdArray, options: SoftplusOptions = {}): NdArray {
  checkOptions("softplus", options, ["beta", "threshold"]);
  const beta = options.beta ?? 1;
  const threshold = options.threshold ?? 20;
  const z = beta === 1 ? x : multiply(x, beta);
  // max(z, 0) + log1p(exp(-|z|)) never overflows, so the branch where() discards has a finite gradient;
  // at z = 0, maximum's tie rule (1/2) plus abs'(0) = 0 gives the exact derivative sigmoid(0) = 1/2.
  const stable = add(maximum(z, 0), log1p(exp(negative(abs(z)))));
  return where(greater(z, threshold), x, beta === 1 ? stable : divide(stable, beta));
}

/** Options of `gelu`, as torch.nn.functional.gelu. */
export interface GeluOptions {
  /** 'none': exact, with erf (the default); 'tanh': the tanh approximation. */
  approximate?: "none" | "tanh";
}

/** Gaussian error linear unit, x * Phi(x). */
export function gelu(x: NdArray, options: GeluOptions = {}): NdArray {
  checkOptions("gelu", options, ["approximate"]);
  const approximate =
    checkOptionValue("gelu", "approximate", options.approximate, ["none", "tanh"]) ?? "none";
  if (approximate === "tanh") {
    const inner = multiply(add(x, multiply(multiply(x, multiply(x, x)), 0.044715)), Math.sqrt(2 / Math.PI));
    return multiply(multiply(x, 0.5), add(tanhOp(inner), 1));
  }
  return multiply(multiply(x, 0.5), add(erf(multiply(x, Math.SQRT1_2)), 1));
}

/** x where x > 0, else negativeSlope * x (0.01 by default). */
export function leakyRelu(x: NdArray, options: { negativeSlope?: number } = {}): NdArray {
  checkOptions("leakyRelu", options, ["negativeSlope"]);
  const slope = options.negativeSlope ?? 0.01;
  return where(greater(x, 0), x, multiply(x, slope));
}

/** x where x > 0, else alpha * (exp(x) - 1) (alpha = 1 by default). */
export function elu(x: NdArray, options: { alpha?: number } = {}): NdArray {
  checkOptions("elu", options, ["alpha"]);
  const alpha = options.alpha ?? 1;
  const positive = greater(x, 0);
  // Feed expm1 only non-positive values: exp of a large x would overflow and, although where() discards
  // that branch, 0 * inf in its gradient would be NaN.
  const negativePart = expm1(where(positive, 0, x));
  return where(positive, x, alpha === 1 ? negativePart : multiply(negativePart, alpha));
}

/** Options of `logsumexp`. */
export interface LogSumExpOptions {
  /** Axes to reduce (all by default). */
  axis?: Axis;
  /** Keep the reduced axes as size 1 (default false). */
  keepdims?: boolean;
}

/**
 * log(sum(exp(x))) over `axis`, stable for large |x|: the maximum is subtracted first (without a
 * gradient, since the result does not depend on it). A row of all -inf gives -inf, as JAX.
 */
export function logsumexp(x: NdArray, options: LogSumExpOptions = {}): NdArray {
  checkOptions("logsumexp", options, ["axis", "keepdims"]);
  const axes = normalizeAxes("logsumexp", options.axis, x.ndim);
  const keepdims = options.keepdims ?? false;
  if (axes.some((a) => x.shape[a] === 0)) {
    // The sum of no terms is 0 and its log -inf (as numpy's log(sum(exp(x))), JAX and PyTorch).
    const shape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    const out = full(shape, Number.NEGATIVE_INFINITY, { dtype: isFloat(x.dtype) ? x.dtype : "float32" });
    return keepdims
      ? out
      : reshape(
          out,
          x.shape.filter((_, i) => !axes.includes(i)),
        );
  }
  const rawMax = max(stopGradient(x), { axis: axes, keepdims: true });
  // An all -inf (or +inf) group would give inf - inf = NaN; shifting by 0 there keeps the result exact.
  const shift = where(isfinite(rawMax), rawMax, 0);
  const summed = sum(exp(subtract(x, shift)), { axis: axes, keepdims: true });
  const out = add(log(summed), shift);
  if (keepdims) return out;
  return reshape(
    out,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** exp(x) / sum(exp(x)) along `axis` (the last by default), stable for large |x|. */
export function softmax(x: NdArray, options: { axis?: number } = {}): NdArray {
  checkOptions("softmax", options, ["axis"]);
  const axis = normalizeAxis("softmax", options.axis ?? -1, x.ndim);
  // Nothing to normalize over: the result is as empty as the input (as PyTorch and JAX).
  if (x.shape[axis] === 0) return isFloat(x.dtype) ? x : astype(x, "float32");
  const unnormalized = exp(subtract(x, max(stopGradient(x), { axis, keepdims: true })));
  return divide(unnormalized, sum(unnormalized, { axis, keepdims: true }));
}

/** x - logsumexp(x) along `axis` (the last by default), stable for large |x|. */
export function logSoftmax(x: NdArray, options: { axis?: number } = {}): NdArray {
  checkOptions("logSoftmax", options, ["axis"]);
  const axis = normalizeAxis("logSoftmax", options.axis ?? -1, x.ndim);
  if (x.shape[axis] === 0) return isFloat(x.dtype) ? x : astype(x, "float32");
  const shifted = subtract(x, max(stopGradient(x), { axis, keepdims: true }));
  return subtract(shifted, log(sum(exp(shifted), { axis, keepdims: true })));
}

/** log(1 + exp(x)) without overflow or a threshold: max(x, 0) + log1p(exp(-|x|)). */
function stableSoftplus(x: NdArray): NdArray {
  return add(maximum(x, 0), log1p(exp(negative(abs(x)))));
}

/** x * tanh(softplus(x)), as torch.nn.functional.mish. */
export function mish(x: NdArray): NdArray {
  return multiply(x, tanhOp(stableSoftplus(x)));
}

/** SELU's alpha and scale (Klambauer et al.; PyTorch's constants). */
const SELU_ALPHA = 1.6732632423543772; // 1.6732632423543772848170429916717 rounded to float64
const SELU_SCALE = 1.0507009873554805; // 1.0507009873554804934193349852946 rounded to float64

/** scale * elu(x, alpha) with PyTorch's constants (alpha 1.6733, scale 1.0507); the derivative at 0 is scale * alpha, as PyTorch. */
export function selu(x: NdArray): NdArray {
  return multiply(elu(x, { alpha: SELU_ALPHA }), SELU_SCALE);
}

/** Options of `hardtanh`, as torch.nn.functional.hardtanh's. */
export interface HardtanhOptions {
  /** The lower bound (default -1). */
  minVal?: number;
  /** The upper bound (default 1). */
  maxVal?: number;
}

/**
 * x clipped to [minVal, maxVal] (default [-1, 1]), as torch.nn.functional.hardtanh: the derivative is 1
 * strictly inside and 0 at and beyond the bounds (PyTorch's), and NaN propagates.
 */
export function hardtanh(x: NdArray, options: HardtanhOptions = {}): NdArray {
  checkOptions("hardtanh", options, ["minVal", "maxVal"]);
  const minVal = options.minVal ?? -1;
  const maxVal = options.maxVal ?? 1;
  if (!(minVal <= maxVal)) {
    throw new RangeError(`hardtanh: minVal ${minVal} must not exceed maxVal ${maxVal}`);
  }
  return where(lessEqual(x, minVal), minVal, where(greaterEqual(x, maxVal), maxVal, x));
}

/** min(max(x, 0), 6), as torch.nn.functional.relu6 (hardtanh on [0, 6]: derivative 0 at 0 and at 6). */
export function relu6(x: NdArray): NdArray {
  return hardtanh(x, { minVal: 0, maxVal: 6 });
}

/**
 * x * relu6(x + 3) / 6, as torch.nn.functional.hardswish: 0 below -3, x above 3. Derivatives as PyTorch's:
 * 0 below -3, (2x + 3) / 6 on [-3, 3] (so -0.5 at -3 and 1.5 at 3), 1 above.
 */
export function hardswish(x: NdArray): NdArray {
  const middle = divide(multiply(x, add(x, 3)), 6);
  return where(less(x, -3), 0, where(lessEqual(x, 3), middle, x));
}

/** log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)), finite for any x (torch.nn.functional.logsigmoid). */
export function logSigmoid(x: NdArray): NdArray {
  return subtract(minimum(x, 0), log1p(exp(negative(abs(x)))));
}

/**
 * The gated linear unit, as torch.nn.functional.glu: x split in two halves a, b along `axis` (default -1,
 * whose size must be even), a * sigmoid(b).
 */
export function glu(x: NdArray, axis = -1): NdArray {
  const ax = normalizeAxis("glu", axis, x.ndim);
  const size = x.shape[ax]!;
  if (size % 2 !== 0) {
    throw new ShapeError(`glu: the size ${size} of axis ${axis} of input ${fmtShape(x.shape)} must be even`);
  }
  const [a, b] = split(x, 2, { axis: ax }) as [NdArray, NdArray];
  return multiply(a, sigmoidOp(b));
}

/** x / (1 + |x|), as torch.nn.functional.softsign. */
export function softsign(x: NdArray): NdArray {
  return divide(x, add(abs(x), 1));
}

/**
 * max(0, x) + min(0, alpha * (exp(x / alpha) - 1)), as torch.nn.functional.celu (alpha = 1 by default,
 * non-zero); the derivative at 0 is 1.
 */
export function celu(x: NdArray, options: { alpha?: number } = {}): NdArray {
  checkOptions("celu", options, ["alpha"]);
  const alpha = options.alpha ?? 1;
  if (alpha === 0 || !Number.isFinite(alpha))
    throw new RangeError(`celu: alpha must be finite and non-zero, got ${alpha}`);
  const positive = greater(x, 0);
  // expm1 sees only non-positive values, as in elu: no overflow in the branch where() discards.
  const negativePart = multiply(expm1(divide(where(positive, 0, x), alpha)), alpha);
  return where(positive, x, negativePart);
}
