/**
 * Normalization layers over trailing axes or channel groups, as torch.nn.LayerNorm, torch.nn.RMSNorm
 * (PyTorch 2.4) and torch.nn.GroupNorm: PyTorch's parameter names (`weight`, `bias`), shapes and initial
 * values (ones and zeros). The math is `nn.layerNorm`, `nn.rmsNorm` and `nn.groupNorm`.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import {
  groupNorm as groupNormFn,
  layerNorm as layerNormFn,
  type NormalizedShape,
  rmsNorm as rmsNormFn,
} from "../nn/normalization.js";
import { full } from "../ops/creation.js";
import { pyBool, pyFloat, withLayerContext } from "./basic.js";
import { defineLayer, describeAt, type FloatDType, type Layer, type SpecTree, spec } from "./layer.js";

/** Parameters of layerNorm, rmsNorm and groupNorm: a scale (init 1) and, where the layer has one, a shift (init 0). */
export type NormParams = { weight: NdArray; bias: NdArray } | { weight: NdArray } | null;

/** Options of `layerNorm`, as torch.nn.LayerNorm's. */
export interface LayerNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn `weight` (and `bias`) of the normalized shape (default true); false leaves params null. */
  elementwiseAffine?: boolean;
  /** With elementwiseAffine, learn `bias` too (default true; PyTorch 2.1's `bias` argument). */
  bias?: boolean;
}

function shapeList(who: string, normalizedShape: NormalizedShape): number[] {
  const shape = typeof normalizedShape === "number" ? [normalizedShape] : [...normalizedShape];
  if (shape.length === 0 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${who}: normalizedShape must be positive integers, got ${fmtShape(shape)}`);
  }
  return shape;
}

/** Python's repr of a tuple of ints: (5,) or (3, 4). */
const pyTuple = (xs: readonly number[]): string => (xs.length === 1 ? `(${xs[0]},)` : `(${xs.join(", ")})`);

function affineSpec(shape: readonly number[], weight: boolean, bias: boolean) {
  return (dtype: FloatDType): SpecTree =>
    !weight
      ? null
      : bias
        ? { weight: spec(shape, dtype), bias: spec(shape, dtype) }
        : { weight: spec(shape, dtype) };
}

function affineInit(shape: readonly number[], weight: boolean, bias: boolean) {
  return (_key: unknown, dtype: FloatDType): NormParams =>
    !weight
      ? null
      : bias
        ? { weight: full(shape, 1, { dtype }), bias: full(shape, 0, { dtype }) }
        : { weight: full(shape, 1, { dtype }) };
}

const weightOf = (p: NormParams): NdArray | null => (p === null ? null : p.weight);
const biasOf = (p: NormParams): NdArray | null => (p !== null && "bias" in p ? p.bias : null);

/**
 * torch.nn.LayerNorm: normalizes over the trailing `normalizedShape` axes, then (by default) scales by
 * `weight` and shifts by `bias`, both of that shape, initialized to ones and zeros.
 */
export function layerNorm(
  normalizedShape: NormalizedShape,
  options: LayerNormOptions = {},
): Layer<NormParams, null> {
  checkOptions("layerNorm", options, ["eps", "elementwiseAffine", "bias"]);
  const shape = shapeList("layerNorm", normalizedShape);
  const eps = options.eps ?? 1e-5;
  const affine = options.elementwiseAffine ?? true;
  const useBias = options.bias ?? true;
  const name = `layerNorm ${fmtShape(shape)}`;
  const extra = affine && !useBias ? ", bias=False" : "";
  return defineLayer<NormParams>({
    name,
    repr: `LayerNorm(${pyTuple(shape)}, eps=${pyFloat(eps)}, elementwise_affine=${pyBool(affine)}${extra})`,
    paramSpec: affineSpec(shape, affine, useBias),
    init: affineInit(shape, affine, useBias),
    forward: (params, state, x, ctx) => ({
      y: withLayerContext(name, ctx, () =>
        layerNormFn(x, shape, { weight: weightOf(params), bias: biasOf(params), eps }),
      ),
      state,
    }),
  });
}

/** Options of `rmsNorm`, as torch.nn.RMSNorm's (PyTorch 2.4). */
export interface RmsNormOptions {
  /** Added to the mean square; default (null) the input dtype's machine epsilon, as PyTorch. */
  eps?: number | null;
  /** Learn `weight` of the normalized shape (default true); false leaves params null. */
  elementwiseAffine?: boolean;
}

/** torch.nn.RMSNorm (PyTorch 2.4): x / sqrt(mean(x²) + eps) over the trailing axes, times `weight` (init ones). */
export function rmsNorm(
  normalizedShape: NormalizedShape,
  options: RmsNormOptions = {},
): Layer<NormParams, null> {
  checkOptions("rmsNorm", options, ["eps", "elementwiseAffine"]);
  const shape = shapeList("rmsNorm", normalizedShape);
  const eps = options.eps ?? null;
  const affine = options.elementwiseAffine ?? true;
  const name = `rmsNorm ${fmtShape(shape)}`;
  return defineLayer<NormParams>({
    name,
    repr: `RMSNorm(${pyTuple(shape)}, eps=${eps === null ? "None" : pyFloat(eps)}, elementwise_affine=${pyBool(affine)})`,
    paramSpec: affineSpec(shape, affine, false),
    init: affineInit(shape, affine, false),
    forward: (params, state, x, ctx) => ({
      y: withLayerContext(name, ctx, () => rmsNormFn(x, shape, { weight: weightOf(params), eps })),
      state,
    }),
  });
}

/** Options of `groupNorm`, as torch.nn.GroupNorm's. */
export interface GroupNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Learn a per-channel `weight` and `bias` (default true); false leaves params null. */
  affine?: boolean;
}

/**
 * torch.nn.GroupNorm: the `numChannels` channels of an input [N, C, *] in `numGroups` groups, each
 * normalized over its channels and the trailing axes, then a per-channel `weight` and `bias` (ones, zeros).
 */
export function groupNorm(
  numGroups: number,
  numChannels: number,
  options: GroupNormOptions = {},
): Layer<NormParams, null> {
  checkOptions("groupNorm", options, ["eps", "affine"]);
  if (!Number.isInteger(numChannels) || numChannels < 1) {
    throw new RangeError(`groupNorm: numChannels must be a positive integer, got ${numChannels}`);
  }
  if (!Number.isInteger(numGroups) || numGroups < 1 || numChannels % numGroups !== 0) {
    throw new RangeError(
      `groupNorm: numGroups must be a positive integer dividing numChannels ${numChannels}, got ${numGroups}`,
    );
  }
  const eps = options.eps ?? 1e-5;
  const affine = options.affine ?? true;
  const name = `groupNorm ${numGroups}x${numChannels / numGroups}`;
  return defineLayer<NormParams>({
    name,
    repr: `GroupNorm(${numGroups}, ${numChannels}, eps=${pyFloat(eps)}, affine=${pyBool(affine)})`,
    paramSpec: affineSpec([numChannels], affine, true),
    init: affineInit([numChannels], affine, true),
    forward(params, state, x, ctx) {
      if (x.ndim < 2 || x.shape[1] !== numChannels) {
        throw new ShapeError(
          `${describeAt(name, ctx.path)}: expected input [N,${numChannels},*], got ${fmtShape(x.shape)}`,
        );
      }
      const y = withLayerContext(name, ctx, () =>
        groupNormFn(x, numGroups, { weight: weightOf(params), bias: biasOf(params), eps }),
      );
      return { y, state };
    },
  });
}
