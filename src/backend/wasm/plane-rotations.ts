/**
 * Sequences of plane rotations applied to the vectors of a matrix, in WebAssembly SIMD: the SVD's
 * bidiagonal QR (js/linalg-svd-bdsqr.ts) accumulates its rotations into U and V this way (LAPACK's dlasr,
 * side 'R', pivot 'V'). The vectors are stored one per row (vector j at data + j * rowStride bytes, its
 * elements contiguous, padded to a multiple of ROTATION_CHUNK), so that one f64x2 holds two of their rows:
 * a pass takes ROTATION_CHUNK rows through every logged sweep, four independent f64x2 chains that stay
 * in registers while a sweep moves along the vectors, and the rows in the next ROTATION_CHUNK elements
 * of every vector after that.
 *
 * A sweep is four i32 at meta + 16 t: lo, len, forward (1 or 0), start; its rotation j (0 <= j < len)
 * combines vectors lo + j and lo + j + 1 with cosine c[start + j] and sine s[start + j] (f64 arrays at
 * byte addresses c and s): x_j <- c x_j + s x_{j+1}, x_{j+1} <- c x_{j+1} - s x_j, j ascending (forward)
 * or descending. Products and sums are rounded as the scalar JS loops round them (no fused multiply-add),
 * so both give the same bits.
 */
import type { KernelContext } from "../../core/primitive.js";
import { type RotationTarget, rotationLogCapacity } from "../js/linalg-svd-bdsqr.js";
import { importPlanMemory, planArray } from "../plan-memory.js";
import { type Local, ModuleBuilder } from "./module-writer.js";
import { planExports } from "./move-support.js";

/** Rows (elements of each vector) per pass: four f64x2. */
export const ROTATION_CHUNK = 8;

/** The exported function: rotate(data, rowStride, chunks, sweeps, meta, c, s), byte addresses and counts. */
export type RotateExport = (
  data: number,
  rowStride: number,
  chunks: number,
  sweeps: number,
  meta: number,
  c: number,
  s: number,
) => void;

