/**
 * PyTorch-compatible convolution and pooling (torch.nn.functional.conv2d, conv_transpose2d, max_pool2d,
 * avg_pool2d) on NCHW input, with PyTorch's argument forms and checks. A 3-D input [C, H, W] is one
 * unbatched image, as in PyTorch.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, type Shape, ShapeError } from "../core/shape.js";
import { add, promoteOperands } from "../ops/binary.js";
import {
  type ConvParams,
  checkConvChannels,
  conv2dGeneral,
  conv2dInputGrad,
  convOutputSize,
  type Pair,
} from "../ops/conv.js";
import { reshape } from "../ops/layout.js";
import { avgPool2dGeneral, maxPool2dGeneral } from "../ops/pool.js";

/** One number for both spatial dimensions, or [height, width]. */
export type IntPair = number | readonly [number, number];

export interface Conv2dOptions {
  stride?: IntPair;
  /** 'valid' (none), 'same' (output size = input size; stride 1 only), or zeros on each side. */
  padding?: "valid" | "same" | IntPair;
  dilation?: IntPair;
  groups?: number;
}

export interface ConvTranspose2dOptions {
  stride?: IntPair;
  /** Implicit padding removed from both sides of the output: dilation*(k-1) - padding zeros of the input. */
  padding?: IntPair;
  /** Extra rows/columns added at the bottom/right of the output (smaller than stride or dilation). */
  outputPadding?: IntPair;
  groups?: number;
  dilation?: IntPair;
}

export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** -infinity on each side, at most half the kernel. */
  padding?: IntPair;
}

export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: IntPair;
  /** Zeros on each side, at most half the kernel. */
  padding?: IntPair;
  /** Count the padding zeros in the divisor (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Divide every window by this instead. */
  divisorOverride?: number;
}

function pair(op: string, name: string, v: IntPair, min: number): Pair {
  const p: Pair = typeof v === "number" ? [v, v] : v;
  if (p.length !== 2 || !p.every((d) => Number.isInteger(d) && d >= min)) {
    throw new RangeError(
      `${op}: ${name} must be ${min > 0 ? "a positive" : "a non-negative"} integer or a pair of them, got ${JSON.stringify(v)}`,
    );
  }
  return p;
}

function checkGroups(op: string, groups: number): number {
  if (!Number.isInteger(groups) || groups < 1)
    throw new RangeError(`${op}: groups must be a positive integer, got ${groups}`);
  return groups;
}

/** A 3-D input as a batch of one; returns the 4-D input and how to shape the result back. */
function batched(op: string, x: NdArray, what: string): [NdArray, (y: NdArray) => NdArray] {
  if (x.ndim === 4) return [x, (y) => y];
  if (x.ndim === 3) return [reshape(x, [1, ...x.shape]), (y) => reshape(y, y.shape.slice(1))];
  throw new ShapeError(
    `${op}: expected a 3-D (unbatched) or 4-D (batched) input ${what}, got ${fmtShape(x.shape)}`,
  );
}

function checkWeight(op: string, w: NdArray, layout: string): void {
  if (w.ndim !== 4) throw new ShapeError(`${op}: expected a 4-D weight ${layout}, got ${fmtShape(w.shape)}`);
}

function addBias(op: string, y: NdArray, bias: NdArray | null | undefined, channels: number): NdArray {
  if (bias === null || bias === undefined) return y;
  if (bias.ndim !== 1 || bias.shape[0] !== channels) {
    throw new ShapeError(
      `${op}: bias has shape ${fmtShape(bias.shape)} but there are ${channels} output channels`,
    );
  }
  return add(y, reshape(bias, [1, channels, 1, 1]));
}

/** Operands in one float dtype (integers become float32), as numpy promotion would give. */
function floatOperands(op: string, xs: (NdArray | null | undefined)[]): (NdArray | undefined)[] {
  const present = xs.filter((v): v is NdArray => v !== null && v !== undefined);
  const promoted = promoteOperands(op, present, "float");
  let k = 0;
  return xs.map((v) => (v === null || v === undefined ? undefined : promoted[k++]));
}

/**
 * 2-D convolution (cross-correlation) of x [N, C_in, H, W] (or [C_in, H, W]) with weight
 * [C_out, C_in/groups, kh, kw], plus bias [C_out]: torch.nn.functional.conv2d.
 */
