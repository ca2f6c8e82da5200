/** evalShape: the shapes and dtypes of a function's outputs, by tracing it on abstract values. */
import { type NdArray, ShapeDtype } from "../core/array.js";
import type { DType } from "../core/dtype.js";
import { stageFlat } from "../core/staging.js";
import { unflatten } from "../tree/treedef.js";
import { flattenFun } from "./flat.js";
import { abstractLeaves } from "./make-program.js";

/** A tree of arguments whose array leaves may also be given by shape and dtype only. */
export type AbstractArgs<T> = T extends NdArray
  ? NdArray | ShapeDtype | { readonly shape: readonly number[]; readonly dtype: DType }
  : T extends number | boolean | null | undefined
    ? T | ShapeDtype
    : { [K in keyof T]: AbstractArgs<T[K]> };

/** `Out` with every array (and number) leaf replaced by its ShapeDtype. */
export type ShapeDtypeTree<Out> = Out extends { readonly shape: readonly number[]; readonly dtype: unknown }
  ? ShapeDtype
  : Out extends number | boolean
    ? ShapeDtype
    : Out extends null | undefined
      ? Out
      : { -readonly [K in keyof Out]: ShapeDtypeTree<Out[K]> };

/**
 * `evalShape(f, ...args)`: the shape and dtype of every output of `f(...args)`, as a tree of
 * `ShapeDtype` (`{ shape, dtype }`) shaped like the output, without computing anything (JAX's
 * `eval_shape`): `f` is traced on abstract values, so no kernel runs and no memory is allocated for its
 * results. Arguments may be arrays, numbers, `ShapeDtype`s or plain `{ shape, dtype }` objects (JAX's
 * ShapeDtypeStruct), in any tree.
 *
 * @example
 * ```ts
 * const out = evalShape((x: NdArray, w: NdArray) => np.matmul(x, w), { shape: [8, 3], dtype: "float32" }, new ShapeDtype([3, 5]));
 * // out.shape = [8, 5], out.dtype = "float32"
 * ```
 */
export function evalShape<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  ...args: AbstractArgs<Args>
): ShapeDtypeTree<Out> {
  const [avals, inTree] = abstractLeaves("evalShape", args);
  const flat = flattenFun("evalShape", f as (...a: never[]) => unknown, inTree);
  const { program } = stageFlat(flat, avals);
  return unflatten<ShapeDtypeTree<Out>>(
    flat.outTree(),
    program.outAvals.map((a) => new ShapeDtype([...a.shape], a.dtype)),
  );
}
