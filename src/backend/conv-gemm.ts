/**
 * Convolution kernels for jit plans, built on the backend's GEMM (WebAssembly SIMD when active): per
 * group, the receptive fields of the whole batch are unrolled into one [K, N*P] matrix (K = Cg*KH*KW,
 * P = OH*OW), so each of the three products of the convolution's trilinear form is a single large GEMM:
 *
 *   forward        y_g    [Og, N*P] = w_g   [Og, K]  @ cols_g [K, N*P]
 *   input grad     dcols  [K, N*P]  = w_gᵀ  [K, Og]  @ ct_g   [Og, N*P]   (then col2im)
 *   weight grad    dw_gᵀ  [K, Og]   = cols_g [K, N*P] @ ct_gᵀ [N*P, Og]
 *
 * All scratch is allocated once, when the plan is compiled. Storage stays in the array's dtype.
 */

import type { DerivedInput } from "../core/compiler-facts.js";
import type { DType, TypedArray } from "../core/dtype.js";
import type { KernelContext } from "../core/primitive.js";
import { relaxedSimdActive, workerPool } from "./active.js";
import { type ConvGeometry, tapRanges } from "./conv-geometry.js";
import { gemmKernel } from "./index.js";
import {
  columnOrderWeightGrad,
  directConvFits,
  KERNEL_THRESHOLDS,
  wantsDirectConv,
  wantsWasm,
} from "./kernel-choice.js";
import { planArray, viewAt, withResidency } from "./plan-memory.js";
import {
  COLUMN_WEIGHT_GRAD_CONTROL_BYTES,
  columnWeightGradTiling,
  emitColumnWeightGrad,
} from "./wasm/column-weight-grad.js";
import { type ConvMoves, convMovesKey, emitConvMoves } from "./wasm/conv-moves.js";
import {
  chooseTiling,
  DIRECT_CONV_CONTROL_BYTES,
  directConvChunks,
  emitDirectConv,
} from "./wasm/direct-conv.js";
import {
  DIRECT_WEIGHT_GRAD_CONTROL_BYTES,
  emitDirectWeightGrad,
  weightGradSlack,
  weightGradTiling,
} from "./wasm/direct-weight-grad.js";
import type { WasmGemmKernel } from "./wasm/gemm-kernel.js";
import { type MoveDType, Operand, planExports, wasmMoveCalls } from "./wasm/move-support.js";
import { compileModule, instantiateCompiled } from "./wasm/runtime.js";
import { runChunks, type WorkerPool } from "./wasm/threads.js";

type Kernel2 = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/**
 * Between input x and the unrolled matrix cols, where
 * cols[(c*KH + p)*KW + q, n*P + i*OW + j] corresponds to x[n, c0 + c, i*sh - pt + p*dh, j*sw - pl + q*dw]:
 * "gather" fills cols from x (0 where a tap falls in the padding), "scatter-add" adds cols back into x
 * (the transpose; it does not clear x first).
 */
function moveTaps(
  mode: "gather" | "scatter-add",
  x: TypedArray,
  cols: TypedArray,
  c0: number,
  g: ConvGeometry,
): void {
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, kernelHeight: KH, kernelWidth: KW } = g;
  const { outHeight: OH, outWidth: OW, strideH: sh, strideW: sw, padTop: pt, padLeft: pl } = g;
  const { dilationH: dh, dilationW: dw } = g;
  const gather = mode === "gather";
  const Cg = C / g.groups;
  const P = OH * OW;
  const NP = N * P;
  const taps = tapRanges(g);
  for (let c = 0; c < Cg; c++) {
    for (let p = 0; p < KH; p++) {
      const { lo: iLo, hi: iHi } = taps.rows[p]!;
      for (let q = 0; q < KW; q++) {
        const { lo: jLo, hi: jHi } = taps.cols[q]!;
        const row = ((c * KH + p) * KW + q) * NP;
        const partial = iLo > 0 || iHi < OH || jLo > 0 || jHi < OW;
        const colOff = q * dw - pl;
        for (let n = 0; n < N; n++) {
          const col0 = row + n * P;
          if (gather && partial) cols.fill(0, col0, col0 + P);
          const plane = (n * C + c0 + c) * H * W;
          for (let i = iLo; i < iHi; i++) {
            const at = plane + (i * sh - pt + p * dh) * W + colOff;
            const col = col0 + i * OW;
            // The branches are per row, so each inner loop stays a tight copy or accumulation.
            if (gather) {
              if (sw === 1) for (let j = jLo; j < jHi; j++) cols[col + j] = x[at + j]!;
              else for (let j = jLo; j < jHi; j++) cols[col + j] = x[at + j * sw]!;
            } else if (sw === 1) for (let j = jLo; j < jHi; j++) x[at + j] = x[at + j]! + cols[col + j]!;
            else for (let j = jLo; j < jHi; j++) x[at + j * sw] = x[at + j * sw]! + cols[col + j]!;
          }
        }
      }
    }
  }
}

