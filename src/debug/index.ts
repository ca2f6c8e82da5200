/**
 * Debugging inside transforms (JAX's jax.debug): `print` and `callback` run with concrete values from
 * inside `jit`, `grad`, `vmap` and any nesting of them, in program order; `check` throws a CheckError at
 * run time when a predicate fails, from a jitted function too. All three bind one effect primitive
 * (ops/debug-callback.ts): under grad they see primal values once, in the forward pass; under vmap they
 * run once per example. NaN checking is `setDebugNans` (exported at the top level).
 * @module
 */
import { type ConcreteArray, fmtAval, NdArray } from "../core/array.js";
import { captureCallSite, userLine } from "../core/debug-nans.js";
import { type DebugCallbackParams, debugCallbackPrim } from "../ops/debug-callback.js";
import { flatten, unflatten } from "../tree/treedef.js";
import { parseFormat, renderFormat } from "./format.js";

/** Where `print` writes its lines. */
export type PrintSink = (line: string) => void;

const consoleSink: PrintSink = (line) => console.log(line);
let sink: PrintSink = consoleSink;

/**
 * Sends `print`'s lines to `next` instead (to collect them in a test, or into a log); `null` restores the
 * default, `console.log`. Returns the sink that was in place, to put back afterwards.
 */
export function setPrintSink(next: PrintSink | null): PrintSink {
  if (next !== null && typeof next !== "function")
    throw new TypeError(`debug.setPrintSink: expected a function or null, got ${typeof next}`);
  const previous = sink;
  sink = next ?? consoleSink;
  return previous;
}

/**
 * Prints values from inside a transformed function when it runs (JAX's `jax.debug.print`): inside `jit`
 * the line is printed each time the compiled plan runs, not when it is traced; under `grad` it shows the
 * primal values, once; under `vmap` it prints once per example. `fmt` is a Python-style format string:
 * `{}` is the next value, `{0}` a value by position, `{name}` a key of a last plain-object value
 * (`debug.print("x={x}", { x })`); `{{`/`}}` are braces; `{!r}` shows an array's full `toString`, and
 * `{:.3f}` (`.Ne`, `.Ng`) each element with that precision. Values are pytrees of arrays, numbers and
 * strings. Lines go to `console.log`, or to the sink set by `setPrintSink`.
 *
 * @example
 * const f = jit((x: NdArray) => {
 *   debug.print("x = {}", x);
 *   return np.sin(x);
 * });
 * f(np.array([0, 1])); // prints "x = [0., 1.]"
 */
export function print(fmt: string, ...values: unknown[]): void {
  const parsed = parseFormat("debug.print", fmt, values);
  bindEffect("print", fmt, values, (concrete) => sink(renderFormat(parsed, concrete)));
}

/**
 * Calls `fn` with the values' arrays concrete (JAX's `jax.debug.callback`), from inside `jit`, `grad` and
 * `vmap` like `print`: when the function runs, in program order, with primal values under grad and once
 * per example under vmap. `values` are pytrees; `fn` gets them with the same structure. What `fn` returns
 * is ignored; what it throws propagates out of the call of the transformed function.
 */
export function callback<Args extends unknown[]>(fn: (...args: Args) => void, ...values: Args): void {
  if (typeof fn !== "function")
    throw new TypeError(`debug.callback: the first argument must be a function, got ${typeof fn}`);
  bindEffect("callback", fn.name || "anonymous", values, (concrete) => {
    fn(...(concrete as Args));
  });
}

/**
 * Thrown by `debug.check` when its predicate has a false element, when the (possibly jitted) function
 * runs. The message is the check's formatted message, then where the check was written.
 */
export class CheckError extends Error {
  override name = "CheckError";
}

/**
 * Throws a CheckError with `message` when any element of the bool array `pred` is false, when the function
 * runs (checkify-style, but throwing at once): eagerly, or from the compiled plan of a jitted function,
 * where `pred`'s value is only known at run time. `message` is formatted like `print`'s format with
 * `values`, so it can show the offending values: `debug.check(np.all(x.greater(0)), "x must be positive, got {}", x)`.
 * Under vmap each example is checked on its own; under grad the primal values are.
 */
export function check(pred: NdArray, message: string, ...values: unknown[]): void {
  if (!(pred instanceof NdArray))
    throw new TypeError(`debug.check: the predicate must be a bool array, got ${typeof pred}`);
  if (pred.dtype !== "bool")
    throw new TypeError(
      `debug.check: the predicate must be a bool array, got ${fmtAval(pred)} (compare, e.g. x.greater(0), to get one)`,
    );
  const parsed = parseFormat("debug.check", message, values);
  const site = userLine(captureCallSite().stack);
  bindEffect("check", message, [pred, ...values], ([p, ...rest]) => {
    const c = p as ConcreteArray;
    const failed = c.storage.indexOf(0);
    if (failed < 0) return;
    const which = c.size === 1 ? "" : ` (element ${failed} of ${fmtAval(c)} is false)`;
    throw new CheckError(
      `${renderFormat(parsed, rest)}${which}${site ? `\n    debug.check at ${site}` : ""}`,
    );
  });
}

/**
 * Binds the effect primitive on the values' arrays; `run` gets the values rebuilt with those arrays
 * concrete (other leaves, numbers and strings, are kept as they were).
 */
function bindEffect(
  kind: DebugCallbackParams["kind"],
  label: string,
  values: readonly unknown[],
  run: (concrete: unknown[]) => void,
): void {
  const [leaves, def] = flatten(values);
  const arrayLeaves: number[] = [];
  const arrays: NdArray[] = [];
  const kept = leaves.map((leaf, i) => {
    if (!(leaf instanceof NdArray)) return leaf;
    arrayLeaves.push(i);
    arrays.push(leaf);
    return null;
  });
  debugCallbackPrim.bind(arrays, {
    kind,
    label,
    callback: (concrete) => {
      const filled = [...kept];
      arrayLeaves.forEach((i, k) => {
        filled[i] = concrete[k];
      });
      run(unflatten<unknown[]>(def, filled));
    },
  });
}
