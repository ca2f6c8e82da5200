/**
 * Fused elementwise loops (./fusion.ts) in WebAssembly SIMD, emitted for one group of a jit plan and run
 * in place in the plan's memory. The body of the loop is the group's expression trees (the kernels the
 * elementwise primitives declare, core/expr.ts) rendered by ./expr-wasm.ts; this file writes the loop
 * around them.
 *
 * The loop walks the group's shape in row-major order, four elements per step (a float32, int32 or bool
 * value is one v128, bools as i32x4 masks; a float64 value two f64x2). Dimensions every operand walks
 * contiguously are collapsed; the innermost loop is vectorised with a lane-by-lane tail, and every bound
 * is a constant. Each input stream (an input read directly, or through a broadcast) has its own pointer
 * and strides over the loop shape: innermost stride 1 is a vector load, 0 a splat loaded once per inner
 * loop, anything else a lane-by-lane gather. Results are bit-identical to the JS fused loop (up to NaN
 * payloads), reductions included: a full one accumulates lane by lane in element order in a float64 local;
 * a partial one (a layer norm's row sums, a bias gradient's column sums) accumulates every output element
 * in float64 scratch in the loop's row-major order, so each sums its own elements in element order as the
 * JS loop does (a run along a reduced innermost dimension in a local, a kept innermost dimension two
 * accumulators per f64x2), then rounds them into the output.
 *
 * Large loops are shared with the worker threads (backend/wasm/threads.ts): the outermost loop (a
 * one-dimensional loop first split as [outer, inner]) in chunks that the threads take in turn. A loop
 * with a reduction is shared only where its outermost dimension is kept (row sums: each chunk sums its own
 * rows), never split as [outer, inner].
 *
 * Not handled (null: the JS loop runs instead): the JS backend (no WebAssembly plan memory), engines
 * without SIMD, a tree with a node that has no SIMD rendering (`wasmFallback` names it; jit's printed
 * plan shows it), reductions other than float sums, maxima and minima, and groups smaller than
 * `fusedThresholds` (a call into wasm costs more than the JS loop there).
 */
import { workerPool } from "../backend/index.js";
import { KERNEL_THRESHOLDS } from "../backend/kernel-choice.js";
import { importPlanMemory, viewAt } from "../backend/plan-memory.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "../backend/wasm/module-writer.js";
import { f64x2MaxMin } from "../backend/wasm/reduce.js";
import { compileModule, instantiateCompiled, simdSupported } from "../backend/wasm/runtime.js";
import { runChunks, type WorkerPool } from "../backend/wasm/threads.js";
import { BYTES_PER_ELEMENT, type DType, type TypedArray } from "../core/dtype.js";
import { describeNode, type Expr } from "../core/expr.js";
import { type Atom, type Equation, Literal, Var } from "../core/ir.js";
import type { KernelContext } from "../core/primitive.js";
import { fmtShape, sizeOf, stridesOf } from "../core/shape.js";
import { isElementwise } from "../ops/elementwise-kit.js";
import { compileExpr, constBytes, splatBytes, type Val, wasmBlocker } from "./expr-wasm.js";
import { type FusedGroup, fusedReductionMonoid, isFusedBroadcast } from "./fusion.js";

/** The fused loops' thresholds, among all the kernels' (kernel-choice.ts). */
export const fusedThresholds = KERNEL_THRESHOLDS.fused;

/** Elements per step of the vector loop. */
const W = 4;

type VType = DType;

const BYTES: Readonly<Record<VType, number>> = BYTES_PER_ELEMENT;

/** The dtypes the loop stores (float16 as bits; it loads uint8 too: an image cast to float32). */
const WASM_STORED: ReadonlySet<DType> = new Set<DType>(["float32", "float64", "int32", "bool", "float16"]);

/** A stream of input elements: an input read at the loop index or through a broadcast. */
interface Stream {
  readonly input: number;
  readonly type: VType;
  /** Element strides over the loop shape (0 on broadcast dimensions). */
  readonly strides: number[];
  readonly val: Val;
  ptr: Local;
  /** Strides over the collapsed loop. */
  collapsed: number[];
}

interface Output {
  readonly index: number;
  readonly v: Var;
  readonly type: VType;
  ptr: Local;
}

/** Byte 0 of each i32 lane into bytes 0-3. */
const BYTES_OF_MASK = [0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12, 0, 4, 8, 12];
/** 1 in every byte (i8x16.splat 1). */
const ONE_BYTES = new Uint8Array(16).fill(1);

