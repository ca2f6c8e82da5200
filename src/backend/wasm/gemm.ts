/**
 * GEMM in WebAssembly SIMD, emitted at run time for one constant shape: C[t] = A[t] (m x k) @ B[t] (k x n),
 * row-major, for t < batch, in float32 (f32x4) or float64 (f64x2).
 *
 * Structure (GotoBLAS/BLIS): B is packed into panels of `nr` columns ([k][nr] contiguous, zero padded);
 * C is computed in k blocks (so a B micro-panel stays in L1) and m blocks (so the A rows stay in L2), by a
 * micro-kernel that keeps an `mr` x `nr` tile of C in v128 locals, broadcasts A elements
 * (v128.load32_splat) and loads B rows as vectors. A is read in place (its row stride is a constant, so a
 * tile's rows are constant offsets from one pointer). Every bound is a constant of the emitted code; the
 * tiles that do not divide the shape get their own specialised micro-kernels (fewer rows; fewer columns
 * stored lane by lane), so nothing is computed in padding outside one vector.
 *
 * Micro-kernels are separate functions on purpose: V8 tiers a function up from its baseline compiler on
 * calls, so a kernel that is called many times gets optimised code during the first GEMM.
 *
 * Threaded kernels (shared memory) split the work into chunks, one m block of one batch each, which the
 * calling thread and the workers of threads.ts take from a counter in the kernel's memory.
 */
import type { TypedArray } from "../../core/dtype.js";
import type { KernelContext } from "../../core/primitive.js";
import { importPlanMemory, standaloneContext } from "../plan-memory.js";
import { emitGemvModule, isGemvShape } from "./gemv.js";
import type { FunctionBuilder, Local, MemoryArgument } from "./module-writer.js";
import { ModuleBuilder } from "./module-writer.js";
import { advance, repeat } from "./move-support.js";
import { compileModule, instantiateCompiled } from "./runtime.js";
import type { WorkerPool } from "./threads.js";

export type GemmDType = "float32" | "float64";

export interface GemmShape {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
}

/** Register tile and cache blocking. */
export interface GemmTuning {
  /** Rows of C per micro-kernel tile (mr). */
  readonly tileRows: number;
  /** v128 vectors per tile row (nr = tileVectors * lanes). */
  readonly tileVectors: number;
  /** Steps of k unrolled in the micro-kernel loop. */
  readonly kUnroll: number;
  /** k block: a B micro-panel of kBlock x nr stays in L1. */
  readonly kBlock: number;
  /** m block (a multiple of tileRows): kBlock x mBlock of A stays in L2. */
  readonly mBlock: number;
}

export interface GemmModuleOptions {
  /** Use f32x4/f64x2.relaxed_madd (fused where the hardware has FMA) instead of mul then add. */
  readonly relaxedSimd: boolean;
  readonly tuning?: Partial<GemmTuning>;
  /** Emit `pack` and `rows(chunk)` over a shared memory instead of one `gemm` (see wasmGemm's pool). */
  readonly threaded?: boolean;
  /** Whether the imported memory is shared (always, when threaded). */
  readonly sharedMemory?: boolean;
  /** A threaded kernel's control block (CONTROL_BYTES at this byte offset of the memory). */
  readonly control?: number;
  /**
   * Read B in place (rows at stride n) instead of packing it into panels; for a single-threaded kernel
   * whose m fits one m block, where every panel is read once and packing would only add a copy of B.
   */
  readonly unpackedB?: boolean;
  /** A is stored transposed, as [k, m] row-major (so a transpose before the GEMM need not run). */
  readonly transposeA?: boolean;
  /** B is stored transposed, as [n, k] row-major (gathered while packing). */
  readonly transposeB?: boolean;
}

/** The scratch a kernel needs besides its operands: packed B, and for threaded kernels a control block. */
export interface GemmLayout {
  /** Bytes of one batch's packed B. */
  readonly packedBytes: number;
  /** Bytes of packed B in all (every batch's when threaded: it is packed up front). */
  readonly scratchBytes: number;
  /** Chunks of a threaded kernel: m blocks times batches. */
  readonly chunks: number;
}

/**
 * A threaded kernel's control block: the chunk counter the threads take chunks from, then the addresses
 * of A, C and packed B for the current call (workers only know the chunk number).
 */
const CONTROL_BYTES = 16;

export type GemmKernel = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/**
 * Measured on V8 11 (x64, 16 xmm registers): a 4 x 2-vector tile without k unrolling was fastest; wider
 * tiles (6x8, 4x12) and unrolled k loops ran at half speed (register spills).
 */
