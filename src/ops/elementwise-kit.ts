/**
 * What every elementwise primitive shares: operands of one shape, a kernel declared as a scalar
 * expression tree (core/expr.ts), and the batching rule. From the tree come the eager kernel and the JS
 * fused loop (./expr-js.ts), the WebAssembly SIMD fused loop (compiler/expr-wasm.ts), the output dtype and
 * constant folding; no other file knows what the op computes. A primitive built here still declares its
 * own derivative rules in its own file.
 *
 * Declaring an op: `kernel` maps the operands (expressions of their dtypes) and the params to the tree of
 * one output element, built with core/expr.ts (`add`, `mul`, `exp`, `select`, `cast`, comparisons, ...;
 * JS numbers become constants of the other operand's dtype). Every float32 node rounds and every int32
 * node wraps, whichever kernel runs, so jit gives eager's bits. A fused loop runs in wasm when every node
 * of every tree in it has a wasm rendering for its dtype; a node without one (sinh, a `call`) only sends
 * its loop to JS, and `jit(f).lower(...)` says so. For example, log(1 + exp(x)) without overflow:
 *
 * ```ts
 * import * as ex from "../core/expr.js";
 *
 * export const softplusPrim: ElementwisePrimitive = elementwisePrimitive({
 *   name: "softplus",
 *   arity: 1,
 *   accepts: ["float32", "float64"],
 *   // max(x, 0) + log1p(exp(-|x|))
 *   kernel: ([x]) => ex.add(ex.max(x, 0), ex.log1p(ex.exp(ex.neg(ex.abs(x))))),
 *   jvp: ([x], [t]) => ({
 *     primalsOut: [softplusPrim.bind1([x], {})],
 *     tangentsOut: [mul(t, logisticPrim.bind1([x], {}))],
 *   }),
 * });
 * ```
 */

import { type AbstractValue, ConcreteArray, type NdArray } from "../core/array.js";
import { type DType, isHalf, isInteger, NARROW_DTYPES, storageFor, type TypedArray } from "../core/dtype.js";
import { cast, type Expr, ExprError, input } from "../core/expr.js";
import {
  type BatchDim,
  type JvpResult,
  type Primitive,
  type PrimitiveRules,
  paramsKey,
  primitive,
  type UndefinedPrimal,
} from "../core/primitive.js";
import { fmtShape, ShapeError, shapeEquals, sizeOf } from "../core/shape.js";
import { elementwiseLoop } from "./expr-js.js";
import { exprToOnnx } from "./expr-onnx.js";
import { broadcastInDimPrim, moveAxisTo0 } from "./layout.js";

/** One output element as an expression of the operands (`operands[k]` is operand k, of its dtype). */
export type ElementwiseKernel<P = unknown> = (operands: readonly Expr[], params: P) => Expr;

/**
 * Where one operand's elements are drawn for the gradient laws (testing's ElementOptions: min, max, avoid,
 * margin), plus `zeros` (some elements exactly 0, where the op has a branch at 0) and `values` (drawn from
 * these and held fixed, not differentiated: the step of heaviside).
 */
export interface OperandDomain {
  readonly min?: number;
  readonly max?: number;
  readonly avoid?: readonly number[];
  readonly margin?: number;
  readonly zeros?: boolean;
  readonly values?: readonly number[];
}

/**
 * The domain an elementwise op's gradient laws draw from: where it is smooth, away from its poles and
 * kinks. laws/registry-table.ts builds the op's entry from it, so a new op needs no entry of its own.
 */
export interface LawDomain {
  /** One per operand. */
  readonly operands: readonly OperandDomain[];
  /** The derivative is zero wherever it exists (trunc) or the output is not a float (isinf). */
  readonly flat?: boolean;
  /** Smooth enough for second derivatives on the domain (default true). */
  readonly secondOrder?: boolean;
  /** Operand groups the op is jointly linear in: its transpose rule is checked directly. */
  readonly linearIn?: readonly (readonly number[])[];
  /** Why the domain looks the way it does. */
  readonly note?: string;
}

export interface ElementwiseSpec<P = unknown> {
  readonly arity: number;
  /** The input dtypes the op accepts (undefined: any). */
  readonly accepts: readonly DType[] | undefined;
  /** Whether the first operand may have another dtype (select's bool condition). */
  readonly mixedDtypes: boolean;
  /** The domain of the gradient laws, where the op declares one. */
  readonly laws?: LawDomain;
  /** The declared kernel. */
  readonly kernel: ElementwiseKernel<P>;
  /** The kernel's tree for operands of these dtypes (built once per dtypes and params). */
  tree(dtypes: readonly DType[], params: P): Expr;
}