/** [N, O, P] -> [O, N, P] (or back with `inverse`). */
function swapLeading(
  src: TypedArray,
  dst: TypedArray,
  N: number,
  O: number,
  P: number,
  inverse: boolean,
): void {
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const a = (n * O + o) * P;
      const b = (o * N + n) * P;
      if (inverse) for (let p = 0; p < P; p++) dst[a + p] = src[b + p]!;
      else for (let p = 0; p < P; p++) dst[b + p] = src[a + p]!;
    }
  }
}

/** Rows x cols matrix at `srcOff` transposed into dst at `dstOff`. */
function transposeBlock(
  src: TypedArray,
  srcOff: number,
  dst: TypedArray,
  dstOff: number,
  rows: number,
  cols: number,
): void {
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < cols; c++) dst[dstOff + c * rows + r] = src[srcOff + r * cols + c]!;
}

function sizes(g: ConvGeometry) {
  const Cg = g.inChannels / g.groups;
  const Og = g.outChannels / g.groups;
  const K = Cg * g.kernelHeight * g.kernelWidth;
  const P = g.outHeight * g.outWidth;
  return { Cg, Og, K, P, NP: g.batch * P, G: g.groups };
}

/**
 * The unrolled input of one geometry (the `derivedInput` of conv2d and conv2d_weight_grad): the memory
 * plan gives the convolutions of one key one buffer, filled by the first that reads a given x and reused
 * by the later ones of the same run that read the same x (typically the weight gradient after the
 * forward). Only one group's columns fit, so with several groups it is never reused.
 */
function unrolledInput(g: ConvGeometry, dtype: DType): DerivedInput {
  const { outChannels: _, ...input } = g; // the unrolled input does not depend on the output channels
  const { K, NP } = sizes(g);
  return {
    input: 0,
    key: `conv columns ${dtype} ${JSON.stringify(input)}`,
    bytes: K * NP * elementBytes(dtype),
    reusable: g.groups === 1,
    label: `unrolled conv input ${dtype}[${K},${NP}]`,
  };
}

/**
 * The `derivedInput` of conv2d and conv2d_weight_grad: none where they may run the direct kernels, which
 * read x itself, else the unrolled input.
 */
export function unrolledInputUnlessDirect(g: ConvGeometry, dtype: DType): DerivedInput | null {
  return directConvFits(g, dtype) ? null : unrolledInput(g, dtype);
}

/** The columns buffer: the plan's (filled here or not, as the plan says), else one of the kernel's own. */
interface Columns {
  readonly cols: () => TypedArray;
  readonly fill: boolean;
}

function columnsFor(context: KernelContext, g: ConvGeometry, dtype: DType): Columns {
  const { K, NP } = sizes(g);
  const planned = context.derivedInput;
  if (!planned) return { cols: planArray(context, dtype, K * NP), fill: true };
  return { cols: planArray(context, dtype, K * NP, planned.offset), fill: planned.fill };
}

// ---------------------------------------------------------------------------------------------------
// The WebAssembly path: the moves of wasm/conv-moves.ts and the GEMM on byte addresses of the plan memory,
// with no loop in JS. Operands outside the plan memory (plan inputs and outputs) go through staging.

type AddressGemm = (a: number, b: number, c: number) => void;

