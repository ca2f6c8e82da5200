/**
 * Which kernels run: the portable JS ones, or WebAssembly SIMD kernels the library emits at run time
 * (relaxed SIMD where the engine has it: on Node 20 its V8 flag is turned on in-process, see
 * wasm/runtime.ts; TRACEGRAD_RELAXED_SIMD=0 or `setBackend(..., { relaxedSimd: false })` opt out), and on
 * how many threads. The choice is read when a kernel is
 * compiled, so `setBackend` affects kernels compiled afterwards: a jit plan compiles its kernels once, an
 * eager call looks its kernel up by shape (backend/kernel-cache.ts).
 */
import { checkOptions, optionKeys } from "../core/options.js";
import { environmentVariable } from "./wasm/node-builtins.js";
import { relaxedSimdSupported, simdSupported } from "./wasm/runtime.js";
import { availableCores, createWorkerPool, threadsSupported, type WorkerPool } from "./wasm/threads.js";
import { currentPlatform, type Platform, workerHost } from "./wasm/worker-hosts.js";
import { requestWebgpuDevice, webgpuDevice } from "./webgpu/device.js";

export type { Platform } from "./wasm/worker-hosts.js";

/**
 * The kernels jit plans get: WebAssembly SIMD (with or without relaxed SIMD), portable JS, or WebGPU
 * compute shaders (after `await setBackend("webgpu")`; eager ops then still run on the CPU kernels).
 */
export type BackendName = "wasm-simd" | "wasm-relaxed-simd" | "js" | "webgpu";

/** What `backend()` reports: the active kernels and how many threads large ones use. */
export interface BackendInfo {
  /** The kernels jit plans get: the WebAssembly ones (with relaxed SIMD or not), the JS ones, or WebGPU. */
  readonly name: BackendName;
  /**
   * The WebGPU adapter jit plans run on (e.g. "google swiftshader", Chromium's software one) when the
   * backend is "webgpu", else null. The other fields then describe the CPU kernels of eager ops and of
   * the programs WebGPU cannot run (float64).
   */
  readonly webgpu: string | null;
  /** Whether the active CPU kernels use 128-bit SIMD. */
  readonly simd: boolean;
  /**
   * Whether the active kernels use relaxed SIMD: float32 and float64 GEMMs (matmul, convolutions, dense
   * layers) then accumulate with a fused multiply-add, one rounding per step instead of two.
   */
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
   * Whether wasm kernels may use relaxed SIMD where the engine has it (default true, or false when the
   * environment variable TRACEGRAD_RELAXED_SIMD is 0). Its fused multiply-add rounds once where plain SIMD
   * rounds twice, so `false` gives the same float results as an engine without it, and as the JS kernels,
   * bit for bit.
   */
  readonly relaxedSimd?: boolean;
}

let active: "js" | "wasm" | null = null;
/** Set by setBackend("webgpu"): jit plans then run on the GPU device (webgpu/device.ts). */
let jitOnWebgpu = false;
let threadCount: number | null = null;
let relaxedSimdAllowed: boolean | null = null;
/** Workers are started on the first kernel that uses them, and kept (they do not hold the process open). */
let pool: WorkerPool | null = null;

/** The environment variable whose value 0 makes plain SIMD the default (1, or unset: relaxed SIMD). */
export const RELAXED_SIMD_VARIABLE = "TRACEGRAD_RELAXED_SIMD";

/** The default of `relaxedSimd`: TRACEGRAD_RELAXED_SIMD (0/false/off or 1/true/on), else true. */
function relaxedSimdDefault(): boolean {
  const value = environmentVariable(RELAXED_SIMD_VARIABLE)?.trim().toLowerCase();
  if (value === undefined || value === "") return true;
  if (["0", "false", "off"].includes(value)) return false;
  if (["1", "true", "on"].includes(value)) return true;
  throw new Error(
    `${RELAXED_SIMD_VARIABLE}=${environmentVariable(RELAXED_SIMD_VARIABLE)}: expected 0 (plain SIMD, ` +
      "bit-identical float32 GEMMs) or 1 (relaxed SIMD's fused multiply-add where the engine has it)",
  );
}

/**
 * The kernels plans compiled now get: "wasm" (SIMD) or "js". The first call also settles relaxed SIMD
 * (turning on Node 20's flag), before any kernel module is compiled.
 */
export function activeBackendKind(): "js" | "wasm" {
  if (active === null) {
    active = simdSupported() ? "wasm" : "js";
    if (active === "wasm") relaxedSimdActive();
  }
  return active;
}

/** Whether wasm kernels compiled now use relaxed SIMD (the engine has it and setBackend allows it). */
export function relaxedSimdActive(): boolean {
  relaxedSimdAllowed ??= relaxedSimdDefault();
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
  const gpu = jitOnWebgpu ? webgpuDevice() : null;
  const webgpu = gpu ? gpu.adapter : null;
  if (activeBackendKind() === "js")
    return { name: webgpu ? "webgpu" : "js", webgpu, simd: false, relaxedSimd: false, threads: 1, platform };
  const relaxedSimd = relaxedSimdActive();
  return {
    name: webgpu ? "webgpu" : relaxedSimd ? "wasm-relaxed-simd" : "wasm-simd",
    webgpu,
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
 *
 * "webgpu" (in a browser with WebGPU) returns a promise that resolves with `backend()` once the GPU
 * device is ready (it rejects with a WebgpuUnavailableError where there is none): jitted functions then
 * run on the GPU and return device arrays (read with `await x.data()`), while eager ops and programs
 * WebGPU cannot run (float64) stay on the CPU kernels, which `options` still configures.
 */
export function setBackend(kind: "webgpu", options?: BackendOptions): Promise<BackendInfo>;
export function setBackend(kind: "js" | "wasm", options?: BackendOptions): void;
export function setBackend(
  kind: "js" | "wasm" | "webgpu",
  options: BackendOptions = {},
): undefined | Promise<BackendInfo> {
  if (kind === "webgpu") {
    return requestWebgpuDevice().then(() => {
      setBackend(activeBackendKind(), options);
      jitOnWebgpu = true;
      return backend();
    });
  }
  checkOptions("setBackend", options, BACKEND_OPTION_KEYS);
  if (kind !== "js" && kind !== "wasm") throw new Error(`setBackend: unknown backend ${String(kind)}`);
  if (kind === "wasm" && !simdSupported()) throw new Error("setBackend: this engine has no WebAssembly SIMD");
  if (options.threads !== undefined) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new Error(`setBackend: threads must be a positive integer, got ${options.threads}`);
    }
    threadCount = threadsSupported() ? options.threads : 1;
  }
  if (options.relaxedSimd !== undefined) {
    if (typeof options.relaxedSimd !== "boolean")
      throw new Error(`setBackend: relaxedSimd must be true or false, got ${String(options.relaxedSimd)}`);
    relaxedSimdAllowed = options.relaxedSimd;
  }
  active = kind;
  jitOnWebgpu = false;
}

/** Whether jit plans go to the WebGPU device (after `await setBackend("webgpu")`). */
export function jitOnWebgpuActive(): boolean {
  return jitOnWebgpu && webgpuDevice() !== null;
}
