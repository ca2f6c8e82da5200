/**
 * A wasm GEMM kernel for one shape in a plan's memory: the GEMM module of gemm.ts, or the GEMV module of
 * gemv.ts for one row or one column, compiled, instantiated on the plan memory and run on one thread or
 * with the worker threads.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext, WasmMemory } from "../../core/primitive.js";
import { standaloneContext } from "../plan-memory.js";
import {
  CONTROL_BYTES,
  emitGemmModule,
  type GemmDType,
  type GemmKernel,
  type GemmModuleOptions,
  type GemmShape,
  gemmLayout,
  resolveTuning,
} from "./gemm.js";
import { emitGemvModule, isGemvShape } from "./gemv.js";
import { compileModule, instantiateCompiled } from "./runtime.js";
import { runChunks, type WorkerPool } from "./threads.js";

/** A GEMM kernel on arrays, and on byte addresses in the plan memory for kernels built on it (conv). */
export interface WasmGemmKernel extends GemmKernel {
  /** C = A @ B with all three at these byte offsets of the plan memory. */
  at(a: number, b: number, c: number): void;
  /**
   * With `prepackedB`: B's values may have changed since the last call, so the next call packs it again
   * (else it packs B only when it is at another address than the one it last packed).
   */
  invalidatePackedB(): void;
}

/**
 * A GEMM kernel for one shape in a plan's memory (`context`; by default a memory of its own). Packed B
 * (and a threaded kernel's control block) is reserved there; operands that are views on that memory are
 * used in place, others are copied through staging reserved for them. With a worker pool and at least two
 * m blocks (or, with `columnChunks`, two groups of column panels), and a shared plan memory, the workers
 * take chunks alongside the calling thread. The module is instantiated on the first call, once the plan
 * memory exists. With `prepackedB`, B is packed on the first call and kept packed for the calls that follow
 * until `invalidatePackedB` (a loop's body calls it once per loop, B being one of the loop's invariants).
 */
