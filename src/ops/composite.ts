/**
 * Composite primitives: an op whose value is a composition of other ops but whose derivative is its own
 * rule, as JAX gives `det`, `slogdet` and `pinv` a `custom_jvp`. `customJvp` lives in `transforms/`, which
 * `ops/` cannot import, so an op family declares such an op here instead, with every rule in its own file:
 * `expand` (the composition), `abstractEval`, `jvp` (written with differentiable ops, so higher orders
 * compose) and `batch`. Eagerly `impl` runs `expand`; `jit` inlines `expand`'s program (`inlineProgram`),
 * so a compiled plan is the composition's own; reverse mode linearizes the jvp rule like any other.
 */
import { type AbstractValue, type ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import {
  type Arity,
  type PerInput,
  type Primitive,
  type PrimitiveRules,
  paramsKey,
  primitive,
} from "../core/primitive.js";
import { type StagedProgram, stageFlat } from "../core/staging.js";

/** The rules of a composite primitive: a primitive's, with `expand` in place of a kernel. */
export type CompositeRules<P, In extends Arity = Arity, Out extends Arity = Arity> = Pick<
  PrimitiveRules<P, In, Out>,
  "name" | "abstractEval" | "jvp" | "batch" | "formatParams"
> & {
  /** The value, composed of other ops (the eager kernel and what jit compiles). */
  expand(args: PerInput<NdArray, In>, params: P): NdArray[];
};

/** Declares a composite primitive (see this module's notes). */
export function compositePrimitive<P, In extends Arity = Arity, Out extends Arity = Arity>(
  rules: CompositeRules<P, In, Out>,
): Primitive<P, In, Out> {
  const programs = new Map<string, StagedProgram>();
  return primitive<P, In, Out>({
    ...rules,
    // On concrete operands every op of the composition evaluates eagerly, so its outputs are concrete.
    impl: (args, params) => rules.expand(args, params) as ConcreteArray[],
    inlineProgram(avals, params) {
      const key = `${(avals as readonly AbstractValue[]).map(fmtAval).join(";")} ${paramsKey(params)}`;
      let staged = programs.get(key);
      if (staged === undefined) {
        staged = stageFlat((xs) => rules.expand(xs as unknown as PerInput<NdArray, In>, params), avals);
        programs.set(key, staged);
      }
      return staged;
    },
  });
}
