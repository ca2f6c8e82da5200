/**
 * The WebGPU backend's matrix product: `batch` products C[t] = op(A[t]) @ op(B[t]) on row-major float32
 * (or int32, wrapping) storage, op a transpose where asked. A workgroup of 16x16 invocations computes a
 * 64x64 tile of C, 4x4 per invocation, staging 64x16 panels of A and 16x64 of B in workgroup memory
 * (8 KiB, a quarter of WebGPU's guaranteed 32 KiB); workgroups along z are the batch. Edges are
 * bounds-checked, so every m, k and n works, not only multiples of the tile.
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import { storageBinding, wgslStorageType } from "./wgsl.js";

/** The tile sizes the shader is written for. */
export const GEMM_TILE = { m: 64, n: 64, k: 16 } as const;

export interface WebgpuGemmShape {
  readonly dtype: DType;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** The kernel (bindings: A, B, then C) and its dispatch. */
export function webgpuGemm({
  dtype,
  batch,
  m,
  k,
  n,
  transposeA,
  transposeB,
}: WebgpuGemmShape): WebgpuKernelSpec {
  if (dtype !== "float32" && dtype !== "int32")
    throw new TypeError(`webgpu gemm: ${dtype} operands (WebGPU computes products of float32 and int32)`);
  const t = wgslStorageType(dtype);
  const zero = t === "f32" ? "0.0" : "0";
  // Element (row r, depth d) of op(A) and (depth d, column c) of op(B) within product `z`.
  const aAt = transposeA ? "d * M + r" : "r * K + d";
  const bAt = transposeB ? "c * K + d" : "d * N + c";
  const madd = t === "f32" ? "fma(av[i], bv[j], acc[i * 4u + j])" : "acc[i * 4u + j] + av[i] * bv[j]";
  const code = /* wgsl */ `
const M = ${m}u;
const K = ${k}u;
const N = ${n}u;
const TM = ${GEMM_TILE.m}u;
const TN = ${GEMM_TILE.n}u;
const TK = ${GEMM_TILE.k}u;
${storageBinding(0, "a", dtype, false)}
${storageBinding(1, "b", dtype, false)}
${storageBinding(2, "c", dtype, true)}
var<workgroup> aTile: array<${t}, ${GEMM_TILE.m * GEMM_TILE.k}>; // [TK][TM]
var<workgroup> bTile: array<${t}, ${GEMM_TILE.k * GEMM_TILE.n}>; // [TK][TN]

fn loadA(z: u32, r: u32, d: u32) -> ${t} {
  if (r < M && d < K) { return a[z * M * K + ${aAt}]; }
  return ${zero};
}
fn loadB(z: u32, d: u32, c: u32) -> ${t} {
  if (d < K && c < N) { return b[z * K * N + ${bAt}]; }
  return ${zero};
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let z = group.z;
  let row0 = group.y * TM;
  let col0 = group.x * TN;
  var acc: array<${t}, 16>;
  for (var d0 = 0u; d0 < K; d0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = lane + i * 256u;
      aTile[(e % TK) * TM + e / TK] = loadA(z, row0 + e / TK, d0 + e % TK);
      bTile[(e / TN) * TN + e % TN] = loadB(z, d0 + e / TN, col0 + e % TN);
    }
    workgroupBarrier();
    for (var d = 0u; d < TK; d++) {
      var av: array<${t}, 4>;
      var bv: array<${t}, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = aTile[d * TM + local.y * 4u + i];
        bv[i] = bTile[d * TN + local.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = ${madd}; }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + local.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + local.x * 4u + j;
      if (r < M && col < N) { c[z * M * N + r * N + col] = acc[i * 4u + j]; }
    }
  }
}`;
  return {
    label: `gemm ${batch}x[${m}x${k}]${transposeA ? "ᵀ" : ""} @ [${k}x${n}]${transposeB ? "ᵀ" : ""}`,
    code,
    workgroups: [Math.ceil(n / GEMM_TILE.n), Math.ceil(m / GEMM_TILE.m), batch],
  };
}
