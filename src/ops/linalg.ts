/**
 * Linear algebra. One primitive, `matmul` on operands [...batch, m, k] @ [...batch, k, n] with identical
 * batch dims; numpy's matmul (1-D operands, broadcast batch dims), dot and outer are built on it.
 */

import { gemmKernel, gemvLaneOrder } from "../backend/index.js";
import { standaloneKernel } from "../backend/plan-memory.js";
import { webgpuGemm } from "../backend/webgpu/gemm.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import { type GemmDims, makeEquation, rewriteOf } from "../core/compiler-facts.js";
import { type DType, storageFor } from "../core/dtype.js";
import { type Atom, type Equation, Var } from "../core/ir.js";
import { type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { broadcastShapes, fmtShape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import { add, asBoolResult, astype, multiply, promoteOperands } from "./binary.js";
import { loweredPrimitive } from "./eager.js";
import {
  batchedMatrixTransposed,
  broadcastTo,
  expandDims,
  matrixTranspose,
  matrixTransposed,
  moveAxisTo0,
  reshape,
  squeeze,
  swapMatrixAxes,
  transposeOrReshape,
  transposePrim,
} from "./layout.js";

type Params = Record<string, never>;
const P: Params = {};

function matmulShape(a: readonly number[], b: readonly number[]): number[] {
  const ra = a.length;
  const rb = b.length;
  if (ra < 2 || rb < 2 || ra !== rb) {
    throw new ShapeError(`matmul: expected operands of equal rank >= 2, got ${fmtShape(a)} @ ${fmtShape(b)}`);
  }
  if (!shapeEquals(a.slice(0, -2), b.slice(0, -2))) {
    throw new ShapeError(`matmul: batch dims differ: ${fmtShape(a)} @ ${fmtShape(b)}`);
  }
  const k = a[ra - 1]!;
  if (k !== b[rb - 2]) {
    throw new ShapeError(
      `matmul: contracting dims differ: ${fmtShape(a)} @ ${fmtShape(b)} (${k} != ${b[rb - 2]})`,
    );
  }
  return [...a.slice(0, -1), b[rb - 1]!];
}

/**
 * An eager product with an operand that is a deferred matrix transpose (`ConcreteArray.deferredTranspose`,
 * what `matrixTranspose` gives eagerly): the GEMM reads the array it came from transposed and the
 * transpose is never written, where a jit plan absorbs the transpose too (compiler/gemm-steps.ts: float
 * matrices, not a product the GEMV kernel sums), so that eager and jit give the same bits. Undefined for
 * other operands.
 */
function matmulOfDeferredTranspose(a: ConcreteArray, b: ConcreteArray): ConcreteArray[] | undefined {
  const at = a.pendingTransposeOf;
  const bt = b.pendingTransposeOf;
  if (at === undefined && bt === undefined) return undefined;
  const dtype = a.dtype;
  // Shapes the rule refuses are left to the plain path, which reports them.
  if ((dtype !== "float32" && dtype !== "float64") || b.dtype !== dtype) return undefined;
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) return undefined;
  const [m, k, n] = [a.shape[0]!, a.shape[1]!, b.shape[1]!];
  if (gemvLaneOrder(dtype, 1, m, k, n)) return undefined;
  if (at !== undefined && bt === undefined && m * k + k * n < m * n && !gemvLaneOrderEither(dtype, m, k, n)) {
    // A weight gradient, xᵀ @ ct: the product is wanted transposed (the transpose rule of xᵀ's own
    // transpose comes next), so compute that, ctᵀ @ x, as a jit plan does ((A @ B)ᵀ -> Bᵀ @ Aᵀ below; same
    // products in the same order, so the same bits), and give the product as its deferred transpose.
    const gemm = standaloneKernel(`matmul ${dtype} ${n}x${k}x${m} TN`, (context) =>
      gemmKernel(dtype, 1, n, k, m, context, { transposeA: true, transposeB: false }),
    );
    const product = storageFor(dtype, n * m);
    gemm(b.storage, at.storage, product);
    return transposePrim.impl([new ConcreteArray([n, m], dtype, product)], { permutation: [1, 0] });
  }
  const layout = { transposeA: at !== undefined, transposeB: bt !== undefined };
  const gemm = standaloneKernel(
    `matmul ${dtype} ${m}x${k}x${n} ${layout.transposeA ? "T" : "N"}${layout.transposeB ? "T" : "N"}`,
    (context) => gemmKernel(dtype, 1, m, k, n, context, layout),
  );
  const out = storageFor(dtype, m * n);
  gemm((at ?? a).storage, (bt ?? b).storage, out);
  return [new ConcreteArray([m, n], dtype, out)];
}

export const matmulPrim: Primitive<Params, [a: unknown, b: unknown], [out: unknown]> = loweredPrimitive<
  Params,
  [a: unknown, b: unknown],
  [out: unknown]
>({
  name: "matmul",
  widenNarrow: { kind: "modular" },
  abstractEval([a, b]) {
    if (a.dtype !== b.dtype) throw new ShapeError(`matmul: operand dtypes differ: ${a.dtype} vs ${b.dtype}`);
    if (a.dtype === "bool") throw new ShapeError("matmul: bool operands are not supported");
    return [{ shape: matmulShape(a.shape, b.shape), dtype: a.dtype }];
  },
  onnx: (g, [a, b]) => [g.node1("MatMul", [a!, b!])],
  eagerShortcut: (args) => matmulOfDeferredTranspose(args[0]!, args[1]!),
  lower(inAvals, [out], _params, context) {
    const r = out.shape.length;
    const [m, k, n] = [inAvals[0].shape[r - 2]!, inAvals[0].shape[r - 1]!, out.shape[r - 1]!];
    const batch = sizeOf(out.shape.slice(0, -2));
    const gemm = gemmKernel(
      out.dtype,
      batch,
      m,
      k,
      n,
      context,
      {},
      {
        invariantB: context.inputInvariant?.(1) ?? false,
      },
    );
    const isInt = out.dtype === "int32";
    return ([a, b], [o]) => {
      gemm(a, b, o);
      if (isInt) for (let i = 0; i < o.length; i++) o[i] = o[i]! | 0;
    };
  },
  webgpu([a], [out]) {
    const r = out.shape.length;
    const [m, k, n] = [a.shape[r - 2]!, a.shape[r - 1]!, out.shape[r - 1]!];
    const batch = sizeOf(out.shape.slice(0, -2));
    return webgpuGemm({ dtype: out.dtype, batch, m, k, n, transposeA: false, transposeB: false });
  },
  jvp: ([a, b], [ta, tb]) => ({
    primalsOut: [matmulPrim.bind1([a, b], P)],
    tangentsOut: [add(matmulPrim.bind1([ta, b], P), matmulPrim.bind1([a, tb], P))],
  }),
  transpose([ct], [a, b]) {
    const ua = a instanceof UndefinedPrimal;
    const ub = b instanceof UndefinedPrimal;
    if (ua && ub) throw new Error("matmul: transpose with both operands linear (not linear)");
    return [
      ua ? matmulPrim.bind1([ct, matrixTranspose(b as NdArray)], P) : null,
      ub ? matmulPrim.bind1([matrixTranspose(a as NdArray), ct], P) : null,
    ];
  },
  batch([a, b], [da, db]) {
    // Only the left operand batched against a plain matrix: fold the batch into its rows.
    if (db === null && b.ndim === 2) {
      const am = moveAxisTo0(a, da);
      const [nb, m, k] = [am.shape[0]!, am.shape[1]!, am.shape[2]!];
      const flat = matmulPrim.bind1([reshape(am, [nb * m, k]), b], P);
      return [[reshape(flat, [nb, m, b.shape[1]!])], [0]];
    }
    const size = da !== null ? a.shape[da]! : b.shape[db!]!;
    const lift = (x: NdArray, d: number | null): NdArray =>
      d !== null ? moveAxisTo0(x, d) : broadcastTo(x, [size, ...x.shape]);
    return [[matmulPrim.bind1([lift(a, da), lift(b, db)], P)], [0]];
  },
  compiler: {
    gemm: { dims: gemmDims, transposedMatrix: batchedMatrixTransposed },
    // Matrix transposes around products (XLA's algebraic simplifier): keep the smaller transposes.
    rewrites: () => [
      {
        law: "X @ Wᵀ -> (W @ Xᵀ)ᵀ when X and the product are smaller than W (small batches)",
        operands: [null, { producedBy: transposePrim }],
        when: ({ inputs: [x], output, producers: [, t] }) => {
          if (output.aval.shape.length !== 2 || matrixTransposed(t!) === null) return false;
          const [m, k] = x!.aval.shape as [number, number];
          const n = output.aval.shape[1]!;
          return m * k + m * n < n * k && !gemvLaneOrderEither(output.aval.dtype, m, k, n);
        },
        rewrite: ({ inputs: [x], output, producers: [, t], producer }) => {
          const xT = swapMatrixAxes(x!, producer(x!));
          const [m, n] = output.aval.shape as [number, number];
          const product = new Var({ shape: [n, m], dtype: output.aval.dtype });
          return {
            kind: "equations",
            equations: [
              ...xT.equations,
              makeEquation(matmulPrim, P, [t!.inputs[0]!, xT.value], [product]),
              transposeOrReshape(product, output, [1, 0]),
            ],
          };
        },
      },
    ],
    rewritesOf: () => [
      rewriteOf(transposePrim, {
        law: "(A @ B)ᵀ -> Bᵀ @ Aᵀ when A and B are smaller than their product (weight gradients)",
        operands: [{ producedBy: matmulPrim, onlyUse: true }],
        when: ({ output, params, producers: [product] }) => {
          if (output.aval.shape.length !== 2 || params.permutation[0] !== 1) return false;
          const [a, b] = product!.inputs as [Atom, Atom];
          const [m, k] = a.aval.shape as [number, number];
          return (
            sizeOf(a.aval.shape) + sizeOf(b.aval.shape) < sizeOf(output.aval.shape) &&
            !gemvLaneOrderEither(output.aval.dtype, m, k, b.aval.shape[1]!)
          );
        },
        rewrite: ({ output, producers: [product], producer }) => {
          const [a, b] = product!.inputs as [Atom, Atom];
          const bT = swapMatrixAxes(b, producer(b));
          const aT = swapMatrixAxes(a, producer(a));
          return {
            kind: "equations",
            equations: [
              ...bT.equations,
              ...aT.equations,
              makeEquation(matmulPrim, P, [bT.value, aT.value], [output]),
            ],
          };
        },
      }),
    ],
  },
});

/**
 * A float product is one GEMM step, batched over its leading axes (the operands' batch axes are the
 * output's); integer products run the primitive's kernel.
 */
function gemmDims(e: Equation): GemmDims | null {
  const out = e.outputs[0]!.aval;
  const a = e.inputs[0]!;
  const r = out.shape.length;
  if (
    r < 2 ||
    !e.inputs.every((x) => x instanceof Var && x.aval.shape.length === r) ||
    (out.dtype !== "float32" && out.dtype !== "float64")
  )
    return null;
  return {
    batch: sizeOf(out.shape.slice(0, -2)),
    m: a.aval.shape[r - 2]!,
    k: a.aval.shape[r - 1]!,
    n: out.shape[r - 1]!,
    dtype: out.dtype,
  };
}

/**
 * Whether (m x k) @ (k x n) or its transposed form (n x k) @ (k x m) sums in the wasm GEMV kernel's lanes
 * (backend gemvLaneOrder) and so the other in k order: rewriting one as the other would change the bits.
 */
function gemvLaneOrderEither(dtype: DType, m: number, k: number, n: number): boolean {
  return gemvLaneOrder(dtype, 1, m, k, n) || gemvLaneOrder(dtype, 1, n, k, m);
}

/**
 * numpy matmul: 1-D operands are promoted to a matrix and the added axis removed afterwards; batch
 * dims broadcast.
 */
export function matmul(x: NdArray, y: NdArray): NdArray {
  if (x.ndim === 0 || y.ndim === 0)
    throw new ShapeError(
      `matmul: operands must be at least 1-D, got ${fmtShape(x.shape)} @ ${fmtShape(y.shape)}`,
    );
  let [a, b] = promoteOperands("matmul", [x, y]) as [NdArray, NdArray];
  const operandDType = a.dtype;
  if (a.dtype === "bool") [a, b] = [astype(a, "int32"), astype(b, "int32")];
  const aVec = a.ndim === 1;
  const bVec = b.ndim === 1;
  if (aVec) a = expandDims(a, 0);
  if (bVec) b = expandDims(b, -1);
  if (a.shape[a.ndim - 1] !== b.shape[b.ndim - 2]) {
    throw new ShapeError(
      `matmul: contracting dims differ: ${fmtShape(x.shape)} @ ${fmtShape(y.shape)} (${a.shape[a.ndim - 1]} != ${b.shape[b.ndim - 2]})`,
    );
  }
  const batch = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  a = broadcastTo(a, [...batch, ...a.shape.slice(-2)]);
  b = broadcastTo(b, [...batch, ...b.shape.slice(-2)]);
  let out = matmulPrim.bind1([a, b], P);
  if (aVec) out = squeeze(out, out.ndim - 2);
  if (bVec) out = squeeze(out, out.ndim - 1);
  return asBoolResult("matmul", operandDType, out);
}

/** numpy dot for rank <= 2 (inner product, matrix-vector, matrix product); scalars multiply. bool stays bool. */
export function dot(x: NdArray, y: NdArray): NdArray {
  if (x.ndim === 0 || y.ndim === 0) return multiply(x, y);
  if (x.ndim > 2 || y.ndim > 2) {
    throw new ShapeError(
      `dot: operands of rank > 2 (${fmtShape(x.shape)}, ${fmtShape(y.shape)}); use matmul or einsum`,
    );
  }
  return matmul(x, y);
}

/** Outer product of two vectors (flattened first, as numpy); bool stays bool (AND). */
export function outer(x: NdArray, y: NdArray): NdArray {
  const a = reshape(x, [x.size, 1]);
  const b = reshape(y, [1, y.size]);
  return multiply(a, b);
}
