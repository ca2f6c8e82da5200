/**
 * Max pooling's kernels on WebGPU: the argmax of each window (the flat h*W + w index of its first
 * maximum, a NaN's where there is one, as backend/js/pool.ts), the gather of values at such indices,
 * and its transpose, the scatter-add, one invocation per plane (WGSL has no float atomics).
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import type { PoolGeometry } from "../js/pool.js";
import { coordinate, flatMain, flatWorkgroups, storageBinding, wgslIsNan, wgslStorageType } from "./wgsl.js";

/** Invocations per workgroup of the scatter-add, one per plane: few, so that workgroups spread over threads. */
const PLANE_WORKGROUP = 16;

/** The maximum (`values`) or the argmax of every window (bindings: x, then the values or indices). */
export function webgpuMaxPool(g: PoolGeometry, dtype: DType, output: "values" | "indices"): WebgpuKernelSpec {
  const shape = [g.planes, g.outHeight, g.outWidth];
  const n = g.planes * g.outHeight * g.outWidth;
  return {
    label: `max_pool2d${output === "indices" ? "_argmax" : ""} ${g.planes} planes ${g.inHeight}x${g.inWidth} -> ${g.outHeight}x${g.outWidth}`,
    code: `${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "out", output === "indices" ? "int32" : dtype, true)}
${flatMain(n)}
  let plane = i32(${coordinate(shape, 0, "i")});
  let h0 = i32(${coordinate(shape, 1, "i")}) * ${g.strideH} - ${g.padTop};
  let w0 = i32(${coordinate(shape, 2, "i")}) * ${g.strideW} - ${g.padLeft};
  let hStart = max(h0, 0);
  let hEnd = min(h0 + ${g.kernelH}, ${g.inHeight});
  let wStart = max(w0, 0);
  let wEnd = min(w0 + ${g.kernelW}, ${g.inWidth});
  let base = plane * ${g.inHeight * g.inWidth};
  var best = 0.0;
  var at = hStart * ${g.inWidth} + wStart;
  var first = true;
  for (var h = hStart; h < hEnd; h++) {
    for (var w = wStart; w < wEnd; w++) {
      let v = x[base + h * ${g.inWidth} + w];
      if (first || v > best || ${wgslIsNan("v")}) {
        best = v;
        at = h * ${g.inWidth} + w;
        first = false;
      }
    }
  }
  out[i] = ${output === "indices" ? "at" : "best"};
}`,
    workgroups: flatWorkgroups(n),
  };
}

/** out[p, k] = t[p, idx[p, k]] (bindings: t, idx, out). */
export function webgpuPoolGather(
  dtype: DType,
  planes: number,
  planeSize: number,
  perPlane: number,
): WebgpuKernelSpec {
  const n = planes * perPlane;
  return {
    label: `pool_gather ${planes} planes`,
    code: `${storageBinding(0, "t", dtype, false)}
${storageBinding(1, "idx", "int32", false)}
${storageBinding(2, "out", dtype, true)}
${flatMain(n)}
  out[i] = t[(i / ${perPlane}u) * ${planeSize}u + u32(idx[i])];
}`,
    workgroups: flatWorkgroups(n),
  };
}

/**
 * out[p, idx[p, k]] += ct[p, k] on zero planes (bindings: ct, idx, out): one invocation per plane, which
 * zeroes its plane and adds its entries in order (as the CPU kernel does), O(plane + entries) per plane.
 */
export function webgpuPoolScatterAdd(
  dtype: DType,
  planes: number,
  planeSize: number,
  perPlane: number,
): WebgpuKernelSpec {
  const zero = `${wgslStorageType(dtype)}(0)`;
  return {
    label: `pool_scatter_add ${planes} planes`,
    code: `${storageBinding(0, "ct", dtype, false)}
${storageBinding(1, "idx", "int32", false)}
${storageBinding(2, "out", dtype, true)}
${flatMain(planes, PLANE_WORKGROUP)}
  let base = i * ${planeSize}u;
  for (var e = 0u; e < ${planeSize}u; e++) { out[base + e] = ${zero}; }
  let entries = i * ${perPlane}u;
  for (var k = 0u; k < ${perPlane}u; k++) {
    let at = base + u32(idx[entries + k]);
    out[at] = out[at] + ct[entries + k];
  }
}`,
    workgroups: flatWorkgroups(planes, PLANE_WORKGROUP),
  };
}
