/**
 * Batch normalization with running statistics as explicit state, as torch.nn.BatchNorm1d/2d: in training
 * mode it normalizes with the batch's mean and biased variance and returns running statistics updated
 * with momentum (the variance unbiased, n/(n-1)); in evaluation mode it normalizes with the running ones.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { add, divide, multiply, subtract } from "../ops/binary.js";
import { full } from "../ops/creation.js";
import { reshape } from "../ops/layout.js";
import { mean } from "../ops/reduce.js";
import { sqrt, square, stopGradient } from "../ops/unary.js";
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
        const axes = x.shape.map((_, i) => i).filter((i) => i !== 1);
        // Per-channel vectors broadcast against x as [1, C, 1, ...].
        const perChannel = (v: NdArray): NdArray =>
          reshape(
            v,
            x.shape.map((d, i) => (i === 1 ? d : 1)),
          );
        let centerBy: NdArray;
        let variance: NdArray;
        let newState = state;
        if (ctx.train) {
          const count = x.size / c;
          if (count <= 1) {
            throw new ShapeError(
              `${where}: training needs more than 1 value per channel, got input ${fmtShape(x.shape)}`,
            );
          }
          const batchMean = mean(x, { axis: axes });
          const batchVar = mean(square(subtract(x, perChannel(batchMean))), { axis: axes });
          centerBy = batchMean;
          variance = batchVar;
          // Running statistics are buffers, not part of the differentiated computation.
          const update = (running: NdArray, batch: NdArray): NdArray =>
            add(multiply(running, 1 - momentum), multiply(stopGradient(batch), momentum));
          newState = {
            runningMean: update(state.runningMean, batchMean),
            runningVar: update(state.runningVar, multiply(batchVar, count / (count - 1))),
          };
        } else {
          centerBy = state.runningMean;
          variance = state.runningVar;
        }
        const normalized = divide(subtract(x, perChannel(centerBy)), perChannel(sqrt(add(variance, eps))));
        const y =
          params === null
            ? normalized
            : add(multiply(normalized, perChannel(params.weight)), perChannel(params.bias));
        return { y, state: newState };
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