/** The GEMM on plan-memory addresses: the wasm kernel's `at`, else the JS kernel on views there. */
function gemmOnAddresses(
  gemm: (a: TypedArray, b: TypedArray, out: TypedArray) => void,
  context: KernelContext,
  dtype: DType,
  [aSize, bSize, cSize]: [number, number, number],
): AddressGemm {
  const at = (gemm as Partial<WasmGemmKernel>).at;
  if (at) return at;
  return (a, b, c) => {
    const buffer = context.memory().buffer;
    gemm(viewAt(buffer, dtype, a, aSize), viewAt(buffer, dtype, b, bSize), viewAt(buffer, dtype, c, cSize));
  };
}

const elementBytes = (dtype: DType): number => (dtype === "float64" ? 8 : 4);

/** Whether convolutions lowered with `context` in `dtype` run the wasm moves (kernel-choice.ts decides). */
export function wasmConvMoves(context: KernelContext, dtype: DType): dtype is MoveDType {
  return wantsWasm(context, { dtype });
}

function movesFor(context: KernelContext, g: ConvGeometry, dtype: MoveDType): () => ConvMoves {
  return planExports<ConvMoves>(context, convMovesKey(g, dtype), () =>
    emitConvMoves(g, dtype, context.shared),
  );
}

const inputSize = (g: ConvGeometry): number => g.batch * g.inChannels * g.inHeight * g.inWidth;
const planeBytes = (g: ConvGeometry, es: number): number => g.inHeight * g.inWidth * es;

function conv2dWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (x: TypedArray, w: TypedArray, y: TypedArray) => void {
  const { Cg, Og, K, NP, G } = sizes(g);
  const es = elementBytes(dtype);
  const moves = movesFor(context, g, dtype);
  const columns = columnsFor(context, g, dtype);
  const yONP = planArray(context, dtype, g.outChannels * NP);
  const xOperand = new Operand(context, context.inputResident(0), inputSize(g) * es);
  const wOperand = new Operand(context, context.inputResident(1), g.outChannels * K * es);
  const yOperand = new Operand(context, context.outputResident(0), g.outChannels * NP * es);
  const gemm = gemmOnAddresses(
    gemmKernel(dtype, 1, Og, K, NP, withResidency(context, [true, true], [true])),
    context,
    dtype,
    [Og * K, K * NP, Og * NP],
  );
  return (x, w, y) => {
    wasmMoveCalls.conv++;
    const m = moves();
    const [cols, out] = [columns.cols().byteOffset, yONP().byteOffset];
    const wAt = wOperand.address(w, true);
    const yAt = yOperand.address(y, false);
    let xAt = -1;
    for (let gi = 0; gi < G; gi++) {
      if (columns.fill) {
        if (xAt < 0) xAt = xOperand.address(x, true);
        m.gather(xAt + gi * Cg * planeBytes(g, es), cols);
      }
      gemm(wAt + gi * Og * K * es, cols, out + gi * Og * NP * es);
    }
    m.toNOP(out, yAt);
    yOperand.copyOut(y, yAt);
  };
}

/** A weight gradient's operands, in place in the plan memory or staged: x and ct in, dw out. */
function weightGradOperands(context: KernelContext, g: ConvGeometry, es: number) {
  const { K, NP } = sizes(g);
  return {
    xOperand: new Operand(context, context.inputResident(0), inputSize(g) * es),
    ctOperand: new Operand(context, context.inputResident(1), g.outChannels * NP * es),
    dwOperand: new Operand(context, context.outputResident(0), g.outChannels * K * es),
  };
}

/** Chunks per thread of a threaded direct convolution, taken in turn (as the GEMM's). */
const DIRECT_CONV_CHUNKS_PER_THREAD = 4;

/** The worker threads a direct kernel of `work` multiply-adds shares its chunks with, or null. */
function directPool(context: KernelContext, work: number): WorkerPool | null {
  return context.shared && work >= KERNEL_THRESHOLDS.threadedDirectConvMultiplyAdds ? workerPool() : null;
}

