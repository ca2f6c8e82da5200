/**
 * `scipy.linalg`: SciPy's (and `jax.scipy.linalg`'s) names for the triangular and Cholesky solves and the
 * LU factor/solve pair (`solveTriangular`, `choFactor`, `choSolve`, `luFactor`, `luSolve`).
 * @module
 */
export * as linalg from "./ops/scipy-linalg.js";
