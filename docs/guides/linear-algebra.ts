/**
 * The code of linear-algebra.md: Cholesky factors and solves, triangular solves, gradients, batches and
 * jit through them, what a matrix that is not positive definite gives, and the Gaussian-process loss of
 * docs/examples/gp-regression.ts. test/examples/guides.test.ts runs every function and checks what the
 * guide says of its result.
 */
import { grad, jit, lax, type NdArray, np, scipy, vmap } from "tracegrad";

export function choleskyFactor() {
  const a = np.array(
    [
      [4, 2, 0.4],
      [2, 5, 1],
      [0.4, 1, 3],
    ],
    { dtype: "float64" },
  );
  const l = np.linalg.cholesky(a); // lower: a = l lᵀ, zeros above the diagonal
  const u = np.linalg.cholesky(a, { upper: true }); // upper: a = uᵀ u (u = lᵀ)
  const residual = np.max(np.abs(np.subtract(np.matmul(l, l.T), a))); // about 1e-16
  return { l, u, residual };
}

export function solves() {
  const a = np.array(
    [
      [4, 2, 0.4],
      [2, 5, 1],
      [0.4, 1, 3],
    ],
    { dtype: "float64" },
  );
  const b = np.array([1, 2, 3], { dtype: "float64" });
  // Factor once, solve a x = b for as many right-hand sides as needed.
  const factor = scipy.linalg.choFactor(a, { lower: true }); // [c, lower]
  const x = scipy.linalg.choSolve(factor, b);
  // The same by hand: two triangular solves with the lower factor.
  const [l] = factor;
  const y = scipy.linalg.solveTriangular(l, b, { lower: true }); // l y = b
  const x2 = scipy.linalg.solveTriangular(l, y, { lower: true, trans: "T" }); // lᵀ x = y
  // JAX's flags: x op(l) = b on the right side, with op(l) = lᵀ.
  const right = lax.linalg.triangularSolve(l, np.reshape(b, [1, 3]), { lower: true, transposeA: true });
  return { x, x2, right, residual: np.max(np.abs(np.subtract(np.matmul(a, x), b))) };
}

export function generalMatrices() {
  const a = np.array(
    [
      [2, 1, 1],
      [4, -6, 0],
      [-2, 7, 2],
    ],
    { dtype: "float64" },
  );
  const b = np.array([5, -2, 9], { dtype: "float64" });
  const x = np.linalg.solve(a, b); // [1, 1, 2]
  const d = np.linalg.det(a); // -16
  const [sign, logAbsDet] = np.linalg.slogdet(a); // -1 and log 16: no overflow for large matrices
  const aInv = np.linalg.inv(a);
  // SciPy's pair: factor once (partial pivoting), solve for each right-hand side.
  const factor = scipy.linalg.luFactor(a); // [lu, piv]
  const x2 = scipy.linalg.luSolve(factor, b);
  const xT = scipy.linalg.luSolve(factor, b, { trans: 1 }); // aᵀ x = b
  return { a, b, x, d, sign, logAbsDet, aInv, x2, xT };
}

export function eigenAndQr() {
  const s = np.array(
    [
      [2, 1, 0],
      [1, 2, 1],
      [0, 1, 2],
    ],
    { dtype: "float64" },
  );
  const [w, v] = np.linalg.eigh(s); // ascending: 2 - √2, 2, 2 + √2; s = v diag(w) vᵀ
  const values = np.linalg.eigvalsh(s); // the eigenvalues alone
  const [q, r] = np.linalg.qr(s); // q orthogonal, r upper triangular, s = q r
  return { s, w, v, values, q, r };
}

export function singularValues() {
  const m = np.array(
    [
      [3, 0],
      [4, 5],
    ],
    { dtype: "float64" },
  );
  const [u, s, vh] = np.linalg.svd(m); // m = u diag(s) vh, s = [√45, √5] descending
  const sv = np.linalg.svdvals(m); // the same values, cheaper (no vectors)
  const fro = np.linalg.norm(m); // √50
  const two = np.linalg.norm(m, 2); // √45: the largest singular value
  const kappa = np.linalg.cond(m); // 3: the largest over the smallest
  const rank = np.linalg.matrixRank(m); // 2
  // Least squares: the line c0 + c1 t closest to four points.
  const design = np.array(
    [
      [1, 0],
      [1, 1],
      [1, 2],
      [1, 3],
    ],
    { dtype: "float64" },
  );
  const y = np.array([1, 3, 4, 7], { dtype: "float64" });
  const [coefficients, residuals] = np.linalg.lstsq(design, y); // [0.9, 1.9], the squared residual
  const viaPinv = np.matmul(np.linalg.pinv(design), y); // the same line
  return { m, u, s, vh, sv, fro, two, kappa, rank, coefficients, residuals, viaPinv };
}

export function transformsThrough() {
  const a = np.array(
    [
      [4, 2],
      [2, 3],
    ],
    { dtype: "float64" },
  );
  // log det a = 2 Σ log Lᵢᵢ; the diagonal of the last two axes, so that a batch works too.
  const logDet = (a: NdArray) => {
    const diag = np.diagonal(np.linalg.cholesky(a), { axis1: -2, axis2: -1 });
    return np.multiply(2, np.sum(np.log(diag), { axis: -1 }));
  };
  const g = grad(logDet)(a); // d log det(a) / da = a⁻¹, symmetric
  // A batch of matrices: leading axes are batch axes, or map with vmap; jit compiles the whole thing.
  const batch = np.stack([a, np.multiply(a, 2), np.add(a, np.eye(2, 2, { dtype: "float64" }))]);
  const direct = logDet(batch); // [3]: log det of each matrix
  const mapped = vmap(logDet)(batch);
  const compiled = jit(vmap(logDet))(batch);
  return { g, direct, mapped, compiled };
}

export function degeneratePoints() {
  const singular = np.array(
    [
      [1, 2, 3],
      [2, 4, 7],
      [3, 6, 1],
    ],
    { dtype: "float64" },
  );
  const square = np.array(
    [
      [1, 2],
      [3, 4],
    ],
    { dtype: "float64" },
  );
  const d = np.linalg.det(singular); // 0: rank 2
  const cofactors = grad(np.linalg.det)(singular); // [[-38, 19, 0], [16, -8, 0], [2, -1, 0]], not NaN
  // Every singular value of 2 Q is 2 (Q orthogonal): through svd the derivative would divide by 0.
  const [q] = np.linalg.qr(square); // square = [[1, 2], [3, 4]]
  const scaled = np.multiply(q, 2);
  const g = grad((x: NdArray) => np.sum(np.linalg.pinv(x)))(scaled); // finite: pinv's own rule
  const gInv = grad((x: NdArray) => np.sum(np.linalg.inv(x)))(scaled); // the same here: pinv = inv
  return { d, cofactors, g, gInv };
}

export function notPositiveDefinite() {
  const indefinite = np.array(
    [
      [1, 2],
      [2, 1],
    ],
    { dtype: "float64" },
  );
  const l = np.linalg.cholesky(indefinite); // NaNs, no error (numpy and torch raise here)
  const failed = np.any(np.isnan(l)).item() === 1; // check it yourself where it matters
  return { l, failed };
}
