/**
 * The eigenvector update of the implicit QL sweeps (linalg-eigh.ts), deferred and cache-blocked, in
 * WebAssembly SIMD. A sweep's plane rotations (i = last down to first) each turn rows i and i + 1 of the
 * n x n row-major matrix u into (c u_i - s u_{i+1}, s u_i + c u_{i+1}); that is most of eigh's work when
 * eigenvectors are asked for (6n flops per rotation, some n² rotations).
 *
 * The rotations never feed back into the iteration (d and e alone decide them), so they are logged as
 * the sweeps make them and applied later, many sweeps at once, to one block of ROTATION_COLUMNS columns
 * of u at a time: the block stays in cache across the sweeps instead of all of u streaming through
 * memory once per sweep. f64x2 lanes; each entry sees the same multiplications and additions in the same
 * order as the rotation-by-rotation JS loop, so the numbers are the same bit for bit.
 *
 * u, the log and the coefficients live in the plan memory; the module is emitted for one n.
 */
import type { KernelContext } from "../../core/primitive.js";
import { importPlanMemory, planArray } from "../plan-memory.js";
import { ModuleBuilder } from "../wasm/module-writer.js";
import { compileModule, instantiateCompiled } from "../wasm/runtime.js";

/** Columns of u per block the logged sweeps are applied to (their rows fit in the L2 cache). */
const ROTATION_COLUMNS = 32;

/** The QL sweeps' rotations of u's rows, logged and applied in blocks. */
export interface RowRotations {
  /** The n x n matrix whose rows the rotations turn (row-major, in the plan memory). */
  readonly u: () => Float64Array;
  /** The coefficient log: a sweep's rotation i (begin's order) has its cosine at [at + 2k], sine after. */
  readonly cs: () => Float64Array;
  /**
   * Logs a sweep of rotations i = last, last - 1, ..., first (applied in that order); returns where its
   * coefficients go in cs(): rotation i's at at + 2 (last - i). May apply what is logged first (flush).
   */
  begin(first: number, last: number): number;
  /** Applies every logged sweep to u(), in the order logged, and empties the log. */
  flush(): void;
}

/** The wasm rotations for order n, or null where the plan memory is not a WebAssembly memory. */
export function rowRotations(n: number, context: KernelContext): RowRotations | null {
  if (!context.wasm || n < 2) return null;
  // Room for about n / 2 full sweeps of coefficients (u's size) and twice as many sweeps.
  const capacity = Math.max(n * n, 2 * n);
  const maxSweeps = 2 * n;
  const u = planArray(context, "float64", n * n) as () => Float64Array;
  const cs = planArray(context, "float64", capacity) as () => Float64Array;
  const sweeps = planArray(context, "int32", 2 * maxSweeps) as () => Int32Array;
  const bytes = emitRotationModule(n, context.shared);
  type Apply = (u: number, width: number, sweeps: number, count: number, cs: number) => void;
  let run: Apply | null = null;
  let logged = 0;
  let used = 0;
  const flush = () => {
    if (logged === 0) return;
    run ??= instantiateCompiled(compileModule(bytes), context.memory().wasm!).exports["apply"] as Apply;
    const base = u().byteOffset;
    for (let c0 = 0; c0 < n; c0 += ROTATION_COLUMNS)
      run(base + c0 * 8, Math.min(ROTATION_COLUMNS, n - c0), sweeps().byteOffset, logged, cs().byteOffset);
    logged = 0;
    used = 0;
  };
  return {
    u,
    cs,
    begin(first, last) {
      const count = 2 * (last - first + 1);
      if (logged === maxSweeps || used + count > capacity) flush();
      const log = sweeps();
      log[2 * logged] = first;
      log[2 * logged + 1] = last;
      logged++;
      const at = used;
      used += count;
      return at;
    },
    flush,
  };
}

/**
 * `apply(u, width, sweeps, count, cs)`: the `count` sweeps logged at `sweeps` (first, last as i32 pairs),
 * their coefficients one after the other from `cs`, applied to the `width` columns of u's rows (n float64s
 * each) from byte offset u.
 */
function emitRotationModule(n: number, shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  const fn = module.function("apply", ["i32", "i32", "i32", "i32", "i32"], []);
  const [u, width, sweeps, count, cs] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3), fn.param(4)];
  const [sweep, first, i, at, end, coefficient] = fn.locals("i32", 6);
  const [c, s, xa, xb] = fn.locals("f64", 4);
  const [cv, sv, va, vb] = fn.locals("v128", 4);
  const rowBytes = n * 8;

  fn.localGet(cs).localSet(coefficient);
  fn.block().loop();
  fn.localGet(sweep).localGet(count).i32Eq().brIf(1);
  // first, last of this sweep; i from last down to first.
  fn.localGet(sweeps).localGet(sweep).i32Const(8).i32Mul().i32Add().localTee(at);
  fn.i32Load({ align: 2 }).localSet(first);
  fn.localGet(at).i32Load({ align: 2, offset: 4 }).localSet(i);
  fn.block().loop();
  fn.localGet(i).localGet(first).i32LtS().brIf(1);
  fn.localGet(coefficient).f64Load({ align: 3 }).localSet(c);
  fn.localGet(coefficient).f64Load({ align: 3, offset: 8 }).localSet(s);
  fn.localGet(coefficient).i32Const(16).i32Add().localSet(coefficient);
  fn.localGet(c).f64x2Splat().localSet(cv);
  fn.localGet(s).f64x2Splat().localSet(sv);
  // Rows i (at) and i + 1 (at + rowBytes) of the block, two components at a time.
  fn.localGet(u).localGet(i).i32Const(rowBytes).i32Mul().i32Add().localTee(at);
  fn.localGet(width).i32Const(-2).i32And().i32Const(8).i32Mul().i32Add().localSet(end);
  fn.block().loop();
  fn.localGet(at).localGet(end).i32Eq().brIf(1);
  fn.localGet(at).v128Load({ align: 3 }).localSet(va);
  fn.localGet(at).v128Load({ align: 3, offset: rowBytes }).localSet(vb);
  fn.localGet(at).localGet(sv).localGet(va).f64x2Mul().localGet(cv).localGet(vb).f64x2Mul().f64x2Add();
  fn.v128Store({ align: 3, offset: rowBytes });
  fn.localGet(at).localGet(cv).localGet(va).f64x2Mul().localGet(sv).localGet(vb).f64x2Mul().f64x2Sub();
  fn.v128Store({ align: 3 });
  fn.localGet(at).i32Const(16).i32Add().localSet(at);
  fn.br(0);
  fn.end().end();
  // The last component of an odd width.
  fn.localGet(width).i32Const(1).i32And().if();
  fn.localGet(at).f64Load({ align: 3 }).localSet(xa);
  fn.localGet(at).f64Load({ align: 3, offset: rowBytes }).localSet(xb);
  fn.localGet(at).localGet(s).localGet(xa).f64Mul().localGet(c).localGet(xb).f64Mul().f64Add();
  fn.f64Store({ align: 3, offset: rowBytes });
  fn.localGet(at).localGet(c).localGet(xa).f64Mul().localGet(s).localGet(xb).f64Mul().f64Sub();
  fn.f64Store({ align: 3 });
  fn.end();
  fn.localGet(i).i32Const(1).i32Sub().localSet(i);
  fn.br(0);
  fn.end().end();
  fn.localGet(sweep).i32Const(1).i32Add().localSet(sweep);
  fn.br(0);
  fn.end().end();
  return module.toBytes();
}
