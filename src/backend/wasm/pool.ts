/**
 * Max-pooling kernels in WebAssembly, emitted for one geometry, with exactly the semantics of
 * backend/js/pool.ts: the window maximum and the flat index h*W + w of its first maximum (padding never
 * wins; NaN wins, and the last NaN's index is kept: `v > best || v != v`), the gather at those indices,
 * and its transpose, the scatter-add (float32 accumulates in float64 and is rounded once, as the JS
 * kernel does, which matters where windows overlap: only the cells an index names pass through the
 * float64 scratch).
 * Windows that lie inside the input are unrolled with constant offsets; border windows loop. In float32
 * with a column stride of 1 or 2, four neighbouring interior windows are computed at once in f32x4 lanes,
 * with the same comparison per lane.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import type { PoolGeometry } from "../js/pool.js";
import { importPlanMemory } from "../plan-memory.js";
import type { FunctionBuilder, Local } from "./module-writer.js";
import { ModuleBuilder } from "./module-writer.js";
import { advance, type MoveDType, Operand, planExports, repeat, wasmMoveCalls } from "./move-support.js";

/** Window elements unrolled in the fast path for interior windows. */
const UNROLL_WINDOW = 64;

interface PoolExports {
  /** Window maxima and/or their indices (the module is emitted for one or both; the other is ignored). */
  maxPool(x: number, values: number, indices: number): void;
  /** out[p, k] = t[p, idx[p, k]]; 1 when an index is out of its plane, else 0. */
  gather(t: number, idx: number, out: number): number;
  /** out[p, idx[p, k]] += ct[p, k] on zeroed planes (acc: float64 scratch when used). */
  scatterAdd(ct: number, idx: number, out: number, acc: number): number;
}

function floatOps(dtype: MoveDType) {
  const f32 = dtype === "float32";
  return {
    es: f32 ? 4 : 8,
    type: (f32 ? "f32" : "f64") as "f32" | "f64",
    load: (fn: FunctionBuilder, offset = 0) => (f32 ? fn.f32Load({ offset }) : fn.f64Load({ offset })),
    store: (fn: FunctionBuilder, offset = 0) => (f32 ? fn.f32Store({ offset }) : fn.f64Store({ offset })),
    gt: (fn: FunctionBuilder) => fn.op(f32 ? "f32Gt" : "f64Gt"),
    ne: (fn: FunctionBuilder) => fn.op(f32 ? "f32Ne" : "f64Ne"),
    negInfinity: (fn: FunctionBuilder) =>
      f32 ? fn.f32Const(Number.NEGATIVE_INFINITY) : fn.f64Const(Number.NEGATIVE_INFINITY),
  };
}

/** Interior output indices: windows [i*s - pad, i*s - pad + k) inside [0, size). */
function interior(out: number, k: number, s: number, pad: number, size: number): [number, number] {
  const lo = Math.min(out, Math.ceil(pad / s));
  const hi = Math.max(lo, Math.min(out, Math.floor((size - k + pad) / s) + 1));
  return [lo, hi];
}

