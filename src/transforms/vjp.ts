/**
 * Reverse mode as linearize + transpose (Autodidax): the JVP runs under partial evaluation, so the
 * primal computation happens now and the tangent computation is recorded as a linear program; `vjp`
 * transposes that program. Because every step binds primitives in the current interpreter, grad of
 * grad, jit of grad and vmap of grad compose by construction. Called eagerly (outside every
 * transform), `vjp` and `grad` record the same linear steps on a tape instead (tape.ts).
 */
import { fmtAval, type NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { shapeEquals } from "../core/shape.js";
import { traceDepth } from "../core/trace.js";
import { full } from "../ops/creation.js";
import { assertSameStructure, numLeaves, unflatten } from "../tree/treedef.js";
import { eagerValueAndGrad, type GradSeed } from "./eager-compile.js";
import { checkFloatInputs, flattenArgs, flattenFun, normalizeArgnums } from "./flat.js";
import { Zero } from "./jvp.js";
import { linearizeFlat, type Transposable } from "./linearize.js";
import { tapeApplies, tapeVjpFlat } from "./tape.js";

/** `f` at `primals` with its transposed linear map: on the tape when called eagerly. */
function vjpFlat(f: (xs: NdArray[]) => NdArray[], primals: NdArray[]): Transposable {
  return tapeApplies(primals, traceDepth()) ? tapeVjpFlat(f, primals) : linearizeFlat(f, primals);
}

function checkCotangents(who: string, outs: NdArray[], cts: NdArray[]): void {
  outs.forEach((o, i) => {
    const c = cts[i]!;
    if (!shapeEquals(o.shape, c.shape)) {
      throw new TypeError(`${who}: cotangent ${i} has shape ${fmtAval(c)} but the output is ${fmtAval(o)}`);
    }
  });
}

/** Casts a cotangent to the output's dtype (a float32 cotangent for a float64 output, say). */
function castLike(c: NdArray, like: NdArray): NdArray {
  return c.dtype === like.dtype ? c : c.astype(like.dtype);
}

/**
 * `vjp(f, ...primals)` returns `[f(...primals), vjpFn]`; `vjpFn(cotangent)` returns one cotangent per
 * primal argument (a tuple even for one argument, as JAX). Integer inputs get zero cotangents.
 */
export function vjp<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  ...primals: Args
): [Out, (cotangent: Out) => Args] {
  const [flatPrimals, inTree] = flattenArgs("vjp", primals);
  const flat = flattenFun("vjp", f as (...args: never[]) => unknown, inTree);
  const lin = vjpFlat(flat, flatPrimals);
  const outTree = flat.outTree();
  const vjpFn = (cotangent: Out): Args => {
    const [cts, ctTree] = flattenArgs("vjp (cotangent)", cotangent);
    assertSameStructure("vjp: cotangent vs output", outTree, ctTree);
    checkCotangents("vjp", lin.primalsOut, cts);
    const inCts = lin.transposed(cts.map((c, i) => castLike(c, lin.primalsOut[i]!)));
    return unflatten<Args>(inTree, inCts);
  };
  return [unflatten<Out>(outTree, lin.primalsOut), vjpFn];
}

/** `linearize(f, ...primals)` returns `[f(...primals), jvpFn]` where `jvpFn(...tangents)` applies J. */
export function linearize<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  ...primals: Args
): [Out, (...tangents: Args) => Out] {
  const [flatPrimals, inTree] = flattenArgs("linearize", primals);
  const flat = flattenFun("linearize", f as (...args: never[]) => unknown, inTree);
  const lin = linearizeFlat(flat, flatPrimals);
  const outTree = flat.outTree();
  const jvpFn = (...tangents: Args): Out => {
    const [ts, tTree] = flattenArgs("linearize (tangents)", tangents);
    assertSameStructure("linearize: tangents vs primals", inTree, tTree);
    return unflatten<Out>(outTree, lin.linear(ts));
  };
  return [unflatten<Out>(outTree, lin.primalsOut), jvpFn];
}

/** Options of `grad` and `valueAndGrad`, as JAX's `argnums` and `has_aux`. */
export interface GradOptions {
  /** Which positional arguments to differentiate with respect to (default 0). */
  argnums?: number | readonly number[];
  /** The function returns `[value, aux]`; aux is passed through undifferentiated. */
  hasAux?: boolean;
  /**
   * Accept int32 and bool inputs, whose gradients are then zeros of their own dtype (JAX's `allow_int`,
   * where they are float0 zeros). Default false: such an input is an error, as in JAX.
   */
  allowInt?: boolean;
}

