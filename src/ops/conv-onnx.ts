/**
 * The ONNX forms of conv2d and its two gradients (their `onnx` rules, ops/conv.ts): Conv, ConvTranspose
 * for the input gradient, and for the weight gradient a Conv over the batch axis with stride and
 * dilation swapped, cropped to the kernel's size.
 */
import type { AbstractValue } from "../core/array.js";
import { OnnxExportError, type OnnxGraph } from "../core/onnx-rule.js";
import type { ConvParams } from "./conv.js";

/** ONNX's pads [top, left, bottom, right]; negative (cropping) pads have no ONNX form. */
function onnxPads(op: string, p: ConvParams): number[] {
  const [[top, bottom], [left, right]] = p.padding;
  const pads = [top, left, bottom, right];
  if (pads.some((x) => x < 0))
    throw new OnnxExportError(
      `onnx export: ${op} with negative (cropping) padding ${JSON.stringify(p.padding)}`,
    );
  return pads;
}

/** conv2d as ONNX Conv. */
export function convToOnnx(g: OnnxGraph, x: string, w: string, p: ConvParams): string {
  return g.node1("Conv", [x, w], {
    strides: p.stride,
    pads: onnxPads("conv2d", p),
    dilations: p.dilation,
    group: p.groups,
  });
}

/**
 * conv2d's input gradient as ConvTranspose of the cotangent with the same weight (whose
 * [O, C/groups, KH, KW] layout is ConvTranspose's [C_in, C_out/groups, KH, KW]); output_padding restores
 * the rows and columns that the forward stride skipped.
 */
export function convInputGradToOnnx(
  g: OnnxGraph,
  ct: string,
  w: string,
  p: ConvParams,
  ctAval: AbstractValue,
  wAval: AbstractValue,
  inputShape: readonly number[],
): string {
  const pads = onnxPads("conv2d_input_grad", p);
  const outputPadding = [0, 1].map((a) => {
    const natural =
      p.stride[a]! * (ctAval.shape[2 + a]! - 1) +
      (wAval.shape[2 + a]! - 1) * p.dilation[a]! +
      1 -
      pads[a]! -
      pads[a + 2]!;
    return inputShape[2 + a]! - natural;
  });
  return g.node1("ConvTranspose", [ct, w], {
    strides: p.stride,
    pads,
    dilations: p.dilation,
    group: p.groups,
    output_padding: outputPadding,
  });
}

/**
 * conv2d's weight gradient: dW[o, c, i, j] = sum over n, p, q of ct[n, o, p, q] * x[n, c, p*s + i*d, q*s + j*d],
 * which is a Conv of x with the batch and channel axes swapped ([C, N, H, W]) by ct so swapped ([O, N, OH, OW]),
 * stride and dilation exchanged, giving [C, O, KH', KW'] (KH' >= KH where the stride skipped the last
 * rows), cropped to the kernel and transposed to [O, C, KH, KW]. Groups > 1 have no such single Conv.
 */
export function convWeightGradToOnnx(
  g: OnnxGraph,
  x: string,
  ct: string,
  p: ConvParams,
  weightShape: readonly number[],
): string {
  if (p.groups !== 1)
    throw new OnnxExportError(
      `onnx export: conv2d_weight_grad with groups=${p.groups} (only groups=1 exports)`,
    );
  const swap = { perm: [1, 0, 2, 3] };
  const full = g.node1("Conv", [g.node1("Transpose", [x], swap), g.node1("Transpose", [ct], swap)], {
    strides: p.dilation,
    pads: onnxPads("conv2d_weight_grad", p),
    dilations: p.stride,
    group: 1,
  });
  const cropped = g.node1("Slice", [
    full,
    g.int64s([0, 0]),
    g.int64s([weightShape[2]!, weightShape[3]!]),
    g.int64s([2, 3]),
  ]);
  return g.node1("Transpose", [cropped], swap);
}

// ---------------------------------------------------------------------------------------------------
// convolution as Gather + MatMul, for dtypes that runtimes have no Conv kernel for (ONNX Runtime's CPU
// Conv and ConvTranspose take float32 only): the patches are gathered with an index table built at export
// time from the static shapes (each plane gets a trailing zero that padding and stride holes point at),
// then contracted with the weight by one MatMul.

interface Planes {
  /** [N, C, H*W + 1]: each plane flattened, with a zero appended. */
  readonly flat: string;
  /** The index of that zero. */
  readonly zero: number;
}

function planesWithZero(g: OnnxGraph, x: string, aval: AbstractValue): Planes {
  const [n, c, h, w] = aval.shape as [number, number, number, number];
  const flat = g.node1("Reshape", [x, g.int64s([n, c, h * w])]);
  const zeros = g.node1("Expand", [g.scalar(0, aval.dtype), g.int64s([n, c, 1])]);
  return { flat: g.node1("Concat", [flat, zeros], { axis: 2 }), zero: h * w };
}

/**
 * Gathers `table` (flat indices, [K, P]) from every plane: [N, C, H*W + 1] -> [N, C*K, P] when
 * `channelsWithTaps`, the layout a MatMul with a [.., C*K] weight contracts.
 */
function gatherPatches(
  g: OnnxGraph,
  planes: Planes,
  table: Int32Array,
  k: number,
  p: number,
  n: number,
  c: number,
): string {
  const indices = g.constant(table, "int32", [k, p]);
  const gathered = g.node1("Gather", [planes.flat, indices], { axis: 2 }); // [N, C, K, P]
  return g.node1("Reshape", [gathered, g.int64s([n, c * k, p])]);
}