const DEFAULT_TUNING: Record<GemmDType, GemmTuning> = {
  float32: { tileRows: 4, tileVectors: 2, kUnroll: 1, kBlock: 256, mBlock: 64 },
  float64: { tileRows: 4, tileVectors: 2, kUnroll: 1, kBlock: 256, mBlock: 64 },
};

/** The per-dtype instructions: element size, lanes, and the loads, stores and arithmetic on them. */
export interface ElementOps {
  readonly bytes: number;
  readonly lanes: number;
  loadScalar(fn: FunctionBuilder, mem: MemoryArgument): void;
  storeScalar(fn: FunctionBuilder, mem: MemoryArgument): void;
  loadSplat(fn: FunctionBuilder, mem: MemoryArgument): void;
  extractLane(fn: FunctionBuilder, lane: number): void;
  /** (acc, a, b) on the stack in that order -> acc + a * b. */
  multiplyAdd(fn: FunctionBuilder, acc: Local, a: Local, b: Local): void;
}

export function elementOps(dtype: GemmDType, relaxedSimd: boolean): ElementOps {
  if (dtype === "float32") {
    return {
      bytes: 4,
      lanes: 4,
      loadScalar: (fn, mem) => fn.f32Load(mem),
      storeScalar: (fn, mem) => fn.f32Store(mem),
      loadSplat: (fn, mem) => fn.v128Load32Splat(mem),
      extractLane: (fn, lane) => fn.f32x4ExtractLane(lane),
      multiplyAdd: relaxedSimd
        ? (fn, acc, a, b) => fn.localGet(a).localGet(b).localGet(acc).f32x4RelaxedMadd().localSet(acc)
        : (fn, acc, a, b) => fn.localGet(acc).localGet(a).localGet(b).f32x4Mul().f32x4Add().localSet(acc),
    };
  }
  return {
    bytes: 8,
    lanes: 2,
    loadScalar: (fn, mem) => fn.f64Load(mem),
    storeScalar: (fn, mem) => fn.f64Store(mem),
    loadSplat: (fn, mem) => fn.v128Load64Splat(mem),
    extractLane: (fn, lane) => fn.f64x2ExtractLane(lane),
    multiplyAdd: relaxedSimd
      ? (fn, acc, a, b) => fn.localGet(a).localGet(b).localGet(acc).f64x2RelaxedMadd().localSet(acc)
      : (fn, acc, a, b) => fn.localGet(acc).localGet(a).localGet(b).f64x2Mul().f64x2Add().localSet(acc),
  };
}

export function resolveTuning(dtype: GemmDType, tuning: Partial<GemmTuning> = {}): GemmTuning {
  const t = { ...DEFAULT_TUNING[dtype], ...tuning };
  return { ...t, mBlock: Math.max(t.tileRows, Math.floor(t.mBlock / t.tileRows) * t.tileRows) };
}

/** Scratch sizes for one shape. */
export function gemmLayout(
  dtype: GemmDType,
  shape: GemmShape,
  tuning: GemmTuning,
  threaded = false,
): GemmLayout {
  const { batch, m, k, n } = shape;
  const es = dtype === "float32" ? 4 : 8;
  const nr = tuning.tileVectors * (16 / es);
  const packedBytes = k * Math.ceil(n / nr) * nr * es;
  const chunks = m * n === 0 ? 0 : batch * Math.ceil(m / tuning.mBlock);
  return { packedBytes, scratchBytes: (threaded ? batch : 1) * packedBytes, chunks };
}

function setSum(fn: FunctionBuilder, target: Local, base: Local | number, offset: number): void {
  if (typeof base === "number") fn.i32Const(base + offset).localSet(target);
  else fn.localGet(base).i32Const(offset).i32Add().localSet(target);
}

/**
 * The binary of a module over an imported memory, with operands at byte addresses given at run time. It
 * exports `gemm(a, b, c, packed)` (everything), or when threaded `pack(a, b, c, packed)` (records the
 * addresses in the control block and packs B of every batch) and `rows(chunk)` (one m block of one batch,
 * all of k and n), for threads that take chunks in turn.
 */