/**
 * A module exporting prepare(a, b, c) and rows(chunk, thread) (direct-conv.ts, direct-weight-grad.ts),
 * run over its chunks: on the worker threads too when `pool` is given and there are two chunks or more.
 * Instantiated on the first call, once the plan memory exists.
 */
function chunkedModule(
  context: KernelContext,
  bytes: Uint8Array,
  control: number,
  chunks: number,
  pool: WorkerPool | null,
): (a: number, b: number, c: number) => void {
  const compiled = compileModule(bytes);
  let run: ((a: number, b: number, c: number) => void) | null = null;
  const instantiate = (): ((a: number, b: number, c: number) => void) => {
    const memory = context.memory();
    const { prepare, rows } = instantiateCompiled(compiled, memory.wasm!).exports as unknown as {
      prepare(a: number, b: number, c: number): void;
      rows(chunk: number, thread: number): void;
    };
    const id = pool && chunks >= 2 ? pool.register(compiled, memory.wasm!, control / 4, chunks) : null;
    if (id === null) {
      // one thread, or the workers did not answer
      return (a, b, c) => {
        prepare(a, b, c);
        for (let chunk = 0; chunk < chunks; chunk++) rows(chunk, 0);
      };
    }
    const counter = new Int32Array(memory.buffer);
    return (a, b, c) => {
      prepare(a, b, c);
      runChunks(pool!, id, counter, control / 4, chunks, rows);
    };
  };
  return (a, b, c) => {
    run ??= instantiate();
    run(a, b, c);
  };
}

/**
 * The direct kernel (kernel-choice.ts says where): x, w and y in place or staged, no scratch but a control
 * block; on the worker threads too from `threadedDirectConvMultiplyAdds` in a shared plan memory.
 */
function conv2dDirectWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (x: TypedArray, w: TypedArray, y: TypedArray) => void {
  const es = elementBytes(dtype);
  const K = g.inChannels * g.kernelHeight * g.kernelWidth;
  const ySize = g.batch * g.outChannels * g.outHeight * g.outWidth;
  const pool = directPool(context, ySize * K);
  const threads = pool ? pool.workers + 1 : 1;
  const tiling = chooseTiling(g, 16 / es, pool ? DIRECT_CONV_CHUNKS_PER_THREAD * threads : 0);
  const control = context.reserve(DIRECT_CONV_CONTROL_BYTES);
  const bytes = emitDirectConv(g, dtype, {
    relaxedSimd: relaxedSimdActive(),
    shared: context.shared,
    control,
    tiling,
  });
  const run = chunkedModule(context, bytes, control, directConvChunks(g, tiling), pool);
  const xOperand = new Operand(context, context.inputResident(0), inputSize(g) * es);
  const wOperand = new Operand(context, context.inputResident(1), g.outChannels * K * es);
  const yOperand = new Operand(context, context.outputResident(0), ySize * es);
  return (x, w, y) => {
    wasmMoveCalls.directConv++;
    const yAt = yOperand.address(y, false);
    run(xOperand.address(x, true), wOperand.address(w, true), yAt);
    yOperand.copyOut(y, yAt);
  };
}

/**
 * The weight gradient where the forward runs direct: the im2col GEMM with its unrolled input read from x
 * in place (wasm/direct-weight-grad.ts), after the same transpose of the cotangent; same bits.
 */
function conv2dDirectWeightGradWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (x: TypedArray, ct: TypedArray, dw: TypedArray) => void {
  const { K, NP } = sizes(g);
  const es = elementBytes(dtype);
  const lanes = 16 / es;
  const moves = movesFor(context, g, dtype);
  const ctTArray = planArray(context, dtype, NP * g.outChannels + weightGradSlack(g, lanes));
  const control = context.reserve(DIRECT_WEIGHT_GRAD_CONTROL_BYTES);
  const bytes = emitDirectWeightGrad(g, dtype, {
    relaxedSimd: relaxedSimdActive(),
    shared: context.shared,
    control,
  });
  const pool = directPool(context, NP * g.outChannels * K);
  const run = chunkedModule(context, bytes, control, weightGradTiling(g, lanes).chunks, pool);
  const { xOperand, ctOperand, dwOperand } = weightGradOperands(context, g, es);
  return (x, ct, dw) => {
    wasmMoveCalls.directConv++;
    const ctT = ctTArray().byteOffset;
    moves().transposeCt(ctOperand.address(ct, true), ctT);
    const dwAt = dwOperand.address(dw, false);
    run(xOperand.address(x, true), ctT, dwAt);
    dwOperand.copyOut(dw, dwAt);
  };
}

