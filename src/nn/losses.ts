/**
 * Loss functions with torch.nn.functional's semantics and defaults (reduction 'mean'), written with
 * existing primitives so every transform applies. Differences from PyTorch: a target whose shape differs
 * from the input's is an error here (PyTorch broadcasts with a warning), and class targets are int32.
 */
import { NdArray } from "../core/array.js";
import { isFloat, type TypedArray } from "../core/dtype.js";
import type { ArrayLike } from "../core/methods-types.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { broadcastShapes, fmtShape, ShapeError, shapeEquals } from "../core/shape.js";
import {
  add,
  astype,
  divide,
  equal,
  greater,
  greaterEqual,
  less,
  maximum,
  multiply,
  notEqual,
  subtract,
  where,
} from "../ops/binary.js";
import { arange, array, asArray } from "../ops/creation.js";
import { loweredPrimitive } from "../ops/eager.js";
import { xlogy } from "../ops/elementwise-math.js";
import { expandDims, reshape } from "../ops/layout.js";
import { mean, sum } from "../ops/reduce.js";
import { abs, exp, log, log1p, negative, sqrt } from "../ops/unary.js";
import { logSoftmax } from "./activations.js";

/** How per-element losses are combined: averaged (the default), summed, or returned as they are. */
export type Reduction = "mean" | "sum" | "none";

/** The `reduction` option of every loss. */
export interface ReductionOptions {
  /** 'mean' (the default, as PyTorch), 'sum', or 'none' for the per-element losses. */
  reduction?: Reduction;
}

const REDUCTIONS: readonly Reduction[] = ["mean", "sum", "none"];

function reduceLoss(op: string, loss: NdArray, reduction: Reduction = "mean"): NdArray {
  switch (checkOptionValue(op, "reduction", reduction, REDUCTIONS)) {
    case "mean":
      return mean(loss);
    case "sum":
      return sum(loss);
    default:
      return loss;
  }
}

function checkSameShape(op: string, input: NdArray, target: NdArray): void {
  if (!shapeEquals(input.shape, target.shape)) {
    throw new ShapeError(
      `${op}: input shape ${fmtShape(input.shape)} and target shape ${fmtShape(target.shape)} differ ` +
        "(PyTorch would broadcast them with a warning; broadcast the target explicitly if that is meant)",
    );
  }
}

/** Mean (or sum) of squared differences over all elements. */
export function mseLoss(input: NdArray, target: NdArray, options: ReductionOptions = {}): NdArray {
  checkOptions("mseLoss", options, ["reduction"]);
  checkSameShape("mseLoss", input, target);
  const diff = subtract(input, target);
  return reduceLoss("mseLoss", multiply(diff, diff), options.reduction);
}

/** Mean (or sum) of absolute differences; the derivative at a zero difference is 0, as PyTorch. */
export function l1Loss(input: NdArray, target: NdArray, options: ReductionOptions = {}): NdArray {
  checkOptions("l1Loss", options, ["reduction"]);
  checkSameShape("l1Loss", input, target);
  return reduceLoss("l1Loss", abs(subtract(input, target)), options.reduction);
}

/** Quadratic below |d| < delta, linear above: delta * (|d| - delta / 2). */
export function huberLoss(
  input: NdArray,
  target: NdArray,
  options: ReductionOptions & { delta?: number } = {},
): NdArray {
  checkOptions("huberLoss", options, ["reduction", "delta"]);
  const delta = options.delta ?? 1;
  if (!(delta > 0)) throw new RangeError(`huberLoss: delta must be positive, got ${delta}`);
  checkSameShape("huberLoss", input, target);
  const diff = subtract(input, target);
  const absDiff = abs(diff);
  const quadratic = multiply(multiply(diff, diff), 0.5);
  const linear = multiply(subtract(absDiff, 0.5 * delta), delta);
  return reduceLoss("huberLoss", where(less(absDiff, delta), quadratic, linear), options.reduction);
}

