/**
 * Normalization ops as torch.nn.functional's: layer norm, RMS norm, group norm and batch norm, written with
 * existing primitives (so every transform applies). Batch norm's running statistics are explicit: the
 * function returns the updated ones instead of writing into buffers.
 */
import type { NdArray } from "../core/array.js";
import { type DType, isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import * as np from "../np.js";

/** float64's and float32's machine epsilon (torch.finfo(dtype).eps), rmsNorm's default eps. */
const FINFO_EPS: Partial<Record<DType, number>> = {
  float64: 2 ** -52,
  float32: 2 ** -23,
  float16: 2 ** -10,
  bfloat16: 2 ** -7,
};

function checkFloatInput(op: string, x: NdArray): void {
  if (!isFloat(x.dtype)) throw new TypeError(`${op}: input must be a float array, got ${x.dtype}`);
}

function checkEps(op: string, eps: number): void {
  if (!(eps >= 0)) throw new RangeError(`${op}: eps must be a non-negative number, got ${eps}`);
}

/** The trailing shape the statistics are taken over, as PyTorch's `normalized_shape` (an int or a list). */
export type NormalizedShape = number | readonly number[];

/** `normalizedShape` as a list, checked against the trailing axes of `x`. */
function trailingAxes(op: string, x: NdArray, normalizedShape: NormalizedShape): number[] {
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new ShapeError(`${op}: normalizedShape must be positive integers, got ${fmtShape(shape)}`);
  }
  const k = shape.length;
  if (x.ndim < k || !shapeEquals(x.shape.slice(x.ndim - k), shape)) {
    throw new ShapeError(
      `${op}: input ${fmtShape(x.shape)} must end with the normalized shape ${fmtShape(shape)} ([*, ${shape.join(", ")}])`,
    );
  }
  return shape.map((_, i) => x.ndim - k + i);
}

/** Checks an affine parameter's shape and dtype; returns it in the input's dtype. */
function affineParam(
  op: string,
  what: string,
  param: NdArray,
  expected: readonly number[],
  x: NdArray,
): NdArray {
  if (!shapeEquals(param.shape, expected)) {
    throw new ShapeError(
      `${op}: ${what} must have shape ${fmtShape(expected)}, got ${fmtShape(param.shape)}`,
    );
  }
  if (!isFloat(param.dtype)) throw new TypeError(`${op}: ${what} must be a float array, got ${param.dtype}`);
  return param.dtype === x.dtype ? param : np.astype(param, x.dtype);
}

