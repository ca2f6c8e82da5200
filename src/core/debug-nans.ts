/**
 * NaN checking (JAX's `jax_debug_nans`): while `setDebugNans(true)` is on, every primitive's float outputs
 * are scanned when it runs, eagerly here (core/trace.ts `evalPrimitive`) and after each step of a jitted
 * plan (compiler/nan-check.ts), and the first primitive that produced a NaN throws a FloatingPointError
 * naming it, its operand shapes and the user's call site. Off, it costs one flag read per eager primitive
 * and one per plan run.
 */
import { type AbstractValue, fmtAval } from "./array.js";
import type { DType, TypedArray } from "./dtype.js";
import { fmtShape, stridesOf } from "./shape.js";

/**
 * Thrown while `setDebugNans(true)` is on by the first primitive whose output holds a NaN (JAX's
 * FloatingPointError: "invalid value (nan) encountered in log"). The message names the primitive, its
 * operands' shapes and dtypes, the first NaN's index and, where known, the line of user code that called it.
 */
export class FloatingPointError extends Error {
  override name = "FloatingPointError";
  constructor(
    message: string,
    /** The primitive that produced the NaN. */
    readonly primitive: string,
  ) {
    super(message);
  }
}

/** The flag, read directly by the hot paths (a live binding); set it with `setDebugNans`. */
export let debugNansEnabled = false;

/**
 * Turns NaN checking on or off (JAX's `jax.config.update("jax_debug_nans", True)`): while on, the first
 * primitive that produces a NaN, eagerly or inside a jitted function's plan, throws a FloatingPointError
 * naming it, its operand shapes and the line of your code that called it. Functions traced while it is on
 * also record each operation's call site. Returns the previous setting.
 */
export function setDebugNans(on: boolean): boolean {
  if (typeof on !== "boolean") throw new TypeError(`setDebugNans: expected true or false, got ${String(on)}`);
  const previous = debugNansEnabled;
  debugNansEnabled = on;
  return previous;
}

/** The index of the first NaN in float storage, or -1 (integer and bool storage hold none). */
export function firstNan(dtype: DType, data: TypedArray): number {
  const isNan = nanTest(dtype);
  if (!isNan) return -1;
  for (let i = 0; i < data.length; i++) if (isNan(data[i]!)) return i;
  return -1;
}

/**
 * How a stored element of `dtype` is tested for NaN, or null for dtypes without one. float16 and bfloat16
 * are stored as their bits: a NaN has an all-ones exponent and a non-zero mantissa.
 */
function nanTest(dtype: DType): ((stored: number) => boolean) | null {
  switch (dtype) {
    case "float32":
    case "float64":
      return Number.isNaN;
    case "float16":
      return (bits) => (bits & 0x7c00) === 0x7c00 && (bits & 0x03ff) !== 0;
    case "bfloat16":
      return (bits) => (bits & 0x7f80) === 0x7f80 && (bits & 0x007f) !== 0;
    default:
      return null;
  }
}

/** An operand as the check sees it: its shape and dtype and its storage. */
export interface CheckedValue {
  readonly aval: AbstractValue;
  readonly storage: TypedArray;
}

/**
 * Throws a FloatingPointError if an output of `primitive` holds a NaN. `site` is the user's call site
 * (a captured Error whose stack is read only on failure); `where` says in which plan step, for jit.
 */
export function checkOutputsForNans(
  primitive: string,
  inAvals: readonly AbstractValue[],
  outputs: readonly CheckedValue[],
  site: { readonly stack?: string | undefined } | undefined,
  where = "",
): void {
  for (let k = 0; k < outputs.length; k++) {
    const { aval, storage: data } = outputs[k]!;
    const at = firstNan(aval.dtype, data);
    if (at < 0) continue;
    let count = 0;
    const isNan = nanTest(aval.dtype)!;
    for (let i = at; i < data.length; i++) if (isNan(data[i]!)) count++;
    const line = userLine(site?.stack ?? new Error().stack);
    throw new FloatingPointError(
      `invalid value (nan) encountered in ${primitive}${where}: output ${k} ${fmtAval(aval)} has ${count} NaN of ${data.length} ` +
        `(first at index ${fmtShape(unravel(at, aval.shape))}); inputs ${inAvals.map(fmtAval).join(", ") || "none"}` +
        (line ? `\n    called at ${line}` : "") +
        "\n(setDebugNans(true) is on; turn it off with setDebugNans(false))",
      primitive,
    );
  }
}

/** A stack captured for `checkOutputsForNans`, with room for the frames below the library's own. */
export function captureCallSite(): Error {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 60;
  try {
    return new Error("call site");
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function unravel(flat: number, shape: readonly number[]): number[] {
  const strides = stridesOf(shape);
  return strides.map((s, i) => Math.floor(flat / s) % shape[i]!);
}

/** The folder this library's modules live in (src/ from source; the bundle's folder when built). */
const LIBRARY_ROOT: string = (() => {
  try {
    const path = decodeURIComponent(new URL(import.meta.url).pathname);
    const src = path.lastIndexOf("/src/");
    return src >= 0 ? path.slice(0, src + 5) : path.slice(0, path.lastIndexOf("/") + 1);
  } catch {
    return "";
  }
})();

/** The first frame of a stack that is the user's code (not this library's, not the runtime's), or null. */
export function userLine(stack: string | undefined): string | null {
  if (!stack) return null;
  for (const frame of stack.split("\n").slice(1)) {
    const text = frame.trim().replace(/^at\s+/, "");
    if (LIBRARY_ROOT && text.includes(LIBRARY_ROOT)) continue;
    if (text.includes("node:") || text.includes("node_modules") || !/:\d+:\d+\)?$/.test(text)) continue;
    return text;
  }
  return null;
}
