/**
 * `scipy.linalg`: SciPy's (and `jax.scipy.linalg`'s) names for the triangular and Cholesky solves and the
 * LU factor/solve pair, built on the primitives of `src/ops/linalg-*.ts`.
 * @module
 */
export {
  choFactor,
  choSolve,
  type ScipyCholeskyOptions,
  scipyCholesky as cholesky,
} from "./linalg-cholesky.js";
export { type LuSolveOptions, luFactor, luSolve } from "./linalg-lu.js";
export { type SolveTriangularOptions, solveTriangular } from "./linalg-triangular.js";
