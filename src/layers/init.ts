/**
 * Parameter initializers, as torch.nn.init: each is a function `(key, shape, dtype) => array`.
 * Fans follow PyTorch: for a weight [out, in, ...kernel], fanIn = in * prod(kernel) and
 * fanOut = out * prod(kernel).
 * @module
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { fmtShape } from "../core/shape.js";
import { full } from "../ops/creation.js";
import { type Key, normal as normalSample, uniform as uniformSample } from "../random/index.js";

/** The dtypes parameters can have. */
export type FloatDType = "float32" | "float64";

/** An initializer: a fresh array of `shape` and `dtype` (default float32) drawn with `key`. */
export type Initializer = (key: Key, shape: readonly number[], dtype?: FloatDType) => NdArray;

/** PyTorch's fan-in and fan-out of a weight of `shape` (at least 2 dims). */
export function fans(shape: readonly number[], who = "init"): { fanIn: number; fanOut: number } {
  if (shape.length < 2) {
    throw new RangeError(
      `${who}: fan in and fan out need a weight of at least 2 dims, got ${fmtShape(shape)}`,
    );
  }
  const receptive = shape.slice(2).reduce((a, d) => a * d, 1);
  return { fanIn: shape[1]! * receptive, fanOut: shape[0]! * receptive };
}

/** The nonlinearities `calculateGain` knows (torch.nn.init's names, in camelCase). */
export type Nonlinearity = "linear" | "conv" | "sigmoid" | "tanh" | "relu" | "leakyRelu" | "selu";

/** torch.nn.init.calculate_gain: the recommended scale for a nonlinearity (`param` is leakyRelu's slope). */
export function calculateGain(nonlinearity: Nonlinearity, param = 0.01): number {
  switch (nonlinearity) {
    case "linear":
    case "conv":
    case "sigmoid":
      return 1;
    case "tanh":
      return 5 / 3;
    case "relu":
      return Math.SQRT2;
    case "leakyRelu":
      return Math.sqrt(2 / (1 + param * param));
    case "selu":
      return 3 / 4;
  }
}

/** Options of `kaimingUniform` and `kaimingNormal`, as torch.nn.init's kaiming_*_ arguments. */
export interface KaimingOptions {
  /** The negative slope of the leaky ReLU that follows (0 by default, as torch). */
  a?: number;
  /** Preserve the variance of the forward pass (fanIn, default) or of the backward pass (fanOut). */
  mode?: "fanIn" | "fanOut";
  /** Default leakyRelu with slope `a`, as torch. */
  nonlinearity?: Nonlinearity;
}

const NONLINEARITIES: readonly Nonlinearity[] = [
  "linear",
  "conv",
  "sigmoid",
  "tanh",
  "relu",
  "leakyRelu",
  "selu",
];

function checkKaimingOptions(who: string, options: KaimingOptions): void {
  checkOptions(who, options, ["a", "mode", "nonlinearity"]);
  checkOptionValue(who, "mode", options.mode, ["fanIn", "fanOut"]);
  checkOptionValue(who, "nonlinearity", options.nonlinearity, NONLINEARITIES);
}

function kaimingStd(shape: readonly number[], options: KaimingOptions, who: string): number {
  const { fanIn, fanOut } = fans(shape, who);
  const fan = (options.mode ?? "fanIn") === "fanIn" ? fanIn : fanOut;
  const gain = calculateGain(options.nonlinearity ?? "leakyRelu", options.a ?? 0);
  return gain / Math.sqrt(fan);
}

/** Uniform(-b, b) with b = gain * sqrt(3 / fan): torch.nn.init.kaiming_uniform_. */
export function kaimingUniform(options: KaimingOptions = {}): Initializer {
  checkKaimingOptions("kaimingUniform", options);
  return (key, shape, dtype = "float32") => {
    const bound = Math.sqrt(3) * kaimingStd(shape, options, "kaimingUniform");
    return uniformSample(key, shape, { minval: -bound, maxval: bound, dtype });
  };
}

/** Normal(0, std) with std = gain / sqrt(fan): torch.nn.init.kaiming_normal_. */
export function kaimingNormal(options: KaimingOptions = {}): Initializer {
  checkKaimingOptions("kaimingNormal", options);
  return (key, shape, dtype = "float32") =>
    normalSample(key, shape, { dtype }).mul(kaimingStd(shape, options, "kaimingNormal"));
}

/** Uniform(-b, b) with b = gain * sqrt(6 / (fanIn + fanOut)): torch.nn.init.xavier_uniform_. */
export function xavierUniform(options: { gain?: number } = {}): Initializer {
  checkOptions("xavierUniform", options, ["gain"]);
  return (key, shape, dtype = "float32") => {
    const { fanIn, fanOut } = fans(shape, "xavierUniform");
    const bound = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
    return uniformSample(key, shape, { minval: -bound, maxval: bound, dtype });
  };
}

/** Normal(0, std) with std = gain * sqrt(2 / (fanIn + fanOut)): torch.nn.init.xavier_normal_. */
export function xavierNormal(options: { gain?: number } = {}): Initializer {
  checkOptions("xavierNormal", options, ["gain"]);
  return (key, shape, dtype = "float32") => {
    const { fanIn, fanOut } = fans(shape, "xavierNormal");
    return normalSample(key, shape, { dtype }).mul((options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut)));
  };
}

/** Normal(mean, std), by default N(0, 1) as torch.nn.init.normal_. */
export function normal(options: { mean?: number; std?: number } = {}): Initializer {
  checkOptions("normal", options, ["mean", "std"]);
  const mean = options.mean ?? 0;
  const std = options.std ?? 1;
  return (key, shape, dtype = "float32") => {
    const z = normalSample(key, shape, { dtype });
    const scaled = std === 1 ? z : z.mul(std);
    return mean === 0 ? scaled : scaled.add(mean);
  };
}

/** Uniform(minval, maxval), by default U(0, 1) as torch.nn.init.uniform_. */
export function uniform(options: { minval?: number; maxval?: number } = {}): Initializer {
  checkOptions("uniform", options, ["minval", "maxval"]);
  return (key, shape, dtype = "float32") =>
    uniformSample(key, shape, { minval: options.minval ?? 0, maxval: options.maxval ?? 1, dtype });
}

/** Every element `value`. */
export function constant(value: number): Initializer {
  return (_key, shape, dtype = "float32") => full(shape, value, { dtype });
}

/** All zeros (torch.nn.init.zeros_). */
export const zeros: Initializer = constant(0);
/** All ones (torch.nn.init.ones_). */
export const ones: Initializer = constant(1);

/**
 * PyTorch's default for Linear and Conv weights: kaiming_uniform_ with a = sqrt(5), which works out to
 * Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)).
 */
export const torchDefaultWeight: Initializer = kaimingUniform({ a: Math.sqrt(5) });

/** PyTorch's default for Linear and Conv biases: Uniform(-1/sqrt(fanIn), 1/sqrt(fanIn)), fanIn of the weight. */
export function torchDefaultBias(fanIn: number): Initializer {
  const bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
  return uniform({ minval: -bound, maxval: bound });
}
