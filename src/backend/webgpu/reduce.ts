/**
 * Reductions on WebGPU (sum, max, min over a set of axes): one workgroup of 64 invocations per output
 * element, each accumulating a strided share of the reduced elements, then a tree in workgroup memory.
 * max and min propagate NaN as numpy's do; a sum of float32 accumulates in float32 (in a different order
 * from the CPU kernels, so equal to rounding, not bit for bit).
 */
import type { DType } from "../../core/dtype.js";
import type { WebgpuKernelSpec } from "../../core/primitive.js";
import {
  coordinate,
  flatMain,
  flatWorkgroups,
  storageBinding,
  WGSL_PRELUDE,
  wgslIsNan,
  wgslLiteral,
  wgslStorageType,
} from "./wgsl.js";

const LANES = 64;
const MAX_GROUPS = 65535;

export function webgpuReduce(
  monoid: "sum" | "max" | "min",
  dtype: DType,
  shape: readonly number[],
  axes: readonly number[],
): WebgpuKernelSpec {
  const t = wgslStorageType(dtype);
  if (dtype === "bool") throw new TypeError(`webgpu reduce_${monoid}: bool operands`);
  const kept = shape.map((_, i) => i).filter((i) => !axes.includes(i));
  const keptShape = kept.map((i) => shape[i]!);
  const reducedShape = axes.map((i) => shape[i]!);
  const outSize = keptShape.reduce((p, s) => p * s, 1);
  const reducedSize = reducedShape.reduce((p, s) => p * s, 1);
  const strides = shape.map((_, i) => shape.slice(i + 1).reduce((p, s) => p * s, 1));
  const index = [
    ...kept.map((axis, j) => `${coordinate(keptShape, j, "o")} * ${strides[axis]}u`),
    ...axes.map((axis, j) => `${coordinate(reducedShape, j, "r")} * ${strides[axis]}u`),
  ];
  const identity =
    monoid === "sum"
      ? wgslLiteral(0, dtype)
      : dtype === "float32"
        ? wgslLiteral(monoid === "max" ? -Infinity : Infinity, dtype)
        : wgslLiteral(
            monoid === "max"
              ? dtype === "int32"
                ? -(2 ** 31)
                : 0
              : dtype === "int32"
                ? 2 ** 31 - 1
                : 2 ** 32 - 1,
            dtype,
          );
  const nanAware = dtype === "float32" && monoid !== "sum";
  const combine =
    monoid === "sum"
      ? "x + y"
      : nanAware
        ? `select(${monoid}(x, y), x + y, ${wgslIsNan("x")} || ${wgslIsNan("y")})`
        : `${monoid}(x, y)`;
  const groupsX = Math.min(outSize, MAX_GROUPS);
  const code = /* wgsl */ `${WGSL_PRELUDE}
${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "out", dtype, true)}
var<workgroup> partial: array<${t}, ${LANES}>;

fn combine(x: ${t}, y: ${t}) -> ${t} { return ${combine}; }

@compute @workgroup_size(${LANES})
fn main(@builtin(workgroup_id) group: vec3u, @builtin(local_invocation_index) lane: u32) {
  let o = group.x + group.y * ${groupsX}u;
  var acc = ${identity};
  if (o < ${outSize}u) {
    for (var r = lane; r < ${reducedSize}u; r += ${LANES}u) {
      acc = combine(acc, x[${index.join(" + ") || "0u"}]);
    }
  }
  partial[lane] = acc;
  workgroupBarrier();
  for (var width = ${LANES / 2}u; width > 0u; width = width / 2u) {
    if (lane < width) { partial[lane] = combine(partial[lane], partial[lane + width]); }
    workgroupBarrier();
  }
  if (lane == 0u && o < ${outSize}u) { out[o] = partial[0]; }
}`;
  return {
    label: `reduce_${monoid} ${dtype}[${shape.join(",")}] axes [${axes.join(",")}]`,
    code,
    workgroups: [groupsX, Math.ceil(outSize / MAX_GROUPS), 1],
  };
}

/**
 * argmax / argmin along `axis` (int32 indices): one invocation per output element walking the axis, the
 * first extremum's index, or the first NaN's where there is one, as the CPU kernel (backend/js/reduce.ts).
 */
export function webgpuArgReduce(
  kind: "max" | "min",
  dtype: DType,
  shape: readonly number[],
  axis: number,
): WebgpuKernelSpec {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((p, s) => p * s, 1);
  const outSize = shape.reduce((p, s) => p * s, 1) / n;
  const float = wgslStorageType(dtype) === "f32";
  return {
    label: `arg${kind} ${dtype}[${shape.join(",")}] axis ${axis}`,
    code: `${storageBinding(0, "x", dtype, false)}
${storageBinding(1, "out", "int32", true)}
${flatMain(outSize)}
  let base = (i / ${inner}u) * ${n * inner}u + i % ${inner}u;
  var best = x[base];
  var at = 0u;
  ${float ? `if (!${wgslIsNan("best")}) {` : "{"}
    for (var j = 1u; j < ${n}u; j++) {
      let v = x[base + j * ${inner}u];
      ${float ? `if (${wgslIsNan("v")}) { at = j; break; }` : ""}
      if (v ${kind === "max" ? ">" : "<"} best) { best = v; at = j; }
    }
  }
  out[i] = i32(at);
}`,
    workgroups: flatWorkgroups(outSize),
  };
}