/** Huber loss divided by beta: 0.5 d^2 / beta below |d| < beta, else |d| - beta / 2; beta = 0 is the L1 loss. */
export function smoothL1Loss(
  input: NdArray,
  target: NdArray,
  options: ReductionOptions & { beta?: number } = {},
): NdArray {
  checkOptions("smoothL1Loss", options, ["reduction", "beta"]);
  const beta = options.beta ?? 1;
  if (!(beta >= 0)) throw new RangeError(`smoothL1Loss: beta must be non-negative, got ${beta}`);
  checkSameShape("smoothL1Loss", input, target);
  const diff = subtract(input, target);
  const absDiff = abs(diff);
  if (beta === 0) return reduceLoss("smoothL1Loss", absDiff, options.reduction);
  const quadratic = divide(multiply(multiply(diff, diff), 0.5), beta);
  const linear = subtract(absDiff, 0.5 * beta);
  return reduceLoss("smoothL1Loss", where(less(absDiff, beta), quadratic, linear), options.reduction);
}

// ---------------------------------------------------------------------------------------------------
// classification

/** Options of the losses on class-index targets (`nllLoss`, `crossEntropy`). */
export interface ClassTargetOptions extends ReductionOptions {
  /** Targets equal to this are skipped (and not counted by 'mean'); PyTorch's default -100. */
  ignoreIndex?: number;
  /**
   * A weight per class (shape [C]), as PyTorch's `weight`: each sample's loss is multiplied by the weight
   * of its target class, and 'mean' divides by the sum of the weights of the non-ignored targets.
   */
  weight?: NdArray | readonly number[];
}

/** Options of `crossEntropy`, as torch.nn.functional.cross_entropy's. */
export interface CrossEntropyOptions extends ClassTargetOptions {
  /** Mixes the target with the uniform distribution: (1 - s) * target + s / C (PyTorch's definition). */
  labelSmoothing?: number;
}

const DEFAULT_IGNORE_INDEX = -100;
const CLASS_TARGET_KEYS = ["reduction", "ignoreIndex", "weight"] as const;

/** The class weights in the input's dtype and rank, [1, C, 1, ...], to broadcast along the class axis. */
function classWeights(
  op: string,
  weight: NdArray | readonly number[],
  input: NdArray,
  classAxis: number,
): NdArray {
  const w = weight instanceof NdArray ? weight : array([...weight], { dtype: input.dtype });
  const classes = input.shape[classAxis]!;
  if (w.ndim !== 1 || w.shape[0] !== classes) {
    throw new ShapeError(
      `${op}: weight must have shape [${classes}] (one per class of input ${fmtShape(input.shape)}), got ${fmtShape(w.shape)}`,
    );
  }
  if (!isFloat(w.dtype)) throw new TypeError(`${op}: weight must be a float array, got ${w.dtype}`);
  return reshape(
    astype(w, input.dtype),
    input.shape.map((d, i) => (i === classAxis ? d : 1)),
  );
}

/**
 * Each sample's weight: the weight of its target class (1 without class weights), 0 where the target
 * is ignored. 'mean' divides by their sum, as PyTorch.
 */
function targetWeights(
  op: string,
  weight: NdArray | readonly number[] | undefined,
  input: NdArray,
  classAxis: number,
  labels: NdArray,
  kept: NdArray,
): NdArray {
  if (weight === undefined) return astype(kept, input.dtype);
  return where(kept, pickClass(classWeights(op, weight, input, classAxis), labels, classAxis), 0);
}

/** The class axis of an input [C], [N, C] or [N, C, d1, ...] (PyTorch's layout). */
function classAxisOf(op: string, input: NdArray): number {
  if (input.ndim === 0)
    throw new ShapeError(`${op}: expected an input of shape [C], [N,C] or [N,C,...], got a 0-d array`);
  return input.ndim === 1 ? 0 : 1;
}

/** What `check_class_target` checks: labels of a loss, or the row indices of an embedding. */
export interface ClassTargetParams {
  /** The function the user called, named in the error. */
  op: string;
  classes: number;
  /** A label allowed besides [0, classes) (a loss's ignoreIndex); null for none. */
  ignoreIndex: number | null;
  /** "embedding": the labels are row indices of an embedding table of `classes` rows (for the message). */
  kind?: "embedding";
}

/** The first label outside [0, classes) that is not the ignored index: a RangeError naming the function. */
function checkLabels(labels: TypedArray, { op, classes, ignoreIndex, kind }: ClassTargetParams): void {
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i]!;
    if (v !== ignoreIndex && (v < 0 || v >= classes)) {
      throw new RangeError(
        kind === "embedding"
          ? `${op}: index ${v} at flat index ${i} is out of range for ${classes} embeddings (expected 0 <= index < ${classes})`
          : `${op}: target ${v} at flat index ${i} is out of range for ${classes} classes (ignoreIndex is ${ignoreIndex})`,
      );
    }
  }
}

