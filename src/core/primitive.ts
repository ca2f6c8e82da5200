/**
 * A primitive is declared once, with every rule it has (DESIGN.md "The one idea"): the shape rule,
 * the kernel, the forward-mode derivative, the batching rule, and for linear primitives the transpose.
 * The registry lets tools (the laws coverage table, the IR printer) find any primitive by its name.
 */

import type { AbstractValue, ConcreteArray, NdArray } from "./array.js";
import type { CompilerFacts } from "./compiler-facts.js";
import { type DType, DTypeError, NARROW_DTYPES, type TypedArray, WIDE_DTYPES } from "./dtype.js";
import type { Program } from "./ir.js";
import type { OnnxRule } from "./onnx-rule.js";
import { bind } from "./trace.js";

/** A linear input whose value is unknown while transposing (JAX's UndefinedPrimal). */
export class UndefinedPrimal {
  constructor(readonly aval: AbstractValue) {}
}

/** The axis that carries the batch under vmap, or null when the value is not batched. */
export type BatchDim = number | null;

export interface JvpResult {
  primalsOut: NdArray[];
  tangentsOut: NdArray[];
}

/** Context a higher-order primitive's partial-evaluation rule gets (see transforms/partial-eval.ts). */
export interface PartialEvalHooks {
  /** True when the value is known now (computable before the linear part runs). */
  isKnown(x: NdArray): boolean;
}

/**
 * How many inputs (or outputs) a primitive has, as a tuple type whose length is all that counts:
 * `[x: unknown, y: unknown]` for two, `[pred: unknown, ...operands: unknown[]]` for one or more, and the
 * default `readonly unknown[]` for any number. Rules then receive one value per input as a tuple, so
 * `jvp: ([x, y], [tx, ty]) => …` destructures to arrays, not possibly-undefined ones. The arity is the
 * promise of the op that binds the primitive (one value per input, as its equations then keep); it is not
 * checked at run time, as the `!`s it replaces were not.
 */
export type Arity = readonly unknown[];

/** One `T` per element of arity `A`: a readonly tuple for a tuple arity, `readonly T[]` for the default. */
export type PerInput<T, A extends Arity> = { readonly [K in keyof A]: T };

/**
 * The rules of a primitive with params `P`, `In` inputs and `Out` outputs (see Arity; both default to
 * any number). The arities only type what the rules receive, so a `PrimitiveRules<P, [x: unknown]>` is
 * still a `PrimitiveRules<P>` for the code that runs any primitive.
 */
