/**
 * jit: trace once per signature (tree structure, shapes, dtypes, static arguments), compile the
 * program into a plan, run the plan. `jit_call` is itself a primitive, so every transform sees
 * through it: jvp and vmap transform the program and stay jitted; partial evaluation inlines it.
 */

import { jitOnWebgpuActive } from "../backend/active.js";
import { WebgpuUnavailableError, webgpuDevice } from "../backend/webgpu/device.js";
import { DeviceArray } from "../backend/webgpu/device-array.js";
import { WgslUnsupportedError } from "../backend/webgpu/wgsl.js";
import { compile, type Executable, type StepProfile } from "../compiler/executor.js";
import { programToOnnx } from "../compiler/onnx-export.js";
import { compileWebgpu, type WebgpuExecutable, type WebgpuKernelTime } from "../compiler/webgpu-plan.js";
import { type AbstractValue, ConcreteArray, DonationError, fmtAval, type NdArray } from "../core/array.js";
import { NARROW_DTYPES } from "../core/dtype.js";
import { evalProgram, Program } from "../core/ir.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { type Primitive, primitive } from "../core/primitive.js";
import { shapeEquals } from "../core/shape.js";
import { stageFlat } from "../core/staging.js";
import { zip } from "../core/tuple.js";
import { type TreeDef, treeDefEquals, treeDefToString, unflatten } from "../tree/treedef.js";
import { flattenArgs, flattenFun, normalizeArgnums } from "./flat.js";
import { type OnnxRuntimeJittedFunction, onnxRuntimeFunction } from "./jit-onnxruntime.js";
import { closeOver, jvpProgram, vmapProgram } from "./program-transforms.js";
import { staticValueKey } from "./static-key.js";

export interface JitParams {
  name: string;
  /** Closed over nothing: the traced constants are its leading inputs. */
  program: Program;
  /** Per input: may the plan write outputs over its buffer. */
  donate: readonly boolean[];
}

const executables = new WeakMap<Program, Map<string, Executable>>();
const executablesByDonation = new WeakMap<readonly boolean[], { program: Program; executable: Executable }>();

function executableFor(p: JitParams): Executable {
  // The same donation list object comes with every call of one cache entry: look it up first.
  const known = executablesByDonation.get(p.donate);
  if (known?.program === p.program) return known.executable;
  let byDonation = executables.get(p.program);
  if (!byDonation) executables.set(p.program, (byDonation = new Map()));
  const key = p.donate.map((d) => (d ? 1 : 0)).join("");
  let exe = byDonation.get(key);
  if (!exe) {
    exe = compile({ program: p.program, consts: [] }, p.donate);
    byDonation.set(key, exe);
  }
  executablesByDonation.set(p.donate, { program: p.program, executable: exe });
  return exe;
}

export const jitCallPrim: Primitive<JitParams> = primitive<JitParams>({
  name: "jit",
  narrowDtypes: NARROW_DTYPES,
  abstractEval(avals, { program, name }) {
    const expected = program.inputs;
    if (avals.length !== expected.length)
      throw new Error(`jit(${name}): expected ${expected.length} inputs, got ${avals.length}`);
    zip(avals, expected).forEach(([a, { aval: e }], i) => {
      if (a.dtype !== e.dtype || !shapeEquals(a.shape, e.shape)) {
        throw new Error(
          `jit(${name}): input ${i} is ${fmtAval(a)} but the program was traced for ${fmtAval(e)}`,
        );
      }
    });
    return program.outAvals;
  },
  impl: (args, p) => executableFor(p).run(args, p.donate),
  jvp(primals, tangents, p) {
    const jp = jvpProgram(p.program);
    const outs = jitCallPrim.bind([...jp.consts, ...primals, ...tangents], {
      name: `jvp(${p.name})`,
      program: jp.program,
      donate: jp.program.inputs.map(() => false),
    });
    const nOut = p.program.outputs.length;
    return { primalsOut: outs.slice(0, nOut), tangentsOut: outs.slice(nOut) };
  },
  batch(args, dims, p) {
    const bp = vmapProgram(p.program, args, dims);
    const outs = jitCallPrim.bind([...bp.consts, ...args], {
      name: `vmap(${p.name})`,
      program: bp.program,
      donate: bp.program.inputs.map(() => false),
    });
    return [outs, outs.map(() => 0)];
  },
  // Linearizing through a jit inlines it, so its primal and tangent halves separate cleanly.
  partialEval: (tracers, p) => evalProgram(p.program, [], [...tracers]),
  inlineProgram: (_avals, p) => ({ program: p.program, consts: [] }),
  formatParams: (p) => `name=${p.name}`,
});