/**
 * The identity on int32 class labels that checks each is a class or the ignored index when it runs:
 * eagerly, and in a jitted plan (a label's value is unknown while tracing), with the same error. The
 * embedding lookup checks its row indices with it too (`kind: "embedding"`).
 */
export const checkClassTargetPrim: Primitive<ClassTargetParams, [target: unknown], [out: unknown]> =
  loweredPrimitive<ClassTargetParams, [target: unknown], [out: unknown]>({
    name: "check_class_target",
    validatesOnly: true,
    abstractEval: ([target]) => [target],
    // One pass over the labels before the copy: a plan writes nothing past a bad label.
    lower: (_inAvals, _outAvals, params) => (ins, outs) => {
      checkLabels(ins[0], params);
      outs[0].set(ins[0]);
    },
    jvp: ([target], [t], p) => ({ primalsOut: [checkClassTargetPrim.bind1([target], p)], tangentsOut: [t] }),
    batch: ([target], [d], p) => [[checkClassTargetPrim.bind1([target], p)], [d!]],
    formatParams: ({ classes, ignoreIndex, kind }) =>
      kind === "embedding" ? `embeddings=${classes}` : `classes=${classes} ignoreIndex=${ignoreIndex}`,
  });

/**
 * `target` checked to hold int32 class indices of the input's shape without its class axis, each a
 * class or the ignored index (checked when the values are there: eagerly, or when a jitted plan runs).
 */
function checkedClassTarget(
  op: string,
  input: NdArray,
  classAxis: number,
  target: NdArray,
  ignoreIndex: number,
): NdArray {
  const expected = input.shape.filter((_, i) => i !== classAxis);
  if (target.dtype !== "int32" || !shapeEquals(target.shape, expected)) {
    throw new ShapeError(
      `${op}: target must hold int32 class indices of shape ${fmtShape(expected)} for input ${fmtShape(input.shape)}, ` +
        `got ${target.dtype}${fmtShape(target.shape)}`,
    );
  }
  return checkClassTargetPrim.bind1([target], { op, classes: input.shape[classAxis]!, ignoreIndex });
}

/** values[..., target[...], ...] along `classAxis`, via a one-hot selection (differentiable in `values`). */
function pickClass(values: NdArray, target: NdArray, classAxis: number): NdArray {
  const classes = values.shape[classAxis]!;
  const trailing = values.ndim - classAxis - 1;
  const classIds = reshape(arange(classes), [classes, ...new Array<number>(trailing).fill(1)]);
  const oneHot = equal(expandDims(target, classAxis), classIds);
  return sum(where(oneHot, values, 0), { axis: classAxis });
}

/**
 * Reduces per-sample losses whose ignored entries are already zero; 'mean' divides by the summed sample
 * weights (the kept count without class weights).
 */
function reduceKept(
  op: string,
  loss: NdArray,
  sampleWeight: NdArray,
  reduction: Reduction = "mean",
): NdArray {
  if (reduction === "mean") return divide(sum(loss), sum(sampleWeight));
  return reduceLoss(op, loss, reduction);
}

function checkLabelSmoothing(op: string, s: number): void {
  if (!(s >= 0 && s <= 1)) throw new RangeError(`${op}: labelSmoothing must be in [0, 1], got ${s}`);
}

/**
 * Negative log-likelihood of the target class: -logProbs[n, target[n]], averaged over the kept samples.
 * `logProbs` is [C], [N, C] or [N, C, d1, ...]; `target` holds int32 class indices.
 */
export function nllLoss(logProbs: NdArray, target: NdArray, options: ClassTargetOptions = {}): NdArray {
  const op = "nllLoss";
  checkOptions(op, options, CLASS_TARGET_KEYS);
  const ignoreIndex = options.ignoreIndex ?? DEFAULT_IGNORE_INDEX;
  const classAxis = classAxisOf(op, logProbs);
  const labels = checkedClassTarget(op, logProbs, classAxis, target, ignoreIndex);
  const kept = notEqual(labels, ignoreIndex);
  const sampleWeight = targetWeights(op, options.weight, logProbs, classAxis, labels, kept);
  const nll = negative(pickClass(logProbs, labels, classAxis));
  const loss = options.weight === undefined ? nll : multiply(nll, sampleWeight);
  return reduceKept(op, where(kept, loss, 0), sampleWeight, options.reduction);
}