/** The kernel tree of an elementwise equation (its operands are its inputs, in order). */
function treeOf(e: Equation): Expr {
  if (!isElementwise(e.primitive)) throw new Error(`fused: ${e.primitive.name} is not elementwise`);
  return e.primitive.elementwise.tree(
    e.inputs.map((a) => a.aval.dtype),
    e.params as never,
  );
}

/**
 * Why the group's loop cannot run in wasm whatever the backend and sizes, or null: the first node of its
 * trees without a SIMD rendering (`exp(float64) in exp`), or a reduction the loop does not accumulate.
 */
export function wasmFallback(group: FusedGroup): string | null {
  for (const e of group.equations) {
    if (isFusedBroadcast(e)) continue;
    const blocker = wasmBlocker(treeOf(e));
    if (blocker) return `${describeNode(blocker)} in ${e.primitive.name} has no wasm rendering`;
  }
  const narrow = group.outputs.find((v) => !WASM_STORED.has(v.aval.dtype));
  if (narrow) return `a ${narrow.aval.dtype} output is stored by the JS loop`;
  const reduction = group.reduction;
  if (reduction) {
    const src = reduction.inputs[0]!;
    if (fusedReductionMonoid(reduction) === null)
      return `${reduction.primitive.name} is not accumulated in wasm`;
    if (src.aval.dtype !== "float32" && src.aval.dtype !== "float64")
      return `${reduction.primitive.name} of ${src.aval.dtype} is not accumulated in wasm`;
  }
  return null;
}

export interface WasmFusedKernel {
  /** Runs the loop on the plan's buffer table. */
  run(table: readonly TypedArray[]): void;
  /** What the loop computes, for kernelSources. */
  readonly description: string;
}

/**
 * A WebAssembly SIMD kernel for a fused group, or null where the JS kernel should run (see the file
 * comment). `slot(v)` is the buffer-table index of an input or output; operands that are views on the
 * plan memory are used in place, others go through staging reserved here.
 */
export function wasmFusedKernel(
  group: FusedGroup,
  context: KernelContext,
  slot: (v: Var) => number,
): WasmFusedKernel | null {
  if (!context.wasm || !simdSupported()) return null;
  const n = sizeOf(group.shape);
  const allResident =
    group.inputs.every((_, k) => context.inputResident(k)) &&
    group.outputs.every((_, k) => context.outputResident(k));
  if (n < (allResident ? fusedThresholds.resident : fusedThresholds.staged)) return null;
  if (wasmFallback(group) !== null) return null;
  if (group.reduction && !(group.reduction.inputs[0] instanceof Var)) return null;
  // No catch: an emitter bug must surface, not turn into a silent JS loop (the cliff wasmFallback reports).
  return build(group, context, slot);
}

