/**
 * The eigenvector update of the implicit QL sweeps (linalg-eigh.ts), deferred and cache-blocked, in
 * WebAssembly SIMD. A sweep's plane rotations (i = last down to first) each turn rows i and i + 1 of the
 * n x n row-major matrix u into (c u_i - s u_{i+1}, s u_i + c u_{i+1}); that is most of eigh's work when
 * eigenvectors are asked for (6n flops per rotation, some n² rotations).
 *
 * The rotations never feed back into the iteration (d and e alone decide them), so they are logged as
 * the sweeps make them and applied later, many sweeps at once, to one block of ROTATION_COLUMNS columns
 * of u at a time: the block stays in cache across the sweeps instead of all of u streaming through
 * memory once per sweep; within a block a sweep carries a row in registers from one rotation to the next.
 * f64x2 lanes; each entry sees the same multiplications and additions in the same order as the
 * rotation-by-rotation JS loop, so the numbers are the same bit for bit.
 *
 * u, the log, the coefficients and the packed block live in the plan memory.
 */
import type { KernelContext } from "../../core/primitive.js";
import { importPlanMemory, planArray } from "../plan-memory.js";
import { ModuleBuilder } from "../wasm/module-writer.js";
import { compileModule, instantiateCompiled } from "../wasm/runtime.js";

/**
 * Columns of u per block the logged sweeps are applied to: the block is packed (n rows of 64 bytes, in
 * cache at the bench's orders) and its rows are the registers a sweep carries.
 */
const ROTATION_COLUMNS = 8;

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
  const packed = planArray(context, "float64", n * ROTATION_COLUMNS) as () => Float64Array;
  const bytes = emitRotationModule(context.shared);
  type Apply = (block: number, sweeps: number, count: number, cs: number) => void;
  let run: Apply | null = null;
  let logged = 0;
  let used = 0;
  const flush = () => {
    if (logged === 0) return;
    run ??= instantiateCompiled(compileModule(bytes), context.memory().wasm!).exports["apply"] as Apply;
    const a = u();
    const block = packed();
    const w = ROTATION_COLUMNS;
    for (let c0 = 0; c0 < n; c0 += w) {
      // The block's columns packed row after row (zeros past u's last column: they stay zero).
      const width = Math.min(w, n - c0);
      if (width < w) block.fill(0);
      for (let r = 0; r < n; r++) for (let k = 0; k < width; k++) block[r * w + k] = a[r * n + c0 + k]!;
      run(block.byteOffset, sweeps().byteOffset, logged, cs().byteOffset);
      for (let r = 0; r < n; r++) for (let k = 0; k < width; k++) a[r * n + c0 + k] = block[r * w + k]!;
    }
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
 * `apply(block, sweeps, count, cs)`: the `count` sweeps logged at `sweeps` (first, last as i32 pairs),
 * their coefficients one after the other from `cs`, applied to the rows of a packed block of
 * ROTATION_COLUMNS columns (rows ROTATION_COLUMNS float64s apart, so the block is contiguous).
 *
 * A sweep runs down the rows with row i + 1 kept in registers: rotation i reads row i, writes row i + 1
 * (final for this sweep) and keeps the new row i for rotation i - 1, so each row is loaded and stored once
 * per sweep.
 */
function emitRotationModule(shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  const fn = module.function("apply", ["i32", "i32", "i32", "i32"], []);
  const [block, sweeps, count, cs] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3)];
  const [sweep, first, at, row, coefficient] = fn.locals("i32", 5);
  const [cv, sv, a] = fn.locals("v128", 3);
  const vectors = ROTATION_COLUMNS / 2;
  const carried = Array.from({ length: vectors }, () => fn.local("v128"));
  const rowBytes = ROTATION_COLUMNS * 8;

  fn.localGet(cs).localSet(coefficient);
  fn.block().loop();
  fn.localGet(sweep).localGet(count).i32Eq().brIf(1);
  fn.localGet(sweeps).localGet(sweep).i32Const(8).i32Mul().i32Add().localTee(at);
  fn.i32Load({ align: 2 }).localSet(first);
  // Row last + 1 into the carried registers; i = last.
  fn.localGet(at).i32Load({ align: 2, offset: 4 }).localTee(at);
  fn.i32Const(1).i32Add().i32Const(rowBytes).i32Mul().localGet(block).i32Add().localSet(row);
  for (let g = 0; g < vectors; g++)
    fn.localGet(row)
      .v128Load({ align: 3, offset: 16 * g })
      .localSet(carried[g]!);
  fn.block().loop();
  fn.localGet(at).localGet(first).i32LtS().brIf(1);
  fn.localGet(row).i32Const(rowBytes).i32Sub().localSet(row);
  fn.localGet(coefficient).v128Load64Splat({ align: 3 }).localSet(cv);
  fn.localGet(coefficient).v128Load64Splat({ align: 3, offset: 8 }).localSet(sv);
  for (let g = 0; g < vectors; g++) {
    const b = carried[g]!;
    // Row i + 1: s a + c b; row i (carried on): c a - s b.
    fn.localGet(row)
      .v128Load({ align: 3, offset: 16 * g })
      .localSet(a);
    fn.localGet(row).localGet(sv).localGet(a).f64x2Mul().localGet(cv).localGet(b).f64x2Mul().f64x2Add();
    fn.v128Store({ align: 3, offset: rowBytes + 16 * g });
    fn.localGet(cv).localGet(a).f64x2Mul().localGet(sv).localGet(b).f64x2Mul().f64x2Sub().localSet(b);
  }
  fn.localGet(coefficient).i32Const(16).i32Add().localSet(coefficient);
  fn.localGet(at).i32Const(1).i32Sub().localSet(at);
  fn.br(0);
  fn.end().end();
  // Row first.
  for (let g = 0; g < vectors; g++)
    fn.localGet(row)
      .localGet(carried[g]!)
      .v128Store({ align: 3, offset: 16 * g });
  fn.localGet(sweep).i32Const(1).i32Add().localSet(sweep);
  fn.br(0);
  fn.end().end();
  return module.toBytes();
}
