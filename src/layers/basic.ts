/**
 * Leaf layers, as the torch.nn modules of the same names: linear, conv2d, pooling, flatten,
 * activations and dropout. Parameter names, shapes, default initializations and reprs follow PyTorch, so
 * a params tree maps one to one onto a state_dict.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import {
  relu as reluFn,
  sigmoid as sigmoidFn,
  softmax as softmaxFn,
  tanh as tanhFn,
} from "../nn/activations.js";
import { avgPool2d as avgPool2dFn, conv2d as conv2dFn, maxPool2d as maxPool2dFn } from "../nn/conv.js";
import { checkDropoutRate, dropout as dropoutFn } from "../nn/dropout.js";
import { add } from "../ops/binary.js";
import { flatten as flattenArray, matrixTranspose } from "../ops/layout.js";
import { matmul } from "../ops/linalg.js";
import { fans, type Initializer, torchDefaultBias, torchDefaultWeight } from "./init.js";
import {
  defineLayer,
  describeAt,
  type ForwardContext,
  type Layer,
  type SpecTree,
  spec,
  splitKeys,
} from "./layer.js";

/** Runs a leaf layer's computation, prefixing shape errors from the ops with the layer's path and name. */
export function withLayerContext<T>(layerName: string, ctx: ForwardContext, compute: () => T): T {
  try {
    return compute();
  } catch (err) {
    if (err instanceof ShapeError && !err.message.startsWith(describeAt(layerName, ctx.path))) {
      throw new ShapeError(`${describeAt(layerName, ctx.path)}: ${err.message}`);
    }
    throw err;
  }
}

function checkCount(who: string, what: string, n: number, min = 1): void {
  if (!Number.isInteger(n) || n < min)
    throw new RangeError(`${who}: ${what} must be an integer >= ${min}, got ${n}`);
}

/** A (height, width) pair, as PyTorch's int-or-tuple arguments. */
export type Pair = readonly [number, number];
const pairOf = (v: number | Pair): Pair => (typeof v === "number" ? [v, v] : v);
/** Python's repr of a tuple of two ints: (5, 5). */
const pyPair = (p: Pair): string => `(${p[0]}, ${p[1]})`;
/** As torch prints an int-or-tuple argument: the int as is, a tuple as (a, b). */
const pyIntOrPair = (v: number | Pair): string => (typeof v === "number" ? String(v) : pyPair(v));

/** Python's repr of a float: 0.5, 0.1, 1e-05, 0.0. */
export function pyFloat(x: number): string {
  if (Number.isInteger(x) && Math.abs(x) < 1e16) return `${x}.0`;
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e16) {
    const [mantissa, exponent] = x.toExponential().split("e");
    const sign = exponent!.startsWith("-") ? "-" : "+";
    return `${mantissa}e${sign}${exponent!.replace(/^[+-]/, "").padStart(2, "0")}`;
  }
  return String(x);
}

export const pyBool = (b: boolean): string => (b ? "True" : "False");

// ---------------------------------------------------------------------------------------------------
// linear

/** The parameters of linear and conv2d layers (`bias` absent with `bias: false`). */
export type WeightAndBias = { weight: NdArray; bias: NdArray };
/** The parameters of linear and conv2d layers made with `bias: false`. */
export type WeightOnly = { weight: NdArray };
/** The parameters of a linear layer: with or without a bias. */
export type LinearParams = WeightAndBias | WeightOnly;

/** Options of `linear`, as torch.nn.Linear's, plus the initializers. */
export interface LinearOptions {
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Default: PyTorch's kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(in), 1/sqrt(in)). */
  weightInit?: Initializer;
  /** Default: U(-1/sqrt(in), 1/sqrt(in)). */
  biasInit?: Initializer;
}

