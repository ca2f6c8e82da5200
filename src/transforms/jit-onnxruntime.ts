/**
 * jit's ONNX Runtime backend (`jit(f, { backend: "onnxruntime" })`): the same tracing and signature
 * cache as the default backend, but each signature's program runs as one ONNX Runtime session
 * (compiler/onnx-runtime.ts). ONNX Runtime's Node binding only offers an asynchronous `run`, so the
 * jitted function returns a Promise: no blocking trick makes an asynchronous native call synchronous
 * without stalling the event loop or spinning a thread, and a Promise says honestly what happens.
 */
import { backend } from "../backend/active.js";
import { compileForOnnxRuntime, type OnnxRuntimePlan, onnxRuntimeVersion } from "../compiler/onnx-runtime.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import { Program } from "../core/ir.js";
import { type TreeDef, unflatten } from "../tree/treedef.js";

/** A traced signature as jit caches it: the program takes its constants as leading inputs. */
export interface TracedSignature {
  readonly program: Program;
  readonly consts: NdArray[];
  readonly outTree: TreeDef;
}

/** What `backend()` of a function jitted for ONNX Runtime reports. */
export interface OnnxRuntimeBackendInfo {
  readonly name: "onnxruntime";
  /** ONNX Runtime's intraOpNumThreads of its sessions. */
  readonly threads: number;
  /** The onnxruntime-node version, once a session was created (null before). */
  readonly version: string | null;
}

/** Statistics of the function's cache of traced signatures (as `JittedFunction.cacheInfo`). */
export interface OnnxRuntimeCacheInfo {
  hits: number;
  misses: number;
  size: number;
}

/**
 * A function compiled by `jit(f, { backend: "onnxruntime" })`: called like `f`, it resolves to `f`'s
 * result, computed by one ONNX Runtime session per input signature (created on the first call with it).
 */
export interface OnnxRuntimeJittedFunction<Args extends unknown[], Out> {
  /** Runs the signature's session (tracing, exporting and creating it first if the signature is new). */
  (...args: Args): Promise<Out>;
  /** Which backend runs the function, on how many threads, and the runtime's version. */
  backend(): OnnxRuntimeBackendInfo;
  /** Cache hits, misses (traces) and size. */
  cacheInfo(): OnnxRuntimeCacheInfo;
  /** Frees every session created so far (calls afterwards create them again). */
  release(): Promise<void>;
}

/** Settings of the ONNX Runtime backend. */
export interface OnnxRuntimeJitSettings {
  readonly name: string;
  /** intraOpNumThreads (default: the library's kernel threads, `backend().threads`). */
  readonly threads: number | undefined;
}

/**
 * Wraps jit's signature cache (`prepare`) as a function run by ONNX Runtime sessions, one per traced
 * signature (kept while the signature is cached).
 */
export function onnxRuntimeFunction<Args extends unknown[], Out>(
  settings: OnnxRuntimeJitSettings,
  prepare: (args: Args) => { entry: TracedSignature; leaves: NdArray[] },
  cacheInfo: () => OnnxRuntimeCacheInfo,
): OnnxRuntimeJittedFunction<Args, Out> {
  const threads = settings.threads ?? backend().threads;
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`jit(${settings.name}): threads must be a positive integer, got ${threads}`);
  const plans = new WeakMap<TracedSignature, Promise<OnnxRuntimePlan>>();
  const live = new Set<Promise<OnnxRuntimePlan>>();
  let version: string | null = null;
  const planFor = (entry: TracedSignature): Promise<OnnxRuntimePlan> => {
    let plan = plans.get(entry);
    if (plan === undefined) {
      const p = entry.program;
      const k = entry.consts.length;
      // The constants become the model's initializers rather than inputs fed on every call.
      const opened = new Program(p.inputs.slice(0, k), p.inputs.slice(k), p.equations, p.outputs);
      plan = compileForOnnxRuntime(opened, entry.consts, { threads });
      plans.set(entry, plan);
      live.add(plan);
      plan.then(
        async () => {
          version ??= await onnxRuntimeVersion();
        },
        () => {
          plans.delete(entry);
          live.delete(plan!);
        },
      );
    }
    return plan;
  };
  const run = async (...args: Args): Promise<Out> => {
    const { entry, leaves } = prepare(args);
    const inputs = leaves.map((l, i) => {
      if (!(l instanceof ConcreteArray))
        throw new TypeError(
          `jit(${settings.name}) with backend "onnxruntime": argument leaf ${i} is a traced value; a function run by ONNX Runtime is asynchronous and cannot be transformed (grad, vmap) or called inside jit: transform f, then jit the result`,
        );
      return l;
    });
    const plan = await planFor(entry);
    return unflatten<Out>(entry.outTree, await plan.run(inputs));
  };
  return Object.assign(run, {
    backend: (): OnnxRuntimeBackendInfo => ({ name: "onnxruntime", threads, version }),
    cacheInfo,
    release: async (): Promise<void> => {
      const all = [...live];
      live.clear();
      await Promise.all(all.map(async (p) => (await p).release()));
    },
  });
}
