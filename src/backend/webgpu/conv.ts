/**
 * Convolutions on WebGPU, direct: conv2d and its input gradient one invocation per output element
 * (looping over the taps that fall inside the input), the weight gradient one workgroup of 64 lanes per
 * weight element (the sum over batch and output positions split across lanes, then a tree). Groups,
 * strides, dilation and padding (negative: cropping) as conv-geometry.ts describes them.
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import type { ConvGeometry } from "../conv-geometry.js";
import { coordinate, flatMain, flatWorkgroups, storageBinding } from "./wgsl.js";

const LANES = 64;
const MAX_GROUPS = 65535;

function constants(g: ConvGeometry): string {
  return `const N = ${g.batch};
const C = ${g.inChannels};
const H = ${g.inHeight};
const W = ${g.inWidth};
const O = ${g.outChannels};
const KH = ${g.kernelHeight};
const KW = ${g.kernelWidth};
const OH = ${g.outHeight};
const OW = ${g.outWidth};
const SH = ${g.strideH};
const SW = ${g.strideW};
const PT = ${g.padTop};
const PL = ${g.padLeft};
const DH = ${g.dilationH};
const DW = ${g.dilationW};
const CG = ${g.inChannels / g.groups}; // input channels per group
const OG = ${g.outChannels / g.groups}; // output channels per group`;
}

const size = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

/** y[N, O, OH, OW] from x[N, C, H, W] and w[O, C/G, KH, KW] (bindings: x, w, y). */
export function webgpuConv2d(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const shape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const n = size(shape);
  return {
    label: `conv2d [${g.batch},${g.inChannels},${g.inHeight},${g.inWidth}] * [${g.outChannels},${g.inChannels / g.groups},${g.kernelHeight},${g.kernelWidth}]`,
    code: `${constants(g)}
${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "w", dtype, false)}
${storageBinding(2, "y", dtype, true)}
${flatMain(n)}
  let b = i32(${coordinate(shape, 0, "i")});
  let o = i32(${coordinate(shape, 1, "i")});
  let oi = i32(${coordinate(shape, 2, "i")});
  let oj = i32(${coordinate(shape, 3, "i")});
  let c0 = (o / OG) * CG;
  var acc = 0.0;
  for (var c = 0; c < CG; c++) {
    for (var p = 0; p < KH; p++) {
      let h = oi * SH - PT + p * DH;
      if (h < 0 || h >= H) { continue; }
      for (var q = 0; q < KW; q++) {
        let v = oj * SW - PL + q * DW;
        if (v < 0 || v >= W) { continue; }
        acc += x[((b * C + c0 + c) * H + h) * W + v] * w[((o * CG + c) * KH + p) * KW + q];
      }
    }
  }
  y[i] = acc;
}`,
    workgroups: flatWorkgroups(n),
  };
}

/** dx[N, C, H, W] from dy[N, O, OH, OW] and w (bindings: dy, w, dx). */
export function webgpuConv2dInputGrad(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const shape = [g.batch, g.inChannels, g.inHeight, g.inWidth];
  const n = size(shape);
  return {
    label: `conv2d_input_grad -> [${shape.join(",")}]`,
    code: `${constants(g)}
${storageBinding(0, "dy", dtype, false)}
${storageBinding(1, "w", dtype, false)}
${storageBinding(2, "dx", dtype, true)}
${flatMain(n)}
  let b = i32(${coordinate(shape, 0, "i")});
  let ch = i32(${coordinate(shape, 1, "i")});
  let h = i32(${coordinate(shape, 2, "i")});
  let v = i32(${coordinate(shape, 3, "i")});
  let group = ch / CG;
  let c = ch % CG;
  var acc = 0.0;
  for (var o = group * OG; o < (group + 1) * OG; o++) {
    for (var p = 0; p < KH; p++) {
      let ti = h + PT - p * DH;
      if (ti < 0 || ti % SH != 0 || ti / SH >= OH) { continue; }
      for (var q = 0; q < KW; q++) {
        let tj = v + PL - q * DW;
        if (tj < 0 || tj % SW != 0 || tj / SW >= OW) { continue; }
        acc += dy[((b * O + o) * OH + ti / SH) * OW + tj / SW] * w[((o * CG + c) * KH + p) * KW + q];
      }
    }
  }
  dx[i] = acc;
}`,
    workgroups: flatWorkgroups(n),
  };
}

/** dw[O, C/G, KH, KW] from x and dy (bindings: x, dy, dw). */
export function webgpuConv2dWeightGrad(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const shape = [g.outChannels, g.inChannels / g.groups, g.kernelHeight, g.kernelWidth];
  const outSize = size(shape);
  const terms = g.batch * g.outHeight * g.outWidth;
  const groupsX = Math.min(outSize, MAX_GROUPS);
  return {
    label: `conv2d_weight_grad -> [${shape.join(",")}]`,
    code: `${constants(g)}
${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "dy", dtype, false)}
${storageBinding(2, "dw", dtype, true)}
var<workgroup> partial: array<f32, ${LANES}>;

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let e = wg.x + wg.y * ${groupsX}u;
  var acc = 0.0;
  if (e < ${outSize}u) {
    let o = i32(${coordinate(shape, 0, "e")});
    let c = i32(${coordinate(shape, 1, "e")});
    let p = i32(${coordinate(shape, 2, "e")});
    let q = i32(${coordinate(shape, 3, "e")});
    let ch = (o / OG) * CG + c;
    for (var t = i32(lane); t < ${terms}; t += ${LANES}) {
      let b = t / (OH * OW);
      let oi = (t / OW) % OH;
      let oj = t % OW;
      let h = oi * SH - PT + p * DH;
      let v = oj * SW - PL + q * DW;
      if (h >= 0 && h < H && v >= 0 && v < W) {
        acc += x[((b * C + ch) * H + h) * W + v] * dy[((b * O + o) * OH + oi) * OW + oj];
      }
    }
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var width = ${LANES / 2}u; width > 0u; width = width / 2u) {
    if (lane < width) { partial[lane] += partial[lane + width]; }
    workgroupBarrier();
  }
  if (lane == 0u && e < ${outSize}u) { dw[e] = partial[0]; }
}`,
    workgroups: [groupsX, Math.ceil(outSize / MAX_GROUPS), 1],
  };
}
