/**
 * Float reductions (sum, prod, max, min over a set of axes) in WebAssembly over the plan memory, emitted
 * for one collapsed shape, with exactly the results of backend/js/reduce.ts: every output accumulates in
 * float64, starting from the identity, over its elements in input order, and is rounded once at the end;
 * max/min keep a NaN once they see one (`if (v > a || v != v) a = v`). Loops may be reordered only where
 * that keeps every output's own order:
 * - a kept innermost run (output stride 1) updates acc[o + j] from x[i + j], two outputs per f64x2 vector;
 * - a reduced innermost run of length L under a kept axis of S rows keeps up to GROUP rows' accumulators
 *   in locals and walks their runs side by side, one element of each at a time (independent chains).
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { type Shape, sizeOf } from "../../core/shape.js";
import { collapseAxes, outStridesFor, type ReduceOp } from "../js/reduce.js";
import { importPlanMemory } from "../plan-memory.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "./module-writer.js";
import { advance, type MoveDType, Operand, planExports, repeat } from "./move-support.js";

/** Module builds and kernel runs: lets tests see that the wasm path ran (no silent JS fallback). */
/**
 * Pushes the JS loop's max (min) of the float64x2 locals `v` and `acc`, lane by lane: v where v > acc
 * (v < acc) or v is NaN, else acc.
 */
export function f64x2MaxMin(fn: FunctionBuilder, op: "max" | "min", v: Local, acc: Local): void {
  fn.localGet(v).localGet(acc);
  fn.localGet(v)
    .localGet(acc)
    .op(op === "max" ? "f64x2Gt" : "f64x2Lt");
  fn.localGet(v).localGet(v).op("f64x2Ne").op("v128Or");
  fn.op("v128Bitselect");
}

export const wasmReduceCalls = { builds: 0, runs: 0 };

type FloatReduceOp = "sum" | "prod" | "max" | "min";

const INIT: Record<FloatReduceOp, number> = {
  sum: 0,
  prod: 1,
  max: Number.NEGATIVE_INFINITY,
  min: Number.POSITIVE_INFINITY,
};

/** Rows of a reduced innermost run whose accumulators are kept in locals at once. */
const GROUP = 8;
/** Runs up to this many elements are unrolled with constant offsets. */
const UNROLL = 16;

interface ReduceExports {
  /** Reduces x into acc (float64, one per output), then writes out (rounded; acc may be out). */
  reduce(x: number, acc: number, out: number): void;
}

/**
 * The input's axes with size-1 axes dropped and neighbours of the same kind merged (as the JS kernel's
 * collapseAxes): sizes and output strides in elements, 0 for reduced runs.
 */
function collapse(shape: Shape, axes: readonly number[]): { sizes: number[]; strides: number[] } {
  return collapseAxes(shape, outStridesFor(shape, axes));
}

class Emitter {
  private readonly es: number;
  private readonly f32: boolean;
  private readonly sv: Local;
  private readonly sa: Local;
  private readonly vv: Local;
  private readonly va: Local;

  constructor(
    private readonly fn: FunctionBuilder,
    private readonly op: FloatReduceOp,
    dtype: MoveDType,
  ) {
    this.f32 = dtype === "float32";
    this.es = this.f32 ? 4 : 8;
    this.sv = fn.local("f64");
    this.sa = fn.local("f64");
    this.vv = fn.local("v128");
    this.va = fn.local("v128");
  }

  /** x[ptr + offset] as an f64 on the stack. */
  private loadScalar(ptr: Local, offset: number): void {
    const fn = this.fn;
    fn.localGet(ptr);
    if (this.f32) fn.f32Load({ offset, align: 0 }).op("f64PromoteF32");
    else fn.f64Load({ offset, align: 0 });
  }

  /** x[ptr + offset], x[ptr + offset + es] as an f64x2 on the stack. */
  private loadPair(ptr: Local, offset: number): void {
    const fn = this.fn;
    fn.localGet(ptr);
    if (this.f32) fn.memory("v128Load64Zero", { offset, align: 0 }).op("f64x2PromoteLowF32x4");
    else fn.v128Load({ offset, align: 0 });
  }

  /** a (f64 on the stack) combined with the f64 emitted by `value`; leaves the result on the stack. */
  private combineScalar(value: () => void): void {
    const fn = this.fn;
    const op = this.op;
    const [sv, a] = [this.sv, this.sa];
    if (op === "sum" || op === "prod") {
      value();
      if (op === "sum") fn.f64Add();
      else fn.f64Mul();
      return;
    }
    // stack: a. select(v, a, v > a || v != v) (min: v < a)
    fn.localSet(a);
    value();
    fn.localSet(sv);
    fn.localGet(sv).localGet(a).localGet(sv).localGet(a);
    fn.op(op === "max" ? "f64Gt" : "f64Lt");
    fn.localGet(sv).localGet(sv).op("f64Ne").i32Or();
    fn.op("select");
  }

