/**
 * The matrix-vector product of the blocked tridiagonalisation (linalg-eigh-blocked.ts) in WebAssembly
 * SIMD: y = A x for a rows x cols block of a row-major matrix with n columns. It is half of the
 * reduction's flops and reads the whole trailing matrix once per column, so it runs at memory speed
 * only with vector loads: f64x2 lanes, two accumulators per row (four columns a step).
 *
 * Every operand lives in the plan memory; the module is emitted for one n (the row stride is a constant).
 */
import type { KernelContext } from "../../core/primitive.js";
import { importPlanMemory } from "../plan-memory.js";
import { ModuleBuilder } from "../wasm/module-writer.js";
import { compileModule, instantiateCompiled } from "../wasm/runtime.js";

/**
 * y[r] = Σ_c A[r, c] x[c] (r < rows, c < cols), A's first entry at byte offset `a` with rows n float64s
 * apart, x and y at byte offsets in the plan memory.
 */
export type MatrixVector = (a: number, rows: number, cols: number, x: number, y: number) => void;

/** The wasm product for row stride n, or null where the plan memory is not a WebAssembly memory. */
export function wasmMatrixVector(n: number, context: KernelContext): MatrixVector | null {
  if (!context.wasm) return null;
  const bytes = emitMatrixVectorModule(n, context.shared);
  let run: MatrixVector | null = null;
  return (a, rows, cols, x, y) => {
    run ??= instantiateCompiled(compileModule(bytes), context.memory().wasm!).exports[
      "matvec"
    ] as MatrixVector;
    run(a, rows, cols, x, y);
  };
}

/** `matvec(a, rows, cols, x, y)` as MatrixVector describes, for rows of n float64s. */
function emitMatrixVectorModule(n: number, shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  const fn = module.function("matvec", ["i32", "i32", "i32", "i32", "i32"], []);
  const [a, rows, cols, x, y] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3), fn.param(4)];
  const [r, p, q, end] = fn.locals("i32", 4);
  const [acc0, acc1] = fn.locals("v128", 2);
  const sum = fn.local("f64");

  fn.block().loop();
  fn.localGet(r).localGet(rows).i32Eq().brIf(1);
  fn.f64Const(0).f64x2Splat().localTee(acc0).localSet(acc1);
  fn.localGet(a).localTee(p);
  fn.localGet(cols).i32Const(-4).i32And().i32Const(8).i32Mul().i32Add().localSet(end);
  fn.localGet(x).localSet(q);
  // Four columns a step, into two accumulators.
  fn.block().loop();
  fn.localGet(p).localGet(end).i32Eq().brIf(1);
  fn.localGet(acc0).localGet(p).v128Load({ align: 3 }).localGet(q).v128Load({ align: 3 }).f64x2Mul();
  fn.f64x2Add().localSet(acc0);
  fn.localGet(acc1).localGet(p).v128Load({ align: 3, offset: 16 });
  fn.localGet(q).v128Load({ align: 3, offset: 16 }).f64x2Mul().f64x2Add().localSet(acc1);
  fn.localGet(p).i32Const(32).i32Add().localSet(p);
  fn.localGet(q).i32Const(32).i32Add().localSet(q);
  fn.br(0);
  fn.end().end();
  // Two more columns, then one.
  fn.localGet(cols).i32Const(2).i32And().if();
  fn.localGet(acc0).localGet(p).v128Load({ align: 3 }).localGet(q).v128Load({ align: 3 }).f64x2Mul();
  fn.f64x2Add().localSet(acc0);
  fn.localGet(p).i32Const(16).i32Add().localSet(p);
  fn.localGet(q).i32Const(16).i32Add().localSet(q);
  fn.end();
  fn.localGet(acc0).localGet(acc1).f64x2Add().localTee(acc0).f64x2ExtractLane(0);
  fn.localGet(acc0).f64x2ExtractLane(1).f64Add().localSet(sum);
  fn.localGet(cols).i32Const(1).i32And().if();
  fn.localGet(sum).localGet(p).f64Load({ align: 3 }).localGet(q).f64Load({ align: 3 }).f64Mul().f64Add();
  fn.localSet(sum);
  fn.end();
  fn.localGet(y).localGet(sum).f64Store({ align: 3 });
  fn.localGet(a)
    .i32Const(n * 8)
    .i32Add()
    .localSet(a);
  fn.localGet(y).i32Const(8).i32Add().localSet(y);
  fn.localGet(r).i32Const(1).i32Add().localSet(r);
  fn.br(0);
  fn.end().end();
  return module.toBytes();
}