export interface PrimitiveRules<P, In extends Arity = Arity, Out extends Arity = Arity> {
  readonly name: string;
  /** Output shapes and dtypes; throws a ShapeError naming the op, the shapes and what was expected. */
  abstractEval(args: PerInput<AbstractValue, In>, params: P): AbstractValue[];
  /** The kernel on concrete arrays. */
  impl(args: PerInput<ConcreteArray, In>, params: P): ConcreteArray[];
  /**
   * `impl` checks its operands with `abstractEval` itself (or knows they pass, from a cache keyed by their
   * shapes, dtypes and params), so eager evaluation does not run the shape rule first.
   */
  readonly implRunsAbstractEval?: boolean;
  /**
   * Forward-mode derivative, written with other primitives. Tangents come instantiated (zeros where the
   * input's tangent is zero; integer and bool inputs get zeros of their own dtype, to be ignored).
   */
  jvp(primals: PerInput<NdArray, In>, tangents: PerInput<NdArray, In>, params: P): JvpResult;
  /** The batching rule: batch dims in, batch dims out (at least one input is batched). */
  batch(args: PerInput<NdArray, In>, dims: PerInput<BatchDim, In>, params: P): [NdArray[], BatchDim[]];
  /**
   * Linear primitives only: the cotangent of each input from the cotangents of the outputs. Linear inputs
   * arrive as UndefinedPrimal; return null for inputs the primitive is not linear in.
   */
  transpose?(
    cts: PerInput<NdArray, Out>,
    args: PerInput<NdArray | UndefinedPrimal, In>,
    params: P,
  ): (NdArray | null)[];
  /**
   * A kernel specialised at jit compile time for these shapes, writing into buffers the memory planner
   * assigned (no allocation per call). Without it the executor calls `impl` and copies.
   */
  lower?(
    inAvals: PerInput<AbstractValue, In>,
    outAvals: PerInput<AbstractValue, Out>,
    params: P,
    context: KernelContext,
  ): Kernel<In, Out>;
  /**
   * The kernel of a jit plan on the WebGPU backend (backend/webgpu): WGSL for these shapes. Without it a
   * plan that needs the primitive does not run on WebGPU (the error, or jit's fallback, names it).
   */
  webgpu?(
    inAvals: PerInput<AbstractValue, In>,
    outAvals: PerInput<AbstractValue, Out>,
    params: P,
  ): WebgpuKernelSpec;
  /**
   * When some inputs are unknown during partial evaluation (linearize/vjp): how to proceed instead of
   * recording the primitive whole. Call-like primitives (jit) inline their program here.
   */
  partialEval?(tracers: PerInput<NdArray, In>, params: P): NdArray[];
  /** Call-like primitives (jit, customVjp): the program they run, for the jit compiler to inline. */
  inlineProgram?(inAvals: PerInput<AbstractValue, In>, params: P): { program: Program; consts: NdArray[] };
  /**
   * The primitive only checks its input's values when it runs and is the identity otherwise (a label
   * check): a jitted plan runs it as early as its inputs allow, so a bad value fails the call before the
   * plan writes over any donated buffer.
   */
  readonly validatesOnly?: boolean;
  /**
   * The primitive has an effect beyond its outputs (it prints, calls back into JS, or throws on a value),
   * so it must run, and in program order among the other effects, even when nothing reads its outputs:
   * dead-code elimination, CSE and constant folding keep such equations (core/effects.ts). A primitive
   * whose params hold programs (jit, cond, scan) has the effects of those programs without declaring this.
   */
  readonly hasSideEffects?: (params: P) => boolean;
  /** Parameters as shown by the IR printer (default: the params object as JSON). */
  formatParams?(params: P): string;
  /**
   * The dtypes of `NARROW_DTYPES` (uint8, int8, uint16, int16, uint32, float16, bfloat16) that the
   * primitive's rules and kernels handle: all of them for primitives that only move elements (reshape,
   * slice, gather) or declare their kernel as an expression tree. Binding it to an operand of another
   * narrow dtype throws a DTypeError naming the primitive and the dtype (default: none are handled).
   */
  readonly narrowDtypes?: readonly DType[];
  /**
   * How the primitive computes on narrow operands it does not handle (`narrowDtypes`): `bind` converts
   * them to a wide dtype, binds the primitive on those, and converts the outputs back to the operands'
   * narrow dtype (except `indexOutputs`). float16/bfloat16 compute in float32 (rounded once per op, as
   * numpy on CPUs); 8- and 16-bit integers in int32; uint32 in int32 where the op is arithmetic modulo
   * 2**32 (`"modular"`: sums, products, matmul, convolutions wrap as numpy's uint32 does) or in float64
   * where it orders values (`"ordered"`: max, sort; exact). `"float"`: only float16/bfloat16 are
   * computed in float32; narrow integers are refused (a factorization's factors are not integers, and
   * rounding them back into an integer dtype would be a silent wrong answer).
   */
  readonly widenNarrow?: {
    readonly kind: "modular" | "ordered" | "float";
    readonly indexOutputs?: readonly number[];
  };
  /** What the jit compiler may know of it: aliasing, algebraic rewrites, GEMM transposes (core/compiler-facts.ts). */
  readonly compiler?: CompilerFacts<P>;
  /**
   * The ONNX nodes that compute it (onnx/export.ts; core/onnx-rule.ts). Without it the exporter inlines
   * a call-like primitive's `inlineProgram` or throws an OnnxExportError naming the primitive.
   */
  readonly onnx?: OnnxRule<P>;
}

