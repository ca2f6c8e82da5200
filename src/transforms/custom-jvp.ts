/**
 * User-defined forward-mode derivatives (JAX's custom_jvp). `custom_jvp_call` runs the function; its
 * jvp rule runs the user's rule. Reverse mode needs nothing more: linearize runs that rule under partial
 * evaluation, so the primal half is computed and the tangent half (linear in the tangents, as the user
 * promises) is recorded and transposed like any other linear program.
 */
import { type ConcreteArray, fmtAval, NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { Tracer } from "../core/trace.js";
import { add } from "../ops/binary.js";
import { batchSize } from "../ops/layout.js";
import { flatten, type TreeDef, treeDefEquals, treeDefToString, unflatten } from "../tree/treedef.js";
import { alignTo0, type FlatFn, outAvalsOf, stagedOf, zerosIn, zerosTree } from "./custom-call.js";
import { type ArrayLeaves, flattenArgs } from "./flat.js";
import type { PickArgs } from "./vjp.js";
import { vmapFlat } from "./vmap.js";

/** (primals, tangents) -> [...outputs, ...output tangents], over the primitive's inputs. */
type FlatJvp = (primals: NdArray[], tangents: NdArray[]) => NdArray[];

interface CustomJvpParams {
  name: string;
  fun: FlatFn;
  jvp: FlatJvp;
}

export const customJvpCallPrim: Primitive<CustomJvpParams> = primitive<CustomJvpParams>({
  name: "custom_jvp_call",
  abstractEval: (avals, p) => outAvalsOf(p.fun, avals),
  impl: (args, p) => p.fun([...args]) as ConcreteArray[],
  jvp(primals, tangents, p) {
    const both = p.jvp([...primals], [...tangents]);
    const n = both.length / 2;
    return { primalsOut: both.slice(0, n), tangentsOut: both.slice(n) };
  },
  batch(args, dims, p) {
    const size = batchSize(args, dims);
    const aligned = alignTo0(args, dims, size);
    const fun: FlatFn = (xs) => vmapFlat(p.fun, zerosIn(xs.length), zerosIn, xs);
    // Tangents have the primals' shapes, so under the batched primitive they are batched at 0 too.
    const jvp: FlatJvp = (ps, ts) =>
      vmapFlat(
        (all) => p.jvp(all.slice(0, ps.length), all.slice(ps.length)),
        zerosIn(2 * ps.length),
        zerosIn,
        [...ps, ...ts],
      );
    const outs = customJvpCallPrim.bind(aligned, { ...p, fun, jvp });
    return [outs, outs.map(() => 0)];
  },
  // jit compiles the function's own program (the rule only matters to derivatives).
  inlineProgram: (avals, p) => stagedOf(p.fun, avals),
  formatParams: (p) => `name=${p.name}`,
});

/** Options of `customJvp`, as JAX's `nondiff_argnums`. */
export interface CustomJvpOptions<N extends readonly number[] = readonly number[]> {
  /**
   * Arguments that are not differentiated (JS values such as functions or settings, or arrays treated
   * as constants): the rule receives them first, before `primals` and `tangents`, which leave them out.
   */
  nondiffArgnums?: N;
}

/** The arguments without those at the positions `N`. */
export type OmitArgs<
  Args extends unknown[],
  N extends readonly number[],
  Seen extends unknown[] = [],
> = Args extends [infer Head, ...infer Rest]
  ? Seen["length"] extends N[number]
    ? OmitArgs<Rest, N, [...Seen, Head]>
    : [Head, ...OmitArgs<Rest, N, [...Seen, Head]>]
  : [];

/**
 * A custom JVP rule: `(primals, tangents) => [primalOut, tangentOut]`, the tangent linear in the
 * tangents; with nondiffArgnums, the non-differentiated arguments come first.
 */
export type CustomJvpRule<Args extends unknown[], Out, N extends readonly number[]> = N extends readonly []
  ? (primals: ArrayLeaves<Args>, tangents: ArrayLeaves<Args>) => readonly [Out, Out]
  : (
      ...args: [
        ...PickArgs<Args, N>,
        primals: ArrayLeaves<OmitArgs<Args, N>>,
        tangents: ArrayLeaves<OmitArgs<Args, N>>,
      ]
    ) => readonly [Out, Out];

/**
 * One argument's contribution to the output tangent for `defjvps`: `(tangent, primalOut, ...primals)`,
 * linear in `tangent`.
 */
export type CustomJvpTerm<Args extends unknown[], Out, T> = (
  tangent: ArrayLeaves<T>,
  primalOut: Out,
  ...primals: ArrayLeaves<Args>
) => Out;

/** A function made by `customJvp`: callable as `f`, with its derivative given by `defjvp` or `defjvps`. */
export interface CustomJvpFunction<Args extends unknown[], Out, N extends readonly number[] = readonly []> {
  (...args: Args): Out;
  /**
   * Sets the JVP rule (JAX's `defjvp`) and returns it.
   * @typeParam R - the rule's own type, returned unchanged (so `defjvp` can wrap a named rule).
   */
  defjvp<R extends CustomJvpRule<Args, Out, N>>(rule: R): R;
  /**
   * Sets the JVP rule from one term per argument (JAX's `defjvps`): the output tangent is the sum of
   * `term_i(tangent_i, primalOut, ...primals)`; null for an argument that does not contribute.
   */
  defjvps(...terms: { [K in keyof Args]: CustomJvpTerm<Args, Out, Args[K]> | null }): void;
}

/**
 * `customJvp(f)`: `f` with a hand-written forward-mode derivative (JAX's `custom_jvp`), given by
 * `defjvp((primals, tangents) => [primalOut, tangentOut])`. The rule is used by `jvp`, `jacfwd`, and
 * also by `grad`, `vjp` and `jacrev`, which linearize it: its tangent output must be linear in the
 * tangents (built from them with additions, multiplications by primal values, `where`, ...). `vmap`
 * and `jit` see through it; higher derivatives differentiate the rule.
 *
 * The function and the rule may close over concrete arrays but not over values traced by an enclosing
 * transform (pass those as arguments); `nondiffArgnums` arguments are passed to the rule first and get
 * no tangent.
 *
 * @example
 * ```ts
 * // log(1 + e^x) whose derivative stays finite at large x (JAX's documentation example).
 * const log1pexp = customJvp((x: NdArray) => np.log1p(np.exp(x)));
 * log1pexp.defjvp(([x], [t]) => [log1pexp(x), t.mul(np.sigmoid(x))]);
 * grad((x: NdArray) => log1pexp(x).sum())(np.array([0, 100])); // [0.5, 1], not [0.5, NaN]
 * ```
 */
export function customJvp<Args extends unknown[], Out, const N extends readonly number[] = readonly []>(
  f: (...args: Args) => Out,
  options?: CustomJvpOptions<N>,
): CustomJvpFunction<Args, Out, N> {
  checkOptions("customJvp", options, ["nondiffArgnums"]);
  const name = f.name || "customJvp";
  const nondiff: number[] = [...(options?.nondiffArgnums ?? [])];
  for (const i of nondiff) {
    if (!Number.isInteger(i) || i < 0) {
      throw new RangeError(`customJvp(${name}): nondiffArgnums must be non-negative integers, got ${i}`);
    }
  }
  let rule: ((...a: unknown[]) => unknown) | null = null;

  const call = (...args: Args): Out => {
    if (rule === null) {
      throw new TypeError(
        `customJvp(${name}): no JVP rule defined; call .defjvp(rule) or .defjvps(...) first`,
      );
    }
    const theRule = rule;
    for (const i of nondiff) {
      if (i >= args.length) {
        throw new RangeError(
          `customJvp(${name}): nondiffArgnums ${JSON.stringify(nondiff)} is out of range for ${args.length} argument(s)`,
        );
      }
    }
    const diffPositions = args.map((_, i) => i).filter((i) => !nondiff.includes(i));
    // Array leaves of non-differentiated arguments are inputs too (whose tangents are dropped); their
    // other leaves are closed over.
    const [staticLeaves, staticTree] = flatten<unknown>(nondiff.map((i) => args[i]));
    const staticArrays = staticLeaves.filter((l): l is NdArray => l instanceof NdArray);
    const [diffLeaves, diffTree] = flattenArgs(
      `customJvp(${name})`,
      diffPositions.map((i) => args[i]),
    );
    const nStatic = staticArrays.length;
    const rebuild = (
      xs: readonly NdArray[],
    ): { full: unknown[]; nondiffArgs: unknown[]; diff: unknown[] } => {
      let k = 0;
      const nondiffArgs = unflatten<unknown[]>(
        staticTree,
        staticLeaves.map((l) => (l instanceof NdArray ? xs[k++]! : l)),
      );
      const diff = unflatten<unknown[]>(diffTree, xs.slice(nStatic));
      const full = new Array<unknown>(args.length);
      nondiff.forEach((a, j) => {
        full[a] = nondiffArgs[j];
      });
      diffPositions.forEach((a, j) => {
        full[a] = diff[j];
      });
      return { full, nondiffArgs, diff };
    };
    let outTree: TreeDef | null = null;
    const fun: FlatFn = (xs) => {
      const [outs, def] = flattenArgs(`customJvp(${name}) (output)`, f(...(rebuild(xs).full as Args)));
      outTree = def;
      return outs;
    };
    const inputs = [...staticArrays, ...diffLeaves];
    const staged = stagedOf(
      fun,
      inputs.map((x) => x.aval),
    );
    const captured = staged.consts.find((c) => c instanceof Tracer);
    if (captured !== undefined) {
      throw new TypeError(
        `customJvp(${name}): the function closes over a traced value ${fmtAval(captured)} (an array of an enclosing jit, grad or vmap); pass it as an argument instead`,
      );
    }
    const outAvals = staged.program.outAvals;
    const jvp: FlatJvp = (primals, tangents) => {
      const { nondiffArgs, diff } = rebuild(primals);
      const diffTangents = unflatten<unknown[]>(diffTree, tangents.slice(nStatic));
      const result = theRule(...nondiffArgs, diff, diffTangents);
      if (!Array.isArray(result) || result.length !== 2) {
        throw new TypeError(`customJvp(${name}): the JVP rule must return [primalOut, tangentOut]`);
      }
      const [outs, oDef] = flattenArgs(`customJvp(${name}) rule (primal output)`, result[0]);
      const [touts, tDef] = flattenArgs(`customJvp(${name}) rule (tangent output)`, result[1]);
      checkRuleOutputs(name, outTree!, outAvals, oDef, outs, tDef, touts);
      return [...outs, ...touts];
    };
    const outs = customJvpCallPrim.bind(inputs, { name, fun, jvp });
    return unflatten<Out>(outTree!, outs);
  };

  const defjvp = <R extends CustomJvpRule<Args, Out, N>>(r: R): R => {
    rule = r as unknown as (...a: unknown[]) => unknown;
    return r;
  };
  const defjvps = (...terms: unknown[]): void => {
    if (nondiff.length > 0) {
      throw new TypeError(`customJvp(${name}): defjvps cannot be used with nondiffArgnums; use defjvp`);
    }
    rule = (primals: unknown, tangents: unknown) => {
      const ps = primals as Args;
      const ts = tangents as unknown[];
      if (terms.length !== ps.length) {
        throw new TypeError(
          `customJvp(${name}): defjvps got ${terms.length} terms for ${ps.length} argument(s); give one per argument (null for none)`,
        );
      }
      const ans = call(...ps);
      const parts = terms.flatMap((term, i) =>
        term === null || term === undefined
          ? []
          : [(term as (...a: unknown[]) => unknown)(ts[i], ans, ...ps)],
      );
      const [ansLeaves, ansDef] = flatten<NdArray>(ans);
      const sum = ansLeaves.map((a, k) =>
        parts.reduce<NdArray>(
          (acc, part) => add(acc, flatten<NdArray>(part)[0][k]!),
          zerosTree(a) as NdArray,
        ),
      );
      return [ans, unflatten(ansDef, sum)];
    };
  };
  return Object.assign(call, { defjvp, defjvps }) as unknown as CustomJvpFunction<Args, Out, N>;
}

function checkRuleOutputs(
  name: string,
  outTree: TreeDef,
  outAvals: readonly { shape: readonly number[]; dtype: NdArray["dtype"] }[],
  primalTree: TreeDef,
  primals: readonly NdArray[],
  tangentTree: TreeDef,
  tangents: readonly NdArray[],
): void {
  const who = `customJvp(${name})`;
  if (!treeDefEquals(primalTree, outTree)) {
    throw new TypeError(
      `${who}: the JVP rule's primal output has structure ${treeDefToString(primalTree)} but the function returns ${treeDefToString(outTree)}`,
    );
  }
  if (!treeDefEquals(tangentTree, outTree)) {
    throw new TypeError(
      `${who}: the JVP rule's tangent output has structure ${treeDefToString(tangentTree)} but the function returns ${treeDefToString(outTree)}`,
    );
  }
  outAvals.forEach((want, i) => {
    const p = primals[i]!;
    const t = tangents[i]!;
    if (!shapeEquals(p.shape, want.shape) || p.dtype !== want.dtype) {
      throw new TypeError(
        `${who}: the JVP rule's primal output ${i} is ${fmtAval(p)} but the function returns ${fmtAval(want)}`,
      );
    }
    if (!shapeEquals(t.shape, want.shape) || (isFloat(want.dtype) && t.dtype !== want.dtype)) {
      throw new TypeError(
        `${who}: the JVP rule's tangent output ${i} is ${fmtAval(t)} but the primal output is ${fmtAval(want)}; they must match`,
      );
    }
  });
}