export function emitGemmModule(
  dtype: GemmDType,
  shape: GemmShape,
  options: GemmModuleOptions,
): { bytes: Uint8Array; layout: GemmLayout; tuning: GemmTuning } {
  const { batch, m, k, n } = shape;
  for (const [name, value] of Object.entries(shape)) {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`gemm: ${name} = ${value} is not a size`);
  }
  const threaded = options.threaded ?? false;
  const tuning = resolveTuning(dtype, options.tuning);
  const transposeA = options.transposeA ?? false;
  const transposeB = options.transposeB ?? false;
  const unpacked = (options.unpackedB ?? false) && !threaded && !transposeB;
  const layout = gemmLayout(dtype, shape, tuning, threaded);
  const control = options.control ?? 0;
  const ops = elementOps(dtype, options.relaxedSimd);
  const es = ops.bytes;
  // Where A's elements are: element (row r, step u) of a tile at r * aRowStep + u * aKStep bytes.
  const aRowStep = (transposeA ? 1 : k) * es;
  const aKStep = (transposeA ? m : 1) * es;
  const nr = tuning.tileVectors * ops.lanes;
  const fullPanels = Math.floor(n / nr);
  const edgeColumns = n % nr;
  const panelStride = unpacked ? nr * es : k * nr * es; // bytes from one panel of B to the next
  const bRowStride = unpacked ? n * es : nr * es; // bytes from one k step of a panel to the next
  const kBlocks: { start: number; steps: number }[] = [];
  for (let p = 0; p < k; p += tuning.kBlock)
    kBlocks.push({ start: p, steps: Math.min(tuning.kBlock, k - p) });
  if (k === 0) kBlocks.push({ start: 0, steps: 0 }); // C = 0: tiles still store their (zero) accumulators

  const module = new ModuleBuilder();
  importPlanMemory(module, threaded || (options.sharedMemory ?? false));

  // ---- packB(source, target): B[p, panel*nr + j] -> packed[panel][p][j]; lanes past n stay zero
  const packB = module.function(null, ["i32", "i32"], []);
  {
    const fn = packB;
    const rowSource = fn.local("i32");
    const rowTarget = fn.local("i32");
    const source = fn.local("i32");
    const target = fn.local("i32");
    const copyVector = (v: number): void => {
      fn.localGet(target)
        .localGet(source)
        .v128Load({ offset: v * 16 })
        .v128Store({ offset: v * 16 });
    };
    const edgeVectors = Math.floor(edgeColumns / ops.lanes);
    fn.localGet(fn.param(0)).localSet(rowSource);
    fn.localGet(fn.param(1)).localSet(rowTarget);
    if (transposeB) {
      // B stored as [n, k]: packed[panel][p][j] = Bt[panel*nr + j, p], element by element.
      const copyColumns = (columns: number): void => {
        fn.localGet(rowSource).localSet(source);
        fn.localGet(rowTarget).localSet(target);
        repeat(fn, k, () => {
          for (let j = 0; j < columns; j++) {
            fn.localGet(target);
            fn.localGet(source);
            ops.loadScalar(fn, { offset: j * k * es });
            ops.storeScalar(fn, { offset: j * es });
          }
          advance(fn, source, es);
          advance(fn, target, nr * es);
        });
      };
      repeat(fn, fullPanels, () => {
        copyColumns(nr);
        advance(fn, rowSource, nr * k * es);
        advance(fn, rowTarget, panelStride);
      });
      if (edgeColumns) copyColumns(edgeColumns);
    } else {
      repeat(fn, k, () => {
        fn.localGet(rowSource).localSet(source);
        fn.localGet(rowTarget).localSet(target);
        repeat(fn, fullPanels, () => {
          for (let v = 0; v < tuning.tileVectors; v++) copyVector(v);
          advance(fn, source, nr * es);
          advance(fn, target, panelStride);
        });
        for (let v = 0; v < edgeVectors; v++) copyVector(v);
        for (let j = edgeVectors * ops.lanes; j < edgeColumns; j++) {
          fn.localGet(target);
          fn.localGet(source);
          ops.loadScalar(fn, { offset: j * es });
          ops.storeScalar(fn, { offset: j * es });
        }
        advance(fn, rowSource, n * es);
        advance(fn, rowTarget, nr * es);
      });
    }
  }

  // ---- micro-kernels, one per (rows, columns, k steps, first k block?) the shape needs
  const microKernels = new Map<string, FunctionBuilder>();
  const microKernel = (
    rows: number,
    columns: number,
    kSteps: number,
    firstBlock: boolean,
  ): FunctionBuilder => {
    const key = `${rows}x${columns}k${kSteps}${firstBlock ? "first" : ""}`;
    let fn = microKernels.get(key);
    if (fn) return fn;
    fn = module.function(null, ["i32", "i32", "i32"], []);
    microKernels.set(key, fn);
    emitMicroKernel(fn, ops, {
      rows,
      columns,
      kSteps,
      firstBlock,
      n,
      aRowStep,
      aKStep,
      bRowStride,
      kUnroll: tuning.kUnroll,
    });
    return fn;
  };

  /**
   * In `fn`: code computing C rows [mRows] from A rows at `aRows` (offset to the k block) into `cRows`, over
   * every column panel, for one k block of the packed B at `packed`.
   */
  const rowBlockEmitter = (fn: FunctionBuilder) => {
    const bPanel = fn.local("i32");
    const cPanel = fn.local("i32");
    const aTile = fn.local("i32");
    const cTile = fn.local("i32");
    const emitPanel = (
      aRows: Local,
      mRows: number,
      columns: number,
      kSteps: number,
      firstBlock: boolean,
    ): void => {
      fn.localGet(aRows).localSet(aTile);
      fn.localGet(cPanel).localSet(cTile);
      const callTile = (rows: number): void => {
        fn.localGet(aTile)
          .localGet(bPanel)
          .localGet(cTile)
          .call(microKernel(rows, columns, kSteps, firstBlock));
      };
      repeat(fn, Math.floor(mRows / tuning.tileRows), () => {
        callTile(tuning.tileRows);
        advance(fn, aTile, tuning.tileRows * aRowStep);
        advance(fn, cTile, tuning.tileRows * n * es);
      });
      if (mRows % tuning.tileRows) callTile(mRows % tuning.tileRows);
    };
    return (
      aRows: Local,
      cRows: Local,
      packed: Local | number,
      mRows: number,
      kBlock: (typeof kBlocks)[0],
    ) => {
      const firstBlock = kBlock.start === 0;
      setSum(fn, bPanel, packed, kBlock.start * bRowStride);
      fn.localGet(cRows).localSet(cPanel);
      repeat(fn, fullPanels, () => {
        emitPanel(aRows, mRows, nr, kBlock.steps, firstBlock);
        advance(fn, bPanel, panelStride);
        advance(fn, cPanel, nr * es);
      });
      if (edgeColumns) emitPanel(aRows, mRows, edgeColumns, kBlock.steps, firstBlock);
    };
  };

  if (!threaded) {
    // ---- gemm(): batches, k blocks, m blocks, column panels, row tiles
    const fn = module.function("gemm", ["i32", "i32", "i32", "i32"], []);
    const [aBatch, bBatch, cBatch, packed] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3)];
    const aBlock = fn.local("i32");
    const cBlock = fn.local("i32");
    const emitRowBlock = rowBlockEmitter(fn);
    // Unpacked, the panels are read from B itself.
    const panels = unpacked ? bBatch : packed;
    repeat(fn, m * n === 0 ? 0 : batch, () => {
      if (!unpacked) fn.localGet(bBatch).localGet(packed).call(packB);
      for (const kBlock of kBlocks) {
        setSum(fn, aBlock, aBatch, kBlock.start * aKStep);
        fn.localGet(cBatch).localSet(cBlock);
        repeat(fn, Math.floor(m / tuning.mBlock), () => {
          emitRowBlock(aBlock, cBlock, panels, tuning.mBlock, kBlock);
          advance(fn, aBlock, tuning.mBlock * aRowStep);
          advance(fn, cBlock, tuning.mBlock * n * es);
        });
        if (m % tuning.mBlock) emitRowBlock(aBlock, cBlock, panels, m % tuning.mBlock, kBlock);
      }
      advance(fn, aBatch, m * k * es);
      advance(fn, bBatch, k * n * es);
      advance(fn, cBatch, m * n * es);
    });
  } else {
    // ---- pack(): B of every batch
    const pack = module.function("pack", ["i32", "i32", "i32", "i32"], []);
    const [source, target] = [pack.param(1), pack.param(3)];
    // The addresses for rows(): A, C and packed B.
    for (const [slot, param] of [
      [1, 0],
      [2, 2],
      [3, 3],
    ] as const) {
      pack
        .i32Const(control)
        .localGet(pack.param(param))
        .i32Store({ offset: slot * 4 });
    }
    repeat(pack, m * n === 0 ? 0 : batch, () => {
      pack.localGet(source).localGet(target).call(packB);
      advance(pack, source, k * n * es);
      advance(pack, target, layout.packedBytes);
    });

    // ---- rows(chunk): m block (chunk mod blocks) of batch (chunk / blocks), over all k blocks and panels
    const fn = module.function("rows", ["i32"], []);
    const chunk = fn.param(0);
    const mBlocks = Math.max(1, Math.ceil(m / tuning.mBlock));
    const batchIndex = fn.local("i32");
    const blockIndex = fn.local("i32");
    const aRows = fn.local("i32");
    const cRows = fn.local("i32");
    const packed = fn.local("i32");
    const aBlock = fn.local("i32");
    const emitRowBlock = rowBlockEmitter(fn);
    const offsetOf = (target: Local, slot: number, batchBytes: number, blockBytes: number): void => {
      fn.i32Const(control).i32Load({ offset: slot * 4 });
      fn.localGet(batchIndex).i32Const(batchBytes).i32Mul().i32Add();
      fn.localGet(blockIndex).i32Const(blockBytes).i32Mul().i32Add().localSet(target);
    };
    fn.localGet(chunk).i32Const(mBlocks).i32DivU().localSet(batchIndex);
    fn.localGet(chunk).i32Const(mBlocks).i32RemU().localSet(blockIndex);
    offsetOf(aRows, 1, m * k * es, tuning.mBlock * aRowStep);
    offsetOf(cRows, 2, m * n * es, tuning.mBlock * n * es);
    offsetOf(packed, 3, layout.packedBytes, 0);
    const emitAllK = (mRows: number): void => {
      for (const kBlock of kBlocks) {
        setSum(fn, aBlock, aRows, kBlock.start * aKStep);
        emitRowBlock(aBlock, cRows, packed, mRows, kBlock);
      }
    };
    const lastRows = m - (mBlocks - 1) * tuning.mBlock;
    if (lastRows === tuning.mBlock) emitAllK(tuning.mBlock);
    else {
      fn.localGet(blockIndex)
        .i32Const(mBlocks - 1)
        .i32Eq();
      fn.if();
      emitAllK(lastRows);
      fn.else();
      emitAllK(tuning.mBlock);
      fn.end();
    }
  }

  return { bytes: module.toBytes(), layout, tuning };
}

