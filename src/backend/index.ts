/**
 * The backend's face: which kernels run (active.ts: `backend()`, `setBackend`, `startThreads`), and the
 * GEMM kernel of a shape, WebAssembly or JS (`gemmKernel`).
 */
import { type DType, storageFor, type TypedArray } from "../core/dtype.js";
import type { KernelContext } from "../core/primitive.js";
import { activeBackendKind, kernelThreads, relaxedSimdActive, workerPool } from "./active.js";
import { gemvLaneKernel, matmulKernel } from "./js/matmul.js";
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

/** Below this many multiply-adds a call into wasm costs more than it saves. */
const WASM_MIN_MULTIPLY_ADDS = 4096;

/** From this many multiply-adds on, a kernel splits its rows over the worker threads too. */
const THREADED_MIN_MULTIPLY_ADDS = 2 ** 22;

/**
 * Kernels by shape, so plans with the same matmul share one module and memory (kernels are synchronous).
 * Only the small ones are kept here: a large kernel's memory lives as long as the plans holding it.
 */
const KERNEL_CACHE_SIZE = 16;
const CACHED_KERNEL_MAX_ELEMENTS = 2 ** 22;
const wasmKernels = new Map<string, GemmKernel>();

/**
 * A GEMM kernel for `batch` products of (m x k) @ (k x n): the WebAssembly one when the plan memory
 * (`context`, that of the jit plan being compiled) is a WebAssembly memory, the dtype is a float and the
 * product is big enough; else the JS one. Without a context (eager), small wasm kernels are cached by
 * shape, each with a memory of its own.
 */
export function gemmKernel(
  dtype: DType,
  batch: number,
  m: number,
  k: number,
  n: number,
  context?: KernelContext,
  layout: OperandLayout = {},
): GemmKernel {
  const wasm = context ? context.wasm : activeBackendKind() === "wasm";
  const transposed = (layout.transposeA ?? false) || (layout.transposeB ?? false);
  if (wasm && (dtype === "float32" || dtype === "float64") && batch * m * k * n >= WASM_MIN_MULTIPLY_ADDS) {
    const kernel = context
      ? planWasmGemm(dtype, batch, m, k, n, context, layout)
      : transposed
        ? null
        : cachedWasmGemm(dtype, batch, m, k, n);
    if (kernel) return kernel;
  }
  if (gemvLaneOrder(dtype, batch, m, k, n, layout))
    return (a, b, out) => gemvLaneKernel(a, b, out, batch, m, k);
  const row = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  if (!transposed) return (a, b, out) => matmulKernel(a, b, out, batch, m, k, n, row);
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
    batch * m * k * n >= WASM_MIN_MULTIPLY_ADDS &&
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

/** A wasm GEMM in a plan's memory (null when it cannot be built; the caller falls back to JS). */
function planWasmGemm(
  dtype: "float32" | "float64",
  batch: number,
  m: number,
  k: number,
  n: number,
  context: KernelContext,
  layout: OperandLayout = {},
): WasmGemmKernel | null {
  const workers = batch * m * k * n >= THREADED_MIN_MULTIPLY_ADDS && context.shared ? workerPool() : null;
  try {
    return wasmGemm(
      dtype,
      { batch, m, k, n },
      { relaxedSimd: relaxedSimdActive(), pool: workers, ...threadTuning(workers, m), ...layout },
      context,
    );
  } catch {
    return null; // synchronous compilation refused (browsers' main thread): use JS
  }
}

function cachedWasmGemm(
  dtype: "float32" | "float64",
  batch: number,
  m: number,
  k: number,
  n: number,
): GemmKernel | null {
  const relaxedSimd = relaxedSimdActive();
  const work = batch * m * k * n;
  const workers = work >= THREADED_MIN_MULTIPLY_ADDS ? workerPool() : null;
  const key = `${dtype} ${batch}x${m}x${k}x${n}${relaxedSimd ? " relaxed" : ""} ${workers ? kernelThreads() : 1}`;
  let kernel = wasmKernels.get(key);
  if (kernel) {
    wasmKernels.delete(key); // most recently used goes last
  } else {
    try {
      kernel = wasmGemm(
        dtype,
        { batch, m, k, n },
        { relaxedSimd, pool: workers, ...threadTuning(workers, m) },
      );
    } catch {
      // Too large for a 32-bit memory, or synchronous compilation refused (browsers' main thread): use JS.
      return null;
    }
    if (batch * (m * k + k * n + m * n) > CACHED_KERNEL_MAX_ELEMENTS) return kernel;
    if (wasmKernels.size >= KERNEL_CACHE_SIZE) wasmKernels.delete(wasmKernels.keys().next().value!);
  }
  wasmKernels.set(key, kernel);
  return kernel;
}

/**
 * Threaded kernels share rows in m blocks, taken in turn: about four per thread, so that a thread that
 * started late (a worker waking up, or a core busy with another process) leaves its share to the others.
 */
function threadTuning(workers: WorkerPool | null, m: number): { tuning?: { mBlock: number } } {
  if (!workers) return {};
  const perChunk = Math.ceil(m / (4 * (workers.workers + 1)));
  return { tuning: { mBlock: Math.max(4, Math.min(64, Math.ceil(perChunk / 4) * 4)) } };
}