function build(group: FusedGroup, context: KernelContext, slot: (v: Var) => number): WasmFusedKernel {
  const shape = group.shape;
  const rank = shape.length;
  const loopStrides = stridesOf(shape);
  const module = new ModuleBuilder();
  importPlanMemory(module, context.shared);
  // fused(args, start, count): the operands' addresses at `args`; of the outermost loop (when there are
  // two or more), iterations [start, start + count).
  const f = module.function("fused", ["i32", "i32", "i32"], []);
  const [args, start, count] = [f.param(0), f.param(1), f.param(2)];
  const prologue: (() => void)[] = [];
  const lines: string[] = [];

  const newVal = (type: VType): Val => ({
    type,
    regs: type === "float64" ? [f.local("v128"), f.local("v128")] : [f.local("v128")],
  });

  // ---- streams
  const streams: Stream[] = [];
  const inputIndex = new Map<Var, number>();
  group.inputs.forEach((v, k) => {
    inputIndex.set(v, k);
  });
  const streamFor = (v: Var, strides: number[]): Val => {
    const input = inputIndex.get(v);
    if (input === undefined) throw new Error("fused: input not found");
    const found = streams.find((s) => s.input === input && s.strides.every((x, d) => x === strides[d]));
    if (found) return found.val;
    const type = v.aval.dtype;
    const s: Stream = { input, type, strides, val: newVal(type), ptr: f.local("i32"), collapsed: [] };
    streams.push(s);
    const what = strides.every((x, d) => x === loopStrides[d])
      ? "contiguous"
      : `strides [${strides.join(",")}]`;
    lines.push(`  in${input}: ${v.aval.dtype}${fmtShape(v.aval.shape)} ${what}`);
    return s.val;
  };

  // ---- constants (hoisted into locals)
  // Literals and the trees' constants live in locals set once.
  const constants = new Map<string, Local>();
  const constOf = (type: VType, value: number): Local => {
    const key = `${type}:${Object.is(value, -0) ? "-0" : String(value)}`;
    let local = constants.get(key);
    if (!local) {
      const l = f.local("v128");
      // A float16 literal is its stored bits, in int32 lanes as a loaded float16 operand.
      const bytes = type === "float16" ? splatBytes("i32", value) : constBytes(type, value);
      prologue.push(() => {
        f.v128Const(bytes).localSet(l);
      });
      constants.set(key, l);
      local = l;
    }
    return local;
  };

  // ---- the body: a Val per value, and the code computing it
  const values = new Map<Var, Val>();
  const names = new Map<Var, string>();
  const body: (() => void)[] = [];
  const atom = (a: Atom): Val => {
    if (a instanceof Literal) {
      const type = a.aval.dtype;
      const local = constOf(type, Number(a.value.storage[0]!));
      return { type, regs: type === "float64" ? [local, local] : [local] };
    }
    let val = values.get(a);
    if (!val) {
      // An input read at the loop index (its shape is the loop's, or it holds one element).
      const strides = sizeOf(a.aval.shape) === 1 && rank > 0 ? shape.map(() => 0) : loopStrides.slice();
      val = streamFor(a, strides);
      values.set(a, val);
      names.set(a, `in${inputIndex.get(a)}`);
    }
    return val;
  };
  const nameOf = (a: Atom): string =>
    a instanceof Literal ? String(a.value.storage[0]) : (names.get(a) ?? `in${inputIndex.get(a)}`);

  group.equations.forEach((e, k) => {
    const out = e.outputs[0]!;
    const name = e.primitive.name;
    names.set(out, `t${k}`);
    if (isFusedBroadcast(e)) {
      const src = e.inputs[0]!;
      const { broadcastDimensions } = e.params as { broadcastDimensions: number[] };
      if (src instanceof Literal) values.set(out, atom(src));
      else {
        const inStrides = stridesOf(src.aval.shape);
        const strides = shape.map(() => 0);
        broadcastDimensions.forEach((d, j) => {
          if (src.aval.shape[j] !== 1) strides[d] = inStrides[j]!;
        });
        values.set(out, streamFor(src, strides));
      }
      lines.push(`  t${k} = broadcast(${nameOf(src)})`);
      return;
    }
    const ins = e.inputs.map(atom);
    lines.push(`  t${k} = ${name}(${e.inputs.map(nameOf).join(", ")})`);
    // An identity (stop_gradient, a cast to the same dtype) is its operand's value: no code.
    const compiled = compileExpr(f, treeOf(e), ins, constOf);
    values.set(out, compiled.value);
    body.push(() => compiled.emit());
  });

  // ---- outputs and the reduction
  const reduction = group.reduction;
  // A partial reduction accumulates each output element in float64 scratch (`acc`, indexed by the kept
  // coordinates: stride 0 along reduced dimensions), in the loop's row-major order, as the JS loop does.
  const reducedAxes = reduction ? (reduction.params as { axes: readonly number[] }).axes : [];
  const partial = reduction !== undefined && reducedAxes.length < rank;
  const accSize = partial ? sizeOf(reduction.outputs[0]!.aval.shape) : 0;
  const accLoopStrides = shape.map(() => 0);
  if (partial) {
    const kept = shape.map((_, d) => d).filter((d) => !reducedAxes.includes(d));
    const keptStrides = stridesOf(kept.map((d) => shape[d]!));
    kept.forEach((d, j) => {
      accLoopStrides[d] = keptStrides[j]!;
    });
  }
  const reductionOut = reduction?.outputs[0];
  const outputs: Output[] = [];
  group.outputs.forEach((v, index) => {
    if (v === reductionOut) return;
    outputs.push({ index, v, type: v.aval.dtype, ptr: f.local("i32") });
    lines.push(`  out${index} = ${names.get(v)}`);
  });
  const acc = f.local("f64");
  const tmp = f.local("f64");
  const reduceAddr = f.local("i32");
  const accPtr = f.local("i32");
  const accBase = partial ? context.reserve(8 * accSize) : 0;
  const reduceOp = (reduction && fusedReductionMonoid(reduction)) ?? "sum";
  const reduceVal = reduction ? values.get(reduction.inputs[0] as Var)! : null;
  if (reduction) {
    const k = group.outputs.indexOf(reductionOut!);
    const total = partial ? "acc[kept index]" : "total";
    const value = names.get(reduction.inputs[0] as Var);
    lines.push(
      reduceOp === "sum"
        ? `  ${total} += ${value}  (reduce_sum; out${k} = ${total})`
        : `  ${total} = ${reduceOp}(${total}, ${value})  (${reduction.primitive.name}; out${k} = ${total})`,
    );
  }

  // ---- the loop shape: size-1 dimensions dropped, dimensions every stream walks alike collapsed
  // (The accumulator walks the loop as one more stream, after the input streams.)
  let dims: { n: number; s: number[] }[] = [];
  shape.forEach((size, d) => {
    if (size !== 1) dims.push({ n: size, s: [...streams.map((st) => st.strides[d]!), accLoopStrides[d]!] });
  });
  const merged: { n: number; s: number[] }[] = [];
  for (const dim of dims) {
    const last = merged[merged.length - 1];
    if (last?.s.every((x, i) => x === dim.s[i]! * dim.n)) {
      merged[merged.length - 1] = { n: last.n * dim.n, s: dim.s };
    } else merged.push(dim);
  }
  dims = merged.length ? merged : [{ n: 1, s: [...streams.map(() => 0), 0] }];
  const pool = threadPoolFor(context, sizeOf(shape), streams.length + outputs.length);
  if (pool && dims.length === 1 && !reduction) dims = splitForThreads(dims[0]!) ?? dims;
  streams.forEach((st, i) => {
    st.collapsed = dims.map((d) => d.s[i]!);
  });
  const accStrides = dims.map((d) => d.s[streams.length]!);
  // Chunks of the outer loop run at once only where each writes its own elements: with a reduction, one
  // whose outer dimension is kept (then every output element is summed by one chunk, in order).
  const splittable = !reduction || (partial && dims.length > 1 && accStrides[0] !== 0);
  const outerChunks = pool && splittable && dims.length > 1 ? chunking(dims[0]!.n, pool.workers + 1) : null;
  const outStrides = stridesOf(dims.map((d) => d.n));
  const last = dims.length - 1;
  const inner = dims[last]!.n;
  const nIn = group.inputs.length;

  // ---- emission
  for (const st of streams)
    f.localGet(args)
      .i32Load({ offset: 4 * st.input })
      .localSet(st.ptr);
  for (const o of outputs)
    f.localGet(args)
      .i32Load({ offset: 4 * (nIn + o.index) })
      .localSet(o.ptr);
  const reduceInit = reduceOp === "sum" ? 0 : reduceOp === "max" ? -Infinity : Infinity;
  if (partial) f.i32Const(accBase).localSet(accPtr);
  else if (reduction) {
    const k = group.outputs.indexOf(reductionOut!);
    f.localGet(args)
      .i32Load({ offset: 4 * (nIn + k) })
      .localSet(reduceAddr);
    f.f64Const(reduceInit).localSet(acc);
  }
  for (const p of prologue) p();

  const advance = (ptr: Local, bytes: number): void => {
    if (bytes !== 0) f.localGet(ptr).i32Const(bytes).i32Add().localSet(ptr);
  };
  if (dims.length > 1) {
    // Start at outer iteration `start`.
    const skip = (ptr: Local, bytes: number): void => {
      if (bytes !== 0) f.localGet(ptr).localGet(start).i32Const(bytes).i32Mul().i32Add().localSet(ptr);
    };
    for (const st of streams) skip(st.ptr, st.collapsed[0]! * BYTES[st.type]);
    for (const o of outputs) skip(o.ptr, outStrides[0]! * BYTES[o.type]);
    if (partial) skip(accPtr, accStrides[0]! * 8);
  }
  const compute = (): void => {
    for (const b of body) b();
  };
  const accKeptInner = partial && accStrides[last] !== 0;
  const reduce = (lanes: number): void => {
    if (!reduceVal) return;
    if (accKeptInner) {
      accumulateLanes(f, reduceOp, reduceVal, accPtr, lanes, tmp);
      return;
    }
    for (let j = 0; j < lanes; j++) {
      if (reduceVal.type === "float32")
        f.localGet(reduceVal.regs[0]!).f32x4ExtractLane(j).op("f64PromoteF32");
      else f.localGet(reduceVal.regs[j >> 1]!).f64x2ExtractLane(j & 1);
      if (reduceOp === "sum") f.localGet(acc).f64Add().localSet(acc);
      else {
        // JS: if (x > total || x !== x) total = x;
        f.localSet(tmp).localGet(tmp).localGet(acc).localGet(tmp).localGet(acc);
        f.op(reduceOp === "max" ? "f64Gt" : "f64Lt")
          .localGet(tmp)
          .localGet(tmp)
          .op("f64Ne")
          .i32Or();
        f.op("select").localSet(acc);
      }
    }
  };
  const innerCounter = f.local("i32");
  const emitInner = (): void => {
    for (const st of streams) if (st.collapsed[last] === 0) loadSplat(f, st);
    // A run along a reduced dimension: its output element's running value in a local.
    const accRun = partial && !accKeptInner;
    if (accRun) f.localGet(accPtr).f64Load({ align: 3 }).localSet(acc);
    const q = Math.floor(inner / W);
    const r = inner % W;
    const moving = streams.filter((st) => st.collapsed[last] !== 0);
    if (q > 0) {
      f.i32Const(q).localSet(innerCounter);
      f.loop();
      for (const st of moving) loadLanes(f, st, W, st.collapsed[last]!);
      compute();
      for (const o of outputs) store(f, o, values.get(o.v)!, W);
      reduce(W);
      for (const st of moving) advance(st.ptr, W * st.collapsed[last]! * BYTES[st.type]);
      for (const o of outputs) advance(o.ptr, W * BYTES[o.type]);
      if (accKeptInner) advance(accPtr, W * 8);
      f.localGet(innerCounter).i32Const(1).i32Sub().localTee(innerCounter).brIf(0);
      f.end();
    }
    if (r > 0) {
      for (const st of moving) loadLanes(f, st, r, st.collapsed[last]!);
      compute();
      for (const o of outputs) store(f, o, values.get(o.v)!, r);
      reduce(r);
      for (const st of moving) advance(st.ptr, r * st.collapsed[last]! * BYTES[st.type]);
      for (const o of outputs) advance(o.ptr, r * BYTES[o.type]);
      if (accKeptInner) advance(accPtr, r * 8);
    }
    if (accRun) f.localGet(accPtr).localGet(acc).f64Store({ align: 3 });
  };
  const emitLevel = (d: number): void => {
    if (d === last) {
      emitInner();
      return;
    }
    const counter = f.local("i32");
    if (d === 0) f.localGet(count).localSet(counter);
    else f.i32Const(dims[d]!.n).localSet(counter);
    f.loop();
    emitLevel(d + 1);
    // After level d+1 each pointer moved n[d+1] * s[d+1] elements; step d wants s[d].
    for (const st of streams) {
      const delta = st.collapsed[d]! - dims[d + 1]!.n * st.collapsed[d + 1]!;
      advance(st.ptr, delta * BYTES[st.type]);
    }
    for (const o of outputs) {
      const delta = outStrides[d]! - dims[d + 1]!.n * outStrides[d + 1]!;
      advance(o.ptr, delta * BYTES[o.type]);
    }
    if (partial) advance(accPtr, (accStrides[d]! - dims[d + 1]!.n * accStrides[d + 1]!) * 8);
    f.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(0);
    f.end();
  };
  emitLevel(0);
  if (reduction && !partial) {
    f.localGet(reduceAddr).localGet(acc);
    if (reduceVal!.type === "float32") f.op("f32DemoteF64").f32Store();
    else f.f64Store();
  }

  // ---- operands: addresses in the plan memory (in place, or staging for the others)
  const operands = [
    ...group.inputs.map((v, k) => ({ v, resident: context.inputResident(k), input: true })),
    ...group.outputs.map((v, k) => ({ v, resident: context.outputResident(k), input: false })),
  ].map(({ v, resident, input }) => {
    const size = sizeOf(v.aval.shape);
    const bytesOf = size * BYTES[v.aval.dtype];
    return { v, size, input, index: slot(v), staging: resident ? -1 : context.reserve(Math.max(bytesOf, 1)) };
  });
  const argBlock = context.reserve(4 * operands.length);
  const outerIterations = dims.length > 1 ? dims[0]!.n : 1;
  // Threaded: rows(chunk, thread) runs one chunk of the outer loop, for threads taking chunks in turn.
  const counterAt = outerChunks ? context.reserve(4) : 0;
  if (outerChunks) {
    const rows = module.function("rows", ["i32", "i32"], []);
    const chunk = rows.param(0);
    const { per, chunks } = outerChunks;
    const last = outerIterations - (chunks - 1) * per;
    rows.i32Const(argBlock).localGet(chunk).i32Const(per).i32Mul();
    rows
      .localGet(chunk)
      .i32Const(chunks - 1)
      .i32Eq();
    rows.if("i32").i32Const(last).else().i32Const(per).end();
    rows.call(f);
  }
  if (partial) {
    // accStart(): every accumulator at the monoid's identity; accFinish(): rounded into the output.
    const start = module.function("accStart", [], []);
    const i = start.local("i32");
    start.i32Const(accBase).localSet(i);
    start.loop();
    start.localGet(i).f64Const(reduceInit).f64Store({ align: 3 });
    start
      .localGet(i)
      .i32Const(8)
      .i32Add()
      .localTee(i)
      .i32Const(accBase + 8 * accSize)
      .i32LtU()
      .brIf(0);
    start.end();
    const finish = module.function("accFinish", [], []);
    const [from, to] = [finish.local("i32"), finish.local("i32")];
    const k = group.outputs.indexOf(reductionOut!);
    finish
      .i32Const(argBlock)
      .i32Load({ offset: 4 * (nIn + k) })
      .localSet(to);
    finish.i32Const(accBase).localSet(from);
    const single = reduceVal!.type === "float32";
    finish.loop();
    finish.localGet(to).localGet(from).f64Load({ align: 3 });
    if (single) finish.op("f32DemoteF64").f32Store();
    else finish.f64Store();
    finish
      .localGet(to)
      .i32Const(single ? 4 : 8)
      .i32Add()
      .localSet(to);
    finish
      .localGet(from)
      .i32Const(8)
      .i32Add()
      .localTee(from)
      .i32Const(accBase + 8 * accSize)
      .i32LtU()
      .brIf(0);
    finish.end();
  }
  const compiled = compileModule(module.toBytes());
  const description = [
    `wasm simd fused loop over ${fmtLoop(
      group,
      dims.map((d) => d.n),
    )}${outerChunks ? `, in ${outerChunks.chunks} chunks over ${pool!.workers + 1} threads` : ""}:`,
    ...lines,
  ].join("\n");

  let call: { whole(): void; threaded: (() => void) | null } | null = null;
  let buffer: ArrayBuffer | null = null;
  let argView: Int32Array | null = null;
  let stagingViews: (TypedArray | null)[] = [];
  const init = (): { whole(): void; threaded: (() => void) | null } => {
    const memory = context.memory();
    buffer = memory.buffer;
    argView = new Int32Array(buffer, argBlock, operands.length);
    stagingViews = operands.map((o) =>
      o.staging < 0 ? null : viewAt(memory.buffer, o.v.aval.dtype, o.staging, o.size),
    );
    const instance = instantiateCompiled(compiled, memory.wasm!);
    const fused = instance.exports["fused"] as (args: number, start: number, count: number) => void;
    const accStart = partial ? (instance.exports["accStart"] as () => void) : null;
    const accFinish = partial ? (instance.exports["accFinish"] as () => void) : null;
    const whole = (): void => {
      accStart?.();
      fused(argBlock, 0, outerIterations);
      accFinish?.();
    };
    if (!outerChunks) return { whole, threaded: null };
    const rows = instance.exports["rows"] as (chunk: number, thread: number) => void;
    const counter = new Int32Array(buffer);
    const counterIndex = counterAt / 4;
    const { chunks } = outerChunks;
    const id = pool!.register(compiled, memory.wasm!, counterIndex, chunks);
    if (id === null) return { whole, threaded: null }; // the workers did not answer: this thread alone
    const threaded = (): void => {
      accStart?.();
      runChunks(pool!, id, counter, counterIndex, chunks, rows);
      accFinish?.();
      wasmFusedCalls.threaded++;
    };
    return { whole, threaded };
  };
  const elementBytes = operands.map((o) => BYTES[o.v.aval.dtype]);
  /**
   * Whether the chunks may run at once: no output overlaps an input other than element for element. The
   * planner may put a narrower output (a bool mask) inside a dying input, which is safe only in order.
   */
  const chunksIndependent = (): boolean => {
    for (let o = nIn; o < operandCount; o++) {
      const [oStart, oEnd] = [argView![o]!, argView![o]! + operands[o]!.size * elementBytes[o]!];
      for (let i = 0; i < nIn; i++) {
        const [iStart, iEnd] = [argView![i]!, argView![i]! + operands[i]!.size * elementBytes[i]!];
        const overlap = oStart < iEnd && iStart < oEnd;
        if (overlap && (oStart !== iStart || elementBytes[o] !== elementBytes[i])) return false;
      }
    }
    return true;
  };
  let parallel = false;
  const operandCount = operands.length;
  // Operands seen by the previous call: resident ones are the same views every call, so their addresses
  // are written once; staged ones are copied in (inputs) or out (outputs) every call.
  const seen: (TypedArray | null)[] = operands.map(() => null);
  const staged: boolean[] = operands.map(() => false);
  const run = (table: readonly TypedArray[]): void => {
    call ??= init();
    let moved = false;
    for (let k = 0; k < operandCount; k++) {
      const x = table[operands[k]!.index]!;
      if (x !== seen[k]) {
        moved = true;
        seen[k] = x;
        staged[k] = x.buffer !== buffer;
        if (!staged[k]) argView![k] = x.byteOffset;
        else {
          if (!stagingViews[k]) throw new Error("fused: an operand planned in the plan memory is not there");
          argView![k] = operands[k]!.staging;
        }
      }
      if (staged[k] && k < nIn) {
        const o = operands[k]!;
        stagingViews[k]!.set(x.length === o.size ? x : x.subarray(0, o.size));
      }
    }
    if (moved && call.threaded) parallel = chunksIndependent();
    if (parallel) call.threaded!();
    else call.whole();
    for (let k = nIn; k < operandCount; k++) if (staged[k]) table[operands[k]!.index]!.set(stagingViews[k]!);
  };
  return { run, description };
}

