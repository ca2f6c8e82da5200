/**
 * Which kernel a lowering gets, WebAssembly or JS: one helper and one set of thresholds. A wasm kernel
 * runs where the plan memory is a WebAssembly memory, the element type is a float and the work is at
 * least the threshold of its kind (below it a call into wasm costs more than it saves); where it cannot
 * be built (a browser's main thread refuses synchronous compilation) the JS kernel runs instead.
 */
import type { DType } from "../core/dtype.js";
import type { KernelContext } from "../core/primitive.js";

/** Work below which the JS kernel runs, and from which worker threads join (wasm kernels only). */
export const KERNEL_THRESHOLDS = {
  /** A GEMM runs in wasm from this many multiply-adds. */
  gemmMultiplyAdds: 4096,
  /** A GEMM splits its rows over the worker threads too from this many multiply-adds. */
  threadedGemmMultiplyAdds: 2 ** 22,
  // Data movement (convolution unrolling, pooling) and reductions run in wasm at any size.
};

/** What a lowering asks for: the element type, and the work against the threshold of its kind. */
export interface KernelRequest {
  readonly dtype: DType;
  /** The amount of work, in the unit of `threshold`. */
  readonly work?: number;
  readonly threshold?: number;
}

/** Whether a kernel for `request` lowered with `context` runs in wasm. */
export function wantsWasm(context: KernelContext, request: KernelRequest): boolean {
  const float = request.dtype === "float32" || request.dtype === "float64";
  return context.wasm && float && (request.work ?? 0) >= (request.threshold ?? 0);
}

/**
 * The wasm kernel (`wasm()`, built when `wantsWasm`) or else the JS one (`js()`). `wasm()` may return
 * null for a case it does not handle; a wasm kernel whose module the engine refuses to compile (a
 * RangeError) falls back to JS as well.
 */
export function chooseKernel<K>(
  context: KernelContext,
  request: KernelRequest,
  wasm: () => K | null,
  js: () => K,
): K {
  if (wantsWasm(context, request)) {
    try {
      const kernel = wasm();
      if (kernel) return kernel;
    } catch (error) {
      if (!(error instanceof RangeError)) throw error;
    }
  }
  return js();
}
