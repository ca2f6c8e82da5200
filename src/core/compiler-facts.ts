/**
 * What the jit compiler may know about a primitive beyond its kernel, declared with the primitive (the
 * `compiler` field of its rules): whether its output is a view of an input, the algebraic rewrites of
 * equations it is the root of, whether it is a matrix product that reads a transposed operand in
 * place, and scratch derived from an input that another step may reuse. This file holds the types only; the facts are written in the op files (ops/layout.ts,
 * ops/linalg.ts, ...) and applied by the generic passes in src/compiler.
 *
 * A rewrite rule is a pattern over one equation and what is known of its operands (the constant every
 * element holds, the equation that produced it) and a replacement, like tinygrad's PatternMatcher
 * (a `UPat` and a function). The simplifier keys the rules by primitive object and, for each equation,
 * applies the first rule of its primitive that matches; nothing in the compiler names an op.
 */
import type { AbstractValue } from "./array.js";
import type { DType } from "./dtype.js";
import type { Atom, Equation, Var } from "./ir.js";
import type { Primitive } from "./primitive.js";

export interface CompilerFacts<P> {
  /**
   * The output holds this input's elements in the same order (a reshape): the plan gives the output that
   * input's buffer and runs nothing.
   */
  readonly aliasesInput?: number;
  /**
   * When input 0 holds one value in every element, the output does too (a broadcast): the simplifier
   * tracks that value for the patterns of later equations (`constant` in an OperandPattern).
   */
  readonly keepsConstant?: boolean;
  /**
   * Rewrites of equations of this primitive, tried in order; the first that matches applies. A function,
   * so that the rules may name the primitive being declared (`producedBy`) and ones declared after it.
   */
  readonly rewrites?: () => readonly RewriteRule<P>[];
  /**
   * Rewrites of equations of other primitives that this one knows (matmul knows that (A·B)ᵀ = Bᵀ·Aᵀ,
   * a rule rooted at transpose). They are tried before the root's own rules.
   */
  readonly rewritesOf?: () => readonly RootedRewriteRule[];
  /** The primitive is a matrix product that one GEMM computes, reading either operand transposed. */
  readonly gemm?: GemmFact;
  /**
   * How a fused elementwise loop takes an equation of this (non-elementwise) primitive in: a broadcast
   * becomes an indexed load of input 0 (params `shape`, `broadcastDimensions`); a reduction of a loop
   * value over `axes` is accumulated inside the loop with its monoid.
   */
  readonly fusion?: FusionFact;
  /**
   * Scratch the lowered kernel derives from one of its inputs that kernels of other equations may share
   * (conv2d and conv2d_weight_grad both unroll x into the same columns): the memory planner gives the
   * kernels of one key one buffer, and tells a kernel that finds it holding its input's columns from an
   * earlier step of the same run not to fill it again (`KernelContext.derivedInput`). Null: none here.
   */
  derivedInput?(
    inAvals: readonly AbstractValue[],
    outAvals: readonly AbstractValue[],
    params: P,
  ): DerivedInput | null;
}

/** See `CompilerFacts.fusion`. */
export type FusionFact =
  | { readonly kind: "broadcast" }
  | { readonly kind: "reduction"; readonly monoid: "sum" | "max" | "min" };

/** Scratch a kernel derives from one of its inputs (the `derivedInput` fact), e.g. an unrolled conv input. */
export interface DerivedInput {
  /** The input it is derived from. */
  readonly input: number;
  /** Kernels with equal keys derive equal contents from the same input, in a buffer of equal size. */
  readonly key: string;
  readonly bytes: number;
  /** Whether the buffer holds all of it afterwards (else a part, e.g. the last group's: never reused). */
  readonly reusable: boolean;
  /** What the printed plan calls it. */
  readonly label: string;
}

/** What an operand of an equation must be for a rule to match. */
export interface OperandPattern {
  /**
   * Every element holds this value (compared with Object.is, so -0 is not 0), or any one known value.
   * Known: a scalar literal, a broadcast of one, or a value an earlier rewrite found constant.
   */
  readonly constant?: number | "any";
  /** Has the output's shape and dtype (so the output may be this operand itself). */
  readonly likeOutput?: true;
  /** Is computed by an equation of this primitive in the program (`producers` in the match). */
  readonly producedBy?: Primitive<never>;
  /** Is read by this equation alone (in the program as traced), and is no program output. */
  readonly onlyUse?: true;
}