/** Calls of fused loops that ran on the worker threads too (for tests). */
export const wasmFusedCalls = { threaded: 0 };

/** Chunks per thread of a threaded loop, so that a thread that starts late leaves its share to others. */
const CHUNKS_PER_THREAD = 4;

/** The worker pool for this group's loop, or null when it runs on the calling thread alone. */
function threadPoolFor(context: KernelContext, elements: number, operands: number): WorkerPool | null {
  if (!context.shared) return null;
  const large =
    elements >= fusedThresholds.threaded || elements * operands >= fusedThresholds.threadedOperandElements;
  return large ? workerPool() : null;
}

/**
 * A one-dimensional loop as [outer, inner], for threads to share the outer one; the inner count is a
 * multiple of the vector width, so that the split adds no lane-by-lane tails.
 */
function splitForThreads(dim: { n: number; s: number[] }): { n: number; s: number[] }[] | null {
  for (let outer = 16; outer >= 2; outer--) {
    const inner = dim.n / outer;
    if (Number.isInteger(inner) && inner % W === 0)
      return [
        { n: outer, s: dim.s.map((x) => x * inner) },
        { n: inner, s: dim.s },
      ];
  }
  return null;
}

/** The outer loop's iterations in chunks: `per` each, the last one the rest (never empty). */
function chunking(iterations: number, threads: number): { per: number; chunks: number } | null {
  if (iterations < 2) return null;
  const per = Math.ceil(iterations / Math.min(iterations, CHUNKS_PER_THREAD * threads));
  return { per, chunks: Math.ceil(iterations / per) };
}