/** Options of `jit`. */
export interface JitOptions {
  /**
   * Positional arguments that are JS values baked into the trace (part of the cache key): numbers by
   * exact value (NaN equals NaN, -0 differs from 0), strings, booleans, null and undefined by value,
   * plain arrays and objects structurally, functions and other objects by identity.
   */
  staticArgnums?: number | readonly number[];
  /**
   * The cache key of a static argument, keyed by the rules above in its place (JAX's `__hash__` and
   * `__eq__`): e.g. `(config) => config.toJSON()` so that equal configurations share a compiled plan.
   */
  staticKey?: (value: unknown, argnum: number) => unknown;
  /** Positional arguments whose buffers the outputs may reuse; using them afterwards throws. */
  donateArgnums?: number | readonly number[];
  /** How many signatures to keep compiled (least recently used evicted). Default 64. */
  cacheSize?: number;
  /**
   * Where plans run: `"wasm"` (the library's own kernels, WebAssembly or JS, synchronous),
   * `"onnxruntime"`: one ONNX Runtime session per signature (the optional peer dependency
   * onnxruntime-node), and the jitted function returns a Promise (see `OnnxRuntimeJittedFunction`), or
   * `"webgpu"`: on the GPU device (`await setBackend("webgpu")` first; outputs are device arrays, read with
   * `await x.data()`). Default: WebGPU after `setBackend("webgpu")`, else "wasm". A program WebGPU cannot
   * run (float64 values, a primitive without a WebGPU kernel) runs on the wasm kernels, with a console
   * warning that says why, once per signature; `lower(...).backend` tells where a signature runs.
   */
  backend?: "wasm" | "onnxruntime" | "webgpu";
  /** With `backend: "onnxruntime"`: its intraOpNumThreads (default: `backend().threads`). */
  threads?: number;
}

/** `JitOptions` that select the ONNX Runtime backend. */
export type OnnxRuntimeJitOptions = JitOptions & { backend: "onnxruntime" };

/** What `lower` returns: the traced program and the compiled plan (`toString` prints the plan). */
export interface Lowered {
  /** The traced program before optimization. */
  program: Program;
  /** Where calls with these arguments run: "wasm" (the library's CPU kernels), or "webgpu" (then `toString` also lists its dispatches). */
  backend: "wasm" | "webgpu";
  /** The compiled plan: optimized program, fused loops, memory plan. */
  executable: Executable;
  /**
   * Runs the plan `runs` times (default 20) on the arguments given to `lower` (nothing donated) and
   * returns the mean time of every kernel call, in plan order: where a jitted function spends its time.
   */
  profile(runs?: number): StepProfile[];
  /**
   * On WebGPU (`backend` "webgpu"): runs the GPU plan `runs` times (default 5) on the arguments given to
   * `lower`, nothing donated, each dispatch submitted alone and awaited, and resolves with the median
   * time of every dispatch in plan order. On the CPU: null.
   */
  profileWebgpu(runs?: number): Promise<WebgpuKernelTime[]> | null;
  /**
   * The traced program as the bytes of an ONNX model (opset 18), as `onnx.exportProgram` writes it:
   * inputs `input_0`, ... are the argument leaves, outputs `output_0`, ... the result leaves.
   * @throws OnnxExportError naming a primitive without an ONNX lowering.
   */
  toOnnx(): Uint8Array;
  toString(): string;
}

/** Statistics of a jitted function's cache of compiled signatures. */
export interface JitInfo {
  /** Calls that reused a compiled plan. */
  hits: number;
  /** Calls that traced and compiled (a new signature). */
  misses: number;
  /** Signatures compiled and kept now. */
  size: number;
}

/** A function compiled by `jit`: called like the original, with its cache of compiled plans. */
export interface JittedFunction<Args extends unknown[], Out> {
  /** Runs the compiled plan for the arguments' signature, tracing and compiling it first if it is new. */
  (...args: Args): Out;
  /** Traces and compiles for these arguments and shows the result. */
  lower(...args: Args): Lowered;
  /** Cache hits, misses (traces) and size, to check that a function is not traced again and again. */
  cacheInfo(): JitInfo;
}

interface CacheEntry {
  program: Program;
  consts: NdArray[];
  outTree: TreeDef;
  donate: boolean[];
  /** The WebGPU plan, compiled on the first call that targets WebGPU; or why the program cannot run there. */
  webgpu?: WebgpuExecutable | WgslUnsupportedError;
}

const RETRACE_WARNING_THRESHOLD = 8;