/** One equation that the operand patterns of a rule matched, as its `when` and `rewrite` see it. */
export interface RewriteMatch<P> {
  readonly equation: Equation;
  readonly params: P;
  /** The inputs, already renamed to what earlier rewrites replaced them by. */
  readonly inputs: readonly Atom[];
  /** The first output (every rewritten primitive has one). */
  readonly output: Var;
  /** Per operand: the value every element holds, when known. */
  readonly constants: readonly (number | undefined)[];
  /** Per operand: the equation that computes it, when it is computed in the program so far. */
  readonly producers: readonly (Equation | undefined)[];
  /** The equation that computes any value in the program so far (undefined for inputs and literals). */
  producer(x: Atom): Equation | undefined;
}

/** What a matched equation becomes. */
export type Rewrite =
  /** The output is this existing value (x * 1 -> x); the equation goes. */
  | { readonly kind: "operand"; readonly atom: Atom }
  /**
   * Every element of the output holds this value: the equation becomes a fill of a literal. Applies to
   * single-output float equations only; for others the rule does not match and the next one is tried.
   */
  | { readonly kind: "constant"; readonly value: number }
  /** These equations, in order, compute the equation's outputs instead (they are not simplified again). */
  | { readonly kind: "equations"; readonly equations: readonly Equation[] };

export interface RewriteRule<P> {
  /** The identity it applies, for readers and failure messages: "x + (-0) -> x". */
  readonly law: string;
  /** Patterns of the operands by position (null or missing: anything). */
  readonly operands?: readonly (OperandPattern | null)[];
  /** What the operand patterns cannot say (params, sizes, the producers' params). */
  readonly when?: (m: RewriteMatch<P>) => boolean;
  readonly rewrite: (m: RewriteMatch<P>) => Rewrite;
}

/** A rule for equations of `root`, declared by another primitive (see CompilerFacts.rewritesOf). */
export interface RootedRewriteRule {
  readonly root: Primitive<never>;
  readonly rule: RewriteRule<never>;
}

/** Declares a rule rooted at another primitive, typed by that primitive's params. */
export function rewriteOf<Q>(root: Primitive<Q>, rule: RewriteRule<Q>): RootedRewriteRule {
  return { root: root as unknown as Primitive<never>, rule: rule as unknown as RewriteRule<never> };
}

/** A matrix product C = A·B computed by one GEMM step, of `batch` matrices each (1: a 2-D product). */
export interface GemmDims {
  readonly batch: number;
  readonly m: number;
  readonly k: number;
  readonly n: number;
  readonly dtype: DType;
}

/**
 * How a matrix product absorbs transposes: the GEMM reads A or B stored transposed, and (A·B)ᵀ = Bᵀ·Aᵀ,
 * so a matrix transpose that only feeds the product, or only reads its result, need not run.
 */
export interface GemmFact {
  /** The sizes of the product when this equation is one GEMM (A [batch.., m, k] @ B [batch.., k, n]); null otherwise. */
  dims(e: Equation): GemmDims | null;
  /**
   * When `e` is a transpose the GEMM can fold into itself (of the last two axes, any batch axes in place):
   * the array it transposes.
   */
  transposedMatrix(e: Equation): Var | null;
}

/** An equation of `primitive`, its params checked against the primitive's type (for rules that emit equations). */
export function makeEquation<P>(
  primitive: Primitive<P>,
  params: P,
  inputs: readonly Atom[],
  outputs: readonly Var[],
): Equation {
  return { primitive: primitive as Primitive<unknown>, params, inputs, outputs };
}

/** The input whose buffer the output of `e` is a view of (CompilerFacts.aliasesInput), if any. */
export function aliasedInput(e: Equation): Atom | undefined {
  const k = e.primitive.compiler?.aliasesInput;
  return k === undefined ? undefined : e.inputs[k];
}