export interface Primitive<P = unknown, In extends Arity = Arity, Out extends Arity = Arity>
  extends PrimitiveRules<P, In, Out> {
  bind(args: readonly NdArray[], params: P): NdArray[];
  bind1(args: readonly NdArray[], params: P): NdArray;
}

/**
 * A WebGPU compute kernel (a primitive's `webgpu` rule, or one the WebGPU plan compiler writes): WGSL with
 * an entry point `main` whose storage buffers are bound at group 0, the inputs first (bindings 0, 1, ...)
 * and then the outputs, and the workgroups to dispatch. Plain data: core knows nothing of GPU objects.
 */
export interface WebgpuKernelSpec {
  /** What plan listings call it. */
  readonly label: string;
  readonly code: string;
  readonly workgroups: readonly [number, number, number];
}

/**
 * What a kernel being lowered may ask of the plan it goes into (backend/plan-memory.ts): scratch space in
 * the plan's one memory, that memory itself once the plan is laid out, and which operands live in it.
 */
export interface KernelContext {
  /** Whether the plan's memory is a WebAssembly memory (else wasm kernels cannot run on it). */
  readonly wasm: boolean;
  /** Whether that memory is shared (worker threads); modules must import it with the same flag. */
  readonly shared: boolean;
  /** Reserves `bytes` of the plan's memory for this kernel alone; returns the byte offset (64-aligned). */
  reserve(bytes: number): number;
  /** The plan's memory, from the kernel's first run on (the plan is laid out after every kernel is lowered). */
  memory(): PlanMemoryView;
  /** Whether input `k` (output `k`) is a view on the plan's memory; other operands are plain arrays. */
  inputResident(k: number): boolean;
  outputResident(k: number): boolean;
  /** One value per key and plan, e.g. compiled code that two kernels of the same plan share. */
  perPlan<T>(key: string, make: () => T): T;
  /** The plan's buffer for the primitive's `compiler.derivedInput`; absent outside a plan (the kernel reserves its own). */
  readonly derivedInput?: PlannedDerivedInput | undefined;
  /**
   * Compiles a program the primitive runs (a loop's body or condition, a branch) into a plan of its own,
   * once, with the compiler that compiles this plan, laid out in this plan's memory; the printed plan shows
   * it under the step as `label`. Absent outside a jit plan.
   */
  readonly compileSubPlan?:
    | ((label: string, program: Program, options?: SubPlanOptions) => SubPlan)
    | undefined;
  /**
   * Whether input `k` is one of a loop body's invariants (`SubPlanOptions.invariantInputs`): the same
   * buffer with the same values on every run of the sub-plan until `SubPlan.invariantsChanged`, so the
   * kernel may derive something from it once for many runs (a GEMM packs such a B once per loop).
   * Absent outside such a sub-plan.
   */
  readonly inputInvariant?: ((k: number) => boolean) | undefined;
  /** Registers `reset`, called whenever the invariant inputs take new values (`SubPlan.invariantsChanged`). */
  readonly onInvariantsChanged?: ((reset: () => void) => void) | undefined;
}

/** How a sub-program is run (`KernelContext.compileSubPlan`). */
export interface SubPlanOptions {
  /**
   * Its first `invariantInputs` inputs keep their buffers and values from one `runInto` to the next until
   * `SubPlan.invariantsChanged` is called (a loop's consts: the caller calls it once per loop).
   */
  readonly invariantInputs?: number;
}

/**
 * A compiled sub-program (see `KernelContext.compileSubPlan`). `runInto` runs it on views of the plan
 * memory (the kernel stages operands that live elsewhere) and its kernels write the outputs straight into
 * `outs`, which must not overlap `args`: a loop writes its rows and carries in place, allocating nothing.
 */
export interface SubPlan {
  runInto(args: readonly TypedArray[], outs: readonly TypedArray[]): void;
  /** The invariant inputs (`SubPlanOptions.invariantInputs`) have new values or buffers from the next run on. */
  invariantsChanged(): void;
}

