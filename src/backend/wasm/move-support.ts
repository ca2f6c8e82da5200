/**
 * Shared pieces of the data-movement kernels (conv-moves.ts, pool.ts): emitters for constant-length runs
 * (copies, zero fills, accumulations) and loops, a per-process cache of compiled modules, instances on a
 * plan's memory, and operands addressed in place or through staging in that memory.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { cachedKernel } from "../kernel-cache.js";
import type { FunctionBuilder, Local, ModuleBuilder } from "./module-writer.js";
import { compileModule, instantiateCompiled, type WasmCompiledModule } from "./runtime.js";

/** Calls of the wasm data-movement kernels, by family: lets tests see that the wasm path ran. */
export const wasmMoveCalls = { conv: 0, directConv: 0, pool: 0 };

/** Float element types the kernels are emitted for. */
export type MoveDType = "float32" | "float64";

export interface Elements {
  readonly bytes: number;
  load(fn: FunctionBuilder, offset: number): void;
  store(fn: FunctionBuilder, offset: number): void;
  /** Scalar add of the two values on the stack. */
  add(fn: FunctionBuilder): void;
  /** Lane-wise add of the two vectors on the stack. */
  vectorAdd(fn: FunctionBuilder): void;
}

export function elements(dtype: MoveDType): Elements {
  if (dtype === "float32") {
    return {
      bytes: 4,
      load: (fn, offset) => fn.f32Load({ offset }),
      store: (fn, offset) => fn.f32Store({ offset }),
      add: (fn) => fn.f32Add(),
      vectorAdd: (fn) => fn.f32x4Add(),
    };
  }
  return {
    bytes: 8,
    load: (fn, offset) => fn.f64Load({ offset }),
    store: (fn, offset) => fn.f64Store({ offset }),
    add: (fn) => fn.f64Add(),
    vectorAdd: (fn) => fn.f64x2Add(),
  };
}

/**
 * Exports prepare(a, b, c) for a chunked kernel (threads.ts): it stores its three byte addresses at words
 * 1, 2 and 3 of the control block at `control`, where the kernel's rows(chunk, thread) reads them (word 0
 * is the chunk counter).
 */
export function emitPrepare(module: ModuleBuilder, control: number): void {
  const prepare = module.function("prepare", ["i32", "i32", "i32"], []);
  for (let k = 0; k < 3; k++)
    prepare
      .i32Const(control)
      .localGet(prepare.param(k))
      .i32Store({ offset: (k + 1) * 4 });
}

/** Emits `body` `count` times: inline when once, else a do-while loop on a down-counter. */
export function repeat(fn: FunctionBuilder, count: number, body: () => void): void {
  if (count <= 0) return;
  if (count === 1) {
    body();
    return;
  }
  const remaining = fn.local("i32");
  fn.i32Const(count).localSet(remaining);
  fn.loop();
  body();
  fn.localGet(remaining).i32Const(1).i32Sub().localTee(remaining).brIf(0);
  fn.end();
}

export function advance(fn: FunctionBuilder, pointer: Local, bytes: number): void {
  if (bytes !== 0) fn.localGet(pointer).i32Const(bytes).i32Add().localSet(pointer);
}

/** pointer + offset on the stack. */
export function addressOf(fn: FunctionBuilder, pointer: Local, offset: number): void {
  fn.localGet(pointer);
  if (offset !== 0) fn.i32Const(offset).i32Add();
}

/** Beyond this many bytes a run is one memory.copy / memory.fill instead of unrolled vector moves. */
const UNROLL_BYTES = 256;

/** Copies `bytes` bytes (a multiple of 4) from src+srcOff to dst+dstOff. */
export function copyRun(
  fn: FunctionBuilder,
  dst: Local,
  dstOff: number,
  src: Local,
  srcOff: number,
  bytes: number,
): void {
  if (bytes <= 0) return;
  if (bytes > UNROLL_BYTES) {
    addressOf(fn, dst, dstOff);
    addressOf(fn, src, srcOff);
    fn.i32Const(bytes).op("memoryCopy");
    return;
  }
  let at = 0;
  for (; at + 16 <= bytes; at += 16)
    fn.localGet(dst)
      .localGet(src)
      .v128Load({ offset: srcOff + at, align: 0 })
      .v128Store({ offset: dstOff + at, align: 0 });
  for (; at + 8 <= bytes; at += 8)
    fn.localGet(dst)
      .localGet(src)
      .f64Load({ offset: srcOff + at, align: 0 })
      .f64Store({ offset: dstOff + at, align: 0 });
  for (; at < bytes; at += 4)
    fn.localGet(dst)
      .localGet(src)
      .i32Load({ offset: srcOff + at, align: 0 })
      .i32Store({ offset: dstOff + at, align: 0 });
}