export function wasmGemm(
  dtype: GemmDType,
  shape: GemmShape,
  options: GemmModuleOptions & { readonly pool?: WorkerPool | null },
  context: KernelContext = standaloneContext(),
): WasmGemmKernel {
  if (!context.wasm) throw new Error("gemm: the plan memory is not a WebAssembly memory");
  const { batch, m, k, n } = shape;
  const pool = options.pool ?? null;
  const tuning = resolveTuning(dtype, options.tuning);
  // One row or one column: a matrix-vector kernel reads both operands in place (gemv.ts).
  const gemv = isGemvShape(shape) && !options.transposeA && !options.transposeB;
  const prepackedB = !gemv && (options.prepackedB ?? false);
  const transposeA = options.transposeA ?? false;
  const columnChunks = options.transposeB && !prepackedB ? 0 : (options.columnChunks ?? 0);
  const chunks =
    columnChunks > 0
      ? gemmLayout(dtype, shape, tuning, true, transposeA, columnChunks, prepackedB).chunks
      : gemmLayout(dtype, shape, tuning).chunks;
  const threaded = !gemv && pool !== null && context.shared && chunks >= 2;
  const layout = gemmLayout(
    dtype,
    shape,
    tuning,
    threaded,
    transposeA,
    threaded ? columnChunks : 0,
    prepackedB,
  );
  const control = threaded ? context.reserve(CONTROL_BYTES) : 0;
  // Within one m block every panel of B is read once: reading B in place saves packing it (unless it is
  // packed once for many calls).
  const unpackedB =
    !prepackedB && (options.unpackedB ?? (!threaded && m <= tuning.mBlock)) && !options.transposeB;
  const packed = gemv || unpackedB || layout.scratchBytes === 0 ? 0 : context.reserve(layout.scratchBytes);
  const threads = threaded ? pool.workers + 1 : 1;
  const packedA = gemv || !transposeA ? 0 : context.reserve(layout.packedABytes * threads);
  const bytes = gemv
    ? emitGemvModule(dtype, shape, { relaxedSimd: options.relaxedSimd, sharedMemory: context.shared })
    : emitGemmModule(dtype, shape, {
        ...options,
        threaded,
        columnChunks: threaded ? columnChunks : 0,
        unpackedB,
        prepackedB,
        sharedMemory: context.shared,
        control,
        packedA,
      }).bytes;
  const es = dtype === "float32" ? 4 : 8;
  const [aSize, bSize, cSize] = [batch * m * k, batch * k * n, batch * m * n];
  const stage = (resident: boolean, size: number): number => (resident ? -1 : context.reserve(size * es));
  const [aStage, bStage, cStage] = [
    stage(context.inputResident(0), aSize),
    stage(context.inputResident(1), bSize),
    stage(context.outputResident(0), cSize),
  ];

  let run: ((a: number, b: number, c: number) => void) | null = null;
  let buffer: ArrayBuffer | null = null;
  let heap: Float32Array | Float64Array | null = null;
  /** The address of the B that `packed` holds (prepackedB), or -1. */
  let packedFrom = -1;
  const instantiateOnce = (): ((a: number, b: number, c: number) => void) => {
    const memory = context.memory();
    buffer = memory.buffer;
    heap = dtype === "float32" ? new Float32Array(buffer) : new Float64Array(buffer);
    const compiled = compileModule(bytes);
    const instance = instantiateCompiled(compiled, memory.wasm!);
    const compute = computeOf(instance, compiled, memory.wasm!);
    if (!prepackedB) return compute;
    const pack = instance.exports["pack"] as (b: number, p: number) => void;
    return (a, b, c) => {
      if (packedFrom !== b) {
        pack(b, packed);
        packedFrom = b;
      }
      compute(a, b, c);
    };
  };
  /** The module's product at byte addresses, on this thread or with the workers. */
  const computeOf = (
    instance: ReturnType<typeof instantiateCompiled>,
    compiled: ReturnType<typeof compileModule>,
    wasmMemory: WasmMemory,
  ): ((a: number, b: number, c: number) => void) => {
    if (!threaded) {
      const gemm = instance.exports["gemm"] as (a: number, b: number, c: number, p: number) => void;
      return (a, b, c) => gemm(a, b, c, packed);
    }
    const { prepare, rows } = instance.exports as {
      prepare: (a: number, b: number, c: number, p: number) => void;
      rows: (chunk: number, thread: number) => void;
    };
    const counter = new Int32Array(wasmMemory.buffer);
    const counterIndex = control / 4;
    const chunks = layout.chunks;
    const id = pool.register(compiled, wasmMemory, counterIndex, chunks);
    if (id !== null) {
      return (a, b, c) => {
        prepare(a, b, c, packed);
        runChunks(pool, id, counter, counterIndex, chunks, rows);
      };
    }
    // The workers did not answer: the same module on this thread alone.
    return (a, b, c) => {
      prepare(a, b, c, packed);
      for (let chunk = 0; chunk < chunks; chunk++) rows(chunk, 0);
    };
  };
  /** The operand's address: in place when it is a view on the plan memory, else copied to its staging. */
  const addressOf = (x: TypedArray, size: number, staging: number, copyIn: boolean): number => {
    if (x.buffer === buffer) return x.byteOffset;
    if (staging < 0) throw new Error("gemm: an operand planned in the plan memory is not there");
    if (copyIn) heap!.set(x.length === size ? x : x.subarray(0, size), staging / es);
    return staging;
  };
  const kernel = ((a, b, out) => {
    run ??= instantiateOnce();
    const cAt = addressOf(out, cSize, cStage, false);
    run(addressOf(a, aSize, aStage, true), addressOf(b, bSize, bStage, true), cAt);
    if (cAt === cStage) out.set(heap!.subarray(cStage / es, cStage / es + cSize));
  }) as WasmGemmKernel;
  kernel.at = (a, b, c) => {
    run ??= instantiateOnce();
    run(a, b, c);
  };
  kernel.invalidatePackedB = () => {
    packedFrom = -1;
  };
  return kernel;
}
