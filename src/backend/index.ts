/**
 * The backend's face: which kernels run (active.ts: `backend()`, `setBackend`, `startThreads`), and the
 * GEMM kernel of a shape, WebAssembly or JS (`gemmKernel`).
 */
import { type DType, storageFor, type TypedArray } from "../core/dtype.js";
import type { KernelContext } from "../core/primitive.js";
import { relaxedSimdActive, workerPool } from "./active.js";
import { gemvLaneKernel, matmulKernel } from "./js/matmul.js";
import { chooseKernel, KERNEL_THRESHOLDS } from "./kernel-choice.js";
import { panelColumns } from "./wasm/gemm.js";
import { type WasmGemmKernel, wasmGemm } from "./wasm/gemm-kernel.js";
import { isGemvShape } from "./wasm/gemv.js";
import type { WorkerPool } from "./wasm/threads.js";

export {
  type BackendInfo,
  type BackendName,
  type BackendOptions,
  backend,
  type Platform,
  setBackend,
  startThreads,
  workerPool,
} from "./active.js";

/** C[t] = A[t] @ B[t] on row-major storage, for the shape the kernel was made for. */
export type GemmKernel = (a: TypedArray, b: TypedArray, out: TypedArray) => void;

/** What a GEMM kernel may know of its operands beyond their layout. */
export interface OperandReuse {
  /**
   * B is a loop body's invariant input (`KernelContext.inputInvariant`): the wasm kernel packs it once
   * and reuses the panels until the context's `onInvariantsChanged` reset.
   */
  readonly invariantB?: boolean;
}

/**
 * A GEMM kernel for `batch` products of (m x k) @ (k x n) in the plan memory of `context` (a jit plan's,
 * or an eager kernel's own): the WebAssembly one where kernelChoice says so (a wasm memory, a float, enough
 * multiply-adds), else the JS one.
 */
export function gemmKernel(
  dtype: DType,
  batch: number,
  m: number,
  k: number,
  n: number,
  context: KernelContext,
  layout: OperandLayout = {},
  reuse: OperandReuse = {},
): GemmKernel {
  return chooseKernel<GemmKernel>(
    context,
    { dtype, work: batch * m * k * n, threshold: KERNEL_THRESHOLDS.gemmMultiplyAdds },
    () => {
      const onReset = reuse.invariantB ? context.onInvariantsChanged : undefined;
      const kernel = wasmGemmIn(context, dtype as "float32" | "float64", batch, m, k, n, layout, !!onReset);
      onReset?.(() => kernel.invalidatePackedB());
      return kernel;
    },
    () => jsGemm(dtype, batch, m, k, n, layout),
  );
}

function jsGemm(
  dtype: DType,
  batch: number,
  m: number,
  k: number,
  n: number,
  layout: OperandLayout,
): GemmKernel {
  if (gemvLaneOrder(dtype, batch, m, k, n, layout))
    return (a, b, out) => gemvLaneKernel(a, b, out, batch, m, k);
  const row = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  if (!layout.transposeA && !layout.transposeB)
    return (a, b, out) => matmulKernel(a, b, out, batch, m, k, n, row);
  // Transposed operands: laid out row-major first (scratch), then the plain kernel.
  const aRows = layout.transposeA ? storageFor(dtype, batch * m * k) : null;
  const bRows = layout.transposeB ? storageFor(dtype, batch * k * n) : null;
  return (a, b, out) => {
    if (aRows) transposeBatch(a, aRows, batch, k, m);
    if (bRows) transposeBatch(b, bRows, batch, n, k);
    matmulKernel(aRows ?? a, bRows ?? b, out, batch, m, k, n, row);
  };
}

/**
 * Whether a GEMM of this shape sums in the lanes of the wasm GEMV kernel (wasm/gemv.ts: n = 1, operands
 * untransposed, big enough for wasm) rather than in k order, on either backend (the JS one emulates it:
 * gemvLaneKernel), so that eager, jit and both backends give the same bits.
 */
