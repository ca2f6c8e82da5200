/**
 * `np.linalg`: numpy's linear-algebra names (`solve`, `inv`, `det`, `slogdet`, `cholesky`, `qr`, `eigh`,
 * `svd`, `norm`, ...) with numpy's semantics, batched over leading dims and differentiable. The
 * factorizations are primitives in `src/ops/linalg-*.ts`; everything else is composed from them.
 * @module
 */
export { type NpCholeskyOptions, npCholesky as cholesky } from "./linalg-cholesky.js";
export { det, slogdet } from "./linalg-det.js";
export { type EighOptions, eigh, eigvalsh } from "./linalg-eigh.js";
export {
  type CrossOptions,
  cross,
  diagonal,
  inv,
  type MatrixDiagonalOptions,
  matrixPower,
  multiDot,
  solve,
  trace,
} from "./linalg-functions.js";
export { cond, type NormOptions, type NormOrder, norm } from "./linalg-norm.js";
export { type QrMode, qr } from "./linalg-qr.js";
export {
  type LstsqOptions,
  lstsq,
  type MatrixRankOptions,
  matrixRank,
  type PinvOptions,
  pinv,
  type SvdOptions,
  svd,
  svdvals,
} from "./linalg-svd.js";
