/**
 * A tiled float32 GEMM as a WGSL compute shader, the prototype of the WebGPU backend's matrix product
 * (issue 23): C[m, n] = op(A) @ op(B), row-major, op a transpose where asked. A workgroup of 16x16
 * invocations computes a 64x64 tile of C, 4x4 per invocation, staging 64x16 panels of A and 16x64 of B
 * in workgroup memory (8 KiB, a quarter of WebGPU's guaranteed 32 KiB). Edges are bounds-checked, so
 * every m, k, n works, not only multiples of the tile.
 */

/** The tile sizes the shader is written for. */
export const GEMM_TILE = { m: 64, n: 64, k: 16, threads: [16, 16] } as const;

export interface GemmShape {
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

/** The WGSL source of C = op(A) @ op(B) for one shape (the sizes are compile-time constants). */
export function gemmWgsl({ m, k, n, transposeA, transposeB }: GemmShape): string {
  // Element (row r, depth d) of op(A) and (depth d, column c) of op(B) in their row-major buffers.
  const aAt = transposeA ? "d * M + r" : "r * K + d";
  const bAt = transposeB ? "c * K + d" : "d * N + c";
  return /* wgsl */ `
const M = ${m}u;
const K = ${k}u;
const N = ${n}u;
const TM = ${GEMM_TILE.m}u;
const TN = ${GEMM_TILE.n}u;
const TK = ${GEMM_TILE.k}u;
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
var<workgroup> aTile: array<f32, ${GEMM_TILE.m * GEMM_TILE.k}>; // [TK][TM]
var<workgroup> bTile: array<f32, ${GEMM_TILE.k * GEMM_TILE.n}>; // [TK][TN]

fn loadA(r: u32, d: u32) -> f32 {
  if (r < M && d < K) { return a[${aAt}]; }
  return 0.0;
}
fn loadB(d: u32, c: u32) -> f32 {
  if (d < K && c < N) { return b[${bAt}]; }
  return 0.0;
}

@compute @workgroup_size(${GEMM_TILE.threads[0]}, ${GEMM_TILE.threads[1]})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_id) local: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let row0 = group.y * TM;
  let col0 = group.x * TN;
  var acc: array<f32, 16>;
  for (var d0 = 0u; d0 < K; d0 += TK) {
    for (var i = 0u; i < 4u; i++) {
      let e = lane + i * 256u;
      aTile[(e % TK) * TM + e / TK] = loadA(row0 + e / TK, d0 + e % TK);
      bTile[(e / TN) * TN + e % TN] = loadB(d0 + e / TN, col0 + e % TN);
    }
    workgroupBarrier();
    for (var d = 0u; d < TK; d++) {
      var av: array<f32, 4>;
      var bv: array<f32, 4>;
      for (var i = 0u; i < 4u; i++) {
        av[i] = aTile[d * TM + local.y * 4u + i];
        bv[i] = bTile[d * TN + local.x * 4u + i];
      }
      for (var i = 0u; i < 4u; i++) {
        for (var j = 0u; j < 4u; j++) { acc[i * 4u + j] = fma(av[i], bv[j], acc[i * 4u + j]); }
      }
    }
    workgroupBarrier();
  }
  for (var i = 0u; i < 4u; i++) {
    let r = row0 + local.y * 4u + i;
    for (var j = 0u; j < 4u; j++) {
      let col = col0 + local.x * 4u + j;
      if (r < M && col < N) { c[r * N + col] = acc[i * 4u + j]; }
    }
  }
}`;
}

/** Workgroups to dispatch for C[m, n]: [x over columns, y over rows]. */
export function gemmWorkgroups(m: number, n: number): [number, number] {
  return [Math.ceil(n / GEMM_TILE.n), Math.ceil(m / GEMM_TILE.m)];
}
