/**
 * Batched GEMM on row-major storage: out[b] = a[b] (m x k) @ b[b] (k x n). Every output element sums its
 * products in k order from +0, as the WebAssembly GEMM and m = 1 GEMV kernels do (the n = 1 ones that the
 * wasm backend takes sum in lanes: gemvLaneKernel below), and in the output's precision:
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

/**
 * The products with n = 1 that the WebAssembly backend computes with its GEMV kernel (wasm/gemv.ts), in
 * that kernel's order, so that both backends give the same bits: per row, lane l of `lanes` (4 for
 * float32, 2 for float64: one 128-bit vector) sums the products at p ≡ l (mod lanes) over the whole
 * vectors of k from +0, every product and sum rounded to the element precision as f32x4/f64x2 mul and add
 * round them; then ((lane 0 + lane 1) + lane 2) + lane 3, then the products of the tail in k order.
 */
export function gemvLaneKernel(
  a: TypedArray,
  b: TypedArray,
  out: TypedArray,
  batch: number,
  m: number,
  k: number,
): void {
  const single = out instanceof Float32Array;
  const round = single ? Math.fround : (x: number): number => x;
  const lanes = single ? 4 : 2;
  const full = k - (k % lanes);
  const sums = [0, 0, 0, 0];
  for (let t = 0; t < batch; t++) {
    const bOff = t * k;
    for (let i = 0; i < m; i++) {
      const aRow = (t * m + i) * k;
      sums.fill(0);
      for (let p = 0; p < full; p += lanes)
        for (let l = 0; l < lanes; l++)
          sums[l] = round(sums[l]! + round(a[aRow + p + l]! * b[bOff + p + l]!));
      let sum = sums[0]!;
      for (let l = 1; l < lanes; l++) sum = round(sum + sums[l]!);
      for (let p = full; p < k; p++) sum = round(sum + round(a[aRow + p]! * b[bOff + p]!));
      out[t * m + i] = sum;
    }
  }
}