/** The fewest taps (C*KH*KW) for which the column weight gradient shares its chunks with the workers. */
const COLUMN_THREADED_MIN_TAPS = 64;

/**
 * The weight gradient where the forward runs direct and output rows are whole vectors: vectorized over
 * output columns, x and ct read in place (wasm/column-weight-grad.ts). Its chunks each read a whole
 * block of channels of ct: shared with a worker, they leave ct's lines in the worker's cache, and the next
 * run's step that writes into ct's buffer first waits on the other core for every line. So it shares its
 * chunks only where each element of ct feeds many multiply-adds (COLUMN_THREADED_MIN_TAPS). Measured on 2
 * threads: in LeNet's batch-32 plan (conv1, 25 taps) the fused bias-and-relu step after conv1 took
 * 0.13-0.61 ms instead of 0.04-0.06 with it threaded, more than the 0.06 ms the threads saved; a 3x3
 * layer of 32 -> 64 channels at 16x16, batch 16 (288 taps), took 3.3 ms on one thread and 2.2 as the
 * threaded im2col GEMM.
 */
function conv2dColumnWeightGradWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (x: TypedArray, ct: TypedArray, dw: TypedArray) => void {
  const es = elementBytes(dtype);
  const tiling = columnWeightGradTiling(g);
  const control = context.reserve(COLUMN_WEIGHT_GRAD_CONTROL_BYTES);
  const bytes = emitColumnWeightGrad(g, dtype, {
    relaxedSimd: relaxedSimdActive(),
    shared: context.shared,
    control,
    tiling,
  });
  const { K, NP } = sizes(g);
  const pool = K >= COLUMN_THREADED_MIN_TAPS ? directPool(context, NP * g.outChannels * K) : null;
  const run = chunkedModule(context, bytes, control, tiling.chunks, pool);
  const { xOperand, ctOperand, dwOperand } = weightGradOperands(context, g, es);
  return (x, ct, dw) => {
    wasmMoveCalls.directConv++;
    const dwAt = dwOperand.address(dw, false);
    run(xOperand.address(x, true), ctOperand.address(ct, true), dwAt);
    dwOperand.copyOut(dw, dwAt);
  };
}

function conv2dInputGradWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (ct: TypedArray, w: TypedArray, dx: TypedArray) => void {
  const { Cg, Og, K, NP, G } = sizes(g);
  const es = elementBytes(dtype);
  const moves = movesFor(context, g, dtype);
  const ctOperand = new Operand(context, context.inputResident(0), g.outChannels * NP * es);
  const wOperand = new Operand(context, context.inputResident(1), g.outChannels * K * es);
  const dxOperand = new Operand(context, context.outputResident(0), inputSize(g) * es);
  const ctONPArray = planArray(context, dtype, g.outChannels * NP);
  const wTArray = planArray(context, dtype, K * Og);
  const dcolsArray = planArray(context, dtype, K * NP);
  const gemm = gemmOnAddresses(
    gemmKernel(dtype, 1, K, Og, NP, withResidency(context, [true, true], [true])),
    context,
    dtype,
    [K * Og, Og * NP, K * NP],
  );
  return (ct, w, dx) => {
    wasmMoveCalls.conv++;
    const m = moves();
    const [ctONP, wT, dcols] = [ctONPArray().byteOffset, wTArray().byteOffset, dcolsArray().byteOffset];
    const ctAt = ctOperand.address(ct, true);
    const wAt = wOperand.address(w, true);
    const dxAt = dxOperand.address(dx, false);
    m.toONP(ctAt, ctONP);
    m.zeroInput(dxAt);
    for (let gi = 0; gi < G; gi++) {
      m.transposeW(wAt + gi * Og * K * es, wT);
      gemm(wT, ctONP + gi * Og * NP * es, dcols);
      m.scatter(dxAt + gi * Cg * planeBytes(g, es), dcols);
    }
    dxOperand.copyOut(dx, dxAt);
  };
}

