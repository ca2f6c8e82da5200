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
 * Threaded kernels (shared memory) split the work into chunks, which the calling thread and the workers
 * of threads.ts take from a counter in the kernel's memory: first the packing of B, a group of panels each,
 * then one m block of one batch each. With few rows (`columnChunks`: m within one m block, so one m block
 * would be all the work) they split the columns instead: a chunk is a group of B's column panels of one
 * batch, over every row, with B read in place (each panel is read by one chunk, so packing would only copy).
 *
 * A stored transposed ([k, m]) is packed block by block, since its tiles read in place would stride
 * through memory at one cache line per k step.
 *
 * With `prepackedB` the module also exports `pack(b, packed)`, and `gemm`/`rows` read B as `pack` left it
 * instead of packing it on every call: for a B that many calls share (a loop's weights, e.g. an LSTM's
 * W_hh at every timestep), packed once. A threaded kernel then has no pack chunks, and its column chunks
 * read the packed panels (contiguous, so a panel stays in L1 however large n is).
 */
import type { TypedArray } from "../../core/dtype.js";
import { importPlanMemory } from "../plan-memory.js";
import type { FunctionBuilder, Local, MemoryArgument } from "./module-writer.js";
import { ModuleBuilder } from "./module-writer.js";
import { advance, copyRun, repeat } from "./move-support.js";
import { CHUNKS_FAILED } from "./threads.js";

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
  /** Emit `prepare` and `rows(chunk, thread)` over a shared memory instead of one `gemm` (wasmGemm's pool). */
  readonly threaded?: boolean;
  /**
   * Threaded only: split the columns into about this many chunks per batch (groups of column panels, B
   * read in place) instead of splitting the rows into m blocks; for small m. Ignored when B is transposed.
   */
  readonly columnChunks?: number;
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
  /** B is stored transposed, as [n, k] row-major (transposed while packing). */
  readonly transposeB?: boolean;
  /** Where A is packed when it is stored transposed: `layout.packedABytes` per thread from this address. */
  readonly packedA?: number;
  /**
   * Export `pack(b, packed)` (every batch's B into panels at `packed`) and read B from those panels in
   * `gemm`/`rows` without packing it (their `b` argument is unused): for a B shared by many calls.
   */
  readonly prepackedB?: boolean;
}

/** The scratch a kernel needs besides its operands: packed B, and for threaded kernels a control block. */
export interface GemmLayout {
  /** Bytes of one batch's packed B. */
  readonly packedBytes: number;
  /** Bytes of packed B in all (every batch's when threaded: it is packed up front). */
  readonly scratchBytes: number;
  /** Bytes of one thread's packed block of A (when A is stored transposed; else 0). */
  readonly packedABytes: number;
  /** B's column panels are packed in this many groups per batch, of `panelsPerGroup` panels. */
  readonly packGroups: number;
  readonly panelsPerGroup: number;
  /** Chunks of a threaded kernel that pack a group of B (they come first): batches times groups. */
  readonly packChunks: number;
  /**
   * A column-split threaded kernel's groups of column panels per batch (else 0), of `panelsPerColumnChunk`
   * panels (the last one fewer).
   */
  readonly columnGroups: number;
  readonly panelsPerColumnChunk: number;
  /**
   * All chunks of a threaded kernel (pack chunks, then m blocks times batches; or column groups times
   * batches); m blocks unthreaded.
   */
  readonly chunks: number;
}

/**
 * A threaded kernel's control block (i32 words): the chunk counter the threads take chunks from, the
 * addresses of A, B, C and packed B for the current call (workers only know the chunk number), and how
 * many groups of B are packed so far.
 */
const CONTROL = { counter: 0, a: 1, b: 2, c: 3, packed: 4, packDone: 5 } as const;
export const CONTROL_BYTES = 24;

/** B is packed in about this many groups per batch, so that every thread packs some (threaded kernels). */
const PACK_GROUPS = 8;