/** The table of conv2d's forward patches: [KH*KW, OH*OW] indices into an unpadded H*W plane (or the zero). */
function forwardTable(
  h: number,
  w: number,
  kh: number,
  kw: number,
  oh: number,
  ow: number,
  p: ConvParams,
  zero: number,
): Int32Array {
  const table = new Int32Array(kh * kw * oh * ow);
  let at = 0;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let r = 0; r < oh; r++)
        for (let s = 0; s < ow; s++) {
          const y = r * p.stride[0] + i * p.dilation[0] - p.padding[0][0];
          const x = s * p.stride[1] + j * p.dilation[1] - p.padding[1][0];
          table[at++] = y >= 0 && y < h && x >= 0 && x < w ? y * w + x : zero;
        }
  return table;
}

function checkGroups(op: string, p: ConvParams): void {
  if (p.groups !== 1)
    throw new OnnxExportError(
      `onnx export: ${op} with groups=${p.groups} in float64 (only groups=1 exports)`,
    );
}

/** conv2d as Gather + MatMul. */
export function convByGather(
  g: OnnxGraph,
  x: string,
  w: string,
  p: ConvParams,
  xAval: AbstractValue,
  wAval: AbstractValue,
  outAval: AbstractValue,
): string {
  checkGroups("conv2d", p);
  const [n, c, h, wd] = xAval.shape as [number, number, number, number];
  const [o, , kh, kw] = wAval.shape as [number, number, number, number];
  const [oh, ow] = [outAval.shape[2]!, outAval.shape[3]!];
  const planes = planesWithZero(g, x, xAval);
  const table = forwardTable(h, wd, kh, kw, oh, ow, p, planes.zero);
  const cols = gatherPatches(g, planes, table, kh * kw, oh * ow, n, c); // [N, C*K, P]
  const weight = g.node1("Reshape", [w, g.int64s([o, c * kh * kw])]);
  const out = g.node1("MatMul", [weight, cols]); // [N, O, P]
  return g.node1("Reshape", [out, g.int64s(outAval.shape)]);
}

/** conv2d's weight gradient as Gather + MatMul: ct [O, N*P] by the patches [N*P, C*K]. */
export function convWeightGradByGather(
  g: OnnxGraph,
  x: string,
  ct: string,
  p: ConvParams,
  xAval: AbstractValue,
  ctAval: AbstractValue,
  weightShape: readonly number[],
): string {
  checkGroups("conv2d_weight_grad", p);
  const [n, c, h, wd] = xAval.shape as [number, number, number, number];
  const [, o, oh, ow] = ctAval.shape as [number, number, number, number];
  const [kh, kw] = [weightShape[2]!, weightShape[3]!];
  const planes = planesWithZero(g, x, xAval);
  const table = forwardTable(h, wd, kh, kw, oh, ow, p, planes.zero);
  const indices = g.constant(table, "int32", [kh * kw, oh * ow]);
  const gathered = g.node1("Gather", [planes.flat, indices], { axis: 2 }); // [N, C, K, P]
  const patches = g.node1("Reshape", [
    g.node1("Transpose", [gathered], { perm: [0, 3, 1, 2] }), // [N, P, C, K]
    g.int64s([n * oh * ow, c * kh * kw]),
  ]);
  const cts = g.node1("Reshape", [
    g.node1("Transpose", [ct], { perm: [1, 0, 2, 3] }), // [O, N, OH, OW]
    g.int64s([o, n * oh * ow]),
  ]);
  return g.node1("Reshape", [g.node1("MatMul", [cts, patches]), g.int64s(weightShape)]);
}

/**
 * conv2d's input gradient as Gather + MatMul: dx[n, c, y, x] = sum over o, i, j of w[o, c, i, j] *
 * ct[n, o, r, s] where y = r*stride + i*dilation - padTop (and alike for x); the table maps each
 * (i, j, y, x) to that (r, s), or to the zero where no output position reads (y, x) through tap (i, j).
 */
export function convInputGradByGather(
  g: OnnxGraph,
  ct: string,
  w: string,
  p: ConvParams,
  ctAval: AbstractValue,
  wAval: AbstractValue,
  inputShape: readonly number[],
): string {
  checkGroups("conv2d_input_grad", p);
  const [n, o, oh, ow] = ctAval.shape as [number, number, number, number];
  const [, c, kh, kw] = wAval.shape as [number, number, number, number];
  const [h, wd] = [inputShape[2]!, inputShape[3]!];
  const planes = planesWithZero(g, ct, ctAval);
  const table = new Int32Array(kh * kw * h * wd);
  let at = 0;
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < wd; x++) {
          const ry = y + p.padding[0][0] - i * p.dilation[0];
          const sx = x + p.padding[1][0] - j * p.dilation[1];
          const r = ry / p.stride[0];
          const s = sx / p.stride[1];
          const inside = Number.isInteger(r) && Number.isInteger(s) && r >= 0 && r < oh && s >= 0 && s < ow;
          table[at++] = inside ? r * ow + s : planes.zero;
        }
  const cols = gatherPatches(g, planes, table, kh * kw, h * wd, n, o); // [N, O*K, H*W]
  const weight = g.node1("Reshape", [
    g.node1("Transpose", [w], { perm: [1, 0, 2, 3] }), // [C, O, KH, KW]
    g.int64s([c, o * kh * kw]),
  ]);
  return g.node1("Reshape", [g.node1("MatMul", [weight, cols]), g.int64s(inputShape)]);
}
