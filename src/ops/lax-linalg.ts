/**
 * `lax.linalg`: the factorization primitives under JAX's `jax.lax.linalg` names (`cholesky`,
 * `triangularSolve`, `lu`, `qr`, `eigh`, `svd`), with their flags as options.
 * @module
 */
export { cholesky, type LaxCholeskyOptions } from "./linalg-cholesky.js";
export { type LaxEighOptions, laxEigh as eigh } from "./linalg-eigh.js";
export { lu, luPivotsToPermutation } from "./linalg-lu.js";
export { type LaxQrOptions, laxQr as qr } from "./linalg-qr.js";
export { laxSvd as svd } from "./linalg-svd.js";
export { type TriangularSolveOptions, triangularSolve } from "./linalg-triangular.js";