/** torch.nn.Linear: weight [out, in], bias [out], y = x @ weight^T + bias over the last axis of x. */
export function linear(
  inFeatures: number,
  outFeatures: number,
  options?: LinearOptions & { bias?: true },
): Layer<WeightAndBias, null>;
export function linear(
  inFeatures: number,
  outFeatures: number,
  options: LinearOptions & { bias: false },
): Layer<WeightOnly, null>;
export function linear(
  inFeatures: number,
  outFeatures: number,
  options?: LinearOptions,
): Layer<LinearParams, null>;
export function linear(
  inFeatures: number,
  outFeatures: number,
  options: LinearOptions = {},
): Layer<LinearParams, null> {
  checkCount("linear", "inFeatures", inFeatures);
  checkOptions("linear", options, ["bias", "weightInit", "biasInit"]);
  checkCount("linear", "outFeatures", outFeatures);
  const useBias = options.bias ?? true;
  const name = `linear ${inFeatures}->${outFeatures}`;
  const weightInit = options.weightInit ?? torchDefaultWeight;
  const biasInit = options.biasInit ?? torchDefaultBias(inFeatures);
  return defineLayer<LinearParams>({
    name,
    repr: `Linear(in_features=${inFeatures}, out_features=${outFeatures}, bias=${pyBool(useBias)})`,
    paramSpec: (dtype): SpecTree =>
      useBias
        ? { weight: spec([outFeatures, inFeatures], dtype), bias: spec([outFeatures], dtype) }
        : { weight: spec([outFeatures, inFeatures], dtype) },
    init(key, dtype) {
      const [wKey, bKey] = splitKeys(key, 2);
      const weight = weightInit(wKey, [outFeatures, inFeatures], dtype);
      return useBias ? { weight, bias: biasInit(bKey, [outFeatures], dtype) } : { weight };
    },
    forward(params, state, x, ctx) {
      if (x.ndim < 1 || x.shape[x.ndim - 1] !== inFeatures) {
        throw new ShapeError(
          `${describeAt(name, ctx.path)}: expected input [...,${inFeatures}], got ${fmtShape(x.shape)}`,
        );
      }
      const y = withLayerContext(name, ctx, () => matmul(x, matrixTranspose(params.weight)));
      return { y: "bias" in params ? add(y, params.bias) : y, state };
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// conv2d

/** The parameters of a conv2d layer: with or without a bias. */
export type Conv2dParams = LinearParams;

/** Options of `conv2d`, as torch.nn.Conv2d's, plus the initializers. */
export interface Conv2dOptions {
  /** The step between windows (default 1). */
  stride?: number | Pair;
  /** Zeros added on both sides: rows top and bottom, columns left and right. */
  padding?: number | Pair;
  /** The spacing between kernel elements (default 1). */
  dilation?: number | Pair;
  /** Split channels into this many independent groups (inChannels and outChannels must divide). */
  groups?: number;
  /** Add a learned bias (default true). */
  bias?: boolean;
  /** Default: PyTorch's kaiming-uniform with a = sqrt(5), i.e. U(-1/sqrt(fanIn), 1/sqrt(fanIn)). */
  weightInit?: Initializer;
  /** Default: U(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn = in/groups * kh * kw. */
  biasInit?: Initializer;
}

/** torch.nn.Conv2d on NCHW input: weight [out, in/groups, kh, kw], bias [out]. */
export function conv2d(
  inChannels: number,
  outChannels: number,
  kernelSize: number | Pair,
  options?: Conv2dOptions & { bias?: true },
): Layer<WeightAndBias, null>;
export function conv2d(
  inChannels: number,
  outChannels: number,
  kernelSize: number | Pair,
  options: Conv2dOptions & { bias: false },
): Layer<WeightOnly, null>;
export function conv2d(
  inChannels: number,
  outChannels: number,
  kernelSize: number | Pair,
  options?: Conv2dOptions,
): Layer<Conv2dParams, null>;
export function conv2d(
  inChannels: number,
  outChannels: number,
  kernelSize: number | Pair,
  options: Conv2dOptions = {},
): Layer<Conv2dParams, null> {
  checkCount("conv2d", "inChannels", inChannels);
  checkOptions("conv2d", options, [
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "weightInit",
    "biasInit",
  ]);
  checkCount("conv2d", "outChannels", outChannels);
  const kernel = pairOf(kernelSize);
  const stride = pairOf(options.stride ?? 1);
  const padding = pairOf(options.padding ?? 0);
  const dilation = pairOf(options.dilation ?? 1);
  const groups = options.groups ?? 1;
  kernel.forEach((k) => checkCount("conv2d", "kernelSize", k));
  checkCount("conv2d", "groups", groups);
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(
      `conv2d: inChannels ${inChannels} and outChannels ${outChannels} must both be divisible by groups ${groups}`,
    );
  }
  const useBias = options.bias ?? true;
  const weightShape = [outChannels, inChannels / groups, kernel[0], kernel[1]];
  const kernelText = kernel[0] === kernel[1] ? String(kernel[0]) : `${kernel[0]}x${kernel[1]}`;
  const name = `conv2d ${inChannels}->${outChannels}, k=${kernelText}`;
  const extras = [
    padding[0] !== 0 || padding[1] !== 0 ? `, padding=${pyPair(padding)}` : "",
    dilation[0] !== 1 || dilation[1] !== 1 ? `, dilation=${pyPair(dilation)}` : "",
    groups !== 1 ? `, groups=${groups}` : "",
    useBias ? "" : ", bias=False",
  ].join("");
  const weightInit = options.weightInit ?? torchDefaultWeight;
  const biasInit = options.biasInit ?? torchDefaultBias(fans(weightShape).fanIn);
  return defineLayer<Conv2dParams>({
    name,
    repr: `Conv2d(${inChannels}, ${outChannels}, kernel_size=${pyPair(kernel)}, stride=${pyPair(stride)}${extras})`,
    paramSpec: (dtype): SpecTree =>
      useBias
        ? { weight: spec(weightShape, dtype), bias: spec([outChannels], dtype) }
        : { weight: spec(weightShape, dtype) },
    init(key, dtype) {
      const [wKey, bKey] = splitKeys(key, 2);
      const weight = weightInit(wKey, weightShape, dtype);
      return useBias ? { weight, bias: biasInit(bKey, [outChannels], dtype) } : { weight };
    },
    forward(params, state, x, ctx) {
      if (x.ndim !== 4 || x.shape[1] !== inChannels) {
        throw new ShapeError(
          `${describeAt(name, ctx.path)}: expected input [N,${inChannels},H,W], got ${fmtShape(x.shape)}`,
        );
      }
      const bias = "bias" in params ? params.bias : undefined;
      const y = withLayerContext(name, ctx, () =>
        conv2dFn(x, params.weight, bias, { stride, padding, dilation, groups }),
      );
      return { y, state };
    },
  });
}

// ---------------------------------------------------------------------------------------------------
// parameterless layers

/** A layer without parameters or state from a function of the input; `repr` is what summary prints. */
export function lambda(
  fn: (x: NdArray) => NdArray,
  options: { name?: string; repr?: string } = {},
): Layer<null, null> {
  const name = options.name ?? "lambda";
  checkOptions("lambda", options, ["name", "repr"]);
  return defineLayer<null>({
    name,
    repr: options.repr ?? "Lambda()",
    paramSpec: () => null,
    init: () => null,
    forward: (_params, state, x, ctx) => ({ y: withLayerContext(name, ctx, () => fn(x)), state }),
  });
}

function requireImages(name: string, x: NdArray, ctx: ForwardContext): void {
  if (x.ndim !== 4)
    throw new ShapeError(`${describeAt(name, ctx.path)}: expected input [N,C,H,W], got ${fmtShape(x.shape)}`);
}

/** Options of `maxPool2d`, as torch.nn.MaxPool2d's. */
export interface MaxPool2dOptions {
  /** Default: the kernel size (non-overlapping windows). */
  stride?: number | Pair;
  /** Implicit -infinity padding on both sides, smaller than the kernel. */
  padding?: number | Pair;
}

/** torch.nn.MaxPool2d (floor output size, -infinity padding). */
export function maxPool2d(kernelSize: number | Pair, options: MaxPool2dOptions = {}): Layer<null, null> {
  checkOptions("maxPool2d", options, ["stride", "padding"]);
  const stride = options.stride ?? kernelSize;
  const padding = options.padding ?? 0;
  const name = `maxPool2d k=${pyIntOrPair(kernelSize)}`;
  return defineLayer<null>({
    name,
    repr: `MaxPool2d(kernel_size=${pyIntOrPair(kernelSize)}, stride=${pyIntOrPair(stride)}, padding=${pyIntOrPair(padding)}, dilation=1, ceil_mode=False)`,
    paramSpec: () => null,
    init: () => null,
    forward(_params, state, x, ctx) {
      requireImages(name, x, ctx);
      return { y: withLayerContext(name, ctx, () => maxPool2dFn(x, kernelSize, { stride, padding })), state };
    },
  });
}

/** Options of `avgPool2d`, as torch.nn.AvgPool2d's. */
export interface AvgPool2dOptions extends MaxPool2dOptions {
  /** Count padding zeros in the divisor (default true, as torch). */
  countIncludePad?: boolean;
}

/** torch.nn.AvgPool2d. */
export function avgPool2d(kernelSize: number | Pair, options: AvgPool2dOptions = {}): Layer<null, null> {
  checkOptions("avgPool2d", options, ["stride", "padding", "countIncludePad"]);
  const stride = options.stride ?? kernelSize;
  const padding = options.padding ?? 0;
  const countIncludePad = options.countIncludePad ?? true;
  const name = `avgPool2d k=${pyIntOrPair(kernelSize)}`;
  const extra = countIncludePad ? "" : ", count_include_pad=False";
  return defineLayer<null>({
    name,
    repr: `AvgPool2d(kernel_size=${pyIntOrPair(kernelSize)}, stride=${pyIntOrPair(stride)}, padding=${pyIntOrPair(padding)}${extra})`,
    paramSpec: () => null,
    init: () => null,
    forward(_params, state, x, ctx) {
      requireImages(name, x, ctx);
      return {
        y: withLayerContext(name, ctx, () =>
          avgPool2dFn(x, kernelSize, { stride, padding, countIncludePad }),
        ),
        state,
      };
    },
  });
}

/** torch.nn.Flatten: axes startAxis..endAxis merged into one (default 1..-1, keeping the batch axis). */
export function flatten(options: { startAxis?: number; endAxis?: number } = {}): Layer<null, null> {
  checkOptions("flatten", options, ["startAxis", "endAxis"]);
  const startAxis = options.startAxis ?? 1;
  const endAxis = options.endAxis ?? -1;
  return lambda((x) => flattenArray(x, startAxis, endAxis), {
    name: "flatten",
    repr: `Flatten(start_dim=${startAxis}, end_dim=${endAxis})`,
  });
}

/** torch.nn.ReLU: max(x, 0). */
export const relu = (): Layer<null, null> => lambda(reluFn, { name: "relu", repr: "ReLU()" });
/** torch.nn.Sigmoid: 1 / (1 + exp(-x)). */
export const sigmoid = (): Layer<null, null> => lambda(sigmoidFn, { name: "sigmoid", repr: "Sigmoid()" });
/** torch.nn.Tanh. */
export const tanh = (): Layer<null, null> => lambda(tanhFn, { name: "tanh", repr: "Tanh()" });

/** torch.nn.Softmax along `axis` (default -1). */
export function softmax(options: { axis?: number } = {}): Layer<null, null> {
  checkOptions("softmax", options, ["axis"]);
  const axis = options.axis ?? -1;
  return lambda((x) => softmaxFn(x, { axis }), { name: "softmax", repr: `Softmax(dim=${axis})` });
}

/**
 * torch.nn.Dropout: in training mode each element is zeroed with probability p and the rest scaled by
 * 1/(1-p), using the key passed to apply; in evaluation mode the identity.
 */
export function dropout(p = 0.5): Layer<null, null> {
  checkDropoutRate("dropout", p);
  const name = `dropout p=${p}`;
  return defineLayer<null>({
    name,
    repr: `Dropout(p=${pyFloat(p)}, inplace=False)`,
    paramSpec: (): SpecTree => null,
    init: () => null,
    forward(_params, state, x, ctx) {
      if (!ctx.train || p === 0) return { y: x, state };
      if (ctx.key === undefined) {
        throw new TypeError(
          `${describeAt(name, ctx.path)}: training mode needs a key: apply(params, x, { train: true, key })`,
        );
      }
      return { y: dropoutFn(ctx.key, x, p), state };
    },
  });
}