/** The buffer the memory plan gives a kernel for its `derivedInput` (core/compiler-facts.ts). */
export interface PlannedDerivedInput {
  /** Byte offset in the plan memory. */
  readonly offset: number;
  /** Whether this kernel fills it; else an earlier step of the same run filled it from the same input. */
  readonly fill: boolean;
}

/** A WebAssembly.Memory, as far as kernels use it (the compiler settings carry no DOM library). */
export interface WasmMemory {
  /** A SharedArrayBuffer for a shared memory. */
  readonly buffer: ArrayBuffer;
}

/** The plan's memory as kernels see it at run time. */
export interface PlanMemoryView {
  /** The WebAssembly.Memory (null on the JS backend). */
  readonly wasm: WasmMemory | null;
  /** Its bytes: every resident operand is a view on this buffer. */
  readonly buffer: ArrayBuffer;
}

/** A compiled kernel: reads `ins`, writes every element of `outs` (one array per input and output). */
export type Kernel<In extends Arity = Arity, Out extends Arity = Arity> = {
  // Declared as a method so that a kernel of a known arity still is a Kernel to the executor, which
  // passes one array per operand: TypeScript compares a method's parameters both ways.
  run(ins: PerInput<TypedArray, In>, outs: PerInput<TypedArray, Out>): void;
}["run"];

/**
 * Params as a cache or CSE key: JSON, with NaN, ±Infinity and -0 kept apart (plain JSON writes the first
 * three as null, so `x ** NaN` and `x ** Infinity` would share a kernel). Functions throw "unkeyable".
 */
export function paramsKey(params: unknown): string {
  // Eager calls key their kernel by their params on every call: plain data (what params almost always
  // are) is written directly, the same text as the JSON below, which handles everything else.
  const fast = plainDataKey(params);
  return fast ?? jsonParamsKey(params);
}

/**
 * `jsonParamsKey`'s text for numbers, strings, booleans, null, and arrays and plain objects of them;
 * undefined for anything else (functions, class instances, undefined at the top, toJSON methods).
 */
function plainDataKey(v: unknown): string | undefined {
  switch (typeof v) {
    case "number":
      return Number.isFinite(v) && !Object.is(v, -0) ? String(v) : undefined;
    case "string":
      return JSON.stringify(v);
    case "boolean":
      return v ? "true" : "false";
    case "object": {
      if (v === null) return "null";
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return undefined;
        let out = "[";
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          const text = item === undefined ? "null" : plainDataKey(item);
          if (text === undefined) return undefined;
          out += i === 0 ? text : `,${text}`;
        }
        return `${out}]`;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return undefined;
      const record = v as Record<string, unknown>;
      if (typeof record.toJSON === "function") return undefined;
      let out = "{";
      let first = true;
      for (const k in record) {
        if (!Object.hasOwn(record, k)) continue;
        const item = record[k];
        if (item === undefined) continue;
        const text = plainDataKey(item);
        if (text === undefined) return undefined;
        out += `${first ? "" : ","}${JSON.stringify(k)}:${text}`;
        first = false;
      }
      return `${out}}`;
    }
    default:
      return undefined;
  }
}

function jsonParamsKey(params: unknown): string {
  return JSON.stringify(params, (_k, v: unknown) => {
    if (typeof v === "function") throw new Error("unkeyable");
    if (typeof v === "number" && (!Number.isFinite(v) || Object.is(v, -0)))
      return { nonFiniteNumber: Object.is(v, -0) ? "-0" : String(v) };
    // A class instance (a loop body's Program, say) is keyed by identity: its JSON drops how its
    // variables are wired, so two different programs could print alike.
    if (typeof v === "object" && v !== null && !isPlainData(v)) return { instance: instanceId(v) };
    return v;
  });
}

const instanceIds = new WeakMap<object, number>();
let nextInstanceId = 0;

function instanceId(v: object): number {
  let id = instanceIds.get(v);
  if (id === undefined) instanceIds.set(v, (id = nextInstanceId++));
  return id;
}

function isPlainData(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === Array.prototype || proto === null;
}

const registry = new Map<string, Primitive<never>>();