export function conv2d(
  x: NdArray,
  weight: NdArray,
  bias?: NdArray | null,
  options: Conv2dOptions = {},
): NdArray {
  const op = "conv2d";
  checkOptions(op, options, ["stride", "padding", "dilation", "groups"]);
  const [x4, unbatch] = batched(op, x, "[N, C, H, W]");
  checkWeight(op, weight, "[out_channels, in_channels/groups, kh, kw]");
  const groups = checkGroups(op, options.groups ?? 1);
  checkConvChannels(op, x.shape, weight.shape, groups);
  const stride = pair(op, "stride", options.stride ?? 1, 1);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  const padding = convPadding(op, options.padding ?? 0, stride, dilation, weight.shape);
  const [xf, wf, bf] = floatOperands(op, [x4, weight, bias]);
  checkNonEmpty(op, x.shape, weight.shape, { stride, padding, dilation, groups });
  const y = conv2dGeneral(xf!, wf!, { stride, padding, dilation, groups });
  return unbatch(addBias(op, y, bf, weight.shape[0]!));
}

/** PyTorch's padding forms as [[top, bottom], [left, right]]. */
function convPadding(
  op: string,
  padding: "valid" | "same" | IntPair,
  stride: Pair,
  dilation: Pair,
  wShape: Shape,
): [Pair, Pair] {
  if (padding === "valid")
    return [
      [0, 0],
      [0, 0],
    ];
  if (padding === "same") {
    if (stride[0] !== 1 || stride[1] !== 1)
      throw new RangeError(`${op}: padding='same' is not supported for strided convolutions`);
    // The total padding is dilation*(k-1); an odd total puts the extra row/column at the bottom/right.
    const side = (a: 0 | 1): Pair => {
      const total = dilation[a] * (wShape[a + 2]! - 1);
      const before = Math.floor(total / 2);
      return [before, total - before];
    };
    return [side(0), side(1)];
  }
  if (typeof padding === "string")
    throw new RangeError(`${op}: padding must be 'valid', 'same', a number or a pair, got '${padding}'`);
  const [ph, pw] = pair(op, "padding", padding, 0);
  return [
    [ph, ph],
    [pw, pw],
  ];
}

function checkNonEmpty(op: string, xShape: Shape, wShape: Shape, p: ConvParams): void {
  const r = xShape.length;
  const oh = convOutputSize(xShape[r - 2]!, wShape[2]!, p.stride[0], p.padding[0], p.dilation[0]);
  const ow = convOutputSize(xShape[r - 1]!, wShape[3]!, p.stride[1], p.padding[1], p.dilation[1]);
  if (oh < 1 || ow < 1) {
    throw new ShapeError(
      `${op}: output would be empty (${oh}x${ow}): the padded input is smaller than the dilated kernel: ` +
        `x ${fmtShape(xShape)}, w ${fmtShape(wShape)}, padding ${JSON.stringify(p.padding)}, dilation ${JSON.stringify(p.dilation)}`,
    );
  }
}

/**
 * Transposed convolution (the gradient of conv2d with respect to its input) of x [N, C_in, H, W] with
 * weight [C_in, C_out/groups, kh, kw], plus bias [C_out]: torch.nn.functional.conv_transpose2d. The output
 * has H_out = (H-1)*stride - 2*padding + dilation*(kh-1) + outputPadding + 1 rows.
 */
export function convTranspose2d(
  x: NdArray,
  weight: NdArray,
  bias?: NdArray | null,
  options: ConvTranspose2dOptions = {},
): NdArray {
  const op = "convTranspose2d";
  checkOptions(op, options, ["stride", "padding", "outputPadding", "groups", "dilation"]);
  const [x4, unbatch] = batched(op, x, "[N, C_in, H, W]");
  checkWeight(op, weight, "[in_channels, out_channels/groups, kh, kw]");
  const groups = checkGroups(op, options.groups ?? 1);
  const inChannels = x.shape[x.ndim - 3]!;
  const shapes = `x ${fmtShape(x.shape)}, w ${fmtShape(weight.shape)}`;
  if (weight.shape[0] !== inChannels) {
    throw new ShapeError(
      `${op}: input has ${inChannels} channels but weight expects ${weight.shape[0]}: ${shapes}`,
    );
  }
  if (inChannels % groups !== 0)
    throw new ShapeError(
      `${op}: ${inChannels} input channels are not divisible by groups=${groups}: ${shapes}`,
    );
  const stride = pair(op, "stride", options.stride ?? 1, 1);
  const dilation = pair(op, "dilation", options.dilation ?? 1, 1);
  const pad = pair(op, "padding", options.padding ?? 0, 0);
  const outputPadding = pair(op, "outputPadding", options.outputPadding ?? 0, 0);
  for (const a of [0, 1] as const) {
    if (outputPadding[a] >= Math.max(stride[a], dilation[a])) {
      throw new RangeError(
        `${op}: output padding must be smaller than either stride or dilation, got outputPadding ${JSON.stringify(outputPadding)}, ` +
          `stride ${JSON.stringify(stride)}, dilation ${JSON.stringify(dilation)}`,
      );
    }
  }
  const [n, , h, w] = x4.shape as [number, number, number, number];
  const outSize = (a: 0 | 1, inSize: number) =>
    (inSize - 1) * stride[a] - 2 * pad[a] + dilation[a] * (weight.shape[a + 2]! - 1) + outputPadding[a] + 1;
  const oh = outSize(0, h);
  const ow = outSize(1, w);
  if (oh < 1 || ow < 1)
    throw new ShapeError(
      `${op}: output would be empty (${oh}x${ow}): ${shapes}, padding ${JSON.stringify(pad)}`,
    );
  // This is conv2d's input gradient for a conv2d from [N, C_out, oh, ow]. Output padding beyond stride-1
  // (possible when dilation > stride) would make that conv2d's output larger than x: the forward conv
  // crops it with negative bottom/right padding instead, which does not move any tap.
  const side = (a: 0 | 1): Pair => [pad[a], pad[a] - Math.max(0, outputPadding[a] - stride[a] + 1)];
  const outChannels = weight.shape[1]! * groups;
  const [xf, wf, bf] = floatOperands(op, [x4, weight, bias]);
  const y = conv2dInputGrad(xf!, wf!, { stride, padding: [side(0), side(1)], dilation, groups }, [
    n,
    outChannels,
    oh,
    ow,
  ]);
  return unbatch(addBias(op, y, bf, outChannels));
}

