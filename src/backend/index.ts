/**
 * Which kernels run: the portable JS ones, or WebAssembly SIMD kernels the library emits at run time
 * (relaxed SIMD where the engine has it). The choice is read when a jit plan is compiled, so
 * `setBackend` affects kernels compiled afterwards: a jit plan compiles its kernels once, an eager
 * matmul or convolution per call (small GEMM kernels are cached by shape).
 */
import { type DType, storageFor, type TypedArray } from "../core/dtype.js";
import { checkOptions, optionKeys } from "../core/options.js";
import type { KernelContext } from "../core/primitive.js";
import { gemvLaneKernel, matmulKernel } from "./js/matmul.js";
import { type WasmGemmKernel, wasmGemm } from "./wasm/gemm.js";
import { isGemvShape } from "./wasm/gemv.js";
import { relaxedSimdSupported, simdSupported } from "./wasm/runtime.js";
import { availableCores, createWorkerPool, threadsSupported, type WorkerPool } from "./wasm/threads.js";
import { currentPlatform, type Platform, workerHost } from "./wasm/worker-hosts.js";

export type { Platform } from "./wasm/worker-hosts.js";

/** The kernels in use: WebAssembly SIMD (with or without relaxed SIMD) or portable JS. */
export type BackendName = "wasm-simd" | "wasm-relaxed-simd" | "js";

/** What `backend()` reports: the active kernels and how many threads large ones use. */
export interface BackendInfo {
  /** The kernels jit plans get: the WebAssembly ones (with relaxed SIMD or not) or the JS ones. */
  readonly name: BackendName;
  /** Whether the active kernels use 128-bit SIMD. */
  readonly simd: boolean;
  /** Whether the active kernels use relaxed SIMD (fused multiply-add). */
  readonly relaxedSimd: boolean;
  /**
   * Threads a large kernel compiled now runs on (the calling thread and workers): in a browser, more than
   * one only inside a cross-origin isolated dedicated Worker, once its workers have started (startThreads).
   */
  readonly threads: number;
  /** Where the library runs: Node (worker_threads), a browser's dedicated Worker, a browser page, or other. */
  readonly platform: Platform;
}

/** Options of `setBackend`. */
export interface BackendOptions {
  /** Threads for large wasm kernels, the calling one included (default: the cores, where workers exist). */
  readonly threads?: number;
  /**
   * Whether wasm kernels may use relaxed SIMD where the engine has it (default true). Its fused
   * multiply-add rounds once where plain SIMD rounds twice, so `false` gives the same float results as an
   * engine without it (e.g. a browser's against Node 20's, bit for bit).
   */
  readonly relaxedSimd?: boolean;
}

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

let active: "js" | "wasm" | null = null;
let threadCount: number | null = null;
let relaxedSimdAllowed = true;
/** Workers are started on the first kernel that uses them, and kept (they do not hold the process open). */
let pool: WorkerPool | null = null;

/** The kernels plans compiled now get: "wasm" (SIMD) or "js". */
export function activeBackendKind(): "js" | "wasm" {
  active ??= simdSupported() ? "wasm" : "js";
  return active;
}

/** Whether wasm kernels compiled now use relaxed SIMD (the engine has it and setBackend allows it). */
export function relaxedSimdActive(): boolean {
  return relaxedSimdAllowed && relaxedSimdSupported();
}

/** Threads large wasm kernels use (the calling one included). */
export function kernelThreads(): number {
  threadCount ??= threadsSupported() ? availableCores() : 1;
  return threadCount;
}

/** The worker threads of large kernels (started on first use), or null with one thread. */
export function workerPool(): WorkerPool | null {
  const workers = kernelThreads() - 1;
  if (workers < 1) return null;
  if (pool && pool.workers !== workers) pool = null; // the old workers idle until the process exits
  pool ??= createWorkerPool(workers);
  return pool;
}

/**
 * The threads kernels compiled now use: where workers start only after the calling thread yields (Web
 * Workers), one until they all have.
 */
function startedThreads(): number {
  const threads = kernelThreads();
  if (threads === 1 || !workerHost()?.startsAfterYield) return threads;
  return pool !== null && pool.workers === threads - 1 && pool.started() ? threads : 1;
}

/** The active backend (by default WebAssembly SIMD where the engine supports it). */
export function backend(): BackendInfo {
  const platform = currentPlatform();
  if (activeBackendKind() === "js")
    return { name: "js", simd: false, relaxedSimd: false, threads: 1, platform };
  const relaxedSimd = relaxedSimdActive();
  return {
    name: relaxedSimd ? "wasm-relaxed-simd" : "wasm-simd",
    simd: true,
    relaxedSimd,
    threads: startedThreads(),
    platform,
  };
}

/**
 * Starts the worker threads of large kernels now and resolves, with `backend()`, once they run. In a
 * browser's Worker they start only after the calling thread returns to its event loop, so await this
 * before compiling (jit) the plans that should use them; kernels compiled earlier run on one thread.
 * Elsewhere workers start on first use anyway, and this only starts them early.
 */
export async function startThreads(): Promise<BackendInfo> {
  if (activeBackendKind() === "wasm") await workerPool()?.whenStarted();
  return backend();
}

const BACKEND_OPTION_KEYS = optionKeys<BackendOptions>({ threads: true, relaxedSimd: true });

/**
 * Chooses the kernels for jit plans compiled from now on; "wasm" throws where there is no Wasm SIMD.
 * `threads` caps the threads of large wasm kernels (1: no workers).
 */
export function setBackend(kind: "js" | "wasm", options: BackendOptions = {}): void {
  checkOptions("setBackend", options, BACKEND_OPTION_KEYS);
  if (kind !== "js" && kind !== "wasm") throw new Error(`setBackend: unknown backend ${String(kind)}`);
  if (kind === "wasm" && !simdSupported()) throw new Error("setBackend: this engine has no WebAssembly SIMD");
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new Error(`setBackend: threads must be a positive integer, got ${options.threads}`);
    }
    threadCount = threadsSupported() ? options.threads : 1;
  }
  if (options.relaxedSimd !== undefined) relaxedSimdAllowed = options.relaxedSimd;
  active = kind;
}

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
