/**
 * The WebGPU backend's matrix product: `batch` products C[t] = op(A[t]) @ op(B[t]) on row-major float32
 * (or int32, wrapping) storage, op a transpose where asked. Each invocation computes an 8x8 block of C in
 * registers straight from the storage buffers (8 + 8 loads per 64 multiply-adds), in workgroups of 8x8
 * invocations; workgroups along z are the batch. No workgroup memory and no barriers: on a software
 * adapter (SwiftShader runs a workgroup's invocations as SIMD lanes of one CPU thread) barriers and
 * workgroup memory cost more than the loads they save, and this is 10x the shared-memory kernel there.
 * Rows and columns past the edge load a clamped (valid) element and are not stored, so every m, k and n
 * works, not only multiples of the block.
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import { storageBinding, wgslStorageType } from "./wgsl.js";

/** Rows and columns of C per invocation, and invocations per workgroup along each. */
export const GEMM_BLOCK = { rows: 8, cols: 8, workgroup: 8 } as const;

export interface WebgpuGemmShape {
  readonly dtype: DType;
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly transposeA: boolean;
  readonly transposeB: boolean;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

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
  const rows = range(Math.min(GEMM_BLOCK.rows, m));
  const cols = range(Math.min(GEMM_BLOCK.cols, n));
  // op(A)[r, d] is a[aRow(r) + d * aStep]; op(B)[d, c] is b[bCol(c) + d * bStep].
  const aStep = transposeA ? "M" : "1u";
  const bStep = transposeB ? "1u" : "N";
  const aRow = (r: string) => (transposeA ? r : `${r} * K`);
  const bCol = (c: string) => (transposeB ? `${c} * K` : c);
  const madd = (acc: string, x: string, y: string) =>
    t === "f32" ? `${acc} = fma(${x}, ${y}, ${acc});` : `${acc} = ${acc} + ${x} * ${y};`;
  const code = /* wgsl */ `
const M = ${m}u;
const K = ${k}u;
const N = ${n}u;
${storageBinding(0, "a", dtype, false)}
${storageBinding(1, "b", dtype, false)}
${storageBinding(2, "c", dtype, true)}

@compute @workgroup_size(${GEMM_BLOCK.workgroup}, ${GEMM_BLOCK.workgroup})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let row = id.y * ${rows.length}u;
  let col = id.x * ${cols.length}u;
  if (row >= M || col >= N) { return; }
  let aBase = id.z * M * K;
  let bBase = id.z * K * N;
  ${rows.map((i) => `let a${i} = aBase + ${aRow(`min(row + ${i}u, M - 1u)`)};`).join("\n  ")}
  ${cols.map((j) => `let b${j} = bBase + ${bCol(`min(col + ${j}u, N - 1u)`)};`).join("\n  ")}
  ${rows.flatMap((i) => cols.map((j) => `var c${i}_${j} = ${t}(0);`)).join(" ")}
  for (var d = 0u; d < K; d++) {
    ${rows.map((i) => `let x${i} = a[a${i} + d * ${aStep}];`).join(" ")}
    ${cols.map((j) => `let y${j} = b[b${j} + d * ${bStep}];`).join(" ")}
    ${rows.flatMap((i) => cols.map((j) => madd(`c${i}_${j}`, `x${i}`, `y${j}`))).join("\n    ")}
  }
  let cBase = id.z * M * N;
  ${rows
    .flatMap((i) =>
      cols.map(
        (j) =>
          `if ((row + ${i}u < M) & (col + ${j}u < N)) { c[cBase + (row + ${i}u) * N + col + ${j}u] = c${i}_${j}; }`,
      ),
    )
    .join("\n  ")}
}`;
  const per = GEMM_BLOCK.workgroup;
  return {
    label: `gemm ${batch}x[${m}x${k}]${transposeA ? "ᵀ" : ""} @ [${k}x${n}]${transposeB ? "ᵀ" : ""}`,
    code,
    workgroups: [Math.ceil(n / (cols.length * per)), Math.ceil(m / (rows.length * per)), batch],
  };
}