const INT_ADVICE =
  "To differentiate a function of integer or bool inputs, use vjp, or set allowInt: true (their gradients are then zeros).";

/** The arguments picked by a tuple of argnums, as a tuple. */
export type PickArgs<Args extends unknown[], N extends readonly number[]> = {
  -readonly [I in keyof N]: Args[N[I] & number];
};

/** The gradient's type: the differentiated argument's, or a tuple of them for a list of argnums. */
type GradOf<Args extends unknown[], O extends GradOptions> = O["argnums"] extends infer N extends
  readonly number[]
  ? PickArgs<Args, N>
  : O["argnums"] extends number
    ? Args[O["argnums"]]
    : Args[0];

/**
 * `valueAndGrad(f)(...args)` returns `[value, grad]` (`[[value, aux], grad]` with hasAux). The value
 * must be a float scalar.
 */
export function valueAndGrad<Args extends unknown[], R, const O extends GradOptions = GradOptions>(
  f: (...args: Args) => R,
  options?: O,
  who = "valueAndGrad",
): (...args: Args) => [R, GradOf<Args, O>] {
  checkOptions(who, options, ["argnums", "hasAux", "allowInt"]);
  return (...args: Args) => {
    const argnums = normalizeArgnums(who, options?.argnums ?? 0, args.length);
    const diffArgs = argnums.map((i) => args[i]);
    const g = (...d: unknown[]): unknown => {
      const full = [...args];
      argnums.forEach((a, j) => {
        full[a] = d[j];
      });
      const out = (f as (...a: unknown[]) => unknown)(...full);
      if (!options?.hasAux) return out;
      if (!Array.isArray(out) || out.length !== 2) {
        throw new TypeError(`${who}: with hasAux the function must return [value, aux]`);
      }
      return out;
    };
    const [flatPrimals, inTree] = flattenArgs(who, diffArgs);
    if (!options?.allowInt) checkFloatInputs(who, flatPrimals, inTree, argnums, INT_ADVICE);
    const flat = flattenFun(who, g as (...args: never[]) => unknown, inTree);
    const seed: GradSeed = {
      check(outs) {
        const outTree = flat.outTree();
        // With hasAux the output is [value, aux]: the value is the leaves of its first child.
        const nValue =
          options?.hasAux && outTree.kind === "array" ? numLeaves(outTree.children[0]!) : outs.length;
        const value = outs[0];
        if (nValue !== 1 || value === undefined || value.shape.length !== 0) {
          throw new TypeError(
            `${who}: the function must return a scalar (shape []) to take its gradient, got ${outs.slice(0, nValue).map(fmtAval).join(", ") || "nothing"}; use vjp or jacrev for non-scalar outputs`,
          );
        }
        if (!isFloat(value.dtype))
          throw new TypeError(`${who}: the output must be a float, got ${fmtAval(value)}`);
      },
      cotangents: (outs) => outs.map((o, i) => (i === 0 ? full([], 1, { dtype: o.dtype }) : null)),
    };
    let outs: NdArray[];
    let flatGrads: NdArray[];
    if (tapeApplies(flatPrimals, traceDepth()))
      ({ outs, grads: flatGrads } = eagerValueAndGrad(f, flat, flatPrimals, seed));
    else {
      const lin = linearizeFlat(flat, flatPrimals);
      outs = lin.primalsOut;
      seed.check(outs.map((o) => o.aval));
      flatGrads = lin.transposed(seed.cotangents(outs.map((o) => o.aval)));
    }
    const outTree = flat.outTree();
    const value = outs[0]!;
    const grads = unflatten<unknown[]>(inTree, flatGrads);
    const gradOut = typeof options?.argnums === "object" ? grads : grads[0];
    const valueOut = options?.hasAux ? [value, unflatten<[unknown, unknown]>(outTree, outs)[1]] : value;
    return [valueOut as R, gradOut as GradOf<Args, O>];
  };
}

/** `grad(f)(...args)`: the gradient of a scalar-valued `f` with respect to argument `argnums` (default 0). */
export function grad<Args extends unknown[], R, const O extends GradOptions = GradOptions>(
  f: (...args: Args) => R,
  options?: O,
): (...args: Args) => O["hasAux"] extends true ? [GradOf<Args, O>, unknown] : GradOf<Args, O> {
  const vg = valueAndGrad(f, options, "grad");
  return ((...args: Args) => {
    const [value, g] = vg(...args);
    return options?.hasAux ? [g, (value as [unknown, unknown])[1]] : g;
  }) as (...args: Args) => O["hasAux"] extends true ? [GradOf<Args, O>, unknown] : GradOf<Args, O>;
}

export { Zero };