  /** Lane-wise: the vector on the stack (a) combined with the vector emitted by `value`. */
  private combinePair(value: () => void): void {
    const fn = this.fn;
    const op = this.op;
    const [vv, va] = [this.vv, this.va];
    if (op === "sum" || op === "prod") {
      value();
      if (op === "sum") fn.f64x2Add();
      else fn.f64x2Mul();
      return;
    }
    fn.localSet(va);
    value();
    fn.localSet(vv);
    f64x2MaxMin(fn, op, vv, va);
  }

  /** acc[o + oOff ..] op= x[x + xOff ..] for `count` contiguous elements, constant offsets. */
  private keptUnrolled(o: Local, oOff: number, x: Local, xOff: number, count: number): void {
    const fn = this.fn;
    let j = 0;
    for (; j + 2 <= count; j += 2) {
      fn.localGet(o);
      fn.localGet(o).v128Load({ offset: oOff + j * 8, align: 0 });
      this.combinePair(() => this.loadPair(x, xOff + j * this.es));
      fn.v128Store({ offset: oOff + j * 8, align: 0 });
    }
    for (; j < count; j++) {
      fn.localGet(o);
      fn.localGet(o).f64Load({ offset: oOff + j * 8, align: 0 });
      this.combineScalar(() => this.loadScalar(x, xOff + j * this.es));
      fn.f64Store({ offset: oOff + j * 8, align: 0 });
    }
  }

  /** A kept innermost run of `length` at acc pointer o; advances x past it. */
  kept(o: Local, x: Local, length: number): void {
    const fn = this.fn;
    if (length <= UNROLL) {
      this.keptUnrolled(o, 0, x, 0, length);
      advance(fn, x, length * this.es);
      return;
    }
    const step = 8;
    const p = fn.local("i32");
    fn.localGet(o).localSet(p);
    repeat(fn, Math.floor(length / step), () => {
      this.keptUnrolled(p, 0, x, 0, step);
      advance(fn, p, step * 8);
      advance(fn, x, step * this.es);
    });
    const rest = length % step;
    this.keptUnrolled(p, 0, x, 0, rest);
    advance(fn, x, rest * this.es);
  }

  /** `rows` reduced runs of `length` each (consecutive in x) into acc[o], acc[o + 8], ...; advances x. */
  reducedRows(o: Local, x: Local, rows: number, length: number): void {
    const fn = this.fn;
    const po = fn.local("i32");
    fn.localGet(o).localSet(po);
    const full = Math.floor(rows / GROUP);
    repeat(fn, full, () => this.reducedGroup(po, x, GROUP, length));
    if (rows % GROUP) this.reducedGroup(po, x, rows % GROUP, length);
  }

  /** `g` rows side by side; advances po by g outputs and x by g runs. */
  private reducedGroup(po: Local, x: Local, g: number, length: number): void {
    const fn = this.fn;
    const es = this.es;
    const accs = Array.from({ length: g }, () => fn.local("f64"));
    accs.forEach((a, r) => {
      fn.localGet(po)
        .f64Load({ offset: r * 8, align: 0 })
        .localSet(a);
    });
    const column = (k: number): void => {
      accs.forEach((a, r) => {
        fn.localGet(a);
        this.combineScalar(() => this.loadScalar(x, r * length * es + k * es));
        fn.localSet(a);
      });
    };
    if (length <= UNROLL) {
      for (let k = 0; k < length; k++) column(k);
      advance(fn, x, g * length * es);
    } else {
      const step = g >= 4 ? 2 : 4;
      repeat(fn, Math.floor(length / step), () => {
        for (let k = 0; k < step; k++) column(k);
        advance(fn, x, step * es);
      });
      const rest = length % step;
      for (let k = 0; k < rest; k++) column(k);
      advance(fn, x, (rest + (g - 1) * length) * es);
    }
    accs.forEach((a, r) => {
      fn.localGet(po)
        .localGet(a)
        .f64Store({ offset: r * 8, align: 0 });
    });
    advance(fn, po, g * 8);
  }
}