/** Options of `layerNorm`, as torch.nn.functional.layer_norm's. */
export interface LayerNormOptions {
  /** Elementwise scale of the normalized shape (PyTorch's `weight`); none by default. */
  weight?: NdArray | null;
  /** Elementwise shift of the normalized shape (PyTorch's `bias`); none by default. */
  bias?: NdArray | null;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * torch.nn.functional.layer_norm: normalizes `x` over its trailing `normalizedShape` axes with their mean
 * and biased variance, `(x - mean) / sqrt(var + eps)`, then scales by `weight` and shifts by `bias`
 * (both of shape `normalizedShape`, optional).
 */
export function layerNorm(
  x: NdArray,
  normalizedShape: NormalizedShape,
  options: LayerNormOptions = {},
): NdArray {
  const op = "layerNorm";
  checkOptions(op, options, ["weight", "bias", "eps"]);
  checkFloatInput(op, x);
  const axes = trailingAxes(op, x, normalizedShape);
  const eps = options.eps ?? 1e-5;
  checkEps(op, eps);
  const trailing = x.shape.slice(axes[0]!);
  const weight = options.weight == null ? null : affineParam(op, "weight", options.weight, trailing, x);
  const bias = options.bias == null ? null : affineParam(op, "bias", options.bias, trailing, x);
  const normalized = standardize(x, axes, eps);
  const scaled = weight === null ? normalized : np.multiply(normalized, weight);
  return bias === null ? scaled : np.add(scaled, bias);
}

/** (x - mean) / sqrt(var + eps) over `axes`, with the biased variance. */
function standardize(x: NdArray, axes: readonly number[], eps: number): NdArray {
  const centered = np.subtract(x, np.mean(x, { axis: axes, keepdims: true }));
  const variance = np.mean(np.square(centered), { axis: axes, keepdims: true });
  return np.multiply(centered, np.rsqrt(np.add(variance, eps)));
}

/** Options of `rmsNorm`, as torch.nn.functional.rms_norm's (PyTorch 2.4). */
export interface RmsNormOptions {
  /** Elementwise scale of the normalized shape (PyTorch's `weight`); none by default. */
  weight?: NdArray | null;
  /** Added to the mean square before the square root; default (null) the dtype's machine epsilon, torch.finfo(dtype).eps. */
  eps?: number | null;
}

/**
 * torch.nn.functional.rms_norm (PyTorch 2.4): `x / sqrt(mean(x^2) + eps) * weight` over the trailing
 * `normalizedShape` axes. Without `eps` it is the dtype's machine epsilon (2^-52 for float64, 2^-23 for
 * float32), as PyTorch.
 */
export function rmsNorm(x: NdArray, normalizedShape: NormalizedShape, options: RmsNormOptions = {}): NdArray {
  const op = "rmsNorm";
  checkOptions(op, options, ["weight", "eps"]);
  checkFloatInput(op, x);
  const axes = trailingAxes(op, x, normalizedShape);
  const eps = options.eps ?? FINFO_EPS[x.dtype]!;
  checkEps(op, eps);
  const trailing = x.shape.slice(axes[0]!);
  const weight = options.weight == null ? null : affineParam(op, "weight", options.weight, trailing, x);
  const meanSquare = np.mean(np.square(x), { axis: axes, keepdims: true });
  const normalized = np.multiply(x, np.rsqrt(np.add(meanSquare, eps)));
  return weight === null ? normalized : np.multiply(normalized, weight);
}

/** Options of `groupNorm`, as torch.nn.functional.group_norm's. */
export interface GroupNormOptions {
  /** Per-channel scale, shape [C] (PyTorch's `weight`); none by default. */
  weight?: NdArray | null;
  /** Per-channel shift, shape [C] (PyTorch's `bias`); none by default. */
  bias?: NdArray | null;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/** A per-channel vector [C] shaped [1, C, 1, ...] to broadcast against an input [N, C, ...]. */
function perChannel(v: NdArray, x: NdArray): NdArray {
  return np.reshape(
    v,
    x.shape.map((d, i) => (i === 1 ? d : 1)),
  );
}

/**
 * torch.nn.functional.group_norm: the channels of `x` [N, C, *] split into `numGroups` contiguous groups,
 * each normalized over its channels and the trailing axes with its mean and biased variance, then scaled
 * and shifted per channel by `weight` and `bias` (shape [C], optional).
 */
export function groupNorm(x: NdArray, numGroups: number, options: GroupNormOptions = {}): NdArray {
  const op = "groupNorm";
  checkOptions(op, options, ["weight", "bias", "eps"]);
  checkFloatInput(op, x);
  if (x.ndim < 2) throw new ShapeError(`${op}: expected an input [N, C, *], got ${fmtShape(x.shape)}`);
  const n = x.shape[0]!;
  const c = x.shape[1]!;
  if (!Number.isInteger(numGroups) || numGroups < 1 || c % numGroups !== 0) {
    throw new ShapeError(
      `${op}: numGroups must be a positive integer dividing the ${c} channels of input ${fmtShape(x.shape)}, got ${numGroups}`,
    );
  }
  const eps = options.eps ?? 1e-5;
  checkEps(op, eps);
  const weight = options.weight == null ? null : affineParam(op, "weight", options.weight, [c], x);
  const bias = options.bias == null ? null : affineParam(op, "bias", options.bias, [c], x);
  const grouped = np.reshape(x, [n, numGroups, x.size === 0 ? 0 : x.size / (n * numGroups)]);
  const normalized = np.reshape(standardize(grouped, [2], eps), x.shape);
  const scaled = weight === null ? normalized : np.multiply(normalized, perChannel(weight, x));
  return bias === null ? scaled : np.add(scaled, perChannel(bias, x));
}

/** Options of `batchNorm`, as torch.nn.functional.batch_norm's. */
export interface BatchNormFunctionOptions {
  /** Per-channel scale, shape [C]; none by default. */
  weight?: NdArray | null;
  /** Per-channel shift, shape [C]; none by default. */
  bias?: NdArray | null;
  /** Normalize with the batch's statistics and return updated running ones (default false: use the running ones). */
  training?: boolean;
  /** Weight of the batch in the updated running statistics (default 0.1, PyTorch's convention). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/** What `batchNorm` returns: the output and the running statistics after the call. */
export interface BatchNormResult {
  /** The normalized input. */
  readonly y: NdArray;
  /** The running mean after this call: updated in training mode, the one given otherwise. */
  readonly runningMean: NdArray | null;
  /** The running variance (unbiased) after this call: updated in training mode, the one given otherwise. */
  readonly runningVar: NdArray | null;
}

/**
 * torch.nn.functional.batch_norm, functionally: `x` [N, C, *] is normalized per channel. In training mode
 * with the batch's mean and biased variance, and the running statistics come back updated,
 * `(1 - momentum) * running + momentum * batch` (the variance unbiased, n/(n-1)), without a gradient
 * through them; in evaluation mode with `runningMean` and `runningVar`, returned unchanged. The running
 * statistics may be null in training mode (none are kept, as PyTorch's `track_running_stats=False`).
 */
export function batchNorm(
  x: NdArray,
  runningMean: NdArray | null,
  runningVar: NdArray | null,
  options: BatchNormFunctionOptions = {},
): BatchNormResult {
  const op = "batchNorm";
  checkOptions(op, options, ["weight", "bias", "training", "momentum", "eps"]);
  checkFloatInput(op, x);
  if (x.ndim < 2) throw new ShapeError(`${op}: expected an input [N, C, *], got ${fmtShape(x.shape)}`);
  const c = x.shape[1]!;
  const training = options.training ?? false;
  const momentum = options.momentum ?? 0.1;
  const eps = options.eps ?? 1e-5;
  checkEps(op, eps);
  if ((runningMean === null) !== (runningVar === null)) {
    throw new TypeError(`${op}: runningMean and runningVar must both be arrays or both be null`);
  }
  const mean0 = runningMean === null ? null : affineParam(op, "runningMean", runningMean, [c], x);
  const var0 = runningVar === null ? null : affineParam(op, "runningVar", runningVar, [c], x);
  const weight = options.weight == null ? null : affineParam(op, "weight", options.weight, [c], x);
  const bias = options.bias == null ? null : affineParam(op, "bias", options.bias, [c], x);

  let centerBy: NdArray;
  let variance: NdArray;
  let newMean = mean0;
  let newVar = var0;
  if (training) {
    const count = x.size / Math.max(c, 1);
    if (count <= 1) {
      throw new ShapeError(
        `${op}: training needs more than 1 value per channel, got input ${fmtShape(x.shape)}`,
      );
    }
    const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
    centerBy = np.mean(x, { axis: axes });
    variance = np.mean(np.square(np.subtract(x, perChannel(centerBy, x))), { axis: axes });
    if (mean0 !== null && var0 !== null) {
      // Running statistics are buffers, not part of the differentiated computation.
      const update = (running: NdArray, batch: NdArray): NdArray =>
        np.add(np.multiply(running, 1 - momentum), np.multiply(np.stopGradient(batch), momentum));
      newMean = update(mean0, centerBy);
      newVar = update(var0, np.multiply(variance, count / (count - 1)));
    }
  } else {
    if (mean0 === null || var0 === null) {
      throw new TypeError(`${op}: evaluation mode (training false) needs runningMean and runningVar`);
    }
    centerBy = mean0;
    variance = var0;
  }
  const normalized = np.divide(
    np.subtract(x, perChannel(centerBy, x)),
    perChannel(np.sqrt(np.add(variance, eps)), x),
  );
  const scaled = weight === null ? normalized : np.multiply(normalized, perChannel(weight, x));
  const y = bias === null ? scaled : np.add(scaled, perChannel(bias, x));
  return { y, runningMean: newMean, runningVar: newVar };
}