/** Zeroes `bytes` bytes (a multiple of 4) at dst+dstOff. */
export function zeroRun(fn: FunctionBuilder, dst: Local, dstOff: number, bytes: number): void {
  if (bytes <= 0) return;
  if (bytes > UNROLL_BYTES) {
    addressOf(fn, dst, dstOff);
    fn.i32Const(0).i32Const(bytes).op("memoryFill");
    return;
  }
  let at = 0;
  for (; at + 16 <= bytes; at += 16)
    fn.localGet(dst)
      .v128Const()
      .v128Store({ offset: dstOff + at, align: 0 });
  for (; at < bytes; at += 4)
    fn.localGet(dst)
      .i32Const(0)
      .i32Store({ offset: dstOff + at, align: 0 });
}

/** dst[k] += src[k] for `count` contiguous elements. */
export function addRun(
  fn: FunctionBuilder,
  el: Elements,
  dst: Local,
  dstOff: number,
  src: Local,
  srcOff: number,
  count: number,
): void {
  const bytes = count * el.bytes;
  const vectors = Math.floor(bytes / 16);
  const vectorAt = (d: Local, s: Local, at: number): void => {
    fn.localGet(d)
      .localGet(d)
      .v128Load({ offset: dstOff + at, align: 0 })
      .localGet(s)
      .v128Load({ offset: srcOff + at, align: 0 });
    el.vectorAdd(fn);
    fn.v128Store({ offset: dstOff + at, align: 0 });
  };
  if (vectors > 16) {
    const [d, s] = [fn.local("i32"), fn.local("i32")];
    fn.localGet(dst).localSet(d);
    fn.localGet(src).localSet(s);
    repeat(fn, vectors, () => {
      vectorAt(d, s, 0);
      advance(fn, d, 16);
      advance(fn, s, 16);
    });
  } else {
    for (let v = 0; v < vectors; v++) vectorAt(dst, src, v * 16);
  }
  for (let at = vectors * 16; at < bytes; at += el.bytes) {
    fn.localGet(dst).localGet(dst);
    el.load(fn, dstOff + at);
    fn.localGet(src);
    el.load(fn, srcOff + at);
    el.add(fn);
    el.store(fn, dstOff + at);
  }
}

/** The compiled module for `key`, emitted and compiled once (while the kernel cache keeps it). */
export function compiledFor(key: string, emit: () => Uint8Array): WasmCompiledModule {
  return cachedKernel(
    `wasm module ${key}`,
    () => {
      const bytes = emit();
      return { module: compileModule(bytes), bytes: bytes.length };
    },
    (built) => built.bytes,
  ).module;
}

/** The module's exports, instantiated on the plan memory once per plan, on first use (at run time). */
export function planExports<T>(context: KernelContext, key: string, emit: () => Uint8Array): () => T {
  const fullKey = `${key} shared=${context.shared}`;
  // Compile while lowering, so a refusal (browsers' main thread) shows before the plan commits to wasm.
  const compiled = compiledFor(fullKey, emit);
  return context.perPlan(`wasm exports ${fullKey}`, () => {
    let exports: T | null = null;
    return () => {
      exports ??= instantiateCompiled(compiled, context.memory().wasm!).exports as T;
      return exports;
    };
  });
}

/** One operand of a kernel: its address in the plan memory, in place or through staging reserved now. */
export class Operand {
  private readonly staging: number;

  constructor(
    private readonly context: KernelContext,
    resident: boolean,
    private readonly bytes: number,
  ) {
    this.staging = resident ? -1 : context.reserve(bytes);
  }

  /** x's address in the plan memory: itself when it is a view on it, else its staging (filled if copyIn). */
  address(x: TypedArray, copyIn: boolean): number {
    const buffer = this.context.memory().buffer;
    if (x.buffer === buffer) return x.byteOffset;
    if (this.staging < 0) throw new Error("wasm kernel: an operand planned in the plan memory is not there");
    if (copyIn && this.bytes > 0)
      new Uint8Array(buffer, this.staging, this.bytes).set(
        new Uint8Array(x.buffer, x.byteOffset, this.bytes),
      );
    return this.staging;
  }

  /** Copies the result at `at` (from `address`) into x when it was staged. */
  copyOut(x: TypedArray, at: number): void {
    const buffer = this.context.memory().buffer;
    if (x.buffer === buffer || this.bytes === 0) return;
    new Uint8Array(x.buffer, x.byteOffset, this.bytes).set(new Uint8Array(buffer, at, this.bytes));
  }
}
