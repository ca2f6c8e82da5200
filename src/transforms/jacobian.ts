/**
 * Jacobians and Hessians from jvp/vjp and vmap over a standard basis (as JAX's jacfwd/jacrev/hessian),
 * over pytrees: the result nests the output tree outside and the differentiated arguments' tree inside,
 * each leaf of shape `[...out.shape, ...in.shape]`.
 */
import { ConcreteArray, type NdArray } from "../core/array.js";
import { storageFor } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import type { BatchDim } from "../core/primitive.js";
import { sizeOf } from "../core/shape.js";
import { moveaxis, reshape } from "../ops/layout.js";
import { slice } from "../ops/shape.js";
import { type TreeDef, unflatten } from "../tree/treedef.js";
import { type ArrayLeaves, checkFloatInputs, flattenArgs, normalizeArgnums } from "./flat.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { linearizeFlat } from "./linearize.js";
import type { PickArgs } from "./vjp.js";
import { vmapFlat } from "./vmap.js";

/** Options of `jacfwd` and `hessian`, as JAX's `argnums` and `has_aux`. */
export interface JacobianOptions {
  /**
   * The argument to differentiate with respect to (default 0), or a list of them: the Jacobian of each
   * output leaf is then a list with one entry per listed argument.
   */
  argnums?: number | readonly number[];
  /** The function returns `[output, aux]`; the result is `[jacobian, aux]`, aux not differentiated. */
  hasAux?: boolean;
}

/** Options of `jacrev`: JacobianOptions and JAX's `allow_int`. */
export interface JacrevOptions extends JacobianOptions {
  /** Accept an int32 or bool argument, whose Jacobian is then zeros of its dtype (default false, as JAX). */
  allowInt?: boolean;
}

/** The output tree `Out` with every leaf replaced by the tree `In` (JAX's Jacobian nesting). */
export type JacobianTree<Out, In> = Out extends NdArray | number | boolean
  ? In
  : Out extends null | undefined
    ? Out
    : { -readonly [K in keyof Out]: JacobianTree<Out[K], In> };

/** The differentiated arguments: argument `argnums`, or the tuple of the listed ones. */
type DiffArgs<Args extends unknown[], O extends JacobianOptions> = O["argnums"] extends infer N extends
  readonly number[]
  ? PickArgs<Args, N>
  : O["argnums"] extends number
    ? Args[O["argnums"]]
    : Args[0];

/** What `jacfwd(f, options)` and `jacrev(f, options)` return for `f: (...args: Args) => Out`. */
export type JacobianResult<Args extends unknown[], Out, O extends JacobianOptions> = O["hasAux"] extends true
  ? Out extends readonly [infer Value, infer Aux]
    ? [JacobianTree<Value, ArrayLeaves<DiffArgs<Args, O>>>, Aux]
    : never
  : JacobianTree<Out, ArrayLeaves<DiffArgs<Args, O>>>;

/** What `hessian(f, options)` returns: the Jacobian of the Jacobian. */
export type HessianResult<Args extends unknown[], Out, O extends JacobianOptions> = O["hasAux"] extends true
  ? Out extends readonly [infer Value, infer Aux]
    ? [JacobianTree<JacobianTree<Value, ArrayLeaves<DiffArgs<Args, O>>>, ArrayLeaves<DiffArgs<Args, O>>>, Aux]
    : never
  : JacobianTree<JacobianTree<Out, ArrayLeaves<DiffArgs<Args, O>>>, ArrayLeaves<DiffArgs<Args, O>>>;

/** `f` as a flat function of the differentiated leaves: outputs, then aux leaves (hasAux). */
interface DiffProblem {
  /** The differentiated leaves and their tree (one argument, or the tuple of the listed arguments). */
  leaves: NdArray[];
  inTree: TreeDef;
  fun: (xs: NdArray[]) => NdArray[];
  /** After a call: the output tree, the aux tree (null without hasAux) and how many leaves are outputs. */
  trees(): { outTree: TreeDef; auxTree: TreeDef | null; nOut: number };
}

