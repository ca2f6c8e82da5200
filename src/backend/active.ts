/**
 * Which kernels run: the portable JS ones, or WebAssembly SIMD kernels the library emits at run time
 * (relaxed SIMD where the engine has it), and on how many threads. The choice is read when a kernel is
 * compiled, so `setBackend` affects kernels compiled afterwards: a jit plan compiles its kernels once, an
 * eager call looks its kernel up by shape (backend/kernel-cache.ts).
 */
import { checkOptions, optionKeys } from "../core/options.js";
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