interface MicroKernelSpec {
  rows: number;
  /** Columns of C this tile writes (nr, or fewer at the right edge). */
  columns: number;
  kSteps: number;
  /** First k block: accumulators start at zero instead of the current C. */
  firstBlock: boolean;
  n: number;
  /** Bytes from one row of the A tile to the next (k elements; 1 when A is stored transposed). */
  aRowStep: number;
  /** Bytes from one k step of A to the next (1 element; m when A is stored transposed). */
  aKStep: number;
  /** Bytes from one k step of the B panel to the next: nr elements packed, n in place. */
  bRowStride: number;
  kUnroll: number;
}

/**
 * tile(a, b, c): C[rows, columns] (+)= A[rows, kSteps] @ packedB[kSteps, nr], with `a` the tile's first A
 * element (rows and k steps at the strides of the spec), `b` the micro-panel, `c` the tile's first C
 * element (rows at stride n).
 */
function emitMicroKernel(fn: FunctionBuilder, ops: ElementOps, spec: MicroKernelSpec): void {
  const { rows, columns, kSteps, firstBlock, n, aRowStep, aKStep, bRowStride, kUnroll } = spec;
  const es = ops.bytes;
  const [a, b, c] = [fn.param(0), fn.param(1), fn.param(2)];
  const vectors = Math.ceil(columns / ops.lanes);
  const accumulators = Array.from({ length: rows }, () =>
    Array.from({ length: vectors }, () => fn.local("v128")),
  );
  const bRow = Array.from({ length: vectors }, () => fn.local("v128"));
  const aSplat = fn.local("v128");
  const bEnd = fn.local("i32");
  const cOffset = (r: number, v: number): number => (r * n + v * ops.lanes) * es;

  // v128 locals start at zero, which is the first k block's initial value.
  if (!firstBlock) {
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < vectors; v++)
        fn.localGet(c)
          .v128Load({ offset: cOffset(r, v) })
          .localSet(accumulators[r]![v]!);
    }
  }
  const step = (u: number): void => {
    for (let v = 0; v < vectors; v++)
      fn.localGet(b)
        .v128Load({ offset: u * bRowStride + v * ops.lanes * es })
        .localSet(bRow[v]!);
    for (let r = 0; r < rows; r++) {
      fn.localGet(a);
      ops.loadSplat(fn, { offset: r * aRowStep + u * aKStep });
      fn.localSet(aSplat);
      for (let v = 0; v < vectors; v++) ops.multiplyAdd(fn, accumulators[r]![v]!, aSplat, bRow[v]!);
    }
  };
  const unrolledIterations = Math.floor(kSteps / kUnroll);
  if (unrolledIterations > 1) {
    fn.localGet(b)
      .i32Const(unrolledIterations * kUnroll * bRowStride)
      .i32Add()
      .localSet(bEnd);
    fn.loop();
    for (let u = 0; u < kUnroll; u++) step(u);
    advance(fn, a, kUnroll * aKStep);
    advance(fn, b, kUnroll * bRowStride);
    fn.localGet(b).localGet(bEnd).i32Ne().brIf(0);
    fn.end();
    for (let u = 0; u < kSteps % kUnroll; u++) step(u);
  } else {
    for (let u = 0; u < kSteps; u++) step(u);
  }

  const fullVectors = Math.floor(columns / ops.lanes);
  for (let r = 0; r < rows; r++) {
    for (let v = 0; v < fullVectors; v++)
      fn.localGet(c)
        .localGet(accumulators[r]![v]!)
        .v128Store({ offset: cOffset(r, v) });
    for (let j = fullVectors * ops.lanes; j < columns; j++) {
      fn.localGet(c).localGet(accumulators[r]![fullVectors]!);
      ops.extractLane(fn, j - fullVectors * ops.lanes);
      ops.storeScalar(fn, { offset: (r * n + j) * es });
    }
  }
}

