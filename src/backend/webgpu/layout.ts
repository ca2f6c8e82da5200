/**
 * Data movement on WebGPU: a transpose (any permutation of axes) as one invocation per output element
 * reading its source element.
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import { coordinate, flatMain, flatWorkgroups, storageBinding } from "./wgsl.js";

export function webgpuTranspose(
  dtype: DType,
  shape: readonly number[],
  permutation: readonly number[],
): WebgpuKernelSpec {
  const outShape = permutation.map((p) => shape[p]!);
  const n = outShape.reduce((p, s) => p * s, 1);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, s) => p * s, 1));
  const source =
    permutation.map((p, d) => `${coordinate(outShape, d, "i")} * ${strides[p]}u`).join(" + ") || "0u";
  return {
    label: `transpose ${dtype}[${shape.join(",")}] [${permutation.join(",")}]`,
    code: `${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "out", dtype, true)}
${flatMain(n)}
  out[i] = x[${source}];
}`,
    workgroups: flatWorkgroups(n),
  };
}