function fmtLoop(group: FusedGroup, loops: readonly number[]): string {
  const dtype = group.outputs[0]?.aval.dtype ?? "";
  return `${dtype}${fmtShape(group.shape)} (loops [${loops.join(", ")}], ${W} elements per step)`;
}

/**
 * Accumulates `lanes` consecutive elements of `val` into as many float64 accumulators at `accPtr`, each
 * as the JS loop does (sum: a + v; max/min: v if v > a (v < a) or v is NaN, else a).
 */
function accumulateLanes(
  f: FunctionBuilder,
  op: "sum" | "max" | "min",
  val: Val,
  accPtr: Local,
  lanes: number,
  scalar: Local,
): void {
  if (lanes === W) {
    const [r0, r1] = val.regs;
    for (let half = 0; half < 2; half++) {
      const offset = 16 * half;
      // v: this half's two values as float64.
      const v = f.local("v128");
      if (val.type === "float32") {
        f.localGet(r0!);
        if (half === 1)
          f.localGet(r0!).i8x16Shuffle([8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15]);
        f.op("f64x2PromoteLowF32x4");
      } else f.localGet(half === 0 ? r0! : r1!);
      f.localSet(v);
      f.localGet(accPtr);
      if (op === "sum") {
        f.localGet(accPtr).v128Load({ align: 3, offset }).localGet(v).f64x2Add();
      } else {
        const a = f.local("v128");
        f.localGet(accPtr).v128Load({ align: 3, offset }).localSet(a);
        f64x2MaxMin(f, op, v, a);
      }
      f.v128Store({ align: 3, offset });
    }
    return;
  }
  for (let j = 0; j < lanes; j++) {
    f.localGet(accPtr);
    if (val.type === "float32") f.localGet(val.regs[0]!).f32x4ExtractLane(j).op("f64PromoteF32");
    else f.localGet(val.regs[j >> 1]!).f64x2ExtractLane(j & 1);
    f.localSet(scalar);
    f.localGet(accPtr).f64Load({ align: 3, offset: 8 * j });
    if (op === "sum") f.localGet(scalar).f64Add();
    else {
      const a = f.local("f64");
      f.localSet(a);
      f.localGet(scalar).localGet(a).localGet(scalar).localGet(a);
      f.op(op === "max" ? "f64Gt" : "f64Lt")
        .localGet(scalar)
        .localGet(scalar)
        .op("f64Ne")
        .i32Or();
      f.op("select");
    }
    f.f64Store({ align: 3, offset: 8 * j });
  }
}

