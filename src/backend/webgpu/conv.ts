/**
 * Convolutions on WebGPU as implicit GEMMs with register blocks, reading the operands where they lie
 * (no unfolded intermediate): conv2d computes a block of up to 8 output channels x 8 output positions per
 * invocation, its input gradient a block of input channels x input positions, both looping over the
 * taps; the weight gradient a block of 8 output channels x 8 taps per workgroup of 64 invocations, each
 * summing its share of the batch and output positions, then one barrier and a sum over the 64 shares.
 * Taps that fall outside the input (padding, strides) read zero: the load goes to whatever index it
 * computes (WebGPU keeps an out-of-bounds read inside the buffer) and its value is replaced by zero; where
 * no tap can fall outside (no padding, as in LeNet) the bounds checks are left out. Groups, strides, dilation and padding (negative: cropping) as
 * conv-geometry.ts describes them.
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import { type ConvGeometry, tapRanges } from "../conv-geometry.js";
import { storageBinding } from "./wgsl.js";

/** Channels and positions per invocation block, and invocations per workgroup. */
const BLOCK = 8;
const WORKGROUP = 64;
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

/**
 * Conditions joined by WGSL's non-short-circuit `&`: `&&` branches, and SwiftShader takes seconds to
 * compile a kernel with a branch per load.
 */
const all = (...conditions: string[]): string => conditions.map((c) => `(${c})`).join(" & ");

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const size = (dims: number[]) => dims.reduce((p, d) => p * d, 1);

/** Whether every tap of every output position reads inside the input (no padding to check). */
function allInside(g: ConvGeometry): boolean {
  const { rows, cols } = tapRanges(g);
  return (
    rows.every((r) => r.lo === 0 && r.hi === g.outHeight) &&
    cols.every((c) => c.lo === 0 && c.hi === g.outWidth)
  );
}

/** Workgroups for `n` invocations of WORKGROUP along x (split along y past 65,535), `z` along z. */
function workgroupsFor(n: number, z: number): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / WORKGROUP));
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, z];
}

const flatIndex = `let flat = id.x + id.y * groups.x * ${WORKGROUP}u;`;
const flatHead = `@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u, @builtin(num_workgroups) groups: vec3u) {`;

/**
 * y[N, O, OH, OW] from x[N, C, H, W] and w[O, C/G, KH, KW] (bindings: x, w, y). Invocation `flat` of
 * z-slice `s` computes output channels of block s (within one group) at positions flat*8 ... flat*8+7
 * of the flattened (n, oh, ow).
 */
export function webgpuConv2d(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const og = g.outChannels / g.groups;
  const chans = range(Math.min(BLOCK, og));
  const positions = size([g.batch, g.outHeight, g.outWidth]);
  const pos = range(Math.min(BLOCK, positions));
  const blocksPerGroup = Math.ceil(og / chans.length);
  const checked = !allInside(g);
  const load = (t: number) =>
    checked
      ? `select(0.0, x[u32(xc${t} + q * DW)], ${all(`ok${t}`, `u32(v${t} + q * DW) < ${g.inWidth}u`)})`
      : `x[u32(xc${t} + q * DW)]`;
  const code = `${constants(g)}
const P = ${positions};
${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "w", dtype, false)}
${storageBinding(2, "y", dtype, true)}
${flatHead}
  ${flatIndex}
  if (flat * ${pos.length}u >= P) { return; }
  let grp = i32(id.z) / ${blocksPerGroup};
  let oBase = (i32(id.z) % ${blocksPerGroup}) * ${chans.length};
  let cIn = grp * CG;
  ${chans.map((i) => `let o${i} = grp * OG + min(oBase + ${i}, OG - 1);`).join(" ")}
  ${pos
    .map(
      (t) => `let p${t} = min(i32(flat) * ${pos.length} + ${t}, P - 1);
  let h${t} = ((p${t} / OW) % OH) * SH - PT;
  let v${t} = (p${t} % OW) * SW - PL;
  let x${t} = ((p${t} / (OH * OW)) * C + cIn) * H * W + h${t} * W + v${t};`,
    )
    .join("\n  ")}
  ${chans.flatMap((i) => pos.map((t) => `var a${i}_${t} = 0.0;`)).join(" ")}
  for (var c = 0; c < CG; c++) {
    for (var p = 0; p < KH; p++) {
      ${pos.map((t) => `let xc${t} = x${t} + c * H * W + p * DH * W;`).join(" ")}
      ${checked ? pos.map((t) => `let ok${t} = u32(h${t} + p * DH) < ${g.inHeight}u;`).join(" ") : ""}
      for (var q = 0; q < KW; q++) {
        ${chans.map((i) => `let w${i} = w[((o${i} * CG + c) * KH + p) * KW + q];`).join(" ")}
        ${pos.map((t) => `let u${t} = ${load(t)};`).join("\n        ")}
        ${chans.flatMap((i) => pos.map((t) => `a${i}_${t} = fma(w${i}, u${t}, a${i}_${t});`)).join(" ")}
      }
    }
  }
  ${pos
    .map(
      (t) => `if (i32(flat) * ${pos.length} + ${t} < P) {
    let at${t} = (p${t} / (OH * OW)) * O * OH * OW + p${t} % (OH * OW);
    ${chans.map((i) => `if (oBase + ${i} < OG) { y[u32(at${t} + o${i} * OH * OW)] = a${i}_${t}; }`).join(" ")}
  }`,
    )
    .join("\n  ")}
}`;
  return {
    label: `conv2d [${g.batch},${g.inChannels},${g.inHeight},${g.inWidth}] * [${g.outChannels},${g.inChannels / g.groups},${g.kernelHeight},${g.kernelWidth}]`,
    code,
    workgroups: workgroupsFor(Math.ceil(positions / pos.length), g.groups * blocksPerGroup),
  };
}