/** maxPool(x, values, indices): every window's maximum and/or its index, as `outputs` asks. */
function emitMaxPool(
  fn: FunctionBuilder,
  dtype: MoveDType,
  g: PoolGeometry,
  outputs: { values: boolean; indices: boolean },
): void {
  const f = floatOps(dtype);
  const { planes, inHeight: H, inWidth: W, outHeight: OH, outWidth: OW, kernelH: kh, kernelW: kw } = g;
  const { strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  const [x, values, indices] = [fn.param(0), fn.param(1), fn.param(2)];
  const [plane, i, j, h0, w0, at, idx0, ptr] = fn.locals("i32", 8);
  const [hS, hE, wS, wE, h, w, cand] = fn.locals("i32", 7);
  const best = fn.local(f.type);
  const v = fn.local(f.type);
  const cond = fn.local("i32");
  const four = fourWindowLocals(fn);
  const [iLo, iHi] = interior(OH, kh, sh, pt, H);
  const [jLo, jHi] = interior(OW, kw, sw, pl, W);
  const unrolled = kh * kw <= UNROLL_WINDOW && iHi > iLo && jHi > jLo;
  // The last j that starts four windows j..j+3 at once: all interior, and (stride 2 loads 8 columns
  // from each even window column b, the last of them one past the window when kw is odd) no load past
  // the end of the row.
  const lastFour = sw === 2 ? Math.min(jHi - 4, Math.floor((W - 8 + pl - ((kw - 1) & ~1)) / 2)) : jHi - 4;
  const vectorized = dtype === "float32" && unrolled && (sw === 1 || sw === 2) && lastFour >= jLo;

  /** Candidate v (in local v) at flat index (in local cand): best, at updated when v > best || v != v. */
  const update = (): void => {
    fn.localGet(v).localGet(best);
    f.gt(fn);
    fn.localGet(v).localGet(v);
    f.ne(fn);
    fn.i32Or().localSet(cond);
    fn.localGet(v).localGet(best).localGet(cond).op("select").localSet(best);
    fn.localGet(cand).localGet(at).localGet(cond).op("select").localSet(at);
  };
  /** Pushes whether iLo <= i < iHi and jLo <= j < jEnd (an interior row, and j in the interior columns). */
  const interiorWindows = (jEnd: number): void => {
    fn.localGet(i).i32Const(iLo).i32GeS();
    fn.localGet(i).i32Const(iHi).i32LtS().i32And();
    fn.localGet(j).i32Const(jLo).i32GeS().i32And();
    fn.localGet(j).i32Const(jEnd).i32LtS().i32And();
  };
  const clamp = (target: Local, from: Local, add: number, bound: number, upper: boolean): void => {
    // upper: min(from + add, bound); else max(from, 0)
    if (upper) {
      fn.localGet(from).i32Const(add).i32Add().localSet(target);
      fn.localGet(target).i32Const(bound).localGet(target).i32Const(bound).i32LtS().op("select");
      fn.localSet(target);
    } else {
      fn.localGet(from).i32Const(0).localGet(from).i32Const(0).i32GtS().op("select").localSet(target);
    }
  };

  fn.localGet(x).localSet(plane);
  repeat(fn, planes, () => {
    fn.i32Const(0).localSet(i);
    fn.loop();
    fn.localGet(i).i32Const(sh).i32Mul().i32Const(pt).i32Sub().localSet(h0);
    fn.i32Const(0).localSet(j);
    fn.loop();
    if (vectorized) {
      interiorWindows(lastFour + 1);
      fn.if();
      emitFourWindows(fn, g, { x: plane, values, indices, j, h0, idx0, ptr }, outputs, four);
      fn.else();
    }
    fn.localGet(j).i32Const(sw).i32Mul().i32Const(pl).i32Sub().localSet(w0);
    if (unrolled) {
      interiorWindows(jHi);
      fn.if();
      fn.localGet(h0).i32Const(W).i32Mul().localGet(w0).i32Add().localSet(idx0);
      fn.localGet(plane).localGet(idx0).i32Const(f.es).i32Mul().i32Add().localSet(ptr);
      for (let a = 0; a < kh; a++) {
        for (let b = 0; b < kw; b++) {
          const offset = a * W + b;
          fn.localGet(ptr);
          f.load(fn, offset * f.es);
          if (a === 0 && b === 0) {
            fn.localSet(best);
            fn.localGet(idx0).localSet(at);
          } else {
            fn.localSet(v);
            fn.localGet(idx0).i32Const(offset).i32Add().localSet(cand);
            update();
          }
        }
      }
      fn.else();
    }
    // any window: bounds at run time
    clamp(hS, h0, 0, 0, false);
    clamp(hE, h0, kh, H, true);
    clamp(wS, w0, 0, 0, false);
    clamp(wE, w0, kw, W, true);
    f.negInfinity(fn);
    fn.localSet(best);
    fn.localGet(hS).i32Const(W).i32Mul().localGet(wS).i32Add().localSet(at);
    fn.localGet(hS).localSet(h);
    fn.block();
    fn.loop();
    fn.localGet(h).localGet(hE).i32GeS().brIf(1);
    fn.localGet(wS).localSet(w);
    fn.block();
    fn.loop();
    fn.localGet(w).localGet(wE).i32GeS().brIf(1);
    fn.localGet(h).i32Const(W).i32Mul().localGet(w).i32Add().localSet(cand);
    fn.localGet(plane).localGet(cand).i32Const(f.es).i32Mul().i32Add();
    f.load(fn);
    fn.localSet(v);
    update();
    fn.localGet(w).i32Const(1).i32Add().localSet(w);
    fn.br(0);
    fn.end();
    fn.end();
    fn.localGet(h).i32Const(1).i32Add().localSet(h);
    fn.br(0);
    fn.end();
    fn.end();
    if (unrolled) fn.end();
    // outputs
    if (outputs.values) {
      fn.localGet(values).localGet(best);
      f.store(fn);
      advance(fn, values, f.es);
    }
    if (outputs.indices) {
      fn.localGet(indices).localGet(at).i32Store();
      advance(fn, indices, 4);
    }
    if (vectorized) fn.end();
    fn.localGet(j).i32Const(1).i32Add().localTee(j).i32Const(OW).i32LtS().brIf(0);
    fn.end();
    fn.localGet(i).i32Const(1).i32Add().localTee(i).i32Const(OH).i32LtS().brIf(0);
    fn.end();
    advance(fn, plane, H * W * f.es);
  });
}

interface FourWindowLocals {
  /** v128: the windows' maxima, their flat indices, a candidate, the lanes it wins. */
  readonly best: Local;
  readonly at: Local;
  readonly v: Local;
  readonly wins: Local;
  /** v128: the four windows' first indices, and the 8 columns a stride-2 load spans. */
  readonly first: Local;
  readonly low: Local;
  readonly high: Local;
}

function fourWindowLocals(fn: FunctionBuilder): FourWindowLocals {
  const v128 = () => fn.local("v128");
  return {
    best: v128(),
    at: v128(),
    v: v128(),
    wins: v128(),
    first: v128(),
    low: v128(),
    high: v128(),
  };
}

/** v128.const bytes of four little-endian i32 lanes. */
function i32Lanes(lanes: readonly number[]): Uint8Array {
  return new Uint8Array(Int32Array.from(lanes).buffer);
}

/** i8x16.shuffle lanes picking f32 elements (0-3 of the first vector, 4-7 of the second). */
function f32Shuffle(elements: readonly number[]): number[] {
  return elements.flatMap((e) => [0, 1, 2, 3].map((b) => e * 4 + b));
}

/**
 * In the window loop (float32, an interior row, interior windows j..j+3): the four windows' maxima and
 * first-maximum indices in f32x4 / i32x4 lanes, stored at `values` / `indices` (advanced by 4
 * elements), and j advanced by 3 (the loop adds the fourth). Each lane compares as the scalar code does:
 * a candidate wins when v > best or v is NaN, in the window's row-major order. With column stride 2,
 * two vector loads of 8 columns give the candidates of columns b (even lanes) and b + 1 (odd lanes).
 */
function emitFourWindows(
  fn: FunctionBuilder,
  g: PoolGeometry,
  at: { x: Local; values: Local; indices: Local; j: Local; h0: Local; idx0: Local; ptr: Local },
  outputs: { values: boolean; indices: boolean },
  l: FourWindowLocals,
): void {
  const { inWidth: W, kernelH: kh, kernelW: kw, strideW: sw, padLeft: pl } = g;
  // The first window's flat index and address (h0, the row's first input row, is set by the row loop).
  fn.localGet(at.h0).i32Const(W).i32Mul();
  fn.localGet(at.j).i32Const(sw).i32Mul().i32Const(pl).i32Sub().i32Add().localSet(at.idx0);
  fn.localGet(at.x).localGet(at.idx0).i32Const(4).i32Mul().i32Add().localSet(at.ptr);
  fn.localGet(at.idx0)
    .op("i32x4Splat")
    .v128Const(i32Lanes([0, sw, 2 * sw, 3 * sw]))
    .op("i32x4Add");
  fn.localSet(l.first);
  const candidate = (a: number, b: number): void => {
    const offset = a * W + b;
    if (a === 0 && b === 0) {
      fn.localGet(l.v).localSet(l.best);
      fn.localGet(l.first).localSet(l.at);
      return;
    }
    fn.localGet(l.v).localGet(l.best).op("f32x4Gt");
    fn.localGet(l.v).localGet(l.v).op("f32x4Ne").op("v128Or").localSet(l.wins);
    fn.localGet(l.v).localGet(l.best).localGet(l.wins).op("v128Bitselect").localSet(l.best);
    fn.localGet(l.first)
      .v128Const(i32Lanes([offset, offset, offset, offset]))
      .op("i32x4Add");
    fn.localGet(l.at).localGet(l.wins).op("v128Bitselect").localSet(l.at);
  };
  for (let a = 0; a < kh; a++) {
    if (sw === 1) {
      for (let b = 0; b < kw; b++) {
        fn.localGet(at.ptr)
          .v128Load({ offset: (a * W + b) * 4, align: 0 })
          .localSet(l.v);
        candidate(a, b);
      }
      continue;
    }
    for (let b = 0; b < kw; b += 2) {
      fn.localGet(at.ptr)
        .v128Load({ offset: (a * W + b) * 4, align: 0 })
        .localSet(l.low);
      fn.localGet(at.ptr)
        .v128Load({ offset: (a * W + b + 4) * 4, align: 0 })
        .localSet(l.high);
      fn.localGet(l.low)
        .localGet(l.high)
        .i8x16Shuffle(f32Shuffle([0, 2, 4, 6]))
        .localSet(l.v);
      candidate(a, b);
      if (b + 1 < kw) {
        fn.localGet(l.low)
          .localGet(l.high)
          .i8x16Shuffle(f32Shuffle([1, 3, 5, 7]))
          .localSet(l.v);
        candidate(a, b + 1);
      }
    }
  }
  if (outputs.values) {
    fn.localGet(at.values).localGet(l.best).v128Store({ offset: 0, align: 0 });
    advance(fn, at.values, 16);
  }
  if (outputs.indices) {
    fn.localGet(at.indices).localGet(l.at).v128Store({ offset: 0, align: 0 });
    advance(fn, at.indices, 16);
  }
  fn.localGet(at.j).i32Const(3).i32Add().localSet(at.j);
}

/**
 * gather(t, idx, out) and scatterAdd(ct, idx, out, acc) over `planes` planes of `per` indices; with
 * `distinct` (no index repeats within a plane) the scatter writes each cell once, 0 + ct in the dtype: the
 * bits of the float64 sum rounded once, with no float64 scratch.
 */
function emitIndexed(
  module: ModuleBuilder,
  dtype: MoveDType,
  planes: number,
  planeSize: number,
  per: number,
  distinct: boolean,
): void {
  const f = floatOps(dtype);
  {
    const fn = module.function("gather", ["i32", "i32", "i32"], ["i32"]);
    const [t, idx, out] = [fn.param(0), fn.param(1), fn.param(2)];
    const at = fn.local("i32");
    repeat(fn, planes, () => {
      repeat(fn, per, () => {
        fn.localGet(idx).i32Load().localTee(at).i32Const(planeSize).op("i32GeU");
        fn.if();
        fn.i32Const(1).return();
        fn.end();
        fn.localGet(out).localGet(t).localGet(at).i32Const(f.es).i32Mul().i32Add();
        f.load(fn);
        f.store(fn);
        advance(fn, idx, 4);
        advance(fn, out, f.es);
      });
      advance(fn, t, planeSize * f.es);
    });
    fn.i32Const(0);
  }
  {
    const fn = module.function("scatterAdd", ["i32", "i32", "i32", "i32"], ["i32"]);
    const [ct, idx, out, acc] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3)];
    const [at, base, outBase, idxStart, ctStart] = fn.locals("i32", 5);
    const wide = dtype === "float32" && !distinct;
    fn.localGet(out)
      .i32Const(0)
      .i32Const(planes * planeSize * f.es)
      .op("memoryFill");
    /** Walks every index (in order), with `at` the element offset of its cell in its plane. */
    const eachIndex = (body: () => void): void => {
      fn.localGet(idxStart).localSet(idx);
      fn.localGet(ctStart).localSet(ct);
      fn.localGet(acc).localSet(base);
      fn.localGet(out).localSet(outBase);
      repeat(fn, planes, () => {
        repeat(fn, per, () => {
          fn.localGet(idx).i32Load().localSet(at);
          body();
          advance(fn, idx, 4);
          advance(fn, ct, f.es);
        });
        advance(fn, base, planeSize * 8);
        advance(fn, outBase, planeSize * f.es);
      });
    };
    fn.localGet(idx).localSet(idxStart);
    fn.localGet(ct).localSet(ctStart);
    if (wide) {
      // float32 sums in float64, rounded once, as the JS kernel does: only the cells an index names go
      // through the float64 scratch (cleared, accumulated in index order, rounded into out).
      const cell = (): void => void fn.localGet(base).localGet(at).i32Const(8).i32Mul().i32Add();
      eachIndex(() => {
        fn.localGet(at).i32Const(planeSize).op("i32GeU");
        fn.if();
        fn.i32Const(1).return();
        fn.end();
        cell();
        fn.f64Const(0).f64Store();
      });
      eachIndex(() => {
        cell();
        cell();
        fn.f64Load();
        fn.localGet(ct).f32Load().op("f64PromoteF32");
        fn.f64Add().f64Store();
      });
      eachIndex(() => {
        fn.localGet(outBase).localGet(at).i32Const(4).i32Mul().i32Add();
        cell();
        fn.f64Load().op("f32DemoteF64").f32Store();
      });
    } else {
      // float64, or indices that do not repeat: out[at] + ct in the dtype (0 + ct where distinct)
      eachIndex(() => {
        fn.localGet(at).i32Const(planeSize).op("i32GeU");
        fn.if();
        fn.i32Const(1).return();
        fn.end();
        fn.localGet(outBase).localGet(at).i32Const(f.es).i32Mul().i32Add().localTee(at);
        fn.localGet(at);
        f.load(fn);
        fn.localGet(ct);
        f.load(fn);
        if (dtype === "float32") fn.f32Add();
        else fn.f64Add();
        f.store(fn);
      });
    }
    fn.i32Const(0);
  }
}