/** Loads a stream that is constant along the inner loop (all lanes one element). */
function loadSplat(f: FunctionBuilder, st: Stream): void {
  const [r0, r1] = st.val.regs;
  if (BYTES[st.type] === 4) f.localGet(st.ptr).v128Load32Splat().localSet(r0!);
  else if (st.type === "float64") {
    f.localGet(st.ptr).v128Load64Splat().localTee(r0!).localSet(r1!);
  } else if (st.type === "float16") {
    f.localGet(st.ptr).memory("i32Load16U").op("i32x4Splat").localSet(r0!);
  } else {
    f.localGet(st.ptr).memory("i32Load8U").op("i32x4Splat");
    if (st.type === "bool") f.v128Const().op("i32x4Ne");
    f.localSet(r0!);
  }
}

/** Loads `lanes` elements of a stream whose inner stride is `stride` elements (vector load when 1 and full). */
function loadLanes(f: FunctionBuilder, st: Stream, lanes: number, stride: number): void {
  const [r0, r1] = st.val.regs;
  const es = BYTES[st.type];
  if (lanes === W && stride === 1) {
    if (BYTES[st.type] === 4) f.localGet(st.ptr).v128Load({ align: 2 }).localSet(r0!);
    else if (st.type === "float64") {
      f.localGet(st.ptr).v128Load({ align: 3 }).localSet(r0!);
      f.localGet(st.ptr).v128Load({ align: 3, offset: 16 }).localSet(r1!);
    } else if (st.type === "float16") {
      f.localGet(st.ptr).memory("v128Load16x4U", { align: 1 }).localSet(r0!);
    } else {
      f.localGet(st.ptr).memory("v128Load32Zero", { align: 0 });
      f.op("i16x8ExtendLowI8x16U").op("i32x4ExtendLowI16x8U");
      if (st.type === "bool") f.v128Const().op("i32x4Ne");
      f.localSet(r0!);
    }
    return;
  }
  // Lane by lane (gather, or the tail); lanes not loaded are zero.
  f.v128Const().localSet(r0!);
  if (r1) f.v128Const().localSet(r1);
  for (let j = 0; j < lanes; j++) {
    const offset = j * stride * es;
    if (BYTES[st.type] === 4) {
      f.localGet(st.ptr).localGet(r0!).laneMemory("v128Load32Lane", j, { offset }).localSet(r0!);
    } else if (st.type === "float64") {
      const reg = j < 2 ? r0! : r1!;
      f.localGet(st.ptr)
        .localGet(reg)
        .laneMemory("v128Load64Lane", j & 1, { offset })
        .localSet(reg);
    } else if (st.type === "float16") {
      f.localGet(st.ptr)
        .localGet(r0!)
        .laneMemory("v128Load16Lane", 2 * j, { offset })
        .localSet(r0!);
    } else {
      f.localGet(st.ptr)
        .localGet(r0!)
        .laneMemory("v128Load8Lane", 4 * j, { offset })
        .localSet(r0!);
    }
  }
  if (st.type === "bool") f.localGet(r0!).v128Const().op("i32x4Ne").localSet(r0!);
}

