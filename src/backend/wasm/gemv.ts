/**
 * Matrix-vector products in WebAssembly SIMD, for the GEMM shapes with one row or one column (a linear
 * layer at batch 1 and its gradients). The packed GEMM would copy all of B into panels for a single pass
 * over it, and fill 8-column tiles with one useful column; these kernels read both operands in place:
 *
 *   n = 1:  C[i] = Σ_p A[i, p] B[p]      rows of A against B, four rows per pass sharing each load of B
 *   m = 1:  C[j] = Σ_p A[p] B[p, j]      A[p] splatted against row p of B, 4 vectors of C in registers
 *
 * The module exports `gemm(a, b, c, packed)` like the GEMM's (packed is unused), over the same memory.
 */
import { importPlanMemory } from "../plan-memory.js";
import { elementOps, type GemmDType, type GemmShape } from "./gemm.js";
import type { FunctionBuilder } from "./module-writer.js";
import { ModuleBuilder } from "./module-writer.js";
import { advance, repeat } from "./move-support.js";

/** Rows of A per pass (n = 1), and vectors of C per column block (m = 1). */
const ROWS_PER_PASS = 4;
const VECTORS_PER_BLOCK = 4;

/** Whether the shape is one the GEMV kernels take: one row or one column, and a k to sum over. */
export function isGemvShape(shape: GemmShape): boolean {
  return (shape.m === 1 || shape.n === 1) && shape.k > 0 && shape.batch > 0;
}

