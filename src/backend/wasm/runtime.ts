/**
 * The slice of the WebAssembly JS API the kernels use, typed here because our compiler settings carry no
 * DOM library; and feature detection (SIMD, relaxed SIMD) by validating tiny emitted modules.
 */
import type { WasmMemory } from "../../core/primitive.js";
import { ModuleBuilder } from "./module-writer.js";
import { nodeBuiltin } from "./node-builtins.js";

export interface WasmMemoryDescriptor {
  initial: number;
  maximum?: number;
  shared?: boolean;
}

export interface WasmInstance {
  readonly exports: Readonly<Record<string, unknown>>;
}

/** An opaque compiled module. */
export interface WasmCompiledModule {
  readonly __compiledWasmModule?: never;
}

interface WebAssemblyApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmCompiledModule;
  Instance: new (
    module: WasmCompiledModule,
    imports: Record<string, Record<string, unknown>>,
  ) => WasmInstance;
  Memory: new (descriptor: WasmMemoryDescriptor) => WasmMemory;
}

/** The engine's WebAssembly object, or null where there is none. */
export const webAssembly: WebAssemblyApi | null =
  (globalThis as { WebAssembly?: WebAssemblyApi }).WebAssembly ?? null;

function validates(build: (module: ModuleBuilder) => void): boolean {
  if (!webAssembly) return false;
  try {
    const module = new ModuleBuilder();
    build(module);
    return webAssembly.validate(module.toBytes());
  } catch {
    return false;
  }
}

let simdCache: boolean | undefined;
let relaxedSimdCache: boolean | undefined;

/** Whether the engine accepts 128-bit SIMD (a function adding two f32x4 splats). */
export function simdSupported(): boolean {
  simdCache ??= validates((m) => {
    const fn = m.function("probe", [], ["f32"]);
    fn.f32Const(1).f32x4Splat().f32Const(2).f32x4Splat().f32x4Add().f32x4ExtractLane(0);
  });
  return simdCache;
}

/** Whether the engine validates a module using f32x4.relaxed_madd. */
function relaxedMaddValidates(): boolean {
  return validates((m) => {
    const fn = m.function("probe", [], ["f32"]);
    fn.f32Const(1).f32x4Splat().f32Const(2).f32x4Splat().f32Const(3).f32x4Splat();
    fn.f32x4RelaxedMadd().f32x4ExtractLane(0);
  });
}

/** The V8 flag behind which Node 20 (V8 11.3) keeps relaxed SIMD; V8 11.4 and later ship it on. */
export const RELAXED_SIMD_V8_FLAG = "--experimental-wasm-relaxed-simd";

/**
 * Node 20: turns on V8's relaxed SIMD flag in this process (it then applies to every module compiled
 * afterwards, workers' included). Returns false where there is no `node:v8` (browsers, other engines).
 */
function turnOnNodeRelaxedSimd(): boolean {
  const v8 = nodeBuiltin<{ setFlagsFromString?: (flags: string) => void }>("node:v8");
  if (typeof v8?.setFlagsFromString !== "function") return false;
  try {
    v8.setFlagsFromString(RELAXED_SIMD_V8_FLAG);
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether the engine accepts relaxed SIMD (f32x4.relaxed_madd). Where it does not at first and this is
 * Node (20 keeps it behind a V8 flag), the flag is turned on in-process and the probe runs again; where
 * that fails too (a browser without it, a Node whose V8 has no such flag), kernels keep plain SIMD. The
 * first call decides, so call it before compiling a module that should use it (active.ts does).
 */
export function relaxedSimdSupported(): boolean {
  relaxedSimdCache ??=
    simdSupported() && (relaxedMaddValidates() || (turnOnNodeRelaxedSimd() && relaxedMaddValidates()));
  return relaxedSimdCache;
}

function api(): WebAssemblyApi {
  if (!webAssembly) throw new Error("WebAssembly is not available in this engine");
  return webAssembly;
}

/** Compiles `bytes` synchronously. */
export function compileModule(bytes: Uint8Array): WasmCompiledModule {
  return new (api().Module)(bytes);
}

/** Instantiates a compiled module, importing `memory` as env.memory. */
export function instantiateCompiled(module: WasmCompiledModule, memory: WasmMemory): WasmInstance {
  return new (api().Instance)(module, { env: { memory } });
}

/** Compiles and instantiates `bytes` synchronously, importing `memory` as env.memory. */
export function instantiate(bytes: Uint8Array, memory: WasmMemory): WasmInstance {
  return instantiateCompiled(compileModule(bytes), memory);
}

/** A fresh memory of at least `bytes` bytes. */
export function allocateMemory(bytes: number, shared = false): WasmMemory {
  const pages = Math.max(1, Math.ceil(bytes / 65536));
  return new (api().Memory)(shared ? { initial: pages, maximum: pages, shared } : { initial: pages });
}
