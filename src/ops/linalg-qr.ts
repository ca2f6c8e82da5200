/**
 * The QR decomposition: the `qr` primitive (Householder QR, blocked from min(m, n) = 64 on; kernels
 * backend/js/linalg-qr.ts and linalg-qr-blocked.ts, in float64
 * also for float32 operands and rounded once at the end) on [..., m, n] float32/float64, batched over the
 * leading dims, tall and wide. `fullMatrices` gives the complete Q [..., m, m] and R [..., m, n]; else the
 * reduced Q [..., m, k] and R [..., k, n], k = min(m, n). The reflectors and so the signs are LAPACK's
 * (R's diagonal may be negative), as numpy, JAX on CPU and torch.
 *
 * Derivative (JAX's qr_jvp_rule; j-towns.github.io/papers/qr-derivative.pdf): for m >= n, with
 * C = Qᵀ dA R⁻¹ and Ω = tril(C, -1) - tril(C, -1)ᵀ, dQ = Q (Ω - C) + dA R⁻¹ and dR = (C - Ω) R. It needs R
 * invertible (A of full column rank: otherwise the tangents are not finite). For m < n (which JAX does
 * not differentiate), A = [X | Y] with X the leading m x m block: Q and R's leading block are X's QR and
 * R's trailing block is Qᵀ Y, so dQ and the leading block of dR follow from the square rule and the
 * trailing block is dQᵀ Y + Qᵀ dY (as PyTorch); that needs X invertible. The complete decomposition of a
 * tall matrix (m > n) has no derivative (Q's last m - n columns are not unique): its jvp throws, as JAX's
 * and PyTorch's do.
 */

import { qrKernel } from "../backend/js/linalg-qr-blocked.js";
import type { NdArray } from "../core/array.js";
import { DTypeError, isFloat } from "../core/dtype.js";
import { checkOptions, checkOptionValue, optionKeys } from "../core/options.js";
import type { Primitive } from "../core/primitive.js";
import { fmtShape, ShapeError, sizeOf } from "../core/shape.js";
import { add, astype, sub } from "./binary.js";
import { tril } from "./construction.js";
import { loweredPrimitive } from "./eager.js";
import { matrixTranspose, moveAxisTo0 } from "./layout.js";
import { matmul } from "./linalg.js";
import { triangularSolvePrim } from "./linalg-triangular.js";
import { concatenate, slice } from "./shape.js";

/** Parameters of the `qr` primitive. */
export interface QrParams {
  /** Complete Q [..., m, m] and R [..., m, n] (true) or reduced Q [..., m, k] and R [..., k, n], k = min(m, n). */
  readonly fullMatrices: boolean;
}

function checkMatrixShape(op: string, shape: readonly number[]): void {
  if (shape.length < 2)
    throw new ShapeError(
      `${op}: expected a matrix or a stack of them, shape [..., m, n], got ${fmtShape(shape)}`,
    );
}

export const qrPrim: Primitive<QrParams, [a: unknown], [q: unknown, r: unknown]> = loweredPrimitive<
  QrParams,
  [a: unknown],
  [q: unknown, r: unknown]
>({
  name: "qr",
  widenNarrow: { kind: "float" },
  abstractEval([a], { fullMatrices }) {
    checkMatrixShape("qr", a.shape);
    if (a.dtype !== "float32" && a.dtype !== "float64")
      throw new DTypeError(`qr: expected a float32 or float64 operand, got ${a.dtype}`);
    const r = a.shape.length;
    const [m, n] = [a.shape[r - 2]!, a.shape[r - 1]!];
    const k = fullMatrices ? m : Math.min(m, n);
    const lead = a.shape.slice(0, -2);
    return [
      { shape: [...lead, m, k], dtype: a.dtype },
      { shape: [...lead, k, n], dtype: a.dtype },
    ];
  },
  lower([a], _outAvals, { fullMatrices }, context) {
    const r = a.shape.length;
    const [m, n] = [a.shape[r - 2]!, a.shape[r - 1]!];
    const qCols = fullMatrices ? m : Math.min(m, n);
    const kernel = qrKernel(sizeOf(a.shape.slice(0, -2)), m, n, qCols, context);
    return ([x], [q, rOut]) => kernel(x!, q!, rOut!);
  },
  jvp([a], [da], { fullMatrices }) {
    const r = a.ndim;
    const [m, n] = [a.shape[r - 2]!, a.shape[r - 1]!];
    if (fullMatrices && m > n) {
      throw new Error(
        `qr: the complete decomposition of a tall matrix (${fmtShape(a.shape)}, m > n) has no derivative: Q's last ${m - n} columns are not unique; use the reduced decomposition (mode "reduced")`,
      );
    }
    const [q, rr] = qrPrim.bind([a], { fullMatrices: false }) as [NdArray, NdArray];
    if (m >= n) {
      const [dq, dr] = squareOrTallTangents(q, rr, da);
      return { primalsOut: [q, rr], tangentsOut: [dq, dr] };
    }
    // Wide: A = [X | Y], R = [U | Qᵀ Y].
    const lead = a.shape.slice(0, -2).map(() => ({}));
    const cols = (x: NdArray, start: number, stop: number) => slice(x, [...lead, {}, { start, stop }]);
    const [dq, du] = squareOrTallTangents(q, cols(rr, 0, m), cols(da, 0, m));
    const dv = add(matmul(matrixTranspose(dq), cols(a, m, n)), matmul(matrixTranspose(q), cols(da, m, n)));
    return { primalsOut: [q, rr], tangentsOut: [dq, concatenate([du, dv], { axis: -1 })] };
  },
  batch([a], [d], params) {
    return [qrPrim.bind([moveAxisTo0(a, d)], params), [0, 0]];
  },
  formatParams: (p) => `fullMatrices=${p.fullMatrices}`,
});