export interface ElementwiseRules<P> {
  name: string;
  arity: number;
  /** The kernel, as an expression tree; its dtype is the output's. */
  kernel: ElementwiseKernel<P>;
  /** Allowed input dtypes; others throw a clear error. Default: any. */
  accepts?: readonly DType[];
  /** Input dtypes may differ (select: the condition is bool). */
  mixedDtypes?: boolean;
  /**
   * The kernel takes float16/bfloat16 operands as stored (their bits; convert). Other kernels get them
   * cast to float32, and a float32 result is cast back to the operands' half type: the op computes in
   * float32 and rounds once, as numpy on CPUs without half arithmetic.
   */
  readsHalfBits?: boolean;
  jvp: (primals: readonly NdArray[], tangents: readonly NdArray[], params: P) => JvpResult;
  transpose?: PrimitiveRules<P>["transpose"];
  formatParams?: PrimitiveRules<P>["formatParams"];
  compiler?: PrimitiveRules<P>["compiler"];
  /** The domain of the op's gradient laws (laws/registry-table.ts derives its entry from it). */
  laws?: LawDomain;
}

export type ElementwisePrimitive<P = unknown> = Primitive<P> & { readonly elementwise: ElementwiseSpec<P> };

/** Whether a primitive is elementwise (declares its kernel as a tree). */
export function isElementwise(p: Primitive<never> | Primitive<unknown>): p is ElementwisePrimitive<never> {
  return "elementwise" in p;
}

export function elementwisePrimitive<P = Record<string, never>>(
  rules: ElementwiseRules<P>,
): ElementwisePrimitive<P> {
  const { name, arity } = rules;
  const trees = new Map<string, Expr>();
  const tree = (dtypes: readonly DType[], params: P): Expr => {
    let key = "";
    for (let k = 0; k < dtypes.length; k++) key += k === 0 ? dtypes[k] : `,${dtypes[k]}`;
    key += `|${paramsKey(params)}`;
    let t = trees.get(key);
    if (t === undefined) {
      try {
        const operands = dtypes.map((d, k) =>
          isHalf(d) && !rules.readsHalfBits ? cast(input(k, d), "float32") : input(k, d),
        );
        t = rules.kernel(operands, params);
        const main = dtypes[dtypes.length - 1]!;
        if (isHalf(main) && !rules.readsHalfBits && t.dtype === "float32") t = cast(t, main);
      } catch (err) {
        if (err instanceof ExprError)
          throw new ShapeError(`${name}: ${err.message} (operands ${dtypes.join(", ")})`);
        throw err;
      }
      trees.set(key, t);
    }
    return t;
  };
  /** The operands checked (one shape, one dtype unless mixed, an accepted one) and their tree. */
  const checkedTree = (args: readonly AbstractValue[], params: P): Expr => {
    if (args.length !== arity)
      throw new ShapeError(`${name}: expected ${arity} operands, got ${args.length}`);
    const first = args[0]!;
    const dtypes: DType[] = new Array(arity);
    for (let k = 0; k < arity; k++) {
      const a = args[k]!;
      if (!shapeEquals(a.shape, first.shape)) {
        throw new ShapeError(
          `${name}: operand shapes differ: ${args.map((x) => fmtShape(x.shape)).join(" vs ")}`,
        );
      }
      if (!rules.mixedDtypes && a.dtype !== first.dtype) {
        throw new ShapeError(`${name}: operand dtypes differ: ${args.map((x) => x.dtype).join(" vs ")}`);
      }
      dtypes[k] = a.dtype;
    }
    const d = inputDtype(args);
    // Half operands compute in float32, narrow integers as int32 does (wrapping to their width).
    const computed = isHalf(d) ? "float32" : isInteger(d) ? "int32" : d;
    if (rules.accepts && !rules.accepts.includes(computed)) {
      throw new ShapeError(
        `${name}: dtype ${d} is not supported (expected one of ${rules.accepts.join(", ")})`,
      );
    }
    return tree(dtypes, params);
  };
  const prim: Primitive<P> = primitive<P>({
    name,
    abstractEval(args, params) {
      const t = checkedTree(args, params);
      return [{ shape: args[0]!.shape, dtype: t.dtype }];
    },
    impl(args, params) {
      const t = checkedTree(args, params);
      const shape = args[0]!.shape;
      // Constant operands (broadcast scalars, zeros) are read once, not written out element by element.
      const ins: TypedArray[] = new Array(arity);
      let constants = 0;
      // Deferred broadcasts (bias rows, say): read through the broadcast by a wasm loop, else written out.
      let broadcasts = 0;
      for (let k = 0; k < arity; k++) {
        const a = args[k]!;
        const fill = a.constantFill;
        if (fill === undefined) {
          if (a.pendingBroadcastOf !== undefined) broadcasts |= 1 << k;
          else ins[k] = a.storage;
        } else {
          const one = storageFor(a.dtype, 1);
          one[0] = fill;
          ins[k] = one;
          constants |= 1 << k;
        }
      }
      if (constants === (1 << arity) - 1) {
        // Every operand constant: so is the result, computed once.
        const one = storageFor(t.dtype, 1);
        elementwiseLoop(t, arity)(ins, one, 1);
        return [ConcreteArray.filled(shape, t.dtype, one[0]!)];
      }
      const n = sizeOf(shape);
      const out = storageFor(t.dtype, n);
      const simd = eagerSimd === null ? null : eagerSimd(prim, args, constants, params);
      for (let k = 0; k < arity; k++) {
        if ((broadcasts & (1 << k)) === 0) continue;
        const a = args[k]!;
        ins[k] = simd !== null ? a.pendingBroadcastOf!.source.storage : a.storage;
      }
      if (simd !== null) simd(ins, out);
      else elementwiseLoop(t, arity, constants)(ins, out, n);
      return [new ConcreteArray(shape, t.dtype, out)];
    },
    implRunsAbstractEval: true,
    jvp: rules.jvp,
    batch: (args, dims, params) => [[prim.bind1(alignBatched(args, dims), params)], [0]],
    ...(rules.transpose ? { transpose: rules.transpose } : {}),
    ...(rules.formatParams ? { formatParams: rules.formatParams } : {}),
    ...(rules.compiler ? { compiler: rules.compiler } : {}),
    onnx: (g, inputs, params, inAvals, [out]) => [
      exprToOnnx(
        g,
        name,
        tree(
          inAvals.map((a) => a.dtype),
          params,
        ),
        inputs,
        out!,
      ),
    ],
    // The tree renders every dtype (narrow integers wrap per node, halves compute in float32).
    narrowDtypes: NARROW_DTYPES,
  });
  const spec: ElementwiseSpec<P> = {
    arity,
    accepts: rules.accepts,
    mixedDtypes: rules.mixedDtypes ?? false,
    kernel: rules.kernel,
    tree,
    ...(rules.laws ? { laws: rules.laws } : {}),
  };
  return Object.assign(prim, { elementwise: spec });
}

