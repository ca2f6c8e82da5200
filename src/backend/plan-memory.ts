/**
 * One memory per compiled plan: the arena the memory planner lays out and every kernel's scratch, in a
 * single WebAssembly memory on the wasm backend (shared when kernels use worker threads), so wasm kernels
 * read and write the plan's intermediates in place, with no copies between kernels. On the JS backend it
 * is one ArrayBuffer. Kernels reserve their scratch while they are lowered; the memory is allocated once
 * every reservation is known and never grows, so views on it stay valid.
 */
import { BYTES_PER_ELEMENT, type DType, STORAGE, type TypedArray } from "../core/dtype.js";
import type { KernelContext, PlanMemoryView, PlannedDerivedInput } from "../core/primitive.js";
import { activeBackendKind, kernelThreads, relaxedSimdActive } from "./active.js";
import { cachedKernel } from "./kernel-cache.js";
import type { ModuleBuilder } from "./wasm/module-writer.js";
import { allocateMemory } from "./wasm/runtime.js";

/** Every reservation starts at a multiple of this many bytes (vector loads, every element type). */
export const PLAN_MEMORY_ALIGNMENT = 64;
/** Bytes past the last reservation, for kernels that read a whole vector at an operand's end. */
const TAIL_SLACK = 64;
/** 65536 pages of 64 KiB: the most a 32-bit WebAssembly memory can address. */
const WASM_MAX_BYTES = 2 ** 32;

/** Every plan memory's buffer: a plan must not write into another plan's memory. */
const planBuffers = new WeakSet<ArrayBuffer>();

/** Whether `buffer` is the memory of some plan. */
export function isPlanMemoryBuffer(buffer: ArrayBufferLike): boolean {
  return planBuffers.has(buffer as ArrayBuffer);
}

export class PlanMemory {
  readonly wasm: boolean;
  readonly shared: boolean;
  private end = 0;
  private allocated: PlanMemoryView | null = null;
  private readonly sharedValues = new Map<string, unknown>();

  constructor(options: { wasm: boolean; shared: boolean }) {
    this.wasm = options.wasm;
    this.shared = options.wasm && options.shared;
  }

  /** A memory for the active backend: WebAssembly (shared when large kernels use threads) or JS. */
  static forActiveBackend(): PlanMemory {
    const wasm = activeBackendKind() === "wasm";
    return new PlanMemory({ wasm, shared: wasm && kernelThreads() > 1 });
  }

  /** Bytes reserved so far. */
  get bytes(): number {
    return this.end;
  }

  /** Reserves `bytes` (64-byte aligned, for vector loads and every element type); returns the offset. */
  reserve(bytes: number): number {
    if (this.allocated) throw new Error("plan memory: reserve after the memory was allocated");
    if (!Number.isInteger(bytes) || bytes < 0)
      throw new RangeError(`plan memory: cannot reserve ${bytes} bytes`);
    const at = Math.ceil(this.end / PLAN_MEMORY_ALIGNMENT) * PLAN_MEMORY_ALIGNMENT;
    this.end = at + bytes;
    return at;
  }

  /** The memory, allocated on first use; reservations end there. */
  view(): PlanMemoryView {
    if (this.allocated) return this.allocated;
    // Vector kernels may read (never write) a vector beyond an operand.
    const bytes = this.end + TAIL_SLACK;
    if (this.wasm) {
      if (bytes > WASM_MAX_BYTES) {
        throw new RangeError(
          `jit: the plan needs ${bytes} bytes of memory, more than a WebAssembly memory holds (4 GiB); ` +
            'use setBackend("js") for this program',
        );
      }
      const wasm = allocateMemory(bytes, this.shared);
      this.allocated = { wasm, buffer: wasm.buffer };
    } else {
      this.allocated = { wasm: null, buffer: new ArrayBuffer(bytes) };
    }
    planBuffers.add(this.allocated.buffer);
    return this.allocated;
  }

  /** The context one kernel is lowered with, given which of its operands are views on this memory. */
  context(resident: {
    inputs: readonly boolean[];
    outputs: readonly boolean[];
    derivedInput?: PlannedDerivedInput | undefined;
  }): KernelContext {
    return {
      derivedInput: resident.derivedInput,
      wasm: this.wasm,
      shared: this.shared,
      reserve: (bytes) => this.reserve(bytes),
      memory: () => this.view(),
      inputResident: (k) => resident.inputs[k] ?? false,
      outputResident: (k) => resident.outputs[k] ?? false,
      perPlan: <T>(key: string, make: () => T): T => {
        if (!this.sharedValues.has(key)) this.sharedValues.set(key, make());
        return this.sharedValues.get(key) as T;
      },
    };
  }
}

/** A context for one kernel outside any plan (eager evaluation): its own memory, no resident operands. */
export function standaloneContext(): KernelContext {
  return PlanMemory.forActiveBackend().context({ inputs: [], outputs: [] });
}

/**
 * Eager evaluation of a lowered primitive: its kernel with a memory of its own, kept in the kernel cache
 * by `key` (the primitive, the operand shapes and the params) and the backend in use, so repeated eager
 * calls of one shape compile once. `lower` returns the kernel and whatever else the caller keeps with it.
 */
export function standaloneKernel<T>(key: string, lower: (context: KernelContext) => T): T {
  const fullKey = `eager ${activeBackendKind()}${relaxedSimdActive() ? " relaxed" : ""} ${kernelThreads()} ${key}`;
  return cachedKernel(
    fullKey,
    () => {
      const memory = PlanMemory.forActiveBackend();
      const value = lower(memory.context({ inputs: [], outputs: [] }));
      return { value, bytes: memory.bytes };
    },
    (built) => built.bytes,
  ).value;
}

/** Declares the plan memory as the module's env.memory import, matching whatever size it ends up with. */
export function importPlanMemory(module: ModuleBuilder, shared: boolean): void {
  module.importMemory({
    module: "env",
    name: "memory",
    initialPages: 1,
    ...(shared ? { maximumPages: 65536, shared: true } : {}),
  });
}

/**
 * An array of `length` elements in the plan memory, reserved now (or at an `offset` the memory plan
 * gave); the view exists from the first run on.
 */
export function planArray(
  context: KernelContext,
  dtype: DType,
  length: number,
  offset = context.reserve(length * BYTES_PER_ELEMENT[dtype]),
): () => TypedArray {
  let view: TypedArray | null = null;
  return () => {
    view ??= viewAt(context.memory().buffer, dtype, offset, length);
    return view;
  };
}

/** A view of `length` elements of `dtype` at byte `offset` of `buffer`. */
export function viewAt(buffer: ArrayBuffer, dtype: DType, offset: number, length: number): TypedArray {
  return new STORAGE[dtype](buffer, offset, length);
}

/** The same context, for a kernel built inside another, with its own operands' residency. */
export function withResidency(
  context: KernelContext,
  inputs: readonly boolean[],
  outputs: readonly boolean[],
): KernelContext {
  return {
    ...context,
    inputResident: (k) => inputs[k] ?? false,
    outputResident: (k) => outputs[k] ?? false,
  };
}