/** Fills `count` f64s at ptr with `value`. */
function fillF64(fn: FunctionBuilder, ptr: Local, count: number, value: number): void {
  if (count === 0) return;
  const p = fn.local("i32");
  fn.localGet(ptr).localSet(p);
  if (value === 0) {
    fn.localGet(p)
      .i32Const(0)
      .i32Const(count * 8)
      .op("memoryFill");
    return;
  }
  const splat = fn.local("v128");
  fn.f64Const(value).f64x2Splat().localSet(splat);
  repeat(fn, Math.floor(count / 2), () => {
    fn.localGet(p).localGet(splat).v128Store({ align: 0 });
    advance(fn, p, 16);
  });
  if (count % 2) fn.localGet(p).f64Const(value).f64Store({ align: 0 });
}

/** out[j] = f32(acc[j]) for `count` outputs. */
function demote(fn: FunctionBuilder, acc: Local, out: Local, count: number): void {
  const [a, o] = [fn.local("i32"), fn.local("i32")];
  fn.localGet(acc).localSet(a);
  fn.localGet(out).localSet(o);
  repeat(fn, Math.floor(count / 2), () => {
    fn.localGet(o).localGet(a).v128Load({ align: 0 }).op("f32x4DemoteF64x2Zero");
    fn.laneMemory("v128Store64Lane", 0, { align: 0 });
    advance(fn, a, 16);
    advance(fn, o, 8);
  });
  if (count % 2) fn.localGet(o).localGet(a).f64Load({ align: 0 }).op("f32DemoteF64").f32Store({ align: 0 });
}

function emitReduceModule(
  shared: boolean,
  op: FloatReduceOp,
  dtype: MoveDType,
  sizes: readonly number[],
  strides: readonly number[],
  n: number,
  m: number,
): Uint8Array {
  wasmReduceCalls.builds++;
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  const fn = module.function("reduce", ["i32", "i32", "i32"], []);
  const [xParam, accParam, outParam] = [fn.param(0), fn.param(1), fn.param(2)];
  const emitter = new Emitter(fn, op, dtype);
  fillF64(fn, accParam, m, INIT[op]);
  if (n > 0) {
    const x = fn.local("i32");
    fn.localGet(xParam).localSet(x);
    const rank = sizes.length;
    const keptInner = strides[rank - 1] !== 0;
    // The innermost block: a kept run, or a reduced run with the kept axis around it (if any).
    const block = keptInner || rank === 1 ? 1 : 2;
    const level = (ax: number, o: Local): void => {
      if (ax === rank - block) {
        if (keptInner) emitter.kept(o, x, sizes[rank - 1]!);
        else emitter.reducedRows(o, x, block === 2 ? sizes[rank - 2]! : 1, sizes[rank - 1]!);
        return;
      }
      const stride = strides[ax]!;
      let oo = o;
      if (stride !== 0) {
        oo = fn.local("i32");
        fn.localGet(o).localSet(oo);
      }
      repeat(fn, sizes[ax]!, () => {
        level(ax + 1, oo);
        advance(fn, oo, stride * 8);
      });
    };
    level(0, accParam);
  }
  if (dtype === "float32") demote(fn, accParam, outParam, m);
  return module.toBytes();
}

const isFloatOp = (op: ReduceOp): op is FloatReduceOp =>
  op === "sum" || op === "prod" || op === "max" || op === "min";
const isFloatDType = (dtype: string): dtype is MoveDType => dtype === "float32" || dtype === "float64";

/**
 * The wasm kernel of `op` over `axes` of a float array of `shape` in a plan's memory, or null when the
 * plan memory is not a WebAssembly one or the op or dtype is not handled (the caller uses the JS kernel).
 */
export function wasmReduce(
  op: ReduceOp,
  dtype: string,
  shape: Shape,
  axes: readonly number[],
  context: KernelContext,
): ((x: TypedArray, out: TypedArray) => void) | null {
  if (!context.wasm || !isFloatOp(op) || !isFloatDType(dtype)) return null;
  const n = sizeOf(shape);
  const m = sizeOf(shape.filter((_, i) => !axes.includes(i)));
  const { sizes, strides } = collapse(shape, axes);
  const key = `reduce ${op} ${dtype} ${n > 0 ? `${sizes}/${strides}` : "empty"} m=${m}`;
  const exports = planExports<ReduceExports>(context, key, () =>
    emitReduceModule(context.shared, op, dtype, sizes, strides, n, m),
  );
  const es = dtype === "float32" ? 4 : 8;
  const xOperand = new Operand(context, context.inputResident(0), n * es);
  const outOperand = new Operand(context, context.outputResident(0), m * es);
  const acc = dtype === "float32" ? context.reserve(m * 8) : -1;
  return (x, out) => {
    wasmReduceCalls.runs++;
    const xAt = xOperand.address(x, true);
    const outAt = outOperand.address(out, false);
    exports().reduce(xAt, acc >= 0 ? acc : outAt, outAt);
    outOperand.copyOut(out, outAt);
  };
}