function diffProblem(
  who: string,
  f: (...args: never[]) => unknown,
  args: unknown[],
  options: JacobianOptions,
  checkFloat: boolean,
  advice: string,
): DiffProblem {
  const argnums = normalizeArgnums(who, options.argnums ?? 0, args.length);
  const asTuple = typeof options.argnums === "object";
  const [leaves, inTree] = flattenArgs(who, asTuple ? argnums.map((i) => args[i]) : args[argnums[0]!]);
  if (checkFloat) {
    // checkFloatInputs names argument positions through the tree of the tuple of differentiated args.
    const [, tupleTree] = flattenArgs(
      who,
      argnums.map((i) => args[i]),
    );
    checkFloatInputs(who, leaves, tupleTree, argnums, advice);
  }
  let outTree: TreeDef | null = null;
  let auxTree: TreeDef | null = null;
  let nOut = 0;
  const call = (...diff: unknown[]): unknown => {
    const full = [...args];
    argnums.forEach((a, j) => {
      full[a] = diff[j];
    });
    return (f as (...a: unknown[]) => unknown)(...full);
  };
  const fun = (xs: NdArray[]): NdArray[] => {
    const d = unflatten<unknown>(inTree, xs);
    const result = asTuple ? call(...(d as unknown[])) : call(d);
    if (!options.hasAux) {
      const [outs, def] = flattenArgs(`${who} (output)`, result);
      [outTree, nOut] = [def, outs.length];
      return outs;
    }
    if (!Array.isArray(result) || result.length !== 2) {
      throw new TypeError(`${who}: with hasAux the function must return [output, aux]`);
    }
    const [outs, def] = flattenArgs(`${who} (output)`, result[0]);
    const [aux, aDef] = flattenArgs(`${who} (aux)`, result[1]);
    [outTree, auxTree, nOut] = [def, aDef, outs.length];
    return [...outs, ...aux];
  };
  const trees = () => {
    if (outTree === null) throw new Error(`${who}: the function has not been called yet`);
    return { outTree, auxTree, nOut };
  };
  return { leaves, inTree, fun, trees };
}

/**
 * The standard basis of the space of `leaves` (total size N): per leaf, an array [N, ...leaf.shape]
 * whose row r is the r-th basis vector's part in that leaf. Built directly: it is a constant.
 */
function standardBasis(leaves: readonly NdArray[]): NdArray[] {
  const total = leaves.reduce((n, l) => n + l.size, 0);
  let offset = 0;
  return leaves.map((l) => {
    const data = storageFor(l.dtype, total * l.size);
    for (let c = 0; c < l.size; c++) data[(offset + c) * l.size + c] = 1;
    offset += l.size;
    return new ConcreteArray([total, ...l.shape], l.dtype, data);
  });
}

/** Rows [start, start + n) of x along axis 0 (x itself when that is all of it). */
function rows(x: NdArray, start: number, n: number): NdArray {
  return start === 0 && n === x.shape[0] ? x : slice(x, [{ start, stop: start + n }]);
}

function offsets(leaves: readonly { shape: readonly number[] }[]): number[] {
  let o = 0;
  return leaves.map((l) => {
    const here = o;
    o += sizeOf(l.shape);
    return here;
  });
}

/** Per output leaf, the tree `inTree` of its blocks with each differentiated leaf. */
function assemble(
  nOut: number,
  inTree: TreeDef,
  nIn: number,
  block: (k: number, j: number) => NdArray,
): unknown[] {
  return Array.from({ length: nOut }, (_, k) =>
    unflatten(
      inTree,
      Array.from({ length: nIn }, (_, j) => block(k, j)),
    ),
  );
}

function finish(outTree: TreeDef, perOutput: unknown[], auxTree: TreeDef | null, aux: NdArray[]): unknown {
  const jac = unflatten(outTree, perOutput);
  return auxTree === null ? jac : [jac, unflatten(auxTree, aux)];
}

/**
 * Forward-mode Jacobian (JAX's `jacfwd`): one `jvp` per input coordinate, batched with `vmap`. For an
 * output leaf of shape T and a differentiated leaf of shape S the block has shape `[...T, ...S]`; the
 * result is the output tree with, at each leaf, the tree of the differentiated argument(s) (a list for a
 * list of argnums). Prefer it to `jacrev` when there are fewer inputs than outputs.
 *
 * @example
 * ```ts
 * const f = (p: { w: NdArray; b: NdArray }) => ({ y: p.w.mul(p.b), s: p.w.sum() });
 * const J = jacfwd(f)({ w: np.array([1, 2]), b: np.array([3, 4]) });
 * // J.y.w, J.y.b: [2, 2]; J.s.w, J.s.b: [2]
 * ```
 */
export function jacfwd<Args extends unknown[], Out, const O extends JacobianOptions = JacobianOptions>(
  f: (...args: Args) => Out,
  options?: O,
): (...args: Args) => JacobianResult<Args, Out, O> {
  return jacfwdAs("jacfwd", f, options ?? {}) as (...args: Args) => JacobianResult<Args, Out, O>;
}