/**
 * Cross entropy between logits and a target, as torch.nn.functional.cross_entropy. `logits` is [C],
 * [N, C] or [N, C, d1, ...]; `target` is either int32 class indices (the input's shape without the class
 * axis) or float class probabilities (the input's shape). 'mean' averages over samples (not classes).
 */
export function crossEntropy(logits: NdArray, target: NdArray, options: CrossEntropyOptions = {}): NdArray {
  const op = "crossEntropy";
  checkOptions(op, options, [...CLASS_TARGET_KEYS, "labelSmoothing"]);
  const smoothing = options.labelSmoothing ?? 0;
  checkLabelSmoothing(op, smoothing);
  const classAxis = classAxisOf(op, logits);
  const classes = logits.shape[classAxis]!;
  const weight = options.weight === undefined ? null : classWeights(op, options.weight, logits, classAxis);

  if (isFloat(target.dtype) && shapeEquals(target.shape, logits.shape)) {
    const logProbs = logSoftmax(logits, { axis: classAxis });
    const smoothed = smoothing > 0 ? add(multiply(target, 1 - smoothing), smoothing / classes) : target;
    // PyTorch weights each class's term; 'mean' still averages over the samples.
    const probs = weight === null ? smoothed : multiply(smoothed, weight);
    const loss = negative(sum(multiply(logProbs, probs), { axis: classAxis }));
    return reduceLoss(op, loss, options.reduction);
  }

  if (target.dtype !== "int32") {
    throw new ShapeError(
      `${op}: target must be int32 class indices of shape ${fmtShape(logits.shape.filter((_, i) => i !== classAxis))} ` +
        `or float class probabilities of shape ${fmtShape(logits.shape)}, got ${target.dtype}${fmtShape(target.shape)}`,
    );
  }
  const ignoreIndex = options.ignoreIndex ?? DEFAULT_IGNORE_INDEX;
  // Labels first: a jitted step that gets a bad one fails before it computes (or writes) anything else.
  const labels = checkedClassTarget(op, logits, classAxis, target, ignoreIndex);
  const logProbs = logSoftmax(logits, { axis: classAxis });
  const kept = notEqual(labels, ignoreIndex);
  const sampleWeight = targetWeights(op, options.weight, logits, classAxis, labels, kept);
  const nll = negative(pickClass(logProbs, labels, classAxis));
  let loss = weight === null ? nll : multiply(nll, sampleWeight);
  if (smoothing > 0) {
    // PyTorch: (1 - s) * nll + (s / C) * (-sum_c weight_c logProbs_c), both over the kept samples and
    // (for 'mean') both divided by the summed weights of the kept targets.
    const uniform = negative(
      sum(weight === null ? logProbs : multiply(logProbs, weight), { axis: classAxis }),
    );
    loss = add(multiply(loss, 1 - smoothing), multiply(uniform, smoothing / classes));
  }
  return reduceKept(op, where(kept, loss, 0), sampleWeight, options.reduction);
}

/** Options of `binaryCrossEntropyWithLogits`, as torch.nn.functional.binary_cross_entropy_with_logits's. */
export interface BinaryCrossEntropyWithLogitsOptions extends ReductionOptions {
  /** Weight of the positive term, broadcast against the last (class) axis, as PyTorch's pos_weight. */
  posWeight?: ArrayLike;
}

/** log(1 + exp(-x)) for any x without overflow: max(-x, 0) + log1p(exp(-|x|)). */
function softplusOfNegative(x: NdArray): NdArray {
  return add(maximum(negative(x), 0), log1p(exp(negative(abs(x)))));
}

/**
 * Binary cross entropy on logits: mean(max(x, 0) - x * y + log1p(exp(-|x|))), stable for any |x|.
 * With posWeight p: (1 - y) * x + (1 + (p - 1) * y) * log(1 + exp(-x)).
 */
