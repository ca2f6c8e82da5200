/**
 * Transposes in WebAssembly over the plan memory, emitted for one collapsed shape and permutation: every
 * bound and stride a constant. Axes of size 1 are dropped and input axes that stay neighbours in the
 * output merged, so a transpose that moves blocks (attention's heads, [B, T, H, D] -> [B, H, T, D]) copies
 * runs of D contiguous elements with vector loads and stores; one whose output's innermost axis strides
 * through the input gathers four (two) elements a vector with lane loads. Data only moves: the output
 * holds the input's bits.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { type Shape, sizeOf, stridesOf } from "../../core/shape.js";
import { importPlanMemory } from "../plan-memory.js";
import { type FunctionBuilder, type Local, ModuleBuilder } from "./module-writer.js";
import { advance, copyRun, Operand, planExports } from "./move-support.js";

/** Calls of the wasm transpose (for tests: no silent JS fallback). */
export const wasmTransposeCalls = { runs: 0 };

interface TransposeExports {
  transpose(x: number, out: number): void;
}

/**
 * The transpose as output dimensions (outer to inner) with their sizes and input strides in elements, size-1
 * axes dropped and input axes that stay neighbours merged.
 */
export function collapseTranspose(
  shape: Shape,
  perm: readonly number[],
): { sizes: number[]; strides: number[] } {
  const inStrides = stridesOf(shape);
  const sizes: number[] = [];
  const strides: number[] = [];
  for (const axis of perm) {
    const size = shape[axis]!;
    if (size === 1) continue;
    const stride = inStrides[axis]!;
    const last = sizes.length - 1;
    // The previous output axis is this one's outer neighbour in the input: one axis of both.
    if (last >= 0 && strides[last] === stride * size) {
      sizes[last] = sizes[last]! * size;
      strides[last] = stride;
    } else {
      sizes.push(size);
      strides.push(stride);
    }
  }
  return { sizes, strides };
}

function emitTransposeModule(shared: boolean, bytes: 4 | 8, sizes: number[], strides: number[]): Uint8Array {
  const module = new ModuleBuilder();
  importPlanMemory(module, shared);
  const fn = module.function("transpose", ["i32", "i32"], []);
  const [src, dst] = [fn.param(0), fn.param(1)];
  const rank = sizes.length;
  if (rank === 0) {
    copyRun(fn, dst, 0, src, 0, bytes);
    return module.toBytes();
  }
  const last = rank - 1;
  const run = sizes[last]!;
  const innerStride = strides[last]! * bytes;
  const outStrides = stridesOf(sizes);
  const emitRun = (): void => {
    if (strides[last] === 1) copyRun(fn, dst, 0, src, 0, run * bytes);
    else gatherRun(fn, bytes, src, dst, run, innerStride);
  };
  const emitLevel = (d: number): void => {
    if (d === last) {
      emitRun();
      return;
    }
    const counter = fn.local("i32");
    fn.i32Const(sizes[d]!).localSet(counter);
    fn.loop();
    emitLevel(d + 1);
    // After level d+1 the pointers moved sizes[d+1] of its steps (none at the run level).
    const inner = d + 1 === last ? 0 : sizes[d + 1]!;
    advance(fn, src, (strides[d]! - inner * strides[d + 1]!) * bytes);
    advance(fn, dst, (outStrides[d]! - inner * outStrides[d + 1]!) * bytes);
    fn.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(0);
    fn.end();
  };
  emitLevel(0);
  return module.toBytes();
}

/** `count` elements at `stride` bytes apart from `src` into contiguous `dst`, a vector at a time. */
function gatherRun(
  fn: FunctionBuilder,
  bytes: 4 | 8,
  src: Local,
  dst: Local,
  count: number,
  stride: number,
): void {
  const lanes = 16 / bytes;
  const [from, to, v] = [fn.local("i32"), fn.local("i32"), fn.local("v128")];
  fn.localGet(src).localSet(from);
  fn.localGet(dst).localSet(to);
  const vectors = Math.floor(count / lanes);
  const gather = (): void => {
    fn.v128Const().localSet(v);
    for (let j = 0; j < lanes; j++)
      fn.localGet(from)
        .localGet(v)
        .laneMemory(bytes === 4 ? "v128Load32Lane" : "v128Load64Lane", j, { offset: j * stride })
        .localSet(v);
    fn.localGet(to).localGet(v).v128Store({ align: 0 });
  };
  if (vectors > 0) {
    const counter = fn.local("i32");
    fn.i32Const(vectors).localSet(counter);
    fn.loop();
    gather();
    advance(fn, from, lanes * stride);
    advance(fn, to, 16);
    fn.localGet(counter).i32Const(1).i32Sub().localTee(counter).brIf(0);
    fn.end();
  }
  // The elements left over (loads and stores move bits as they are, NaN payloads included).
  for (let j = 0; j < count % lanes; j++) {
    fn.localGet(to).localGet(from);
    if (bytes === 4) fn.i32Load({ offset: j * stride, align: 0 }).i32Store({ offset: j * 4, align: 0 });
    else fn.f64Load({ offset: j * stride, align: 0 }).f64Store({ offset: j * 8, align: 0 });
  }
}

/**
 * A wasm transpose of `shape` by `perm` for elements of `bytes` bytes in the plan's memory, or null where
 * the JS kernel should run: operands that are not both in the plan memory (an eager call, a program's
 * input or output), where staging copies would cost more than the transpose saves.
 */
export function wasmTranspose(
  bytes: number,
  shape: Shape,
  perm: readonly number[],
  context: KernelContext,
): ((x: TypedArray, out: TypedArray) => void) | null {
  if (!context.wasm || (bytes !== 4 && bytes !== 8)) return null;
  if (!context.inputResident(0) || !context.outputResident(0)) return null;
  const n = sizeOf(shape);
  if (n === 0) return () => {};
  const { sizes, strides } = collapseTranspose(shape, perm);
  const key = `transpose ${bytes} ${sizes}/${strides}`;
  const exports = planExports<TransposeExports>(context, key, () =>
    emitTransposeModule(context.shared, bytes, sizes, strides),
  );
  const xOperand = new Operand(context, true, n * bytes);
  const outOperand = new Operand(context, true, n * bytes);
  return (x, out) => {
    wasmTransposeCalls.runs++;
    exports().transpose(xOperand.address(x, false), outOperand.address(out, false));
  };
}