export type GemmKernel = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/**
 * Measured on V8 11 (x64, 16 xmm registers; Xeon and EPYC): a 4 x 2-vector tile without k unrolling was
 * fastest. TurboFan issues a loop body's loads before its arithmetic, so wider tiles (5x2, 3x3, 6x8, 4x12)
 * and unrolled k loops hold more vectors than there are registers and spill. k blocks of 512 (a 16 KiB
 * micro-panel of B) ran 2-4% faster than 256 on the EPYC and no slower at 1024.
 */
const DEFAULT_TUNING: Record<GemmDType, GemmTuning> = {
  float32: { tileRows: 4, tileVectors: 2, kUnroll: 1, kBlock: 512, mBlock: 64 },
  float64: { tileRows: 4, tileVectors: 2, kUnroll: 1, kBlock: 512, mBlock: 64 },
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

/** Columns of one panel of B (nr) with `tuning` (by default the dtype's default tile). */
export function panelColumns(dtype: GemmDType, tuning: GemmTuning = DEFAULT_TUNING[dtype]): number {
  return tuning.tileVectors * (dtype === "float32" ? 4 : 2);
}

/** Scratch sizes for one shape. */
export function gemmLayout(
  dtype: GemmDType,
  shape: GemmShape,
  tuning: GemmTuning,
  threaded = false,
  transposeA = false,
  columnChunks = 0,
  prepackedB = false,
): GemmLayout {
  const { batch, m, k, n } = shape;
  const es = dtype === "float32" ? 4 : 8;
  const nr = tuning.tileVectors * (16 / es);
  const panels = Math.ceil(n / nr);
  const tileRows = Math.ceil(Math.min(tuning.mBlock, m) / tuning.tileRows) * tuning.tileRows;
  const packedABytes = transposeA ? tileRows * Math.min(tuning.kBlock, k) * es : 0;
  const empty = m * n === 0;
  const packedBytes = k * panels * nr * es;
  if (threaded && columnChunks > 0) {
    const panelsPerColumnChunk = Math.max(1, Math.ceil(panels / columnChunks));
    const columnGroups = Math.ceil(panels / panelsPerColumnChunk);
    return {
      packedBytes: prepackedB ? packedBytes : 0,
      scratchBytes: prepackedB ? batch * packedBytes : 0,
      packedABytes,
      packGroups: 0,
      panelsPerGroup: 0,
      packChunks: 0,
      columnGroups,
      panelsPerColumnChunk,
      chunks: empty ? 0 : batch * columnGroups,
    };
  }
  const panelsPerGroup = Math.max(1, Math.ceil(panels / PACK_GROUPS));
  const packGroups = Math.ceil(panels / panelsPerGroup);
  const packChunks = threaded && !empty && !prepackedB ? batch * packGroups : 0;
  const rowChunks = empty ? 0 : batch * Math.ceil(m / tuning.mBlock);
  return {
    packedBytes,
    scratchBytes: (threaded || prepackedB ? batch : 1) * packedBytes,
    packedABytes,
    packGroups,
    panelsPerGroup,
    packChunks,
    columnGroups: 0,
    panelsPerColumnChunk: 0,
    chunks: packChunks + rowChunks,
  };
}

function setSum(fn: FunctionBuilder, target: Local, base: Local | number, offset: number): void {
  if (typeof base === "number") fn.i32Const(base + offset).localSet(target);
  else fn.localGet(base).i32Const(offset).i32Add().localSet(target);
}

/**
 * The binary of a module over an imported memory, with operands at byte addresses given at run time. It
 * exports `gemm(a, b, c, packed)` (everything), or when threaded `prepare(a, b, c, packed)` (records the
 * addresses in the control block) and `rows(chunk, thread)`, for threads that take chunks in turn: the
 * first chunks each pack a group of B's panels, the others compute one m block of one batch over all of
 * k and n, once every group is packed (`thread`, 0 for the calling thread, picks its block of the
 * packed-A scratch).
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
  const prepacked = options.prepackedB ?? false;
  // Column chunks read B in place, or packed by `pack`; in place, a transposed B would stride by k.
  const columnChunks = threaded && (!transposeB || prepacked) ? (options.columnChunks ?? 0) : 0;
  const splitColumns = columnChunks > 0;
  const unpacked = !prepacked && (((options.unpackedB ?? false) && !threaded && !transposeB) || splitColumns);
  const layout = gemmLayout(dtype, shape, tuning, threaded, transposeA, columnChunks, prepacked);
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
  // A stored transposed has its tile's rows side by side and its k steps m apart: read in place, a tile
  // would touch one cache line per k step, all in a few cache sets. Each block is packed first instead,
  // tile by tile as [k step][tile row], so the micro-kernels read it contiguously.
  const packA = transposeA;
  const tileRowStep = packA ? es : aRowStep;
  const tileKStep = packA ? tuning.tileRows * es : aKStep;

  // ---- packing B: packed[panel][p][j] = B[p, panel*nr + j]; lanes past n are never written (zero)
  const packFunctions = new Map<string, FunctionBuilder>();
  /** pack(source, target): `panels` full panels then `edge` columns, from the first panel's column 0. */
  const packPanels = (panels: number, edge: number): FunctionBuilder => {
    const key = `${panels} ${edge}`;
    const existing = packFunctions.get(key);
    if (existing) return existing;
    const fn = module.function(null, ["i32", "i32"], []);
    packFunctions.set(key, fn);
    const rowSource = fn.local("i32");
    const rowTarget = fn.local("i32");
    const source = fn.local("i32");
    const target = fn.local("i32");
    fn.localGet(fn.param(0)).localSet(rowSource);
    fn.localGet(fn.param(1)).localSet(rowTarget);
    if (transposeB) {
      const columnBytes = k * es; // B stored as [n, k]: a column of B is a row there
      repeat(fn, panels, () => {
        emitTransposedPanel(fn, ops, { source, target, rowSource, rowTarget, k, nr });
        advance(fn, rowSource, nr * columnBytes);
        advance(fn, rowTarget, panelStride);
      });
      if (edge) {
        // The edge panel element by element.
        fn.localGet(rowSource).localSet(source);
        fn.localGet(rowTarget).localSet(target);
        repeat(fn, k, () => {
          for (let j = 0; j < edge; j++) {
            fn.localGet(target);
            fn.localGet(source);
            ops.loadScalar(fn, { offset: j * columnBytes });
            ops.storeScalar(fn, { offset: j * es });
          }
          advance(fn, source, es);
          advance(fn, target, nr * es);
        });
      }
      return fn;
    }
    const copyVector = (v: number): void => {
      fn.localGet(target)
        .localGet(source)
        .v128Load({ offset: v * 16 })
        .v128Store({ offset: v * 16 });
    };
    const edgeVectors = Math.floor(edge / ops.lanes);
    repeat(fn, k, () => {
      fn.localGet(rowSource).localSet(source);
      fn.localGet(rowTarget).localSet(target);
      repeat(fn, panels, () => {
        for (let v = 0; v < tuning.tileVectors; v++) copyVector(v);
        advance(fn, source, nr * es);
        advance(fn, target, panelStride);
      });
      for (let v = 0; v < edgeVectors; v++) copyVector(v);
      for (let j = edgeVectors * ops.lanes; j < edge; j++) {
        fn.localGet(target);
        fn.localGet(source);
        ops.loadScalar(fn, { offset: j * es });
        ops.storeScalar(fn, { offset: j * es });
      }
      advance(fn, rowSource, n * es);
      advance(fn, rowTarget, nr * es);
    });
    return fn;
  };

  // ---- packing A (stored transposed): a block of mRows x kSteps into tiles of [kSteps][tileRows]
  const packAFunctions = new Map<string, FunctionBuilder>();
  const packABlock = (mRows: number, kSteps: number): FunctionBuilder => {
    const key = `${mRows} ${kSteps}`;
    const existing = packAFunctions.get(key);
    if (existing) return existing;
    const fn = module.function(null, ["i32", "i32"], []);
    packAFunctions.set(key, fn);
    const [source, target] = [fn.param(0), fn.param(1)];
    const tileBytes = tuning.tileRows * es;
    const tiles = Math.floor(mRows / tuning.tileRows);
    const edgeRows = mRows % tuning.tileRows;
    repeat(fn, kSteps, () => {
      for (let t = 0; t < tiles; t++)
        copyRun(fn, target, t * kSteps * tileBytes, source, t * tileBytes, tileBytes);
      if (edgeRows) copyRun(fn, target, tiles * kSteps * tileBytes, source, tiles * tileBytes, edgeRows * es);
      advance(fn, source, aKStep);
      advance(fn, target, tileBytes);
    });
    return fn;
  };

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
      aRowStep: tileRowStep,
      aKStep: tileKStep,
      bRowStride,
      kUnroll: tuning.kUnroll,
    });
    return fn;
  };

  /**
   * In `fn`: code computing C rows [mRows] from A rows at `aRows` (offset to the k block) into `cRows`, over
   * every column panel, for one k block of the packed B at `packed`; A is packed to `aPacked` first when
   * it is stored transposed.
   */
  const rowBlockEmitter = (fn: FunctionBuilder, aPacked: Local | number) => {
    const bPanel = fn.local("i32");
    const cPanel = fn.local("i32");
    const aTile = fn.local("i32");
    const cTile = fn.local("i32");
    const aStart = fn.local("i32");
    const emitPanel = (mRows: number, columns: number, kSteps: number, firstBlock: boolean): void => {
      fn.localGet(aStart).localSet(aTile);
      fn.localGet(cPanel).localSet(cTile);
      const callTile = (rows: number): void => {
        fn.localGet(aTile)
          .localGet(bPanel)
          .localGet(cTile)
          .call(microKernel(rows, columns, kSteps, firstBlock));
      };
      repeat(fn, Math.floor(mRows / tuning.tileRows), () => {
        callTile(tuning.tileRows);
        advance(fn, aTile, packA ? kSteps * tuning.tileRows * es : tuning.tileRows * aRowStep);
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
      columns: { full: number; edge: number } = { full: fullPanels, edge: edgeColumns },
    ) => {
      const firstBlock = kBlock.start === 0;
      if (packA) {
        setSum(fn, aStart, aPacked, 0);
        fn.localGet(aRows).localGet(aStart).call(packABlock(mRows, kBlock.steps));
      } else {
        fn.localGet(aRows).localSet(aStart);
      }
      setSum(fn, bPanel, packed, kBlock.start * bRowStride);
      fn.localGet(cRows).localSet(cPanel);
      repeat(fn, columns.full, () => {
        emitPanel(mRows, nr, kBlock.steps, firstBlock);
        advance(fn, bPanel, panelStride);
        advance(fn, cPanel, nr * es);
      });
      if (columns.edge) emitPanel(mRows, columns.edge, kBlock.steps, firstBlock);
    };
  };

  const packedA = options.packedA ?? 0;
  /** rows(chunk, thread) after the packing chunks: one m block of one batch, over all k and column panels. */
  const emitRowChunk = (
    fn: FunctionBuilder,
    chunk: Local,
    thread: Local,
    batchIndex: Local,
    blockIndex: Local,
  ): void => {
    const controlWord = (slot: number): void => void fn.i32Const(control).i32Load({ offset: slot * 4 });
    const mBlocks = Math.max(1, Math.ceil(m / tuning.mBlock));
    const aRows = fn.local("i32");
    const cRows = fn.local("i32");
    const packed = fn.local("i32");
    const aBlock = fn.local("i32");
    const aPacked = fn.local("i32");
    const rowChunk = fn.local("i32");
    fn.localGet(chunk).i32Const(layout.packChunks).i32Sub().localSet(rowChunk);
    setSum(fn, aPacked, packedA, 0);
    if (packA)
      fn.localGet(thread).i32Const(layout.packedABytes).i32Mul().localGet(aPacked).i32Add().localSet(aPacked);
    const emitRowBlock = rowBlockEmitter(fn, aPacked);
    const offsetOf = (target: Local, slot: number, batchBytes: number, blockBytes: number): void => {
      controlWord(slot);
      fn.localGet(batchIndex).i32Const(batchBytes).i32Mul().i32Add();
      fn.localGet(blockIndex).i32Const(blockBytes).i32Mul().i32Add().localSet(target);
    };
    fn.localGet(rowChunk).i32Const(mBlocks).i32DivU().localSet(batchIndex);
    fn.localGet(rowChunk).i32Const(mBlocks).i32RemU().localSet(blockIndex);
    offsetOf(aRows, CONTROL.a, m * k * es, tuning.mBlock * aRowStep);
    offsetOf(cRows, CONTROL.c, m * n * es, tuning.mBlock * n * es);
    offsetOf(packed, CONTROL.packed, layout.packedBytes, 0);
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
  };

  /**
   * rows(chunk, thread) splitting columns: one group of column panels of one batch, over every row and k
   * block, with B read in place (the group's panels are adjacent columns: B rows at stride n).
   */
  const emitColumnChunk = (
    fn: FunctionBuilder,
    chunk: Local,
    thread: Local,
    batchIndex: Local,
    groupIndex: Local,
  ): void => {
    const { columnGroups, panelsPerColumnChunk } = layout;
    const controlWord = (slot: number): void => void fn.i32Const(control).i32Load({ offset: slot * 4 });
    const aBatch = fn.local("i32");
    const panels = fn.local("i32");
    const cColumns = fn.local("i32");
    const aBlock = fn.local("i32");
    const cBlock = fn.local("i32");
    const aPacked = fn.local("i32");
    setSum(fn, aPacked, packedA, 0);
    if (packA)
      fn.localGet(thread).i32Const(layout.packedABytes).i32Mul().localGet(aPacked).i32Add().localSet(aPacked);
    const emitRowBlock = rowBlockEmitter(fn, aPacked);
    fn.localGet(chunk).i32Const(columnGroups).i32DivU().localSet(batchIndex);
    fn.localGet(chunk).i32Const(columnGroups).i32RemU().localSet(groupIndex);
    const groupBytes = panelsPerColumnChunk * nr * es; // the group's first column, in B and in C
    const offsetOf = (target: Local, slot: number, batchBytes: number, columnBytes: number): void => {
      controlWord(slot);
      fn.localGet(batchIndex).i32Const(batchBytes).i32Mul().i32Add();
      if (columnBytes) fn.localGet(groupIndex).i32Const(columnBytes).i32Mul().i32Add();
      fn.localSet(target);
    };
    offsetOf(aBatch, CONTROL.a, m * k * es, 0);
    if (prepacked) offsetOf(panels, CONTROL.packed, layout.packedBytes, panelsPerColumnChunk * panelStride);
    else offsetOf(panels, CONTROL.b, k * n * es, groupBytes);
    offsetOf(cColumns, CONTROL.c, m * n * es, groupBytes);
    const emitGroup = (columns: { full: number; edge: number }): void => {
      for (const kBlock of kBlocks) {
        setSum(fn, aBlock, aBatch, kBlock.start * aKStep);
        fn.localGet(cColumns).localSet(cBlock);
        repeat(fn, Math.floor(m / tuning.mBlock), () => {
          emitRowBlock(aBlock, cBlock, panels, tuning.mBlock, kBlock, columns);
          advance(fn, aBlock, tuning.mBlock * aRowStep);
          advance(fn, cBlock, tuning.mBlock * n * es);
        });
        if (m % tuning.mBlock) emitRowBlock(aBlock, cBlock, panels, m % tuning.mBlock, kBlock, columns);
      }
    };
    const lastFull = fullPanels - (columnGroups - 1) * panelsPerColumnChunk;
    if (columnGroups === 1) emitGroup({ full: lastFull, edge: edgeColumns });
    else {
      fn.localGet(groupIndex)
        .i32Const(columnGroups - 1)
        .i32Eq();
      fn.if();
      emitGroup({ full: lastFull, edge: edgeColumns });
      fn.else();
      emitGroup({ full: panelsPerColumnChunk, edge: 0 });
      fn.end();
    }
  };

  if (!threaded) {
    // ---- gemm(): batches, k blocks, m blocks, column panels, row tiles
    const fn = module.function("gemm", ["i32", "i32", "i32", "i32"], []);
    const [aBatch, bBatch, cBatch, packed] = [fn.param(0), fn.param(1), fn.param(2), fn.param(3)];
    const aBlock = fn.local("i32");
    const cBlock = fn.local("i32");
    const emitRowBlock = rowBlockEmitter(fn, packedA);
    // Unpacked, the panels are read from B itself.
    const panels = unpacked ? bBatch : packed;
    repeat(fn, m * n === 0 ? 0 : batch, () => {
      if (!unpacked && !prepacked)
        fn.localGet(bBatch).localGet(packed).call(packPanels(fullPanels, edgeColumns));
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
      if (prepacked) advance(fn, packed, layout.packedBytes);
    });
  } else {
    // ---- prepare(): the addresses for rows(), and no B group packed yet
    const prepare = module.function("prepare", ["i32", "i32", "i32", "i32"], []);
    for (const [slot, param] of [
      [CONTROL.a, 0],
      [CONTROL.b, 1],
      [CONTROL.c, 2],
      [CONTROL.packed, 3],
    ] as const) {
      prepare
        .i32Const(control)
        .localGet(prepare.param(param))
        .i32Store({ offset: slot * 4 });
    }
    prepare
      .i32Const(control)
      .i32Const(0)
      .memory("i32AtomicStore", { offset: CONTROL.packDone * 4 });

    // ---- rows(chunk, thread): a group of B panels, or (once all are packed) an m block, all k and panels;
    // or, splitting columns, a group of panels over all rows and k
    const fn = module.function("rows", ["i32", "i32"], []);
    const [chunk, thread] = [fn.param(0), fn.param(1)];
    const { packGroups, panelsPerGroup } = layout;
    const batchIndex = fn.local("i32");
    const blockIndex = fn.local("i32");
    const controlWord = (slot: number): void => void fn.i32Const(control).i32Load({ offset: slot * 4 });
    if (layout.packChunks > 0) {
      fn.localGet(chunk).i32Const(layout.packChunks).i32LtU();
      fn.if();
      {
        const source = fn.local("i32");
        const target = fn.local("i32");
        fn.localGet(chunk).i32Const(packGroups).i32DivU().localSet(batchIndex);
        fn.localGet(chunk).i32Const(packGroups).i32RemU().localSet(blockIndex);
        const groupSourceBytes = panelsPerGroup * nr * (transposeB ? k : 1) * es;
        controlWord(CONTROL.b);
        fn.localGet(batchIndex)
          .i32Const(k * n * es)
          .i32Mul()
          .i32Add();
        fn.localGet(blockIndex).i32Const(groupSourceBytes).i32Mul().i32Add().localSet(source);
        controlWord(CONTROL.packed);
        fn.localGet(batchIndex).i32Const(layout.packedBytes).i32Mul().i32Add();
        fn.localGet(blockIndex)
          .i32Const(panelsPerGroup * panelStride)
          .i32Mul()
          .i32Add()
          .localSet(target);
        const lastFull = fullPanels - (packGroups - 1) * panelsPerGroup;
        const packLast = (): void =>
          void fn.localGet(source).localGet(target).call(packPanels(lastFull, edgeColumns));
        if (packGroups === 1) packLast();
        else {
          fn.localGet(blockIndex)
            .i32Const(packGroups - 1)
            .i32Eq();
          fn.if();
          packLast();
          fn.else();
          fn.localGet(source).localGet(target).call(packPanels(panelsPerGroup, 0));
          fn.end();
        }
        // Publish the packed group (a sequentially consistent add orders the stores before it).
        fn.i32Const(control)
          .i32Const(1)
          .memory("i32AtomicRmwAdd", { offset: CONTROL.packDone * 4 })
          .drop();
        fn.return();
      }
      fn.end();
      // Every group is taken before any m block: wait for the ones other threads are still packing
      // (unless a thread failed: threads.ts sets the chunk counter to CHUNKS_FAILED).
      fn.loop();
      fn.i32Const(control)
        .memory("i32AtomicLoad", { offset: CONTROL.counter * 4 })
        .i32Const(CHUNKS_FAILED)
        .op("i32GeU");
      fn.if().return().end();
      fn.i32Const(control)
        .memory("i32AtomicLoad", { offset: CONTROL.packDone * 4 })
        .i32Const(layout.packChunks)
        .i32Ne()
        .brIf(0);
      fn.end();
    }
    if (splitColumns) emitColumnChunk(fn, chunk, thread, batchIndex, blockIndex);
    else emitRowChunk(fn, chunk, thread, batchIndex, blockIndex);
  }

  if (prepacked) {
    // ---- pack(b, packed): every batch's B into its panels, for the calls that follow
    const fn = module.function("pack", ["i32", "i32"], []);
    const [bBatch, packed] = [fn.param(0), fn.param(1)];
    repeat(fn, m * n === 0 ? 0 : batch, () => {
      fn.localGet(bBatch).localGet(packed).call(packPanels(fullPanels, edgeColumns));
      advance(fn, bBatch, k * n * es);
      advance(fn, packed, layout.packedBytes);
    });
  }

  return { bytes: module.toBytes(), layout, tuning };
}

/**
 * In `fn`: one full panel of B stored transposed ([n, k]: the panel's nr columns are nr rows there, at
 * `rowSource`) packed as [k][nr] at `rowTarget`, `lanes` k steps of `lanes` columns at a time: a vector
 * load from each of `lanes` rows, transposed in registers by shuffles, is `lanes` vector stores.
 */
function emitTransposedPanel(
  fn: FunctionBuilder,
  ops: ElementOps,
  at: { source: Local; target: Local; rowSource: Local; rowTarget: Local; k: number; nr: number },
): void {
  const { source, target, rowSource, rowTarget, k, nr } = at;
  const es = ops.bytes;
  const lanes = ops.lanes;
  const columnBytes = k * es;
  const rows = Array.from({ length: lanes }, () => fn.local("v128"));
  const pairs = Array.from({ length: lanes }, () => fn.local("v128"));
  /** i8x16.shuffle lanes taking `elements` (each of `es` bytes; >= lanes means the second vector). */
  const shuffle = (elements: readonly number[]): number[] =>
    elements.flatMap((e) => Array.from({ length: es }, (_, b) => e * es + b));
  const transposed = (u: number): void => {
    if (lanes === 2) {
      fn.localGet(rows[0]!)
        .localGet(rows[1]!)
        .i8x16Shuffle(shuffle([u, u + 2]));
      return;
    }
    // 4 x 4: interleave rows (0,1) and (2,3) by halves, then take the matching halves of each pair.
    const [low, high] = u < 2 ? [pairs[0]!, pairs[1]!] : [pairs[2]!, pairs[3]!];
    fn.localGet(low)
      .localGet(high)
      .i8x16Shuffle(shuffle(u % 2 === 0 ? [0, 1, 4, 5] : [2, 3, 6, 7]));
  };
  fn.localGet(rowSource).localSet(source);
  fn.localGet(rowTarget).localSet(target);
  repeat(fn, Math.floor(k / lanes), () => {
    for (let j0 = 0; j0 < nr; j0 += lanes) {
      for (let i = 0; i < lanes; i++)
        fn.localGet(source)
          .v128Load({ offset: (j0 + i) * columnBytes, align: 0 })
          .localSet(rows[i]!);
      if (lanes === 4) {
        const interleave = (pair: Local, first: number, half: number): void => {
          fn.localGet(rows[first]!)
            .localGet(rows[first + 1]!)
            .i8x16Shuffle(shuffle(half === 0 ? [0, 4, 1, 5] : [2, 6, 3, 7]))
            .localSet(pair);
        };
        interleave(pairs[0]!, 0, 0); // r0[0] r1[0] r0[1] r1[1]
        interleave(pairs[1]!, 2, 0); // r2[0] r3[0] r2[1] r3[1]
        interleave(pairs[2]!, 0, 1); // r0[2] r1[2] r0[3] r1[3]
        interleave(pairs[3]!, 2, 1);
      }
      for (let u = 0; u < lanes; u++) {
        fn.localGet(target);
        transposed(u);
        fn.v128Store({ offset: (u * nr + j0) * es });
      }
    }
    advance(fn, source, lanes * es);
    advance(fn, target, lanes * nr * es);
  });
  // The k steps left over, element by element.
  for (let u = 0; u < k % lanes; u++) {
    for (let j = 0; j < nr; j++) {
      fn.localGet(target);
      fn.localGet(source);
      ops.loadScalar(fn, { offset: j * columnBytes + u * es });
      ops.storeScalar(fn, { offset: (u * nr + j) * es });
    }
  }
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
