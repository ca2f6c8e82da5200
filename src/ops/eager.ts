/**
 * The one eager path of a primitive that has a `lower` rule: the kernel `lower` builds for these shapes,
 * compiled once per shape and backend (backend/plan-memory.ts's standaloneKernel, kept in the kernel
 * cache) and run on the operands, so that eager calls and jit plans run the same kernel.
 */
import { standaloneKernel } from "../backend/plan-memory.js";
import { ConcreteArray, fmtAval } from "../core/array.js";
import { storageFor } from "../core/dtype.js";
import { type Arity, type Primitive, type PrimitiveRules, paramsKey, primitive } from "../core/primitive.js";
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

/** A primitive's rules when its eager kernel is its lowered one: everything but `impl`, and `lower`. */
export type LoweredRules<P, In extends Arity = Arity, Out extends Arity = Arity> = Omit<
  PrimitiveRules<P, In, Out>,
  "impl" | "lower"
> &
  Required<Pick<PrimitiveRules<P, In, Out>, "lower">>;

/**
 * Declares a primitive whose eager `impl` is derived from its `lower` (evalByLowering): one kernel,
 * chosen once (backend/kernel-choice.ts), for eager calls and jit plans alike.
 */
export function loweredPrimitive<P, In extends Arity = Arity, Out extends Arity = Arity>(
  rules: LoweredRules<P, In, Out>,
): Primitive<P, In, Out> {
  const impl = (args: readonly ConcreteArray[], params: P) => evalByLowering(rules, args, params);
  const prim = primitive<P, In, Out>({ ...rules, impl });
  lowered.add(prim as unknown as Primitive<unknown>);
  return prim;
}

const lowered = new WeakSet<Primitive<unknown>>();

/** Whether the primitive's eager `impl` is its lowered kernel (declared by loweredPrimitive). */
export function implFromLower(prim: Primitive<never>): boolean {
  return lowered.has(prim as Primitive<unknown>);
}
