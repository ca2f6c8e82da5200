/**
 * Eager evaluation of a primitive by its lowered kernel: the kernel `lower` builds for these shapes,
 * compiled once per shape and backend (backend/plan-memory.ts's standaloneKernel) and run on the operands,
 * so that eager calls and jit plans run the same kernel.
 */

import { standaloneKernel } from "../backend/plan-memory.js";
import { ConcreteArray, fmtAval } from "../core/array.js";
import { storageFor } from "../core/dtype.js";
import { type PrimitiveRules, paramsKey } from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";

/** An `impl` that compiles the primitive's `lower` kernel for these shapes and runs it once. */
export function evalByLowering<P>(
  rules: Pick<PrimitiveRules<P>, "abstractEval" | "lower" | "name">,
  args: readonly ConcreteArray[],
  params: P,
): ConcreteArray[] {
  const lower = rules.lower;
  if (!lower) throw new Error(`${rules.name}: no lower rule to evaluate with`);
  const outAvals = rules.abstractEval(args, params);
  const outs = outAvals.map((a) => storageFor(a.dtype, sizeOf(a.shape)));
  const key = `${rules.name} ${args.map(fmtAval).join(",")} ${paramsKey(params)}`;
  const kernel = standaloneKernel(key, (context) => lower(args, outAvals, params, context));
  kernel(
    args.map((a) => a.data),
    outs,
  );
  return outs.map((o, i) => new ConcreteArray(outAvals[i]!.shape, outAvals[i]!.dtype, o));
}