/** A GEMM kernel on arrays, and on byte addresses in the plan memory for kernels built on it (conv). */
export interface WasmGemmKernel extends GemmKernel {
  /** C = A @ B with all three at these byte offsets of the plan memory. */
  at(a: number, b: number, c: number): void;
}

/**
 * A GEMM kernel for one shape in a plan's memory (`context`; by default a memory of its own). Packed B
 * (and a threaded kernel's control block) is reserved there; operands that are views on that memory are
 * used in place, others are copied through staging reserved for them. With a worker pool and at least two
 * m blocks, and a shared plan memory, the workers take m blocks alongside the calling thread. The module
 * is instantiated on the first call, once the plan memory exists.
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
  const threaded = !gemv && pool !== null && context.shared && gemmLayout(dtype, shape, tuning).chunks >= 2;
  const layout = gemmLayout(dtype, shape, tuning, threaded);
  const control = threaded ? context.reserve(CONTROL_BYTES) : 0;
  // Within one m block every panel of B is read once: reading B in place saves packing it.
  const unpackedB = (options.unpackedB ?? (!threaded && m <= tuning.mBlock)) && !options.transposeB;
  const packed = gemv || unpackedB ? 0 : context.reserve(layout.scratchBytes);
  const bytes = gemv
    ? emitGemvModule(dtype, shape, { relaxedSimd: options.relaxedSimd, sharedMemory: context.shared })
    : emitGemmModule(dtype, shape, { ...options, threaded, unpackedB, sharedMemory: context.shared, control })
        .bytes;
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
  const instantiateOnce = (): ((a: number, b: number, c: number) => void) => {
    const memory = context.memory();
    buffer = memory.buffer;
    heap = dtype === "float32" ? new Float32Array(buffer) : new Float64Array(buffer);
    const compiled = compileModule(bytes);
    const instance = instantiateCompiled(compiled, memory.wasm!);
    if (!threaded) {
      const gemm = instance.exports["gemm"] as (a: number, b: number, c: number, p: number) => void;
      return (a, b, c) => gemm(a, b, c, packed);
    }
    const { pack, rows } = instance.exports as {
      pack: (a: number, b: number, c: number, p: number) => void;
      rows: (chunk: number) => void;
    };
    const counter = new Int32Array(buffer);
    const counterIndex = control / 4;
    const chunks = layout.chunks;
    const id = pool!.register(compiled, memory.wasm!, counterIndex, chunks);
    if (id !== null) {
      return (a, b, c) => {
        pack(a, b, c, packed);
        Atomics.store(counter, counterIndex, 0);
        const join = pool!.start(id);
        for (let chunk: number; (chunk = Atomics.add(counter, counterIndex, 1)) < chunks; ) rows(chunk);
        join();
      };
    }
    // The workers did not answer: the same module on this thread alone.
    return (a, b, c) => {
      pack(a, b, c, packed);
      for (let chunk = 0; chunk < chunks; chunk++) rows(chunk);
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
  return kernel;
}