function jacfwdAs(who: string, f: (...args: never[]) => unknown, options: JacobianOptions) {
  checkOptions(who, options, ["argnums", "hasAux"]);
  return (...args: unknown[]): unknown => {
    const problem = diffProblem(
      who,
      f,
      args,
      options,
      true,
      "To push integer or bool inputs forward, use jvp directly.",
    );
    const { leaves } = problem;
    const basis = standardBasis(leaves);
    let nPrimal = 0;
    // The primal outputs do not depend on the basis row (out axis null); the tangents are stacked at 0.
    const outs = vmapFlat(
      (ts) => {
        const [ys, tys] = jvpFlat(problem.fun, leaves, ts);
        nPrimal = ys.length;
        return [...ys, ...tys.map(instantiate)];
      },
      basis.map(() => 0),
      (n) => Array.from({ length: n }, (_, i): BatchDim => (i < n / 2 ? null : 0)),
      basis,
      (i) => `basis of leaf ${i}`,
      leaves.reduce((n, l) => n + l.size, 0),
    );
    const { outTree, auxTree, nOut } = problem.trees();
    const primals = outs.slice(0, nPrimal);
    const columns = outs.slice(nPrimal, nPrimal + nOut); // each [N, ...T]
    const starts = offsets(leaves);
    const perOutput = assemble(nOut, problem.inTree, leaves.length, (k, j) => {
      const x = leaves[j]!;
      const t = primals[k]!.shape;
      const block = rows(columns[k]!, starts[j]!, x.size); // [size, ...T]
      return reshape(t.length ? moveaxis(block, 0, -1) : block, [...t, ...x.shape]);
    });
    return finish(outTree, perOutput, auxTree, primals.slice(nOut));
  };
}

/**
 * Reverse-mode Jacobian (JAX's `jacrev`): one `vjp` per output coordinate, batched with `vmap`; the
 * result is shaped and nested as `jacfwd`'s. Prefer it when there are fewer outputs than inputs.
 */
export function jacrev<Args extends unknown[], Out, const O extends JacrevOptions = JacrevOptions>(
  f: (...args: Args) => Out,
  options?: O,
): (...args: Args) => JacobianResult<Args, Out, O> {
  return jacrevAs("jacrev", f, options ?? {}, ["argnums", "hasAux", "allowInt"]) as (
    ...args: Args
  ) => JacobianResult<Args, Out, O>;
}

function jacrevAs(
  who: string,
  f: (...args: never[]) => unknown,
  options: JacrevOptions,
  keys: readonly string[],
) {
  checkOptions(who, options, keys);
  return (...args: unknown[]): unknown => {
    const problem = diffProblem(
      who,
      f,
      args,
      options,
      !options.allowInt,
      "To differentiate with respect to integer or bool inputs, use vjp, or set allowInt: true.",
    );
    const { leaves } = problem;
    const lin = linearizeFlat(problem.fun, leaves);
    const { outTree, auxTree, nOut } = problem.trees();
    const outs = lin.primalsOut.slice(0, nOut);
    const aux = lin.primalsOut.slice(nOut);
    const basis = standardBasis(outs);
    const noCotangent = aux.map(() => null);
    const cts = vmapFlat(
      (us) => lin.transposed([...us, ...noCotangent]),
      basis.map(() => 0),
      (n) => new Array<BatchDim>(n).fill(0),
      basis,
      (i) => `basis of output leaf ${i}`,
      outs.reduce((n, o) => n + o.size, 0),
    ); // per input leaf [M, ...S]
    const starts = offsets(outs);
    const perOutput = assemble(nOut, problem.inTree, leaves.length, (k, j) => {
      const o = outs[k]!;
      return reshape(rows(cts[j]!, starts[k]!, o.size), [...o.shape, ...leaves[j]!.shape]);
    });
    return finish(outTree, perOutput, auxTree, aux);
  };
}

/**
 * The Hessian, `jacfwd(jacrev(f))` (JAX's `hessian`): for a scalar `f` of a tree argument, a tree of
 * trees whose block for leaves a and b has shape `[...a.shape, ...b.shape]`. With `hasAux` the result
 * is `[hessian, aux]`.
 */
export function hessian<Args extends unknown[], Out, const O extends JacobianOptions = JacobianOptions>(
  f: (...args: Args) => Out,
  options?: O,
): (...args: Args) => HessianResult<Args, Out, O> {
  // Checked here so errors name hessian; JAX's hessian has no allow_int either.
  const o = options ?? {};
  checkOptions("hessian", o, ["argnums", "hasAux"]);
  return jacfwdAs("hessian", jacrevAs("hessian", f, o, ["argnums", "hasAux"]), o) as (
    ...args: Args
  ) => HessianResult<Args, Out, O>;
}
