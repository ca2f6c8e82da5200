/** Jacobians and Hessians from jvp/vjp and vmap over a basis (as JAX's jacfwd/jacrev). */
import { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { eye } from "../ops/creation.js";
import { moveaxis, reshape } from "../ops/layout.js";
import { flatten, unflatten } from "../tree/treedef.js";
import { checkFloatInputs, normalizeArgnum } from "./flat.js";
import { jvp } from "./jvp.js";
import { vjp } from "./vjp.js";
import { vmap } from "./vmap.js";

/** Options of `jacfwd`, `jacrev` and `hessian`. */
export interface JacobianOptions {
  /** The argument to differentiate with respect to (default 0). */
  argnums?: number;
}

/** Options of `jacrev`: JacobianOptions and JAX's `allow_int`. */
export interface JacrevOptions extends JacobianOptions {
  /** Accept an int32 or bool argument, whose Jacobian is then zeros of its dtype (default false, as JAX). */
  allowInt?: boolean;
}

function checkFloatArgument(who: string, x: unknown, i: number, advice: string): void {
  if (x instanceof NdArray) checkFloatInputs(who, [x], { kind: "leaf" }, [i], advice);
}

function basis(x: NdArray): NdArray {
  return reshape(eye(x.size, x.size, { dtype: x.dtype }), [x.size, ...x.shape]);
}

function withArg(args: unknown[], i: number, value: unknown): unknown[] {
  const out = [...args];
  out[i] = value;
  return out;
}

/**
 * Forward-mode Jacobian: for an array argument of shape S and an output leaf of shape T, the result
 * leaf has shape [...T, ...S]. Output pytrees give a Jacobian tree of the same structure.
 */
export function jacfwd<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options: JacobianOptions = {},
) {
  return jacfwdAs("jacfwd", f, options);
}

function jacfwdAs<Args extends unknown[], Out>(
  who: string,
  f: (...args: Args) => Out,
  options: JacobianOptions,
) {
  checkOptions(who, options, ["argnums"]);
  return (...args: Args): Out => {
    const i = normalizeArgnum(who, options.argnums ?? 0, args.length);
    const x = args[i] as NdArray;
    checkFloatArgument(who, x, i, "To push integer or bool inputs forward, use jvp directly.");
    const push = (t: NdArray) => {
      const tangents = args.map((a) => zerosTreeLike(a));
      tangents[i] = t;
      return jvp(f, args, tangents as Args)[1];
    };
    const cols = vmap(push)(basis(x)) as Out; // leaves [n, ...T]
    const [leaves, def] = flatten<NdArray>(cols);
    return unflatten<Out>(
      def,
      leaves.map((l) =>
        l.ndim > 1
          ? reshape(moveaxis(l, 0, -1), [...l.shape.slice(1), ...x.shape])
          : reshape(l, [...x.shape]),
      ),
    );
  };
}

/** Reverse-mode Jacobian, shaped like jacfwd's. */
export function jacrev<Args extends unknown[], Out>(f: (...args: Args) => Out, options: JacrevOptions = {}) {
  return jacrevAs("jacrev", f, options, ["argnums", "allowInt"]);
}

function jacrevAs<Args extends unknown[], Out>(
  who: string,
  f: (...args: Args) => Out,
  options: JacrevOptions,
  keys: readonly string[],
) {
  checkOptions(who, options, keys);
  return (...args: Args): Out => {
    const i = normalizeArgnum(who, options.argnums ?? 0, args.length);
    const x = args[i] as NdArray;
    if (!options.allowInt) {
      const advice =
        "To differentiate with respect to integer or bool inputs, use vjp, or set allowInt: true.";
      checkFloatArgument(who, x, i, advice);
    }
    const g = (xi: NdArray) => f(...(withArg(args, i, xi) as Args));
    const [out, pullback] = vjp(g, x);
    const [outLeaves, outDef] = flatten<NdArray>(out);
    const rows = outLeaves.map((o, k) => {
      const pull = (ct: NdArray) =>
        pullback(
          unflatten<Out>(
            outDef,
            outLeaves.map((l, j) => (j === k ? ct : zerosArray(l))),
          ),
        )[0];
      const r = vmap(pull)(basis(o)); // [m, ...S]
      return reshape(r, [...o.shape, ...x.shape]);
    });
    return unflatten<Out>(outDef, rows);
  };
}

/** The Hessian: jacfwd(jacrev(f)). */
export function hessian<Args extends unknown[]>(
  f: (...args: Args) => NdArray,
  options: JacobianOptions = {},
) {
  // Checked here so errors name hessian; JAX's hessian has no allow_int either.
  checkOptions("hessian", options, ["argnums"]);
  return jacfwdAs("hessian", jacrevAs("hessian", f, options, ["argnums"]), options);
}

function zerosArray(x: NdArray): NdArray {
  return x.mul(0);
}

function zerosTreeLike(t: unknown): unknown {
  const [leaves, def] = flatten<unknown>(t);
  return unflatten(
    def,
    leaves.map((l) => (typeof l === "number" ? 0 : zerosArray(l as NdArray))),
  );
}
