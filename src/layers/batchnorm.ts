/**
 * Batch normalization with running statistics as explicit state, as torch.nn.BatchNorm1d/2d: in training
 * mode it normalizes with the batch's mean and biased variance and returns running statistics updated
 * with momentum (the variance unbiased, n/(n-1)); in evaluation mode it normalizes with the running ones.
 * The math is `nn.batchNorm`'s; the layer adds the parameters, the state and the shape checks.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { batchNorm as batchNormFn } from "../nn/normalization.js";
import { full } from "../ops/creation.js";
import { pyBool, pyFloat, withLayerContext } from "./basic.js";
import { defineLayer, describeAt, type FloatDType, type Layer, spec } from "./layer.js";

/** BatchNorm's learned per-channel scale (`weight`, init 1) and shift (`bias`, init 0), PyTorch's names. */
export type BatchNormParams = { weight: NdArray; bias: NdArray };
/** BatchNorm's running statistics, per channel (PyTorch's running_mean, init 0, and running_var, init 1). */
export type BatchNormState = { runningMean: NdArray; runningVar: NdArray };

/** Options of `batchNorm1d` and `batchNorm2d`, as torch.nn.BatchNorm's (statistics are always tracked). */
export interface BatchNormOptions {
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
  /** Weight of the new batch in the running statistics (default 0.1, PyTorch's convention). */
  momentum?: number;
  /** Learn a per-channel scale (weight) and shift (bias) (default true); false leaves params null. */
  affine?: boolean;
}

type Variant = {
  readonly torchName: string;
  readonly ranks: readonly number[];
  readonly expected: (c: number) => string;
};

const VARIANTS = {
  batchNorm1d: { torchName: "BatchNorm1d", ranks: [2, 3], expected: (c: number) => `[N,${c}] or [N,${c},L]` },
  batchNorm2d: { torchName: "BatchNorm2d", ranks: [4], expected: (c: number) => `[N,${c},H,W]` },
} as const satisfies Record<string, Variant>;

function batchNorm(
  kind: keyof typeof VARIANTS,
  numFeatures: number,
  options: BatchNormOptions,
): Layer<BatchNormParams | null, BatchNormState> {
  const variant = VARIANTS[kind];
  checkOptions(kind, options, ["eps", "momentum", "affine"]);
  if (!Number.isInteger(numFeatures) || numFeatures < 1) {
    throw new RangeError(`${kind}: numFeatures must be a positive integer, got ${numFeatures}`);
  }
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  const affine = options.affine ?? true;
  const c = numFeatures;
  const name = `${kind} ${c}`;
  const vector = (dtype: FloatDType) => spec([c], dtype);
  return defineLayer<BatchNormParams | null, BatchNormState>({
    name,
    repr: `${variant.torchName}(${c}, eps=${pyFloat(eps)}, momentum=${pyFloat(momentum)}, affine=${pyBool(affine)}, track_running_stats=True)`,
    paramSpec: (dtype) => (affine ? { weight: vector(dtype), bias: vector(dtype) } : null),
    init: (_key, dtype) =>
      affine ? { weight: full([c], 1, { dtype }), bias: full([c], 0, { dtype }) } : null,
    stateSpec: (dtype) => ({ runningMean: vector(dtype), runningVar: vector(dtype) }),
    initState: (dtype) => ({ runningMean: full([c], 0, { dtype }), runningVar: full([c], 1, { dtype }) }),
    forward(params, state, x, ctx) {
      const where = describeAt(name, ctx.path);
      if (!(variant.ranks as readonly number[]).includes(x.ndim) || x.shape[1] !== c) {
        throw new ShapeError(`${where}: expected input ${variant.expected(c)}, got ${fmtShape(x.shape)}`);
      }
      return withLayerContext(name, ctx, () => {
        const result = batchNormFn(x, state.runningMean, state.runningVar, {
          weight: params?.weight ?? null,
          bias: params?.bias ?? null,
          training: ctx.train,
          momentum,
          eps,
        });
        const newState = ctx.train
          ? { runningMean: result.runningMean!, runningVar: result.runningVar! }
          : state;
        return { y: result.y, state: newState };
      });
    },
  });
}

/** torch.nn.BatchNorm1d over [N, C] or [N, C, L] input; state: { runningMean, runningVar }. */
export function batchNorm1d(
  numFeatures: number,
  options?: BatchNormOptions & { affine?: true },
): Layer<BatchNormParams, BatchNormState>;
export function batchNorm1d(
  numFeatures: number,
  options: BatchNormOptions & { affine: false },
): Layer<null, BatchNormState>;
export function batchNorm1d(
  numFeatures: number,
  options?: BatchNormOptions,
): Layer<BatchNormParams | null, BatchNormState>;
export function batchNorm1d(
  numFeatures: number,
  options: BatchNormOptions = {},
): Layer<BatchNormParams | null, BatchNormState> {
  return batchNorm("batchNorm1d", numFeatures, options);
}

/** torch.nn.BatchNorm2d over [N, C, H, W] input; state: { runningMean, runningVar }. */
export function batchNorm2d(
  numFeatures: number,
  options?: BatchNormOptions & { affine?: true },
): Layer<BatchNormParams, BatchNormState>;
export function batchNorm2d(
  numFeatures: number,
  options: BatchNormOptions & { affine: false },
): Layer<null, BatchNormState>;
export function batchNorm2d(
  numFeatures: number,
  options?: BatchNormOptions,
): Layer<BatchNormParams | null, BatchNormState>;
export function batchNorm2d(
  numFeatures: number,
  options: BatchNormOptions = {},
): Layer<BatchNormParams | null, BatchNormState> {
  return batchNorm("batchNorm2d", numFeatures, options);
}