function conv2dWeightGradWasm(
  g: ConvGeometry,
  dtype: MoveDType,
  context: KernelContext,
): (x: TypedArray, ct: TypedArray, dw: TypedArray) => void {
  const { Cg, Og, K, NP, P, G } = sizes(g);
  const es = elementBytes(dtype);
  const moves = movesFor(context, g, dtype);
  const columns = columnsFor(context, g, dtype);
  const { xOperand, ctOperand, dwOperand } = weightGradOperands(context, g, es);
  const ctTArray = planArray(context, dtype, NP * Og);
  const dwTArray = planArray(context, dtype, K * Og);
  const gemm = gemmOnAddresses(
    gemmKernel(dtype, 1, K, NP, Og, withResidency(context, [true, true], [true])),
    context,
    dtype,
    [K * NP, NP * Og, K * Og],
  );
  return (x, ct, dw) => {
    wasmMoveCalls.conv++;
    const m = moves();
    const [cols, ctT, dwT] = [columns.cols().byteOffset, ctTArray().byteOffset, dwTArray().byteOffset];
    const ctAt = ctOperand.address(ct, true);
    const dwAt = dwOperand.address(dw, false);
    let xAt = -1;
    for (let gi = 0; gi < G; gi++) {
      if (columns.fill) {
        if (xAt < 0) xAt = xOperand.address(x, true);
        m.gather(xAt + gi * Cg * planeBytes(g, es), cols);
      }
      m.transposeCt(ctAt + gi * Og * P * es, ctT);
      gemm(cols, ctT, dwT);
      m.transposeDw(dwT, dwAt + gi * Og * K * es);
    }
    dwOperand.copyOut(dw, dwAt);
  };
}

/** y = conv2d(x, w) for one geometry. */
export function conv2dGemm(
  g: ConvGeometry,
  dtype: DType,
  context: KernelContext,
): (x: TypedArray, w: TypedArray, y: TypedArray) => void {
  if (wantsDirectConv(context, g, dtype)) return conv2dDirectWasm(g, dtype as MoveDType, context);
  if (wasmConvMoves(context, dtype)) return conv2dWasm(g, dtype, context);
  const { Cg, Og, K, NP, P, G } = sizes(g);
  const columns = columnsFor(context, g, dtype);
  const yONP = planArray(context, dtype, g.outChannels * NP);
  const gemmContext = withResidency(context, [context.inputResident(1), true], [true]);
  const gemm: Kernel2 = gemmKernel(dtype, 1, Og, K, NP, gemmContext);
  return (x, w, y) => {
    const [cols, out] = [columns.cols(), yONP()];
    for (let gi = 0; gi < G; gi++) {
      if (columns.fill) moveTaps("gather", x, cols, gi * Cg, g);
      gemm(w.subarray(gi * Og * K, (gi + 1) * Og * K), cols, out.subarray(gi * Og * NP, (gi + 1) * Og * NP));
    }
    swapLeading(out, y, g.batch, g.outChannels, P, true);
  };
}

/** dx = conv2d_input_grad(ct, w). */
export function conv2dInputGradGemm(
  g: ConvGeometry,
  dtype: DType,
  context: KernelContext,
): (ct: TypedArray, w: TypedArray, dx: TypedArray) => void {
  if (wasmConvMoves(context, dtype)) return conv2dInputGradWasm(g, dtype, context);
  const { Cg, Og, K, NP, P, G } = sizes(g);
  const ctONPArray = planArray(context, dtype, g.outChannels * NP);
  const wTArray = planArray(context, dtype, K * Og);
  const dcolsArray = planArray(context, dtype, K * NP);
  const gemm: Kernel2 = gemmKernel(dtype, 1, K, Og, NP, withResidency(context, [true, true], [true]));
  return (ct, w, dx) => {
    const [ctONP, wT, dcols] = [ctONPArray(), wTArray(), dcolsArray()];
    swapLeading(ct, ctONP, g.batch, g.outChannels, P, false);
    dx.fill(0);
    for (let gi = 0; gi < G; gi++) {
      transposeBlock(w, gi * Og * K, wT, 0, Og, K);
      gemm(wT, ctONP.subarray(gi * Og * NP, (gi + 1) * Og * NP), dcols);
      moveTaps("scatter-add", dx, dcols, gi * Cg, g);
    }
  };
}

