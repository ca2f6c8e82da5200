/** Batched GEMM on row-major storage: out[b] = a[b] (m x k) @ b[b] (k x n). */
import type { TypedArray } from "../../core/dtype.js";

export function matmulKernel(
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  batch: number,
  m: number,
  k: number,
  n: number,
  row: Float64Array = new Float64Array(n),
): void {
  // i-p-j order walks b and out row by row; a row of out accumulates in a float64 scratch row.
  for (let t = 0; t < batch; t++) {
    const aOff = t * m * k;
    const bOff = t * k * n;
    const oOff = t * m * n;
    for (let i = 0; i < m; i++) {
      row.fill(0);
      const aRow = aOff + i * k;
      for (let p = 0; p < k; p++) {
        // No skipping of zero entries of A: 0 * NaN and 0 * Inf in B are NaN, as in the wasm kernels.
        const av = a[aRow + p]!;
        const bRow = bOff + p * n;
        for (let j = 0; j < n; j++) row[j]! += av * b[bRow + j]!;
      }
      const oRow = oOff + i * n;
      for (let j = 0; j < n; j++) out[oRow + j] = row[j]!;
    }
  }
}