function emitPoolModule(shared: boolean, build: (module: ModuleBuilder) => void): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  build(module);
  return module.toBytes();
}

const isMoveDType = (dtype: string): dtype is MoveDType => dtype === "float32" || dtype === "float64";

/**
 * The wasm max-pool kernel (values and/or indices) of one geometry in a plan's memory, or null when the
 * plan memory is not a WebAssembly one (the caller uses the JS kernel).
 */
export function wasmMaxPool2d(
  g: PoolGeometry,
  dtype: string,
  outputs: { values: boolean; indices: boolean },
  context: KernelContext,
): ((x: TypedArray, values: TypedArray | null, indices: Int32Array | null) => void) | null {
  if (!context.wasm || !isMoveDType(dtype)) return null;
  const key = `max pool ${dtype} ${JSON.stringify(g)} ${outputs.values} ${outputs.indices}`;
  const exports = planExports<PoolExports>(context, key, () =>
    emitPoolModule(context.shared, (module) =>
      emitMaxPool(module.function("maxPool", ["i32", "i32", "i32"], []), dtype, g, outputs),
    ),
  );
  const es = dtype === "float32" ? 4 : 8;
  const outSize = g.planes * g.outHeight * g.outWidth;
  const xOperand = new Operand(context, context.inputResident(0), g.planes * g.inHeight * g.inWidth * es);
  const vOperand = outputs.values ? new Operand(context, context.outputResident(0), outSize * es) : null;
  const iOperand = outputs.indices
    ? new Operand(context, context.outputResident(outputs.values ? 1 : 0), outSize * 4)
    : null;
  return (x, values, indices) => {
    wasmMoveCalls.pool++;
    const xAt = xOperand.address(x, true);
    const vAt = values && vOperand ? vOperand.address(values, false) : -1;
    const iAt = indices && iOperand ? iOperand.address(indices, false) : -1;
    exports().maxPool(xAt, vAt, iAt);
    if (vAt >= 0) vOperand!.copyOut(values!, vAt);
    if (iAt >= 0) iOperand!.copyOut(indices!, iAt);
  };
}

