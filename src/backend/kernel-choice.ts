/**
 * Which kernel a lowering gets, WebAssembly or JS: one helper and one set of thresholds. A wasm kernel
 * runs where the plan memory is a WebAssembly memory, the element type is a float and the work is at
 * least the threshold of its kind (below it a call into wasm costs more than it saves); where it cannot
 * be built (a browser's main thread refuses synchronous compilation) the JS kernel runs instead.
 */
import type { DType } from "../core/dtype.js";
import type { KernelContext } from "../core/primitive.js";
import type { ConvGeometry } from "./conv-geometry.js";

/** Work below which the JS kernel runs, and from which worker threads join (wasm kernels only). */
export const KERNEL_THRESHOLDS = {
  /** A GEMM runs in wasm from this many multiply-adds. */
  gemmMultiplyAdds: 4096,
  /** A GEMM splits its rows over the worker threads too from this many multiply-adds. */
  threadedGemmMultiplyAdds: 2 ** 22,
  /**
   * A direct convolution (wasm/direct-conv.ts) shares its chunks with the worker threads from this many
   * multiply-adds (LeNet's conv1 at batch 1 has 118k, conv2 240k; at batch 32, 3.8M and 7.7M).
   */
  threadedDirectConvMultiplyAdds: 2 ** 19,
  /** Whether forward convolutions that fit it run the direct kernel (tests turn it off to compare). */
  directConv: true,
  // Data movement (convolution unrolling, pooling) and reductions run in wasm at any size.
  /**
   * Fused elementwise loops (wasm/fused.ts), in elements. Measured per call (LeNet-like select/compare
   * groups, float32): with every operand in the plan memory wasm and JS tie at 8-16 elements (~150-200 ns
   * including the timer) and wasm wins from 24 on (128: 0.26 vs 2.3 us); with staged operands (program
   * inputs and outputs, copied in and out) JS wins below ~32 and wasm from 64 on. Tests lower these to
   * reach the wasm path on tiny shapes.
   */
  fused: {
    resident: 16,
    staged: 48,
    /**
     * An eager elementwise call (compiler/eager-fused.ts: operands staged in and out, and the kernel looked
     * up by a key per call) runs in wasm from this many elements. Measured on eager add + relu (five
     * calls, float32, one thread): JS 16.6 vs wasm 18.0 us at 1024 elements, 24.9 vs 20.5 at 2048, 42.4
     * vs 27.1 at 4096.
     */
    eager: 2048,
    /**
     * Loops of at least this many elements are shared with the worker threads (with a reduction: only
     * one whose outer dimension is kept, see fused-wasm.ts).
     * Measured on 2 cores: a 20-op chain over 1M float32 went from 5.35 to 3.35 ms, the SGD update of a
     * 512 x 784 weight inside a jitted train step from 0.21-0.25 to 0.16 ms; on smaller loops starting
     * the workers costs about what they save.
     */
    threaded: 1 << 17,
    /**
     * Loops that read and write at least this many elements in all (elements times operands) are shared
     * too, however few their elements: an optimizer's update of a group of same-shape leaves (AdamW over
     * four [128, 512] weights: 65k elements, 20 operands).
     */
    threadedOperandElements: 1 << 19,
  },
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

/** The most taps (C*KH*KW) and output columns a direct convolution is emitted for. */
const DIRECT_CONV_LIMITS = { taps: 1024, outWidth: 256, outChannels: 1024 };

/**
 * Whether a forward convolution can run as a direct SIMD kernel (wasm/direct-conv.ts) instead of im2col
 * and a GEMM: a float, stride 1 without padding, dilation or groups, and output rows of at least one
 * vector. LeNet's conv1 and conv2 fit.
 */
export function directConvFits(g: ConvGeometry, dtype: DType): boolean {
  const lanes = dtype === "float32" ? 4 : dtype === "float64" ? 2 : 0;
  return (
    KERNEL_THRESHOLDS.directConv &&
    lanes > 0 &&
    g.groups === 1 &&
    g.strideH === 1 &&
    g.strideW === 1 &&
    g.dilationH === 1 &&
    g.dilationW === 1 &&
    g.padTop === 0 &&
    g.padLeft === 0 &&
    // no padding at the bottom or right either: every tap of every output reads inside x
    g.outHeight === g.inHeight - g.kernelHeight + 1 &&
    g.outWidth === g.inWidth - g.kernelWidth + 1 &&
    g.outHeight >= 1 &&
    g.outWidth >= lanes &&
    g.outWidth <= DIRECT_CONV_LIMITS.outWidth &&
    g.outChannels <= DIRECT_CONV_LIMITS.outChannels &&
    g.inChannels * g.kernelHeight * g.kernelWidth <= DIRECT_CONV_LIMITS.taps
  );
}

/**
 * Whether a weight gradient sums in the column order of wasm/column-weight-grad.ts (per lane over the
 * output positions, then across lanes) rather than the im2col GEMM's: where the direct kernels fit and
 * output rows are whole vectors. Both backends ask this, so the JS kernel sums in the same order.
 */
export function columnOrderWeightGrad(g: ConvGeometry, dtype: DType): boolean {
  return directConvFits(g, dtype) && g.outWidth % (dtype === "float32" ? 4 : 2) === 0;
}

/** Whether a forward convolution lowered with `context` runs the direct wasm kernel. */
export function wantsDirectConv(context: KernelContext, g: ConvGeometry, dtype: DType): boolean {
  return wantsWasm(context, { dtype }) && directConvFits(g, dtype);
}