export function binaryCrossEntropyWithLogits(
  logits: NdArray,
  target: NdArray,
  options: BinaryCrossEntropyWithLogitsOptions = {},
): NdArray {
  const op = "binaryCrossEntropyWithLogits";
  checkOptions(op, options, ["reduction", "posWeight"]);
  checkSameShape(op, logits, target);
  let loss: NdArray;
  if (options.posWeight === undefined) {
    loss = add(subtract(maximum(logits, 0), multiply(logits, target)), log1p(exp(negative(abs(logits)))));
  } else {
    const posWeight = asArray(options.posWeight, logits.dtype);
    if (!shapeEquals(broadcastShapes(op, posWeight.shape, logits.shape), logits.shape)) {
      throw new ShapeError(
        `${op}: posWeight of shape ${fmtShape(posWeight.shape)} does not broadcast to input ${fmtShape(logits.shape)}`,
      );
    }
    const logWeight = add(multiply(subtract(posWeight, 1), target), 1);
    loss = add(multiply(subtract(1, target), logits), multiply(logWeight, softplusOfNegative(logits)));
  }
  return reduceLoss(op, loss, options.reduction);
}

const LOG_FLOOR = -100;
const EXP_LOG_FLOOR = Math.exp(LOG_FLOOR);

/** log(p) clamped below at -100, as PyTorch's binary_cross_entropy; the clamped region has no gradient. */
function clampedLog(p: NdArray): NdArray {
  const above = greater(p, EXP_LOG_FLOOR);
  // log only sees values above the floor, so no -inf (and no 0 * inf = NaN in the gradient) arises.
  return where(above, log(where(above, p, 1)), LOG_FLOOR);
}

/**
 * Binary cross entropy on probabilities: -(y log p + (1 - y) log(1 - p)) with each log clamped to >= -100
 * (PyTorch). Probabilities outside [0, 1] are a RangeError, eagerly and when a jitted plan runs.
 */
export function binaryCrossEntropy(probs: NdArray, target: NdArray, options: ReductionOptions = {}): NdArray {
  const op = "binaryCrossEntropy";
  checkOptions(op, options, ["reduction"]);
  checkSameShape(op, probs, target);
  const p = checkProbabilitiesPrim.bind1([probs], { op });
  const loss = negative(
    add(multiply(target, clampedLog(p)), multiply(subtract(1, target), clampedLog(subtract(1, p)))),
  );
  return reduceLoss(op, loss, options.reduction);
}

/** The first value outside [0, 1] (or NaN): a RangeError naming the loss. */
function checkProbabilityValues(values: TypedArray, { op }: { op: string }): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!(v >= 0 && v <= 1))
      throw new RangeError(`${op}: input ${v} at flat index ${i} is not a probability in [0, 1]`);
  }
}

/**
 * The identity on probabilities that checks each is in [0, 1] when it runs, eagerly and in a jitted plan
 * alike (the values are unknown while tracing); the tangent passes through unchanged.
 */
export const checkProbabilitiesPrim: Primitive<{ op: string }, [probs: unknown], [out: unknown]> =
  loweredPrimitive<{ op: string }, [probs: unknown], [out: unknown]>({
    name: "check_probabilities",
    validatesOnly: true,
    abstractEval: ([probs]) => [probs],
    lower: (_inAvals, _outAvals, params) => (ins, outs) => {
      checkProbabilityValues(ins[0], params);
      outs[0].set(ins[0]);
    },
    jvp: ([probs], [t], p) => ({ primalsOut: [checkProbabilitiesPrim.bind1([probs], p)], tangentsOut: [t] }),
    batch: ([probs], [d], p) => [[checkProbabilitiesPrim.bind1([probs], p)], [d!]],
  });

// ---------------------------------------------------------------------------------------------------
// divergence, embedding and ranking losses

/** How `klDiv` combines the pointwise terms: PyTorch's reductions, with 'batchmean' the true KL divergence. */
export type KlDivReduction = Reduction | "batchmean";

/** Options of `klDiv`, as torch.nn.functional.kl_div's. */
export interface KlDivOptions {
  /**
   * 'mean' (the default, as PyTorch: the mean over every element), 'batchmean' (the sum divided by the
   * size of the first axis: the KL divergence per sample), 'sum' or 'none'.
   */
  reduction?: KlDivReduction;
  /** The target holds log-probabilities (default false: probabilities). */
  logTarget?: boolean;
}

/**
 * The Kullback-Leibler divergence of `target` from the distribution whose log-probabilities are `input`,
 * as torch.nn.functional.kl_div: pointwise `target * (log(target) - input)` (0 where target is 0), or
 * `exp(target) * (target - input)` with `logTarget`; then reduced ('batchmean' for the divergence per
 * sample of the first axis).
 */