/** Exports of the gather / scatter-add module of one shape (`distinct`: each plane's indices differ). */
function indexedExports(
  context: KernelContext,
  dtype: MoveDType,
  planes: number,
  planeSize: number,
  per: number,
  distinct = false,
): () => PoolExports {
  const key = `pool indexed ${dtype} ${planes} ${planeSize} ${per} ${distinct}`;
  return planExports<PoolExports>(context, key, () =>
    emitPoolModule(context.shared, (module) => emitIndexed(module, dtype, planes, planeSize, per, distinct)),
  );
}

/** out = t gathered at idx (pool_gather) in wasm, or null for the JS kernel. */
export function wasmPoolGather(
  dtype: string,
  planes: number,
  planeSize: number,
  per: number,
  context: KernelContext,
): ((t: TypedArray, idx: Int32Array, out: TypedArray) => void) | null {
  if (!context.wasm || !isMoveDType(dtype)) return null;
  const exports = indexedExports(context, dtype, planes, planeSize, per);
  const es = dtype === "float32" ? 4 : 8;
  const tOperand = new Operand(context, context.inputResident(0), planes * planeSize * es);
  const idxOperand = new Operand(context, context.inputResident(1), planes * per * 4);
  const outOperand = new Operand(context, context.outputResident(0), planes * per * es);
  return (t, idx, out) => {
    wasmMoveCalls.pool++;
    const outAt = outOperand.address(out, false);
    const status = exports().gather(tOperand.address(t, true), idxOperand.address(idx, true), outAt);
    if (status !== 0)
      throw new RangeError(`pool_gather: an index is outside a plane of ${planeSize} elements`);
    outOperand.copyOut(out, outAt);
  };
}