function poolParams(
  op: string,
  x: NdArray,
  kernel: IntPair,
  stride: IntPair | undefined,
  padding: IntPair | undefined,
) {
  const k = pair(op, "kernel", kernel, 1);
  const s = pair(op, "stride", stride ?? k, 1);
  const p = pair(op, "padding", padding ?? 0, 0);
  if (p[0] > k[0] / 2 || p[1] > k[1] / 2) {
    throw new RangeError(
      `${op}: padding should be at most half of the kernel size, got padding ${JSON.stringify(p)}, kernel ${JSON.stringify(k)}`,
    );
  }
  const r = x.ndim;
  const oh = convOutputSize(x.shape[r - 2]!, k[0], s[0], [p[0], p[0]], 1);
  const ow = convOutputSize(x.shape[r - 1]!, k[1], s[1], [p[1], p[1]], 1);
  if (oh < 1 || ow < 1) {
    throw new ShapeError(
      `${op}: output would be empty (${oh}x${ow}): input ${fmtShape(x.shape)} is smaller than the kernel ${JSON.stringify(k)} with padding ${JSON.stringify(p)}`,
    );
  }
  return {
    kernel: k,
    stride: s,
    padding: [
      [p[0], p[0]],
      [p[1], p[1]],
    ] as const,
  };
}

function floatInput(op: string, x: NdArray): void {
  if (x.dtype !== "float32" && x.dtype !== "float64")
    throw new TypeError(`${op}: expected a float32 or float64 input, got ${x.dtype}`);
}

/** Max pooling over kernel windows (padding is -infinity; floor output size): torch.nn.functional.max_pool2d. */
export function maxPool2d(x: NdArray, kernel: IntPair, options: MaxPool2dOptions = {}): NdArray {
  const op = "maxPool2d";
  checkOptions(op, options, ["stride", "padding"]);
  const [x4, unbatch] = batched(op, x, "[N, C, H, W]");
  floatInput(op, x);
  return unbatch(maxPool2dGeneral(x4, poolParams(op, x, kernel, options.stride, options.padding)));
}

/** Average pooling over kernel windows: torch.nn.functional.avg_pool2d. */
export function avgPool2d(x: NdArray, kernel: IntPair, options: AvgPool2dOptions = {}): NdArray {
  const op = "avgPool2d";
  checkOptions(op, options, ["stride", "padding", "countIncludePad", "divisorOverride"]);
  const [x4, unbatch] = batched(op, x, "[N, C, H, W]");
  floatInput(op, x);
  const params = poolParams(op, x, kernel, options.stride, options.padding);
  const { divisorOverride } = options;
  if (divisorOverride !== undefined && !(Number.isFinite(divisorOverride) && divisorOverride !== 0)) {
    throw new RangeError(`${op}: divisorOverride must be a non-zero number, got ${divisorOverride}`);
  }
  const countIncludePad = options.countIncludePad ?? true;
  return unbatch(
    avgPool2dGeneral(x4, {
      ...params,
      countIncludePad,
      ...(divisorOverride !== undefined ? { divisorOverride } : {}),
    }),
  );
}
