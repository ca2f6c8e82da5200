/**
 * Batched GEMM on row-major storage: out[b] = a[b] (m x k) @ b[b] (k x n). Every output element sums its
 * products in k order from +0, as the WebAssembly GEMM and GEMV kernels do, and in the output's precision:
 * a float32 product and sum are each rounded to float32 (as f32x4.mul and f32x4.add), so both backends
 * give the same bits in float32 and in float64 (without relaxed SIMD, whose fused multiply-add rounds once).
 */
import type { TypedArray } from "../../core/dtype.js";

export function matmulKernel(
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  batch: number,
  m: number,
  k: number,
  n: number,
  row: TypedArray = out instanceof Float32Array ? new Float32Array(n) : new Float64Array(n),
): void {
  const single = out instanceof Float32Array && row instanceof Float32Array;
  // i-p-j order walks b and out row by row; a row of out accumulates in a scratch row of its precision
  // (no skipping of zero entries of A: 0 * NaN and 0 * Inf in B are NaN).
  for (let t = 0; t < batch; t++) {
    const aOff = t * m * k;
    const bOff = t * k * n;
    const oOff = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      const aRow = aOff + i * k;
      for (let p = 0; p < k; p++) {
        const av = a[aRow + p]!;
        const bRow = bOff + p * n;
        // float32: the product rounded, then the sum rounded by the store into the float32 row.
        if (single) for (let j = 0; j < n; j++) row[j]! += Math.fround(av * b[bRow + j]!);
        else for (let j = 0; j < n; j++) row[j]! += av * b[bRow + j]!;
      }
      const oRow = oOff + i * n;
      for (let j = 0; j < n; j++) out[oRow + j] = row[j]!;
    }
  }
}