/** Stores `lanes` elements of `val` at the output's pointer (bool masks as bytes 0/1). */
function store(f: FunctionBuilder, o: Output, val: Val, lanes: number): void {
  const [r0, r1] = val.regs;
  if (o.type === "bool") {
    const bytes = (): void => {
      f.localGet(r0!).localGet(r0!).i8x16Shuffle(BYTES_OF_MASK).v128Const(ONE_BYTES).op("v128And");
    };
    if (lanes === W) {
      f.localGet(o.ptr);
      bytes();
      f.laneMemory("v128Store32Lane", 0, { align: 0 });
    } else
      for (let j = 0; j < lanes; j++) {
        f.localGet(o.ptr);
        bytes();
        f.laneMemory("v128Store8Lane", j, { offset: j });
      }
    return;
  }
  if (o.type === "float16") {
    // The bits' low halves of the int32 lanes.
    for (let j = 0; j < lanes; j++)
      f.localGet(o.ptr)
        .localGet(r0!)
        .laneMemory("v128Store16Lane", 2 * j, { offset: 2 * j });
    return;
  }
  if (lanes === W) {
    if (BYTES[o.type] === 4) f.localGet(o.ptr).localGet(r0!).v128Store({ align: 2 });
    else {
      f.localGet(o.ptr).localGet(r0!).v128Store({ align: 3 });
      f.localGet(o.ptr).localGet(r1!).v128Store({ align: 3, offset: 16 });
    }
    return;
  }
  for (let j = 0; j < lanes; j++) {
    if (BYTES[o.type] === 4)
      f.localGet(o.ptr)
        .localGet(r0!)
        .laneMemory("v128Store32Lane", j, { offset: 4 * j });
    else
      f.localGet(o.ptr)
        .localGet(j < 2 ? r0! : r1!)
        .laneMemory("v128Store64Lane", j & 1, { offset: 8 * j });
  }
}