export function gemvLaneOrder(
  dtype: DType,
  batch: number,
  m: number,
  k: number,
  n: number,
  layout: OperandLayout = {},
): boolean {
  return (
    (dtype === "float32" || dtype === "float64") &&
    n === 1 &&
    !layout.transposeA &&
    !layout.transposeB &&
    batch * m * k * n >= KERNEL_THRESHOLDS.gemmMultiplyAdds &&
    isGemvShape({ batch, m, k, n })
  );
}

/** Which GEMM operands are stored transposed ([k, m] for A, [n, k] for B, row-major). */
export interface OperandLayout {
  readonly transposeA?: boolean;
  readonly transposeB?: boolean;
}

/** dst[t] = src[t]ᵀ for `batch` row-major (rows x cols) matrices. */
function transposeBatch(src: TypedArray, dst: TypedArray, batch: number, rows: number, cols: number): void {
  for (let t = 0; t < batch; t++) {
    const base = t * rows * cols;
    for (let r = 0; r < rows; r++)
      for (let c = 0; c < cols; c++) dst[base + c * rows + r] = src[base + r * cols + c]!;
  }
}

/** The wasm GEMM in a plan's memory, on the worker threads too when large and the memory is shared. */
function wasmGemmIn(
  context: KernelContext,
  dtype: "float32" | "float64",
  batch: number,
  m: number,
  k: number,
  n: number,
  layout: OperandLayout,
  prepackedB: boolean,
): WasmGemmKernel {
  const threaded = batch * m * k * n >= KERNEL_THRESHOLDS.threadedGemmMultiplyAdds && context.shared;
  const workers = threaded ? workerPool() : null;
  return wasmGemm(
    dtype,
    { batch, m, k, n },
    {
      relaxedSimd: relaxedSimdActive(),
      pool: workers,
      ...threadSplit(workers, dtype, m, k, n, layout, prepackedB),
      transposeA: layout.transposeA ?? false,
      transposeB: layout.transposeB ?? false,
      prepackedB,
    },
    context,
  );
}

/** Chunks per thread of a threaded GEMM, taken in turn. */
const CHUNKS_PER_THREAD = 4;
/**
 * A threaded GEMM splits its columns rather than its rows up to this many rows (one default m block) and
 * this depth: it reads B in place, k rows at stride n per panel, which stays in L1 for short k (LeNet's
 * convolutions have k = 25 and 150); deeper products keep the m blocks over packed B. A B packed once for
 * many calls (prepackedB) is split by columns at any depth: its panels are contiguous.
 */
const COLUMN_SPLIT_MAX = { rows: 64, depth: 256 };

/**
 * How a threaded kernel shares its work: about four chunks per thread, taken in turn, so that a thread
 * that started late (a worker waking up, or a core busy with another process) leaves its share to the
 * others. Chunks are m blocks, or with few rows (conv1's forward GEMM is [6, 25] @ [25, N*784]: m blocks
 * of 4 rows would be two unequal chunks, each reading all of a packed copy of B) groups of column panels.
 */
function threadSplit(
  workers: WorkerPool | null,
  dtype: "float32" | "float64",
  m: number,
  k: number,
  n: number,
  layout: OperandLayout,
  prepackedB: boolean,
): { tuning?: { mBlock: number }; columnChunks?: number } {
  if (!workers) return {};
  const threads = workers.workers + 1;
  const panels = Math.ceil(n / panelColumns(dtype));
  const fewRows = m <= COLUMN_SPLIT_MAX.rows && (prepackedB || k <= COLUMN_SPLIT_MAX.depth);
  if (fewRows && (prepackedB || !layout.transposeB) && panels >= 2 * threads)
    return { columnChunks: CHUNKS_PER_THREAD * threads };
  const perChunk = Math.ceil(m / (CHUNKS_PER_THREAD * threads));
  return { tuning: { mBlock: Math.max(4, Math.min(64, Math.ceil(perChunk / 4) * 4)) } };
}