/**
 * The weight gradient in the order of wasm/column-weight-grad.ts, for the JS backend: for each output,
 * one sum per lane (the output columns j ≡ l mod lanes, over n, i and j in turn), then the lanes summed
 * in turn, every operation rounded to the dtype as the wasm kernel's (without FMA).
 */
function columnWeightGradJs(
  g: ConvGeometry,
  dtype: DType,
): (x: TypedArray, ct: TypedArray, dw: TypedArray) => void {
  const lanes = dtype === "float32" ? 4 : 2;
  const round = dtype === "float32" ? Math.fround : (v: number): number => v;
  const { batch: N, inChannels: C, inHeight: H, inWidth: W, outChannels: O } = g;
  const { kernelHeight: KH, kernelWidth: KW, outHeight: OH, outWidth: OW } = g;
  const lane = new Float64Array(lanes);
  return (x, ct, dw) => {
    for (let o = 0; o < O; o++)
      for (let c = 0; c < C; c++)
        for (let p = 0; p < KH; p++)
          for (let q = 0; q < KW; q++) {
            lane.fill(0);
            for (let n = 0; n < N; n++)
              for (let i = 0; i < OH; i++) {
                const xRow = ((n * C + c) * H + i + p) * W + q;
                const ctRow = ((n * O + o) * OH + i) * OW;
                for (let j = 0; j < OW; j++)
                  lane[j % lanes] = round(lane[j % lanes]! + round(x[xRow + j]! * ct[ctRow + j]!));
              }
            let sum = lane[0]!;
            for (let l = 1; l < lanes; l++) sum = round(sum + lane[l]!);
            dw[((o * C + c) * KH + p) * KW + q] = sum;
          }
  };
}

/** dw = conv2d_weight_grad(x, ct). */
export function conv2dWeightGradGemm(
  g: ConvGeometry,
  dtype: DType,
  context: KernelContext,
): (x: TypedArray, ct: TypedArray, dw: TypedArray) => void {
  const columnOrder = columnOrderWeightGrad(g, dtype);
  if (wantsDirectConv(context, g, dtype)) {
    return columnOrder
      ? conv2dColumnWeightGradWasm(g, dtype as MoveDType, context)
      : conv2dDirectWeightGradWasm(g, dtype as MoveDType, context);
  }
  if (columnOrder) return columnWeightGradJs(g, dtype);
  if (wasmConvMoves(context, dtype)) return conv2dWeightGradWasm(g, dtype, context);
  const { Cg, Og, K, NP, P, G } = sizes(g);
  const columns = columnsFor(context, g, dtype);
  const ctTArray = planArray(context, dtype, NP * Og); // one group's cotangent as [N*P, Og]
  const dwTArray = planArray(context, dtype, K * Og);
  const gemm: Kernel2 = gemmKernel(dtype, 1, K, NP, Og, withResidency(context, [true, true], [true]));
  const { batch: N, outChannels: O } = g;
  return (x, ct, dw) => {
    const [cols, ctT, dwT] = [columns.cols(), ctTArray(), dwTArray()];
    for (let gi = 0; gi < G; gi++) {
      if (columns.fill) moveTaps("gather", x, cols, gi * Cg, g);
      // ctT[n*P + p, o] = ct[n, gi*Og + o, p]
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < Og; o++) {
          const src = (n * O + gi * Og + o) * P;
          const dst = n * P * Og + o;
          for (let p = 0; p < P; p++) ctT[dst + p * Og] = ct[src + p]!;
        }
      }
      gemm(cols, ctT, dwT);
      transposeBlock(dwT, 0, dw, gi * Og * K, K, Og);
    }
  };
}
