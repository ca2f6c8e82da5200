/**
 * A fused loop (compiler/fusion.ts) as a WGSL kernel: one invocation per element of the loop's shape,
 * broadcasts read as indexed loads, every elementwise equation rendered from its expression tree
 * (expr-wgsl.ts). A reduction the CPU loop accumulates is not fused here: the WebGPU plan stores the
 * reduced value (`stored`) and reduces it with the reduction's own kernel.
 */
import {
  coordinate,
  flatMain,
  flatWorkgroups,
  fromStorage,
  storageBinding,
  toStorage,
  WGSL_PRELUDE,
  WgslUnsupportedError,
  wgslLiteral,
} from "../backend/webgpu/wgsl.js";
import { type Atom, Literal, type Var } from "../core/ir.js";
import type { WebgpuKernelSpec } from "../core/primitive.js";
import { shapeEquals, sizeOf } from "../core/shape.js";
import { isElementwise } from "../ops/elementwise-kit.js";
import { renderWgsl, WGSL_MATH } from "./expr-wgsl.js";
import { type FusedGroup, isFusedBroadcast } from "./fusion.js";

/** The kernel of `group` writing `stored` (bindings: group.inputs, then stored). */
export function webgpuFusedKernel(group: FusedGroup, stored: readonly Var[]): WebgpuKernelSpec {
  const shape = group.shape;
  const n = sizeOf(shape);
  const lines: string[] = [];
  const names = new Map<Var, string>();
  const inputIndex = new Map<Var, number>();
  const decls = [WGSL_PRELUDE, WGSL_MATH];
  group.inputs.forEach((v, k) => {
    decls.push(storageBinding(k, `in${k}`, v.aval.dtype, false));
    inputIndex.set(v, k);
    if (shapeEquals(v.aval.shape, shape)) {
      lines.push(`let x${k} = ${fromStorage(v.aval.dtype, `in${k}[i]`)};`);
      names.set(v, `x${k}`);
    } else if (sizeOf(v.aval.shape) === 1) {
      lines.push(`let x${k} = ${fromStorage(v.aval.dtype, `in${k}[0]`)};`);
      names.set(v, `x${k}`);
    }
  });
  const ref = (a: Atom): string => {
    if (a instanceof Literal) return wgslLiteral(a.value.storage[0]!, a.aval.dtype);
    const name = names.get(a);
    if (name === undefined)
      throw new Error(`webgpu fusion: ${a.aval.dtype}[${a.aval.shape}] is not in the loop`);
    return name;
  };
  group.equations.forEach((e, k) => {
    const out = e.outputs[0]!;
    if (isFusedBroadcast(e)) {
      const src = e.inputs[0]!;
      const { broadcastDimensions } = e.params as { broadcastDimensions: readonly number[] };
      if (src instanceof Literal || sizeOf(src.aval.shape) === 1) lines.push(`let t${k} = ${ref(src)};`);
      else {
        const strides = src.aval.shape.map((_, j) => sizeOf(src.aval.shape.slice(j + 1)));
        const terms = broadcastDimensions
          .map((d, j) => (src.aval.shape[j] === 1 ? null : `${coordinate(shape, d, "i")} * ${strides[j]}u`))
          .filter((t): t is string => t !== null);
        const load = `in${inputIndex.get(src)!}[${terms.join(" + ") || "0u"}]`;
        lines.push(`let t${k} = ${fromStorage(src.aval.dtype, load)};`);
      }
    } else {
      if (!isElementwise(e.primitive)) throw new WgslUnsupportedError(`${e.primitive.name} in a fused loop`);
      const tree = e.primitive.elementwise.tree(
        e.inputs.map((a) => a.aval.dtype),
        e.params as never,
      );
      const { statements, value } = renderWgsl(tree, e.inputs.map(ref), `t${k}_`);
      lines.push(...statements, `let t${k} = ${value};`);
    }
    names.set(out, `t${k}`);
  });
  stored.forEach((v, j) => {
    decls.push(storageBinding(group.inputs.length + j, `out${j}`, v.aval.dtype, true));
    lines.push(`out${j}[i] = ${toStorage(v.aval.dtype, ref(v))};`);
  });
  return {
    label: `fused[${group.equations.map((e) => e.primitive.name).join(",")}] ${shape.join("x") || "scalar"}`,
    code: `${decls.join("\n")}\n${flatMain(n)}\n  ${lines.join("\n  ")}\n}`,
    workgroups: flatWorkgroups(n),
  };
}