/** JAX's rule for A = Q R with m >= n (Q [..., m, n], R [..., n, n] invertible): [dQ, dR]. */
function squareOrTallTangents(q: NdArray, r: NdArray, da: NdArray): [NdArray, NdArray] {
  const daRinv = triangularSolvePrim.bind1([r, da], {
    leftSide: false,
    lower: false,
    transposeA: false,
    unitDiagonal: false,
  });
  const c = matmul(matrixTranspose(q), daRinv);
  const below = tril(c, { k: -1 });
  const omega = sub(below, matrixTranspose(below));
  return [add(matmul(q, sub(omega, c)), daRinv), matmul(sub(c, omega), r)];
}

// ---------------------------------------------------------------------------------------------------
// user-facing

/** numpy's `mode` of `np.linalg.qr`. */
export type QrMode = "reduced" | "complete" | "r";

/** Integer and bool operands as float32 (numpy: float64); narrow floats go through float32 in the primitive. */
function qrOperand(op: string, a: NdArray): NdArray {
  checkMatrixShape(op, a.shape);
  return isFloat(a.dtype) ? a : astype(a, "float32");
}

/**
 * The QR decomposition of a matrix or a stack of them [..., m, n] (`np.linalg.qr`), tall or wide:
 * `[q, r]` with `a = q r`, `q` orthonormal columns and `r` upper triangular (trapezoidal when wide).
 * `mode` "reduced" (default): q [..., m, k], r [..., k, n] with k = min(m, n); "complete": q [..., m, m],
 * r [..., m, n]; "r": only r of the reduced decomposition (returned alone, as numpy).
 *
 * The signs are LAPACK's Householder ones (R's diagonal may be negative), as numpy and torch. Integer
 * input computes in float32 (numpy: float64). NaN input gives NaN factors. Differentiable ("reduced" and
 * "r", and "complete" when m <= n) where the leading min(m, n) columns of a are linearly independent; the
 * derivative of "complete" with m > n throws (Q's last columns are not unique), as JAX's and torch's.
 */
export function qr(a: NdArray, mode?: "reduced" | "complete"): [q: NdArray, r: NdArray];
export function qr(a: NdArray, mode: "r"): NdArray;
export function qr(a: NdArray, mode: QrMode = "reduced"): [q: NdArray, r: NdArray] | NdArray {
  checkOptionValue("qr", "mode", mode, ["reduced", "complete", "r"] as const);
  const x = qrOperand("qr", a);
  const [q, r] = qrPrim.bind([x], { fullMatrices: mode === "complete" });
  return mode === "r" ? r! : [q!, r!];
}

/** Options of `lax.linalg.qr`, as JAX's keyword arguments. */
export interface LaxQrOptions {
  /** Complete Q [..., m, m] and R [..., m, n] (default true, as JAX), else the reduced ones. */
  fullMatrices?: boolean;
}

/**
 * `jax.lax.linalg.qr`: `[q, r]` of `x` [..., m, n], complete by default (`fullMatrices`), else reduced.
 * Signs and derivative as `np.linalg.qr`.
 */
export function laxQr(x: NdArray, options: LaxQrOptions = {}): [q: NdArray, r: NdArray] {
  const op = "lax.linalg.qr";
  checkOptions(op, options, optionKeys<LaxQrOptions>({ fullMatrices: true }));
  const fullMatrices = checkOptionValue(op, "fullMatrices", options.fullMatrices, [true, false]) ?? true;
  const [q, r] = qrPrim.bind([qrOperand(op, x)], { fullMatrices });
  return [q!, r!];
}