/** out = ct scatter-added at idx into zero planes (pool_scatter_add) in wasm, or null for the JS kernel. */
export function wasmPoolScatterAdd(
  dtype: string,
  planes: number,
  planeSize: number,
  per: number,
  distinctIndices: boolean,
  context: KernelContext,
): ((ct: TypedArray, idx: Int32Array, out: TypedArray) => void) | null {
  if (!context.wasm || !isMoveDType(dtype)) return null;
  const exports = indexedExports(context, dtype, planes, planeSize, per, distinctIndices);
  const es = dtype === "float32" ? 4 : 8;
  const acc = dtype === "float32" && !distinctIndices ? context.reserve(planes * planeSize * 8) : 0;
  const ctOperand = new Operand(context, context.inputResident(0), planes * per * es);
  const idxOperand = new Operand(context, context.inputResident(1), planes * per * 4);
  const outOperand = new Operand(context, context.outputResident(0), planes * planeSize * es);
  return (ct, idx, out) => {
    wasmMoveCalls.pool++;
    const outAt = outOperand.address(out, false);
    const ctAt = ctOperand.address(ct, true);
    const status = exports().scatterAdd(ctAt, idxOperand.address(idx, true), outAt, acc);
    if (status !== 0)
      throw new RangeError(`pool_scatter_add: an index is outside a plane of ${planeSize} elements`);
    outOperand.copyOut(out, outAt);
  };
}