/**
 * dx[N, C, H, W] from dy[N, O, OH, OW] and w (bindings: dy, w, dx): a block of input channels (within a
 * group) x input positions per invocation, summing over the group's output channels and the taps whose
 * output position exists (stride and padding decide which).
 */
export function webgpuConv2dInputGrad(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const cg = g.inChannels / g.groups;
  const chans = range(Math.min(BLOCK, cg));
  const positions = size([g.batch, g.inHeight, g.inWidth]);
  const pos = range(Math.min(BLOCK, positions));
  const blocksPerGroup = Math.ceil(cg / chans.length);
  // 0 <= t < n*s (as one unsigned comparison: a negative t wraps past it) and t divisible by the stride s.
  const inside = (s: number, t: string, n: number) =>
    s === 1 ? `u32(${t}) < ${n}u` : all(`u32(${t}) < ${n * s}u`, `${t} % ${s} == 0`);
  const code = `${constants(g)}
const P = ${positions};
${storageBinding(0, "dy", dtype, false)}
${storageBinding(1, "w", dtype, false)}
${storageBinding(2, "dx", dtype, true)}
${flatHead}
  ${flatIndex}
  if (flat * ${pos.length}u >= P) { return; }
  let grp = i32(id.z) / ${blocksPerGroup};
  let cBase = (i32(id.z) % ${blocksPerGroup}) * ${chans.length};
  ${chans.map((i) => `let c${i} = min(cBase + ${i}, CG - 1);`).join(" ")}
  ${pos
    .map(
      (t) => `let p${t} = min(i32(flat) * ${pos.length} + ${t}, P - 1);
  let h${t} = ((p${t} / W) % H) + PT;
  let v${t} = (p${t} % W) + PL;
  let d${t} = (p${t} / (H * W)) * O * OH * OW;`,
    )
    .join("\n  ")}
  ${chans.flatMap((i) => pos.map((t) => `var a${i}_${t} = 0.0;`)).join(" ")}
  for (var o = grp * OG; o < (grp + 1) * OG; o++) {
    for (var p = 0; p < KH; p++) {
      ${pos
        .map(
          (t) => `let ti${t} = h${t} - p * DH;
      let ok${t} = ${inside(g.strideH, `ti${t}`, g.outHeight)};
      let dr${t} = d${t} + (o * OH + ti${t} / SH) * OW;`,
        )
        .join("\n      ")}
      for (var q = 0; q < KW; q++) {
        ${chans.map((i) => `let w${i} = w[((o * CG + c${i}) * KH + p) * KW + q];`).join(" ")}
        ${pos
          .map(
            (t) => `let tj${t} = v${t} - q * DW;
        let in${t} = ${all(`ok${t}`, inside(g.strideW, `tj${t}`, g.outWidth))};
        let u${t} = select(0.0, dy[u32(dr${t} + tj${t} / SW)], in${t});`,
          )
          .join("\n        ")}
        ${chans.flatMap((i) => pos.map((t) => `a${i}_${t} = fma(w${i}, u${t}, a${i}_${t});`)).join(" ")}
      }
    }
  }
  ${pos
    .map(
      (t) => `if (i32(flat) * ${pos.length} + ${t} < P) {
    let at${t} = (p${t} / (H * W)) * C * H * W + p${t} % (H * W);
    ${chans.map((i) => `if (cBase + ${i} < CG) { dx[u32(at${t} + (grp * CG + c${i}) * H * W)] = a${i}_${t}; }`).join(" ")}
  }`,
    )
    .join("\n  ")}
}`;
  return {
    label: `conv2d_input_grad -> [${g.batch},${g.inChannels},${g.inHeight},${g.inWidth}]`,
    code,
    workgroups: workgroupsFor(Math.ceil(positions / pos.length), g.groups * blocksPerGroup),
  };
}