/** Declares a primitive; its name must be unique. */
export function primitive<P, In extends Arity = Arity, Out extends Arity = Arity>(
  rules: PrimitiveRules<P, In, Out>,
): Primitive<P, In, Out> {
  if (registry.has(rules.name)) throw new Error(`primitive ${rules.name} is declared twice`);
  const handled = new Set<DType>([...WIDE_DTYPES, ...(rules.narrowDtypes ?? [])]);
  const handlesAll = NARROW_DTYPES.every((d) => handled.has(d));
  const widen = rules.widenNarrow;
  const bindAny = widen
    ? (args: readonly NdArray[], params: P): NdArray[] => {
        for (const a of args) {
          if (handled.has(a.dtype)) continue;
          if (widen.kind === "float" && a.dtype !== "float16" && a.dtype !== "bfloat16")
            throw new DTypeError(
              `${rules.name}: ${a.dtype} operands are not supported (it takes float32, float64, float16, bfloat16); astype("float32") first`,
            );
          return bindWidened(prim, args, params, handled, widen);
        }
        return bind(prim, args, params);
      }
    : (args: readonly NdArray[], params: P): NdArray[] => bind(prim, args, params);
  const prim: Primitive<P, In, Out> = {
    ...rules,
    // Primitives that handle every dtype (elementwise, data movement) skip the check.
    abstractEval: handlesAll
      ? rules.abstractEval
      : (args, params) => {
          for (const a of args as readonly AbstractValue[])
            if (!handled.has(a.dtype)) refuse(rules.name, a.dtype, handled);
          return rules.abstractEval(args, params);
        },
    bind: bindAny,
    bind1: (args, params) => bindAny(args, params)[0]!,
  };
  registry.set(rules.name, prim as unknown as Primitive<never>);
  return prim;
}

type Converter = (x: NdArray, dtype: DType) => NdArray;
let convert: Converter | null = null;

/** Sets how `widenNarrow` converts (the convert primitive, declared above this layer: ops/binary.ts). */
export function setNarrowConverter(converter: Converter): void {
  convert = converter;
}

function wideDtypeOf(dtype: DType, kind: "modular" | "ordered" | "float"): DType {
  if (dtype === "float16" || dtype === "bfloat16") return "float32";
  return dtype === "uint32" && kind === "ordered" ? "float64" : "int32";
}

function bindWidened<P>(
  prim: Primitive<P>,
  args: readonly NdArray[],
  params: P,
  handled: ReadonlySet<DType>,
  widen: NonNullable<PrimitiveRules<P>["widenNarrow"]>,
): NdArray[] {
  if (convert === null) throw new Error(`${prim.name}: no converter for narrow dtypes`);
  const narrow = args.find((a) => !handled.has(a.dtype))!.dtype;
  const wide = wideDtypeOf(narrow, widen.kind);
  const outs = bind(
    prim,
    args.map((a) => (handled.has(a.dtype) ? a : convert!(a, wideDtypeOf(a.dtype, widen.kind)))),
    params,
  );
  return outs.map((o, k) => (o.dtype === wide && !widen.indexOutputs?.includes(k) ? convert!(o, narrow) : o));
}

function refuse(name: string, dtype: DType, handled: ReadonlySet<DType>): never {
  const narrow = NARROW_DTYPES.filter((d) => handled.has(d));
  throw new DTypeError(
    `${name}: ${dtype} operands are not supported (it takes ${[...WIDE_DTYPES, ...narrow].join(", ")}); astype("${dtype === "float16" || dtype === "bfloat16" ? "float32" : "int32"}") first`,
  );
}

/** Every declared primitive, by name. */
export function primitives(): ReadonlyMap<string, Primitive<never>> {
  return registry;
}

export function formatParams<P>(prim: Primitive<P>, params: P): string {
  if (prim.formatParams) return prim.formatParams(params);
  if (params === null || params === undefined || typeof params !== "object") return "";
  const entries = Object.entries(params as Record<string, unknown>).filter(
    ([, v]) => v !== undefined && typeof v !== "function",
  );
  return entries.map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : String(v)}`).join(" ");
}
