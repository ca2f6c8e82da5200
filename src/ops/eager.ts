/**
 * The one eager path of a primitive that has a `lower` rule: the kernel `lower` builds for these shapes,
 * compiled once per shape and backend (backend/plan-memory.ts's standaloneKernel, kept in the kernel
 * cache) and run on the operands, so that eager calls and jit plans run the same kernel. The cache entry
 * also keeps the output shapes the shape rule gave for that key, so a repeated call neither re-derives nor
 * re-validates them: the key (primitive, operand dtypes and shapes, params) is all the rule reads.
 */
import { standaloneKernel } from "../backend/plan-memory.js";
import { type AbstractValue, ConcreteArray } from "../core/array.js";
import { storageFor, type TypedArray } from "../core/dtype.js";
import {
  type Arity,
  type Kernel,
  type Primitive,
  type PrimitiveRules,
  paramsKey,
  primitive,
} from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";

/** What one eager key compiles to: the kernel, and its outputs' shapes, dtypes and sizes. */
interface EagerKernel {
  readonly kernel: Kernel;
  readonly outAvals: readonly AbstractValue[];
  readonly outSizes: readonly number[];
}

/** The cache key of an eager call: the primitive, each operand's dtype and shape, the params. */
function eagerKey(name: string, args: readonly ConcreteArray[], params: unknown): string {
  let key = name;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    key += ` ${a.dtype}[${a.shape.join(",")}]`;
  }
  return `${key} ${paramsKey(params)}`;
}

/**
 * An `impl` that runs the primitive's `lower` kernel for these shapes (compiled on the first call of a
 * key). It runs the shape rule itself on that first call, so the primitive declares `implRunsAbstractEval`.
 */
export function evalByLowering<P>(
  prim: Primitive<P>,
  args: readonly ConcreteArray[],
  params: P,
): ConcreteArray[] {
  const { kernel, outAvals, outSizes } = standaloneKernel(
    eagerKey(prim.name, args, params),
    (context): EagerKernel => {
      const lower = prim.lower;
      if (!lower) throw new Error(`${prim.name}: no lower rule to evaluate with`);
      // Shapes and dtypes only: the cached kernel must not keep the first call's operands alive.
      const inAvals = args.map((a): AbstractValue => ({ shape: a.shape, dtype: a.dtype }));
      const avals = prim.abstractEval(inAvals, params);
      return {
        kernel: lower(inAvals, avals, params, context),
        outAvals: avals,
        outSizes: avals.map((a) => sizeOf(a.shape)),
      };
    },
  );
  const ins: TypedArray[] = new Array(args.length);
  for (let i = 0; i < args.length; i++) ins[i] = args[i]!.storage;
  const outs: TypedArray[] = new Array(outAvals.length);
  for (let i = 0; i < outAvals.length; i++) outs[i] = storageFor(outAvals[i]!.dtype, outSizes[i]!);
  kernel(ins, outs);
  const results: ConcreteArray[] = new Array(outAvals.length);
  for (let i = 0; i < outAvals.length; i++) {
    const aval = outAvals[i]!;
    results[i] = new ConcreteArray(aval.shape, aval.dtype, outs[i]!);
  }
  return results;
}

/** A primitive's rules when its eager kernel is its lowered one: everything but `impl`, and `lower`. */
export type LoweredRules<P, In extends Arity = Arity, Out extends Arity = Arity> = Omit<
  PrimitiveRules<P, In, Out>,
  "impl" | "lower" | "implRunsAbstractEval"
> &
  Required<Pick<PrimitiveRules<P, In, Out>, "lower">> & {
    /**
     * An eager result that needs no kernel for these operands (a broadcast of one element: a constant
     * array, `ConcreteArray.filled`), else undefined; the shape rule still checks the operands. Same values
     * as the kernel.
     */
    readonly eagerShortcut?: (args: readonly ConcreteArray[], params: P) => ConcreteArray[] | undefined;
  };

/**
 * Declares a primitive whose eager `impl` is derived from its `lower` (evalByLowering): one kernel,
 * chosen once (backend/kernel-choice.ts), for eager calls and jit plans alike.
 */
export function loweredPrimitive<P, In extends Arity = Arity, Out extends Arity = Arity>(
  rules: LoweredRules<P, In, Out>,
): Primitive<P, In, Out> {
  const { eagerShortcut, ...primitiveRules } = rules;
  const impl =
    eagerShortcut === undefined
      ? (args: readonly ConcreteArray[], params: P): ConcreteArray[] =>
          evalByLowering(prim as unknown as Primitive<P>, args, params)
      : (args: readonly ConcreteArray[], params: P): ConcreteArray[] => {
          const outs = evalShortcut(prim as unknown as Primitive<P>, eagerShortcut, args, params);
          return outs ?? evalByLowering(prim as unknown as Primitive<P>, args, params);
        };
  const prim: Primitive<P, In, Out> = primitive<P, In, Out>({
    ...primitiveRules,
    impl,
    implRunsAbstractEval: true,
  });
  lowered.add(prim as unknown as Primitive<unknown>);
  return prim;
}

/** The shortcut's result, after the shape rule it skips otherwise (evalByLowering runs it on a miss). */
function evalShortcut<P>(
  prim: Primitive<P>,
  shortcut: (args: readonly ConcreteArray[], params: P) => ConcreteArray[] | undefined,
  args: readonly ConcreteArray[],
  params: P,
): ConcreteArray[] | undefined {
  const outs = shortcut(args, params);
  if (outs !== undefined) prim.abstractEval(args, params);
  return outs;
}

const lowered = new WeakSet<Primitive<unknown>>();

/** Whether the primitive's eager `impl` is its lowered kernel (declared by loweredPrimitive). */
export function implFromLower(prim: Primitive<never>): boolean {
  return lowered.has(prim as Primitive<unknown>);
}