export function emitGemvModule(
  dtype: GemmDType,
  shape: GemmShape,
  options: { relaxedSimd: boolean; sharedMemory: boolean },
): Uint8Array {
  if (!isGemvShape(shape))
    throw new RangeError(`gemv: ${JSON.stringify(shape)} has neither one row nor one column`);
  const { batch, m, k, n } = shape;
  const ops = elementOps(dtype, options.relaxedSimd);
  const { bytes: es, lanes } = ops;
  const scalar = dtype === "float32" ? "f32" : "f64";
  const add = (fn: FunctionBuilder) => (dtype === "float32" ? fn.f32Add() : fn.f64Add());
  const mul = (fn: FunctionBuilder) => (dtype === "float32" ? fn.f32Mul() : fn.f64Mul());

  const module = new ModuleBuilder();
  importPlanMemory(module, options.sharedMemory);
  const fn = module.function("gemm", ["i32", "i32", "i32", "i32"], []);
  const [aBatch, bBatch, cBatch] = [fn.param(0), fn.param(1), fn.param(2)];
  const aPointer = fn.local("i32");
  const bPointer = fn.local("i32");
  const cPointer = fn.local("i32");
  const rowStart = fn.local("i32");
  const vector = fn.local("v128");
  const splat = fn.local("v128");
  const sum = fn.local(scalar);
  const accumulators = Array.from({ length: Math.max(ROWS_PER_PASS, VECTORS_PER_BLOCK) }, () =>
    fn.local("v128"),
  );
  const fullVectors = Math.floor(k / lanes);
  const tail = k % lanes;

  /**
   * n = 1: C[rows] at cPointer from the A rows at rowStart and B at bBatch. A row sums its products in
   * lanes (lane l takes p ≡ l mod lanes over the whole vectors of k, from +0), then the lanes in order,
   * then the tail elements in k order; the JS kernel sums n = 1 products in this order too
   * (js/matmul.ts, gemvLaneKernel), so that both give the same bits.
   */
  const emitRows = (rows: number): void => {
    for (let r = 0; r < rows; r++) fn.v128Const().localSet(accumulators[r]!);
    fn.localGet(rowStart).localSet(aPointer);
    fn.localGet(bBatch).localSet(bPointer);
    repeat(fn, fullVectors, () => {
      fn.localGet(bPointer).v128Load().localSet(vector);
      for (let r = 0; r < rows; r++) {
        fn.localGet(aPointer)
          .v128Load({ offset: r * k * es })
          .localSet(splat);
        ops.multiplyAdd(fn, accumulators[r]!, splat, vector);
      }
      advance(fn, aPointer, 16);
      advance(fn, bPointer, 16);
    });
    for (let r = 0; r < rows; r++) {
      // ((lane 0 + lane 1) + lane 2) + lane 3, then the tail elements of the row.
      fn.localGet(accumulators[r]!);
      ops.extractLane(fn, 0);
      for (let lane = 1; lane < lanes; lane++) {
        fn.localGet(accumulators[r]!);
        ops.extractLane(fn, lane);
        add(fn);
      }
      fn.localSet(sum);
      for (let t = 0; t < tail; t++) {
        fn.localGet(sum).localGet(aPointer);
        ops.loadScalar(fn, { offset: (r * k + t) * es });
        fn.localGet(bPointer);
        ops.loadScalar(fn, { offset: t * es });
        mul(fn);
        add(fn);
        fn.localSet(sum);
      }
      fn.localGet(cPointer).localGet(sum);
      ops.storeScalar(fn, { offset: r * es });
    }
  };
  const zeroSum = (): void => {
    if (dtype === "float32") fn.f32Const(0);
    else fn.f64Const(0);
    fn.localSet(sum);
  };
  /** sum += A[aPointer] * B[bPointer]. */
  const accumulateProduct = (): void => {
    fn.localGet(sum).localGet(aPointer);
    ops.loadScalar(fn, {});
    fn.localGet(bPointer);
    ops.loadScalar(fn, {});
    mul(fn);
    add(fn);
    fn.localSet(sum);
  };

  /** m = 1: `vectors` vectors of C (columns from cPointer on) over all of k; B columns from bPointer. */
  const emitColumnBlock = (vectors: number): void => {
    for (let v = 0; v < vectors; v++) fn.v128Const().localSet(accumulators[v]!);
    fn.localGet(aBatch).localSet(aPointer);
    fn.localGet(rowStart).localSet(bPointer);
    repeat(fn, k, () => {
      fn.localGet(aPointer);
      ops.loadSplat(fn, {});
      fn.localSet(splat);
      for (let v = 0; v < vectors; v++) {
        fn.localGet(bPointer)
          .v128Load({ offset: v * 16 })
          .localSet(vector);
        ops.multiplyAdd(fn, accumulators[v]!, splat, vector);
      }
      advance(fn, aPointer, es);
      advance(fn, bPointer, n * es);
    });
    for (let v = 0; v < vectors; v++)
      fn.localGet(cPointer)
        .localGet(accumulators[v]!)
        .v128Store({ offset: v * 16 });
  };
  /** m = 1: one column of C alone (the columns past the last whole vector). */
  const emitColumn = (): void => {
    fn.localGet(aBatch).localSet(aPointer);
    fn.localGet(rowStart).localSet(bPointer);
    zeroSum(); // from +0, as the vector path (a product of -0s is +0)
    repeat(fn, k, () => {
      accumulateProduct();
      advance(fn, aPointer, es);
      advance(fn, bPointer, n * es);
    });
    fn.localGet(cPointer).localGet(sum);
    ops.storeScalar(fn, {});
  };

  repeat(fn, batch, () => {
    if (n === 1) {
      fn.localGet(aBatch).localSet(rowStart);
      fn.localGet(cBatch).localSet(cPointer);
      repeat(fn, Math.floor(m / ROWS_PER_PASS), () => {
        emitRows(ROWS_PER_PASS);
        advance(fn, rowStart, ROWS_PER_PASS * k * es);
        advance(fn, cPointer, ROWS_PER_PASS * es);
      });
      if (m % ROWS_PER_PASS) emitRows(m % ROWS_PER_PASS);
    } else {
      const blockColumns = VECTORS_PER_BLOCK * lanes;
      fn.localGet(bBatch).localSet(rowStart);
      fn.localGet(cBatch).localSet(cPointer);
      repeat(fn, Math.floor(n / blockColumns), () => {
        emitColumnBlock(VECTORS_PER_BLOCK);
        advance(fn, rowStart, blockColumns * es);
        advance(fn, cPointer, blockColumns * es);
      });
      const rest = n % blockColumns;
      if (rest >= lanes) {
        emitColumnBlock(Math.floor(rest / lanes));
        advance(fn, rowStart, Math.floor(rest / lanes) * lanes * es);
        advance(fn, cPointer, Math.floor(rest / lanes) * lanes * es);
      }
      repeat(fn, rest % lanes, () => {
        emitColumn();
        advance(fn, rowStart, es);
        advance(fn, cPointer, es);
      });
    }
    advance(fn, aBatch, m * k * es);
    advance(fn, bBatch, k * n * es);
    advance(fn, cBatch, m * n * es);
  });
  return module.toBytes();
}