export function emitRotationModule(sharedMemory: boolean): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, sharedMemory);
  const fn = module.function("rotate", ["i32", "i32", "i32", "i32", "i32", "i32", "i32"], []);
  const [data, rowStride, chunks, sweeps, meta, cBase, sBase] = fn.params as [
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
    Local,
  ];
  const chunk = fn.local("i32"); // the chunk's byte offset within each vector
  const chunksLeft = fn.local("i32");
  const sweep = fn.local("i32"); // address of the sweep's meta
  const sweepsLeft = fn.local("i32");
  const lo = fn.local("i32");
  const len = fn.local("i32");
  const ptr = fn.local("i32");
  const other = fn.local("i32");
  const cp = fn.local("i32");
  const sp = fn.local("i32");
  const left = fn.local("i32");
  const cv = fn.local("v128");
  const sv = fn.local("v128");
  const lanes = ROTATION_CHUNK / 2;
  const carry = Array.from({ length: lanes }, () => fn.local("v128"));
  const t = Array.from({ length: lanes }, () => fn.local("v128"));

  const loadCarry = (at: Local): void => {
    for (let l = 0; l < lanes; l++)
      fn.localGet(at)
        .v128Load({ offset: 16 * l })
        .localSet(carry[l]!);
  };
  const storeCarry = (at: Local): void => {
    for (let l = 0; l < lanes; l++)
      fn.localGet(at)
        .localGet(carry[l]!)
        .v128Store({ offset: 16 * l });
  };
  const splats = (): void => {
    fn.localGet(cp).v128Load64Splat().localSet(cv);
    fn.localGet(sp).v128Load64Splat().localSet(sv);
  };
  /** Loops `left` times (at least once) over body, which must leave nothing on the stack. */
  const countedLoop = (body: () => void): void => {
    fn.loop();
    body();
    fn.localGet(left).i32Const(1).i32Sub().localTee(left).brIf(0);
    fn.end();
  };

  fn.i32Const(0).localSet(chunk);
  fn.localGet(chunks).localSet(chunksLeft);
  fn.block();
  fn.localGet(chunksLeft).i32Eqz().brIf(0);
  fn.loop();
  fn.localGet(meta).localSet(sweep);
  fn.localGet(sweeps).localSet(sweepsLeft);
  fn.block();
  fn.localGet(sweepsLeft).i32Eqz().brIf(0);
  fn.loop();
  fn.localGet(sweep).i32Load().localSet(lo);
  fn.localGet(sweep).i32Load({ offset: 4 }).localSet(len);
  fn.localGet(len).localSet(left);
  // ptr: vector lo's chunk; cp, sp: rotation 0's cosine and sine (start * 8 bytes on).
  fn.localGet(data).localGet(chunk).i32Add().localGet(lo).localGet(rowStride).i32Mul().i32Add().localSet(ptr);
  fn.localGet(sweep).i32Load({ offset: 12 }).i32Const(3).i32Shl().localSet(cp);
  fn.localGet(cp).localGet(sBase).i32Add().localSet(sp);
  fn.localGet(cp).localGet(cBase).i32Add().localSet(cp);
  fn.localGet(sweep).i32Load({ offset: 8 }).if();
  // Forward: carry the updated x_{j+1} to rotation j + 1.
  loadCarry(ptr);
  countedLoop(() => {
    splats();
    fn.localGet(ptr).localGet(rowStride).i32Add().localSet(other);
    for (let l = 0; l < lanes; l++)
      fn.localGet(other)
        .v128Load({ offset: 16 * l })
        .localSet(t[l]!);
    for (let l = 0; l < lanes; l++) {
      // x_j = s t + c carry; carry = c t - s carry.
      fn.localGet(ptr);
      fn.localGet(sv).localGet(t[l]!).f64x2Mul();
      fn.localGet(cv).localGet(carry[l]!).f64x2Mul();
      fn.f64x2Add().v128Store({ offset: 16 * l });
      fn.localGet(cv).localGet(t[l]!).f64x2Mul();
      fn.localGet(sv).localGet(carry[l]!).f64x2Mul();
      fn.f64x2Sub().localSet(carry[l]!);
    }
    fn.localGet(other).localSet(ptr);
    fn.localGet(cp).i32Const(8).i32Add().localSet(cp);
    fn.localGet(sp).i32Const(8).i32Add().localSet(sp);
  });
  storeCarry(ptr);
  fn.else();
  // Backward: from vector lo + len down, the updated x_j carried to rotation j - 1.
  fn.localGet(ptr).localGet(len).localGet(rowStride).i32Mul().i32Add().localSet(ptr);
  fn.localGet(len).i32Const(1).i32Sub().i32Const(3).i32Shl().localSet(other);
  fn.localGet(cp).localGet(other).i32Add().localSet(cp);
  fn.localGet(sp).localGet(other).i32Add().localSet(sp);
  loadCarry(ptr);
  countedLoop(() => {
    splats();
    fn.localGet(ptr).localGet(rowStride).i32Sub().localSet(other);
    for (let l = 0; l < lanes; l++)
      fn.localGet(other)
        .v128Load({ offset: 16 * l })
        .localSet(t[l]!);
    for (let l = 0; l < lanes; l++) {
      // x_{j+1} = c carry - s t; carry = s carry + c t.
      fn.localGet(ptr);
      fn.localGet(cv).localGet(carry[l]!).f64x2Mul();
      fn.localGet(sv).localGet(t[l]!).f64x2Mul();
      fn.f64x2Sub().v128Store({ offset: 16 * l });
      fn.localGet(sv).localGet(carry[l]!).f64x2Mul();
      fn.localGet(cv).localGet(t[l]!).f64x2Mul();
      fn.f64x2Add().localSet(carry[l]!);
    }
    fn.localGet(other).localSet(ptr);
    fn.localGet(cp).i32Const(8).i32Sub().localSet(cp);
    fn.localGet(sp).i32Const(8).i32Sub().localSet(sp);
  });
  storeCarry(ptr);
  fn.end();
  fn.localGet(sweep).i32Const(16).i32Add().localSet(sweep);
  fn.localGet(sweepsLeft).i32Const(1).i32Sub().localTee(sweepsLeft).brIf(0);
  fn.end();
  fn.end();
  fn.localGet(chunk)
    .i32Const(8 * ROTATION_CHUNK)
    .i32Add()
    .localSet(chunk);
  fn.localGet(chunksLeft).i32Const(1).i32Sub().localTee(chunksLeft).brIf(0);
  fn.end();
  fn.end();
  return module.toBytes();
}

/** Vectors stored one per row in the plan memory, and the RotationTarget that rotates them in wasm. */
export interface PlanVectors {
  /** The storage: element r of vector j at j * stride + r (rows padded to a multiple of ROTATION_CHUNK). */
  readonly data: () => Float64Array;
  readonly stride: number;
  readonly target: RotationTarget;
}

/**
 * `vectors` vectors of `rows` elements in `context`'s plan memory, with a log for the rotations of an
 * order-n bidiagonal SVD; null where the plan memory is not a WebAssembly memory.
 */
export function planVectorRotations(
  context: KernelContext,
  vectors: number,
  rows: number,
  n: number,
): PlanVectors | null {
  if (!context.wasm) return null;
  const stride = Math.ceil(rows / ROTATION_CHUNK) * ROTATION_CHUNK;
  const [rotations, sweeps] = rotationLogCapacity(n);
  const exports = planExports<{ rotate: RotateExport }>(context, "svd plane rotations", () =>
    emitRotationModule(context.shared),
  );
  const data = planArray(context, "float64", vectors * stride) as () => Float64Array;
  const c = planArray(context, "float64", rotations) as () => Float64Array;
  const s = planArray(context, "float64", rotations) as () => Float64Array;
  const meta = planArray(context, "int32", 4 * sweeps) as () => Int32Array;
  return {
    data,
    stride,
    target: {
      storage: () => ({ c: c(), s: s(), meta: meta() }),
      apply(count) {
        exports().rotate(
          data().byteOffset,
          8 * stride,
          stride / ROTATION_CHUNK,
          count,
          meta().byteOffset,
          c().byteOffset,
          s().byteOffset,
        );
      },
    },
  };
}