/**
 * An eager elementwise call's kernel when a faster one than the JS loop serves these operands (the
 * compiler's WebAssembly SIMD loop, compiler/eager-fused.ts), else null. `constants` has bit k set when
 * operand k is a constant array (read from a one-element array); an operand that is a deferred broadcast
 * (`pendingBroadcastOf`) is read from its source through the broadcast. Same bits as the JS loop.
 */
export type EagerElementwiseKernel = <P>(
  prim: Primitive<P>,
  args: readonly ConcreteArray[],
  constants: number,
  params: P,
) => ((ins: readonly TypedArray[], out: TypedArray) => void) | null;

let eagerSimd: EagerElementwiseKernel | null = null;

/** Installs the faster eager kernels (the compiler does, so that ops do not import it). */
export function setEagerElementwiseKernel(kernel: EagerElementwiseKernel): void {
  eagerSimd = kernel;
}

/** The dtype `accepts` checks: that of the last operand (select's condition comes first). */
function inputDtype(args: readonly AbstractValue[]): DType {
  return args[args.length - 1]!.dtype;
}

/** Moves every batch axis to the front, broadcasting unbatched operands along it. */
export function alignBatched(args: readonly NdArray[], dims: readonly BatchDim[]): NdArray[] {
  let size = -1;
  args.forEach((a, i) => {
    const d = dims[i];
    if (d !== null && d !== undefined) size = a.shape[d]!;
  });
  return args.map((a, i) => {
    const d = dims[i];
    if (d !== null && d !== undefined) return moveAxisTo0(a, d);
    return broadcastInDimPrim.bind1([a], {
      shape: [size, ...a.shape],
      broadcastDimensions: a.shape.map((_, j) => j + 1),
    });
  });
}

export type { UndefinedPrimal };
