/**
 * Eager `valueAndGrad` (and so `grad`) on cached compiled plans: issue 22's fast eager mode. Per call,
 * the function is staged on its concrete inputs (`stageFlatWithValues`: it runs once, as eagerly, and a
 * value it reads is computed then), and the staged program's structure is the cache key: its equations,
 * params, literals and the shapes and dtypes of its inputs and constants, with the kernels plans get now
 * (wasm or JS, relaxed SIMD or not). A structure seen `compileAfter` times is compiled once, forward and
 * backward, into a jit plan, which then runs every call with that structure; colder
 * structures run on the eager tape (tape.ts). The function is staged again on every call, so the
 * constants a call closes over and the values it reads are that call's: caching never reuses what user
 * code computed, only what the structure determines.
 *
 * A plan gives eager evaluation's bits (eager grad equals `jit(grad f)`, laws/jit-equivalence.test.ts).
 * Programs whose params cannot be keyed (functions, as a customVjp's rules) stay on the tape, as do calls
 * with `setDebugNans(true)`, on WebGPU, and functions that keep producing new structures.
 */
import { activeBackendKind, jitOnWebgpuActive, relaxedSimdActive } from "../backend/active.js";
import { compile, type Executable } from "../compiler/executor.js";
import { type AbstractValue, ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { debugNansEnabled } from "../core/debug-nans.js";
import { evalProgram, Literal, type Program, type Var } from "../core/ir.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { paramsKey } from "../core/primitive.js";
import { EffectBeforeRead, type StagedProgram, stageFlatWithValues } from "../core/staging.js";
import { traceDepth } from "../core/trace.js";
import { linearizeFlat } from "./linearize.js";
import { stageClosed } from "./program-transforms.js";
import { tapeVjpFlat } from "./tape.js";

/** What `valueAndGrad` needs of a call: the outputs' checks and the cotangents that seed the backward pass. */
export interface GradSeed {
  /** Throws when the outputs cannot be differentiated (not a float scalar value). */
  check(outs: readonly AbstractValue[]): void;
  /** The output cotangents (1 for the value, null for aux outputs). */
  cotangents(outs: readonly AbstractValue[]): (NdArray | null)[];
}

const settings = { enabled: true, compileAfter: 3 };
/** How many times each uncompiled structure was seen (bounded, oldest dropped first). */
const sightings = new Map<string, number>();
const compiled = new Map<string, CompiledCall>();
const MAX_SIGHTINGS = 256;
const MAX_COMPILED = 16;
/** Plans hold their memory while cached: past this many bytes in all, the least recently used go. */
const MAX_COMPILED_BYTES = 256 * 2 ** 20;
/** A function that made this many structures and compiled none is not staged again (its structure varies). */
const GIVE_UP_AFTER = 16;
const structuresMade = new WeakMap<object, number>();
/** Each function's last keyed program and its key. */
const lastStructure = new WeakMap<object, { kind: string; kernels: string; program: Program; key: string }>();

/** Counts of eager calls by the road they took, and of compilations (for tests). */
export const eagerCompileCounts = { compiled: 0, opByOp: 0, compilations: 0 };

/** `setEagerCompile`'s settings. */
export interface EagerCompileOptions {
  /** Compile repeated eager gradients (default true); false runs every eager gradient op by op on the tape. */
  enabled?: boolean;
  /** After how many calls with one structure it is compiled (default 3). */
  compileAfter?: number;
}

const EAGER_COMPILE_KEYS = optionKeys<EagerCompileOptions>({ enabled: true, compileAfter: true });

/**
 * Sets how eager `grad` and `valueAndGrad` (called outside every transform) run: a function's structure
 * seen `compileAfter` times is compiled into one plan, forward and backward, with the tape's bits.
 * Returns the previous settings, for restoring them.
 */
export function setEagerCompile(options: EagerCompileOptions): Required<EagerCompileOptions> {
  checkOptions("setEagerCompile", options, EAGER_COMPILE_KEYS);
  if (options.enabled !== undefined && typeof options.enabled !== "boolean")
    throw new TypeError(`setEagerCompile: enabled must be a boolean, got ${typeof options.enabled}`);
  const previous = { ...settings };
  if (options.compileAfter !== undefined) {
    if (!Number.isInteger(options.compileAfter) || options.compileAfter < 1)
      throw new RangeError(
        `setEagerCompile: compileAfter must be a positive integer, got ${options.compileAfter}`,
      );
    settings.compileAfter = options.compileAfter;
  }
  if (options.enabled !== undefined) settings.enabled = options.enabled;
  return previous;
}

/** A compiled call: its plan takes [its own constants, the staged constants, inputs] to the outputs. */
interface CompiledCall {
  readonly executable: Executable;
  readonly consts: readonly ConcreteArray[];
  readonly donate: readonly boolean[];
}

/** Whether calls may be staged and compiled: eager, on concrete inputs, nothing asking for op by op. */
function compilable(owner: object, inputs: readonly NdArray[]): boolean {
  return (
    settings.enabled &&
    !debugNansEnabled &&
    traceDepth() === 0 &&
    inputs.every((p) => p instanceof ConcreteArray) &&
    !jitOnWebgpuActive() &&
    (structuresMade.get(owner) ?? 0) < GIVE_UP_AFTER
  );
}

/**
 * The plan for a staged program of kind `kind` once its structure is hot (`build` compiles it), or null
 * while it is cold or cannot be keyed (the caller then runs it op by op).
 */
function hotPlan(
  owner: object,
  kind: string,
  staged: StagedProgram,
  build: () => CompiledCall,
): CompiledCall | null {
  const { program, consts } = staged;
  if (!consts.every((c) => c instanceof ConcreteArray)) return null;
  // A plan keeps the kernels it was compiled with: after setBackend, the structure compiles again.
  const kernels = activeBackendKind() === "wasm" ? (relaxedSimdActive() ? "wasm+fma" : "wasm") : "js";
  // A training loop repeats its last structure: compared in place, without writing its key again.
  const last = lastStructure.get(owner);
  let key: string;
  if (
    last !== undefined &&
    last.kind === kind &&
    last.kernels === kernels &&
    sameStructure(last.program, program)
  )
    key = last.key;
  else {
    const structure = structureKey(program);
    if (structure === null) return null;
    key = `${kind}|${kernels}|${structure}`;
    lastStructure.set(owner, { kind, kernels, program, key });
  }
  let plan = compiled.get(key);
  if (plan !== undefined) {
    compiled.delete(key);
    compiled.set(key, plan);
    return plan;
  }
  const seen = (sightings.get(key) ?? 0) + 1;
  sightings.delete(key);
  if (seen < settings.compileAfter) {
    sightings.set(key, seen);
    if (sightings.size > MAX_SIGHTINGS) sightings.delete(sightings.keys().next().value!);
    if (seen === 1) structuresMade.set(owner, (structuresMade.get(owner) ?? 0) + 1);
    return null;
  }
  plan = build();
  eagerCompileCounts.compilations++;
  structuresMade.delete(owner);
  compiled.set(key, plan);
  let bytes = 0;
  for (const p of compiled.values()) bytes += p.executable.memory.planBytes;
  for (const [oldKey, old] of compiled) {
    if (compiled.size <= 1 || (compiled.size <= MAX_COMPILED && bytes <= MAX_COMPILED_BYTES)) break;
    compiled.delete(oldKey);
    bytes -= old.executable.memory.planBytes;
  }
  return plan;
}

function runPlan(plan: CompiledCall, staged: StagedProgram, inputs: readonly NdArray[]): NdArray[] {
  eagerCompileCounts.compiled++;
  // Every input is concrete (`compilable`, `hotPlan`): the plan runs on them directly, as jit_call's impl.
  const args = [...plan.consts, ...staged.consts, ...inputs] as ConcreteArray[];
  return plan.executable.run(args, plan.donate);
}

/** An eager `valueAndGrad` of the flat function `f` at `primals`: its outputs and one gradient per primal. */
export function eagerValueAndGrad(
  owner: object,
  f: (xs: NdArray[]) => NdArray[],
  primals: readonly NdArray[],
  seed: GradSeed,
): { outs: NdArray[]; grads: NdArray[] } {
  if (!compilable(owner, primals)) return onTape(f, primals, seed);
  let staged: StagedProgram;
  try {
    staged = stageFlatWithValues(f, primals as ConcreteArray[]);
  } catch (e) {
    if (!(e instanceof EffectBeforeRead)) throw e;
    // Its effects must run once: this function runs on the tape from now on.
    structuresMade.set(owner, GIVE_UP_AFTER);
    return onTape(f, primals, seed);
  }
  seed.check(staged.program.outAvals);
  const plan = hotPlan(owner, "valueAndGrad", staged, () =>
    compileGrad(staged.program, staged.consts, primals, seed),
  );
  if (plan === null) return onTape((xs) => evalProgram(staged.program, staged.consts, xs), primals, seed);
  const results = runPlan(plan, staged, primals);
  const nOuts = staged.program.outputs.length;
  return { outs: results.slice(0, nOuts), grads: results.slice(nOuts) };
}

function onTape(
  f: (xs: NdArray[]) => NdArray[],
  primals: readonly NdArray[],
  seed: GradSeed,
): { outs: NdArray[]; grads: NdArray[] } {
  eagerCompileCounts.opByOp++;
  const lin = tapeVjpFlat(f, primals);
  const outs = lin.primalsOut;
  seed.check(outs.map((o) => o.aval));
  return { outs, grads: lin.transposed(seed.cotangents(outs.map((o) => o.aval))) };
}

/** The value-and-gradient program of a staged program, closed over nothing, as jit would compile it. */
function compileGrad(
  program: Program,
  consts: readonly NdArray[],
  primals: readonly NdArray[],
  seed: GradSeed,
): CompiledCall {
  const nConsts = consts.length;
  const avals = [...consts, ...primals].map((x) => x.aval);
  const staged = stageClosed((xs) => {
    const lin = linearizeFlat((ys) => evalProgram(program, xs.slice(0, nConsts), ys), xs.slice(nConsts));
    const outs = lin.primalsOut;
    return [...outs, ...lin.transposed(seed.cotangents(outs.map((o) => o.aval)))];
  }, avals);
  const donate = staged.program.inputs.map(() => false);
  return {
    executable: compile({ program: staged.program, consts: [] }, donate),
    consts: staged.consts as ConcreteArray[],
    donate,
  };
}

/**
 * The structure of a program as a string: each equation's primitive, params and operands (earlier
 * values by number, literals by dtype and exact value), and the shapes and dtypes of its constants and
 * inputs. Two programs with one key compute the same function of their constants and inputs. Null when
 * a param cannot be keyed (a function).
 */
function structureKey(program: Program): string | null {
  const ids = new Map<Var, number>();
  let key = "";
  for (const v of program.constVars) {
    ids.set(v, ids.size);
    key += `c${fmtAval(v.aval)}`;
  }
  for (const v of program.inputs) {
    ids.set(v, ids.size);
    key += `i${fmtAval(v.aval)}`;
  }
  const operand = (a: Var | Literal): string => {
    if (a instanceof Literal) {
      const stored = a.value.storage[0]!;
      return `${a.value.dtype}:${Object.is(stored, -0) ? "-0" : String(stored)}`;
    }
    const id = ids.get(a);
    // A value no equation made (a program built otherwise): key nothing rather than guess.
    if (id === undefined) throw new UnkeyableProgram();
    return `%${id}`;
  };
  try {
    for (const e of program.equations) {
      let params: string;
      try {
        params = paramsKey(e.params);
      } catch {
        return null;
      }
      key += `;${e.primitive.name}{${params}}`;
      for (const a of e.inputs) key += ` ${operand(a)}`;
      for (const o of e.outputs) ids.set(o, ids.size);
    }
    key += " ->";
    for (const a of program.outputs) key += ` ${operand(a)}`;
  } catch (e) {
    if (e instanceof UnkeyableProgram) return null;
    throw e;
  }
  return key;
}

class UnkeyableProgram extends Error {}

/**
 * Whether two programs have one structure, at least as strictly as `structureKey` tells: the same
 * primitives with equal params, wired alike, the same literals (bit for bit) and the same shapes and
 * dtypes of constants and inputs.
 */
function sameStructure(a: Program, b: Program): boolean {
  if (a.constVars.length !== b.constVars.length || a.inputs.length !== b.inputs.length) return false;
  if (a.equations.length !== b.equations.length || a.outputs.length !== b.outputs.length) return false;
  const idsA = new Map<Var, number>();
  const idsB = new Map<Var, number>();
  const bindAll = (va: readonly Var[], vb: readonly Var[]): boolean => {
    for (let i = 0; i < va.length; i++) {
      if (!sameAval(va[i]!.aval, vb[i]!.aval)) return false;
      idsA.set(va[i]!, idsA.size);
      idsB.set(vb[i]!, idsB.size);
    }
    return true;
  };
  const sameOperand = (x: Var | Literal, y: Var | Literal): boolean => {
    if (x instanceof Literal || y instanceof Literal) {
      if (!(x instanceof Literal && y instanceof Literal) || x.value.dtype !== y.value.dtype) return false;
      return Object.is(x.value.storage[0], y.value.storage[0]);
    }
    const id = idsA.get(x);
    return id !== undefined && id === idsB.get(y);
  };
  if (!bindAll(a.constVars, b.constVars) || !bindAll(a.inputs, b.inputs)) return false;
  for (let k = 0; k < a.equations.length; k++) {
    const ea = a.equations[k]!;
    const eb = b.equations[k]!;
    if (ea.primitive !== eb.primitive || ea.inputs.length !== eb.inputs.length) return false;
    if (ea.outputs.length !== eb.outputs.length || !sameParams(ea.params, eb.params)) return false;
    for (let i = 0; i < ea.inputs.length; i++) if (!sameOperand(ea.inputs[i]!, eb.inputs[i]!)) return false;
    for (let i = 0; i < ea.outputs.length; i++) {
      idsA.set(ea.outputs[i]!, idsA.size);
      idsB.set(eb.outputs[i]!, idsB.size);
    }
  }
  for (let i = 0; i < a.outputs.length; i++) if (!sameOperand(a.outputs[i]!, b.outputs[i]!)) return false;
  return true;
}

function sameAval(a: AbstractValue, b: AbstractValue): boolean {
  if (a.dtype !== b.dtype || a.shape.length !== b.shape.length) return false;
  for (let i = 0; i < a.shape.length; i++) if (a.shape[i] !== b.shape[i]) return false;
  return true;
}

/** Params equal as data (numbers by Object.is, keys in order), class instances and functions by identity. */
function sameParams(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameParams(a[i], b[i])) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(a);
  if ((proto !== Object.prototype && proto !== null) || Object.getPrototypeOf(b) !== proto) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameParams((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]))
      return false;
  }
  return true;
}