export function klDiv(input: NdArray, target: NdArray, options: KlDivOptions = {}): NdArray {
  const op = "klDiv";
  checkOptions(op, options, ["reduction", "logTarget"]);
  checkSameShape(op, input, target);
  const reduction =
    checkOptionValue(op, "reduction", options.reduction, [...REDUCTIONS, "batchmean"]) ?? "mean";
  const pointwise =
    (options.logTarget ?? false)
      ? multiply(exp(target), subtract(target, input))
      : subtract(xlogy(target, target), multiply(target, input));
  if (reduction !== "batchmean") return reduceLoss(op, pointwise, reduction);
  const total = sum(pointwise);
  return input.ndim === 0 ? total : divide(total, input.shape[0]!);
}

/** Options of `cosineEmbedding`, as torch.nn.functional.cosine_embedding_loss's. */
export interface CosineEmbeddingOptions extends ReductionOptions {
  /** The similarity below which a dissimilar pair (y = -1) costs nothing (default 0). */
  margin?: number;
}

/** PyTorch's guard added to each squared norm in cosine_embedding_loss. */
const COSINE_EPSILON = 1e-12;

/**
 * The cosine embedding loss, as torch.nn.functional.cosine_embedding_loss: for rows x1, x2 ([N, D], or
 * [D] with a 0-d y) and labels y ([N]) of 1 (similar) or -1 (dissimilar), `1 - cos(x1, x2)` where y = 1
 * and `max(0, cos(x1, x2) - margin)` where y = -1 (other labels cost 0, as PyTorch), with
 * `cos = x1·x2 / sqrt((|x1|² + 1e-12)(|x2|² + 1e-12))`.
 */
export function cosineEmbedding(
  x1: NdArray,
  x2: NdArray,
  y: NdArray,
  options: CosineEmbeddingOptions = {},
): NdArray {
  const op = "cosineEmbedding";
  checkOptions(op, options, ["reduction", "margin"]);
  checkSameShape(op, x1, x2);
  if (x1.ndim !== 1 && x1.ndim !== 2) {
    throw new ShapeError(`${op}: inputs must be [N, D] or [D], got ${fmtShape(x1.shape)}`);
  }
  const expected = x1.shape.slice(0, -1);
  if (!shapeEquals(y.shape, expected)) {
    throw new ShapeError(
      `${op}: target must have shape ${fmtShape(expected)} for inputs ${fmtShape(x1.shape)}, got ${fmtShape(y.shape)}`,
    );
  }
  const margin = options.margin ?? 0;
  const axis = x1.ndim - 1;
  const dot = sum(multiply(x1, x2), { axis });
  const norms = multiply(
    add(sum(multiply(x1, x1), { axis }), COSINE_EPSILON),
    add(sum(multiply(x2, x2), { axis }), COSINE_EPSILON),
  );
  const cos = divide(dot, sqrt(norms));
  const dissimilar = subtract(cos, margin);
  // clamp_min(0): PyTorch passes the gradient at exactly 0.
  const hinge = where(greaterEqual(dissimilar, 0), dissimilar, 0);
  const loss = add(where(equal(y, 1), subtract(1, cos), 0), where(equal(y, -1), hinge, 0));
  return reduceLoss(op, loss, options.reduction);
}

/** Options of `marginRanking`, as torch.nn.functional.margin_ranking_loss's. */
export interface MarginRankingOptions extends ReductionOptions {
  /** The margin by which the preferred input should win (default 0). */
  margin?: number;
}

/**
 * The margin ranking loss, as torch.nn.functional.margin_ranking_loss: `max(0, -y * (x1 - x2) + margin)`
 * for inputs x1, x2 and labels y (1: x1 should rank higher, -1: x2), all of one shape; the gradient passes
 * where the hinge is exactly 0, as PyTorch's clamp_min.
 */
export function marginRanking(
  x1: NdArray,
  x2: NdArray,
  y: NdArray,
  options: MarginRankingOptions = {},
): NdArray {
  const op = "marginRanking";
  checkOptions(op, options, ["reduction", "margin"]);
  checkSameShape(op, x1, x2);
  checkSameShape(op, x1, y);
  const margin = options.margin ?? 0;
  const raw = add(multiply(negative(y), subtract(x1, x2)), margin);
  return reduceLoss(op, where(greaterEqual(raw, 0), raw, 0), options.reduction);
}