const JIT_OPTION_KEYS = optionKeys<JitOptions>({
  staticArgnums: true,
  staticKey: true,
  donateArgnums: true,
  cacheSize: true,
  backend: true,
  threads: true,
});

/**
 * Compiles `f`. The jitted function traces `f` once per input signature, caches the compiled plan,
 * and afterwards runs with no per-op dispatch and no allocation of intermediates.
 */
export function jit<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options: OnnxRuntimeJitOptions,
): OnnxRuntimeJittedFunction<Args, Out>;
export function jit<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options?: JitOptions & { backend?: "wasm" | "webgpu" },
): JittedFunction<Args, Out>;
export function jit<Args extends unknown[], Out>(
  f: (...args: Args) => Out,
  options: JitOptions = {},
): JittedFunction<Args, Out> | OnnxRuntimeJittedFunction<Args, Out> {
  checkOptions("jit", options, JIT_OPTION_KEYS);
  if (
    options.backend !== undefined &&
    options.backend !== "wasm" &&
    options.backend !== "onnxruntime" &&
    options.backend !== "webgpu"
  )
    throw new TypeError(
      `jit: backend must be "wasm", "onnxruntime" or "webgpu", got ${JSON.stringify(options.backend)}`,
    );
  if (options.threads !== undefined && options.backend !== "onnxruntime")
    throw new TypeError(
      'jit: threads is an option of backend "onnxruntime" (setBackend sets the wasm threads)',
    );
  const name = f.name || "fn";
  const cache = new Map<string, CacheEntry>();
  const capacity = options.cacheSize ?? 64;
  if (!Number.isInteger(capacity) || capacity < 1)
    throw new RangeError(`jit: cacheSize must be a positive integer, got ${capacity}`);
  let hits = 0;
  let misses = 0;
  let warned = false;
  let last: {
    key: string;
    entry: CacheEntry;
    inTree: TreeDef;
    avals: AbstractValue[];
    donatedCount: number;
  } | null = null;

  const prepare = (args: Args) => {
    const statics =
      options.staticArgnums === undefined
        ? []
        : normalizeArgnums(`jit(${name})`, options.staticArgnums, args.length);
    const donated =
      options.donateArgnums === undefined
        ? []
        : normalizeArgnums(`jit(${name})`, options.donateArgnums, args.length);
    const dynamic = args.map((a, i) => (statics.includes(i) ? null : a));
    const [leaves, inTree] = flattenArgs(`jit(${name})`, dynamic);
    const avals = leaves.map((l) => l.aval);
    // A training loop calls with one signature again and again: compare with the last call's first.
    if (
      last &&
      statics.length === 0 &&
      last.donatedCount === donated.length &&
      sameAvals(last.avals, avals) &&
      treeDefEquals(last.inTree, inTree) &&
      cache.get(last.key) === last.entry
    ) {
      hits++;
      return { entry: last.entry, leaves };
    }
    const staticKeys = statics.map((i) =>
      staticValueKey(`jit(${name})`, options.staticKey ? options.staticKey(args[i], i) : args[i]),
    );
    const key = `${treeDefToString(inTree)}|${avals.map(fmtAval).join(",")}|${staticKeys.join(",")}|${donated.join(",")}`;
    let entry = cache.get(key);
    if (entry) {
      hits++;
      cache.delete(key);
      cache.set(key, entry);
    } else {
      misses++;
      if (misses > RETRACE_WARNING_THRESHOLD && !warned) {
        warned = true;
        console.warn(
          `jit(${name}) has been traced ${misses} times: its argument shapes, dtypes or static values keep changing (last: ${avals.map(fmtAval).join(", ")})`,
        );
      }
      const withStatics = (...dyn: unknown[]) =>
        (f as (...a: unknown[]) => Out)(...dyn.map((d, i) => (statics.includes(i) ? args[i] : d)));
      const flat = flattenFun(`jit(${name})`, withStatics as (...a: never[]) => unknown, inTree);
      const staged = stageFlat(flat, avals);
      const { program } = closeOver(staged);
      // Which leaves belong to donated arguments (flatten order follows argument order).
      const donateLeaf: boolean[] = [];
      dynamic.forEach((a, i) => {
        const n = a === null ? 0 : flattenArgs(`jit(${name})`, a)[0].length;
        for (let j = 0; j < n; j++) donateLeaf.push(donated.includes(i));
      });
      entry = {
        program,
        consts: staged.consts,
        outTree: flat.outTree(),
        donate: [...staged.consts.map(() => false), ...donateLeaf],
      };
      cache.set(key, entry);
      if (cache.size > capacity) cache.delete(cache.keys().next().value!);
    }
    last = { key, entry, inTree, avals, donatedCount: donated.length };
    return { entry, leaves };
  };

  if (options.backend === "onnxruntime")
    return onnxRuntimeFunction<Args, Out>({ name, threads: options.threads }, prepare, () => ({
      hits,
      misses,
      size: cache.size,
    }));
  const onWebgpu = (): boolean => {
    if (options.backend === "wasm") return false;
    if (options.backend === "webgpu" && !jitOnWebgpuActive() && webgpuDevice() === null)
      throw new WebgpuUnavailableError(
        `jit(${name}): backend "webgpu" needs the GPU device: \`await setBackend("webgpu")\` first`,
      );
    return options.backend === "webgpu" || jitOnWebgpuActive();
  };
  /** The entry's WebGPU plan, or null (with a warning, once) when its program cannot run on WebGPU. */
  const webgpuPlan = (entry: CacheEntry): WebgpuExecutable | null => {
    if (entry.webgpu === undefined) {
      try {
        entry.webgpu = compileWebgpu({ program: entry.program, consts: [] }, webgpuDevice()!);
      } catch (error) {
        if (!(error instanceof WgslUnsupportedError)) throw error;
        entry.webgpu = error;
        console.warn(
          `jit(${name}) runs on the CPU (wasm), not WebGPU, for ${entry.program.inAvals.map(fmtAval).join(", ")}: ${error.message}`,
        );
      }
    }
    return entry.webgpu instanceof WgslUnsupportedError ? null : entry.webgpu;
  };

  const jitted = ((...args: Args): Out => {
    const { entry, leaves } = prepare(args);
    checkDonation(name, leaves, entry.donate.slice(entry.consts.length));
    // At the top level (no transform tracing the call) a WebGPU plan runs directly on host and device arrays.
    if (onWebgpu() && leaves.every((l) => l instanceof ConcreteArray || l instanceof DeviceArray)) {
      const plan = webgpuPlan(entry);
      if (plan) return unflatten<Out>(entry.outTree, plan.run([...entry.consts, ...leaves], entry.donate));
    }
    // Device arrays cannot feed CPU kernels synchronously: this throws the error that names `await x.data()`.
    for (const l of leaves) if (l instanceof DeviceArray) l.concrete();
    const outs = jitCallPrim.bind([...entry.consts, ...leaves], {
      name,
      program: entry.program,
      donate: entry.donate,
    });
    return unflatten<Out>(entry.outTree, outs);
  }) as JittedFunction<Args, Out>;
  jitted.lower = (...args: Args): Lowered => {
    const { entry, leaves } = prepare(args);
    const executable = executableFor({ name, program: entry.program, donate: entry.donate });
    const gpuPlan = onWebgpu() ? webgpuPlan(entry) : null;
    // Profiling runs the CPU plan on host values (a device array throws, naming `await x.data()`).
    const inputs = () => [...entry.consts, ...leaves].map((a) => a.concrete());
    return {
      program: entry.program,
      backend: gpuPlan ? "webgpu" : "wasm",
      executable,
      profile: (runs = 20) => executable.profile(inputs(), runs),
      profileWebgpu: (runs = 5) => gpuPlan?.profile([...entry.consts, ...leaves], runs) ?? null,
      toOnnx: () => {
        // The cached program takes its constants as leading inputs (closeOver); the model stores them.
        const p = entry.program;
        const k = entry.consts.length;
        const opened = new Program(p.inputs.slice(0, k), p.inputs.slice(k), p.equations, p.outputs);
        return programToOnnx(opened, entry.consts);
      },
      toString: () => (gpuPlan ? `${gpuPlan.toString()}\n\n${executable.toString()}` : executable.toString()),
    };
  };
  jitted.cacheInfo = () => ({ hits, misses, size: cache.size });
  return jitted;
}

function sameAvals(a: readonly AbstractValue[], b: readonly AbstractValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i]!.dtype !== b[i]!.dtype || !shapeEquals(a[i]!.shape, b[i]!.shape)) return false;
  }
  return true;
}

function checkDonation(name: string, leaves: readonly NdArray[], donate: readonly boolean[]): void {
  leaves.forEach((l, i) => {
    if (!donate[i]) return;
    if (!(l instanceof ConcreteArray)) return;
    const j = leaves.findIndex((m, k) => k !== i && m === l);
    if (j >= 0) {
      throw new DonationError(
        `jit(${name}): a donated array is passed more than once (argument leaves ${Math.min(i, j)} and ${Math.max(i, j)}); pass a copy for the other use`,
      );
    }
  });
}