/**
 * dw[O, C/G, KH, KW] from x and dy (bindings: x, dy, dw): workgroup (b, z) computes output channels of
 * block z (within a group) x taps b*8 ... b*8+7 of the flattened (c, kh, kw); its 64 invocations each sum
 * a strided share of the (n, oh, ow) terms, then invocation e adds up element e of the 64 shares.
 */
export function webgpuConv2dWeightGrad(g: ConvGeometry, dtype: DType): WebgpuKernelSpec {
  const og = g.outChannels / g.groups;
  const cg = g.inChannels / g.groups;
  const chans = range(Math.min(BLOCK, og));
  const tapCount = cg * g.kernelHeight * g.kernelWidth;
  const taps = range(Math.min(BLOCK, tapCount));
  const blocksPerGroup = Math.ceil(og / chans.length);
  const tapBlocks = Math.ceil(tapCount / taps.length);
  const terms = size([g.batch, g.outHeight, g.outWidth]);
  const share = chans.length * taps.length;
  const checked = !allInside(g);
  const load = (j: number) => (checked ? `select(0.0, x[u32(xb + k${j})], in${j})` : `x[u32(xb + k${j})]`);
  const code = `${constants(g)}
const T = ${terms};
const TAPS = ${tapCount};
${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "dy", dtype, false)}
${storageBinding(2, "dw", dtype, true)}
var<workgroup> shares: array<f32, ${share * WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lane: u32) {
  let block = i32(wg.x + wg.y * ${Math.min(tapBlocks, MAX_GROUPS)}u);
  let grp = i32(wg.z) / ${blocksPerGroup};
  let oBase = (i32(wg.z) % ${blocksPerGroup}) * ${chans.length};
  ${chans.map((i) => `let o${i} = grp * OG + min(oBase + ${i}, OG - 1);`).join(" ")}
  ${taps
    .map(
      (j) => `let tap${j} = min(block * ${taps.length} + ${j}, TAPS - 1);
  let kh${j} = ((tap${j} / KW) % KH) * DH;
  let kw${j} = (tap${j} % KW) * DW;
  let k${j} = (grp * CG + tap${j} / (KH * KW)) * H * W + kh${j} * W + kw${j};`,
    )
    .join("\n  ")}
  ${chans.flatMap((i) => taps.map((j) => `var a${i}_${j} = 0.0;`)).join(" ")}
  if (block < ${tapBlocks}) {
    for (var t = i32(lane); t < T; t += ${WORKGROUP}) {
      let b = t / (OH * OW);
      let oi = (t / OW) % OH;
      let oj = t % OW;
      let h = oi * SH - PT;
      let v = oj * SW - PL;
      let xb = b * C * H * W + h * W + v;
      let db = b * O * OH * OW + oi * OW + oj;
      ${chans.map((i) => `let e${i} = dy[u32(db + o${i} * OH * OW)];`).join(" ")}
      ${checked ? taps.map((j) => `let in${j} = ${all(`u32(h + kh${j}) < ${g.inHeight}u`, `u32(v + kw${j}) < ${g.inWidth}u`)};`).join("\n      ") : ""}
      ${taps.map((j) => `let u${j} = ${load(j)};`).join("\n      ")}
      ${chans.flatMap((i) => taps.map((j) => `a${i}_${j} = fma(e${i}, u${j}, a${i}_${j});`)).join(" ")}
    }
  }
  ${chans.flatMap((i) => taps.map((j) => `shares[${i * taps.length + j}u * ${WORKGROUP}u + lane] = a${i}_${j};`)).join(" ")}
  workgroupBarrier();
  if (${all(`lane < ${share}u`, `block < ${tapBlocks}`)}) {
    var sum = 0.0;
    for (var s = 0u; s < ${WORKGROUP}u; s++) { sum += shares[lane * ${WORKGROUP}u + s]; }
    let i = i32(lane) / ${taps.length};
    let j = i32(lane) % ${taps.length};
    if (${all("oBase + i < OG", `block * ${taps.length} + j < TAPS`)}) {
      dw[u32((grp * OG + oBase + i) * TAPS + block * ${taps.length} + j)] = sum;
    }
  }
}`;
  const blocks = Math.min(tapBlocks, MAX_GROUPS);
  return {
    label: `conv2d_weight_grad -> [${g.outChannels},${cg},${g.kernelHeight},${g.kernelWidth}]`,
    code,
    workgroups: [blocks, Math.ceil(tapBlocks / blocks), g.groups * blocksPerGroup],
  };
}
