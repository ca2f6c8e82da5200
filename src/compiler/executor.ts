/**
 * Compile a program into an executable plan: optimize, fuse, plan memory (liveness intervals and
 * best-fit slots, in place where a full-size input dies at an elementwise consumer, donated inputs
 * reused for outputs), lower every kernel, then run a flat list of pre-bound kernel calls over a buffer
 * table. The slots and every kernel's scratch live in one plan memory (a WebAssembly memory on the wasm
 * backend, so wasm kernels work on intermediates in place). All shape logic and allocation of
 * intermediates happen here, once.
 */

import { gemmKernel } from "../backend/index.js";
import { isPlanMemoryBuffer, PlanMemory, viewAt } from "../backend/plan-memory.js";
import { nextEpoch } from "../backend/run-epoch.js";
import { wasmFusedKernel } from "../backend/wasm/fused.js";
import { ConcreteArray, fmtAval, type NdArray } from "../core/array.js";
import { storageFor, type TypedArray } from "../core/dtype.js";
import { type Atom, type Equation, Literal, type Program, Var } from "../core/ir.js";
import type { Kernel, KernelContext } from "../core/primitive.js";
import { shapeEquals, sizeOf } from "../core/shape.js";
import { avalBytes, type FusedGroup, fuse, generateFusedKernel, type Step } from "./fusion.js";
import { absorbTransposes, type GemmStep } from "./gemm-steps.js";
import { hoistChecks } from "./hoist-checks.js";
import { type ClosedProgram, optimize } from "./passes.js";

interface Slot {
  bytes: number;
  /** Byte offset in the plan memory, once planning ends. */
  offset: number;
}

/** Where a value lives while the plan runs. */
type Placement =
  | { kind: "input"; index: number }
  | { kind: "const"; value: NdArray }
  | { kind: "slot"; slot: Slot }
  | { kind: "alias"; of: Var }
  /**
   * A plan output. `donatedFrom`: the donated input whose buffer it may take. `home`: where in the plan
   * memory it lives while it is the output of the last call (offset, or -1), so a donated training loop
   * keeps its parameters and optimizer state in the plan memory, read and written in place by the kernels.
   */
  | { kind: "output"; donatedFrom: number | null; home: number };

export interface MemoryReport {
  /** Bytes of all intermediate buffers if each had its own. */
  intermediateBytes: number;
  /** Bytes of the arena the planner allocated (shared, reused slots). */
  arenaBytes: number;
  /** Bytes of the plan memory: the arena and the kernels' scratch. */
  planBytes: number;
  slots: number;
}

/** Time spent in one step of a plan, from `Executable.profile`. */
export interface StepProfile {
  /** The step as `toString` lists it: its number, primitive (or fused primitives) and output. */
  readonly step: string;
  /** Mean milliseconds per run. */
  readonly ms: number;
}

export interface Executable {
  run(args: readonly ConcreteArray[], donate: readonly boolean[]): ConcreteArray[];
  /** Runs the plan `runs` times on `args` (nothing donated), timing every kernel call; in plan order. */
  profile(args: readonly ConcreteArray[], runs: number): StepProfile[];
  readonly program: Program;
  readonly steps: readonly PlanStep[];
  readonly memory: MemoryReport;
  readonly kernelSources: readonly string[];
  toString(): string;
}

const ALIASING = new Set(["reshape"]);

/** A step of a plan: a fused loop, one equation, or a GEMM that absorbed transposes. */
export type PlanStep = Step | GemmStep;

export function compile(closed: ClosedProgram, donatable: readonly boolean[]): Executable {
  const optimized = optimize(closed);
  const { consts } = optimized;
  const program = hoistChecks(optimized.program);
  const steps = absorbTransposes(fuse(program.equations, program.outputs), program.outputs);
  const stepEqns = (s: PlanStep): Equation[] => (s.kind === "eqn" ? [s.equation] : s.equations);
  const stepInputs = (s: PlanStep): Var[] =>
    s.kind === "fused"
      ? s.inputs
      : s.kind === "gemm"
        ? [s.a, s.b]
        : s.equation.inputs.filter((a): a is Var => a instanceof Var);
  const stepOutputs = (s: PlanStep): Var[] =>
    s.kind === "fused" ? s.outputs : s.kind === "gemm" ? [s.out] : [...s.equation.outputs];

  // ---- liveness: the last step that reads each value (aliases extend their root's life)
  const placement = new Map<Var, Placement>();
  program.inputs.forEach((v, i) => placement.set(v, { kind: "input", index: i }));
  program.constVars.forEach((v, i) => placement.set(v, { kind: "const", value: consts[i]! }));
  const rootOf = (v: Var): Var => {
    const p = placement.get(v);
    return p?.kind === "alias" ? rootOf(p.of) : v;
  };
  const lastUse = new Map<Var, number>();
  const outputSet = new Set(program.outputs.filter((a): a is Var => a instanceof Var));
  steps.forEach((s, k) => {
    if (s.kind === "eqn" && ALIASING.has(s.equation.primitive.name) && s.equation.inputs[0] instanceof Var) {
      placement.set(s.equation.outputs[0]!, { kind: "alias", of: s.equation.inputs[0] });
    }
    for (const v of stepInputs(s)) lastUse.set(rootOf(v), k);
  });
  for (const v of outputSet) lastUse.set(rootOf(v), steps.length);

  // ---- outputs: a donated input buffer of the same size whose last read comes no later
  const donatedFree = program.inputs.map((v, i) => ({ v, i })).filter(({ i }) => donatable[i]);
  const definedAt = new Map<Var, number>();
  steps.forEach((s, k) => {
    for (const v of stepOutputs(s)) definedAt.set(v, k);
  });
  for (const v of outputSet) {
    if (placement.has(v)) continue; // an input, const or alias
    const k = definedAt.get(v)!;
    const inPlaceOk = steps[k]!.kind === "fused";
    const j = donatedFree.findIndex(
      ({ v: d }) =>
        avalBytes(d.aval) === avalBytes(v.aval) &&
        ((lastUse.get(d) ?? -1) < k ||
          (inPlaceOk && (lastUse.get(d) ?? -1) === k && fullShapeInputOf(steps[k]!, d))),
    );
    if (j >= 0) {
      placement.set(v, { kind: "output", donatedFrom: donatedFree[j]!.i, home: -1 });
      donatedFree.splice(j, 1);
    } else placement.set(v, { kind: "output", donatedFrom: null, home: -1 });
  }

  // ---- slots for intermediates: best fit from the free list, freed after their last read
  const free: Slot[] = [];
  const allSlots: Slot[] = [];
  let intermediateBytes = 0;
  const take = (bytes: number): Slot => {
    let best = -1;
    free.forEach((s, i) => {
      if (s.bytes >= bytes && (best < 0 || s.bytes < free[best]!.bytes)) best = i;
    });
    if (best < 0 && free.length) {
      // Grow the largest free slot rather than adding another (nothing is allocated until planning ends).
      free.forEach((s, i) => {
        if (best < 0 || s.bytes > free[best]!.bytes) best = i;
      });
      free[best]!.bytes = bytes;
    }
    if (best >= 0) return free.splice(best, 1)[0]!;
    const s: Slot = { bytes, offset: -1 };
    allSlots.push(s);
    return s;
  };
  steps.forEach((s, k) => {
    const dying = [...new Set(stepInputs(s).map(rootOf))].filter(
      (v) => lastUse.get(v) === k && placement.get(v)?.kind === "slot",
    );
    // In place: a fused loop may write over a full-size input that dies here.
    const early = s.kind === "fused" ? dying.filter((v) => fullShapeInputOf(s, v)) : [];
    for (const v of early) free.push((placement.get(v) as { slot: Slot }).slot);
    for (const v of stepOutputs(s)) {
      if (placement.has(v)) continue;
      intermediateBytes += avalBytes(v.aval);
      placement.set(v, { kind: "slot", slot: take(Math.max(avalBytes(v.aval), 8)) });
    }
    for (const v of dying) if (!early.includes(v)) free.push((placement.get(v) as { slot: Slot }).slot);
    // Values defined here and never read (an unused output of a multi-output equation) die at once.
    for (const v of stepOutputs(s)) {
      if (!lastUse.has(v) && placement.get(v)?.kind === "slot")
        free.push((placement.get(v) as { slot: Slot }).slot);
    }
  });
  const memory = PlanMemory.forActiveBackend();
  for (const s of allSlots) s.offset = memory.reserve(s.bytes);
  // Homes for outputs that take a donated buffer (wasm kernels then find them in place next call).
  if (memory.wasm) {
    for (const v of outputSet) {
      const p = placement.get(v);
      if (p?.kind === "output" && p.donatedFrom !== null) p.home = memory.reserve(avalBytes(v.aval));
    }
  }

  // ---- the buffer table: one entry per value that kernels read or write (filled once memory exists)
  const tableIndex = new Map<Var, number>();
  const table: TypedArray[] = [];
  const entries: (() => TypedArray)[] = [];
  const perCall: { index: number; v: Var; place: Placement }[] = [];
  const indexOf = (v: Var): number => {
    let i = tableIndex.get(v);
    if (i !== undefined) return i;
    const p = placement.get(v)!;
    i = entries.length;
    tableIndex.set(v, i);
    if (p.kind === "slot")
      entries.push(() => viewAt(memory.view().buffer, v.aval.dtype, p.slot.offset, sizeOf(v.aval.shape)));
    else if (p.kind === "const") entries.push(() => p.value.concrete().data);
    else if (p.kind === "alias") {
      const ri = indexOf(rootOf(v));
      entries.push(() => table[ri]!);
      perCall.push({ index: i, v, place: p });
    } else {
      entries.push(() => storageFor(v.aval.dtype, 0));
      perCall.push({ index: i, v, place: p });
    }
    return i;
  };
  // Order matters for aliases (roots first): walk values in definition order.
  for (const v of [...program.constVars, ...program.inputs]) indexOf(v);
  for (const s of steps)
    for (const e of stepEqns(s)) for (const o of e.outputs) if (placement.has(o)) indexOf(o);
  perCall.sort((a, b) => a.index - b.index);

  // ---- kernels: lowered with the plan memory (they reserve their scratch in it), then the memory exists
  const resident = (a: Atom): boolean => a instanceof Var && placement.get(rootOf(a))?.kind === "slot";
  const bindings: ((table: TypedArray[]) => () => void)[] = [];
  const callNames: string[] = [];
  const kernelSources: string[] = [];
  // The first kernel call that may write over a donated input (its output takes that input's buffer).
  const firstDonatedWriteStep = steps.findIndex((s) =>
    stepOutputs(s).some((v) => {
      const p = placement.get(v);
      return p?.kind === "output" && p.donatedFrom !== null;
    }),
  );
  let firstDonatedWrite = Number.POSITIVE_INFINITY;
  const returnedUnchanged = program.inputs.map((v) => outputSet.has(v));
  for (const [k, s] of steps.entries()) {
    if (k === firstDonatedWriteStep) firstDonatedWrite = bindings.length;
    if (s.kind === "gemm") {
      callNames.push(describeStep(s, k));
      const context = memory.context({ inputs: [s.a, s.b].map(resident), outputs: [resident(s.out)] });
      const kernel = gemmKernel(s.dtype, 1, s.m, s.k, s.n, context, s);
      const [ia, ib, io] = [indexOf(s.a), indexOf(s.b), indexOf(s.out)];
      bindings.push((t) => () => kernel(t[ia]!, t[ib]!, t[io]!));
      continue;
    }
    if (s.kind !== "fused" && placement.get(s.equation.outputs[0]!)?.kind !== "alias")
      callNames.push(describeStep(s, k));
    if (s.kind === "fused") {
      callNames.push(describeStep(s, k));
      const context = memory.context({ inputs: s.inputs.map(resident), outputs: s.outputs.map(resident) });
      const simd = wasmFusedKernel(s, context, indexOf);
      if (simd) {
        kernelSources.push(simd.description);
        bindings.push((t) => () => simd.run(t));
        continue;
      }
      const { run, source } = generateFusedKernel(s, indexOf);
      kernelSources.push(source);
      bindings.push((t) => () => run(t));
      continue;
    }
    const e = s.equation;
    if (placement.get(e.outputs[0]!)?.kind === "alias") continue; // reshape: no work
    const context = memory.context({ inputs: e.inputs.map(resident), outputs: e.outputs.map(resident) });
    bindings.push(lowerEquation(e, indexOf, context));
  }
  for (const make of entries) table.push(make());
  const calls = bindings.map((bind) => bind(table));

  const inputCount = program.inputs.length;
  let timings: Float64Array | null = null;
  /** The array that last received each home (by offset): the home is free once that array is donated. */
  const homeOwners = new Map<number, ConcreteArray>();
  const written: { index: number; offset: number }[] = [];
  const homeViews = new Map<number, TypedArray>();
  const homeView = (v: Var, offset: number): TypedArray => {
    let view = homeViews.get(offset);
    if (!view)
      homeViews.set(
        offset,
        (view = viewAt(memory.view().buffer, v.aval.dtype, offset, sizeOf(v.aval.shape))),
      );
    return view;
  };
  const executable: Executable = {
    program,
    steps,
    kernelSources,
    memory: {
      intermediateBytes,
      arenaBytes: allSlots.reduce((n, s) => n + s.bytes, 0),
      planBytes: memory.bytes,
      slots: allSlots.length,
    },
    profile(args, runs) {
      if (!Number.isInteger(runs) || runs < 1)
        throw new RangeError(`profile: runs must be a positive integer, got ${runs}`);
      timings = new Float64Array(calls.length);
      try {
        for (let r = 0; r < runs; r++) executable.run(args, []);
        return callNames.map((step, k) => ({ step, ms: timings![k]! / runs }));
      } finally {
        timings = null;
      }
    },
    run(args, donate) {
      nextEpoch();
      /**
       * Where output v goes: over a donated input that lives in this plan's memory; else into its home
       * when the array that had it was donated; else over a donated ordinary buffer; else a fresh one.
       */
      const outputBuffer = (
        v: Var,
        place: Extract<Placement, { kind: "output" }>,
        index: number,
      ): TypedArray => {
        const d = place.donatedFrom;
        const donated = d !== null && donate[d] ? args[d]!.data : null;
        if (donated && donated.buffer === ours) {
          written.push({ index, offset: donated.byteOffset });
          return donated;
        }
        if (donated && place.home >= 0) {
          const owner = homeOwners.get(place.home);
          if (!owner || owner.isDonated) {
            written.push({ index, offset: place.home });
            return homeView(v, place.home);
          }
        }
        if (donated && !isPlanMemoryBuffer(donated.buffer)) return donated;
        return storageFor(v.aval.dtype, sizeOf(v.aval.shape));
      };
      for (let i = 0; i < inputCount; i++) table[tableIndex.get(program.inputs[i]!)!] = args[i]!.data;
      written.length = 0;
      const ours = memory.view().buffer;
      for (const { index, v, place } of perCall) {
        if (place.kind === "alias") table[index] = table[tableIndex.get(rootOf(v))!]!;
        else if (place.kind === "output") table[index] = outputBuffer(v, place, index);
      }
      let k = 0;
      try {
        if (timings) {
          for (; k < calls.length; k++) {
            const start = performance.now();
            calls[k]!();
            timings[k]! += performance.now() - start;
          }
        } else for (; k < calls.length; k++) calls[k]!();
      } catch (error) {
        // Past the first write over a donated buffer the inputs may be torn: none stays readable (but
        // those returned unchanged, which no step writes, stay valid as after a successful call).
        if (k >= firstDonatedWrite) {
          for (let i = 0; i < inputCount; i++)
            if (donate[i] && !returnedUnchanged[i] && !args[i]!.isDonated) args[i]!.donate(true);
        }
        throw error;
      }
      const outs = program.outputs.map((a) => materialize(a, table, tableIndex, placement, rootOf, args));
      // The same value returned twice: each array gets its own buffer, so donating one leaves the other.
      for (let k = 1; k < outs.length; k++) {
        const out = outs[k]!;
        if (!args.includes(out) && outs.findIndex((o) => o.data === out.data) < k)
          outs[k] = new ConcreteArray(out.shape, out.dtype, out.data.slice());
      }
      for (const { index, offset } of written) {
        const k = program.outputs.findIndex((a) => a instanceof Var && tableIndex.get(a) === index);
        if (k >= 0) homeOwners.set(offset, outs[k]!);
      }
      // A donated input returned unchanged is its own output: it stays valid.
      for (let i = 0; i < inputCount; i++) {
        if (donate[i] && !args[i]!.isDonated && !outs.includes(args[i]!)) args[i]!.donate();
      }
      return outs;
    },
    toString() {
      return describe(executable);
    },
  };
  return executable;
}

const WIDTH = { float64: 8, float32: 4, int32: 4, bool: 1 } as const;

/**
 * Whether a fused loop may write its outputs over input `v`: v is read only at the loop index (same
 * shape as the loop, not through a broadcast), and no output is wider than v's elements, so every
 * write lands on elements already read.
 */
function fullShapeInputOf(step: PlanStep, v: Var): boolean {
  if (step.kind !== "fused" || !step.inputs.includes(v) || !shapeEquals(v.aval.shape, step.shape))
    return false;
  return step.outputs.every((o) => WIDTH[o.aval.dtype] <= WIDTH[v.aval.dtype]);
}

function materialize(
  a: Atom,
  table: TypedArray[],
  tableIndex: Map<Var, number>,
  placement: Map<Var, Placement>,
  rootOf: (v: Var) => Var,
  args: readonly ConcreteArray[],
): ConcreteArray {
  if (a instanceof Literal) return a.value;
  const p = placement.get(a)!;
  if (p.kind === "input") return args[p.index]!;
  if (p.kind === "const") return p.value.concrete();
  const data = table[tableIndex.get(a)!]!;
  // Outputs in their own per-call buffers are handed over; anything living in the arena is copied.
  const root = placement.get(rootOf(a))!;
  const owned = p.kind === "output" || (p.kind === "alias" && root.kind === "output");
  return new ConcreteArray(a.aval.shape, a.aval.dtype, owned ? data : data.slice());
}

/**
 * One equation's kernel, lowered now (reserving its scratch in the plan memory), and how to bind it to the
 * buffer table once that memory exists: a pre-bound call of the kernel, or of `impl` plus a copy.
 */
function lowerEquation(
  e: Equation,
  indexOf: (v: Var) => number,
  context: KernelContext,
): (table: TypedArray[]) => () => void {
  const inAvals = e.inputs.map((a) => a.aval);
  const outAvals = e.outputs.map((v) => v.aval);
  const inIdx = e.inputs.map((a) => (a instanceof Var ? indexOf(a) : -1));
  const literals = e.inputs.map((a) => (a instanceof Literal ? a.value.data : null));
  const outIdx = e.outputs.map((v) => indexOf(v));
  const kernel: Kernel | undefined = e.primitive.lower?.(inAvals, outAvals, e.params, context);
  return (table) => bindEquation(e, table, inIdx, outIdx, literals, kernel);
}

function bindEquation(
  e: Equation,
  table: TypedArray[],
  inIdx: readonly number[],
  outIdx: readonly number[],
  literals: readonly (TypedArray | null)[],
  kernel: Kernel | undefined,
): () => void {
  const inAvals = e.inputs.map((a) => a.aval);
  const ins: TypedArray[] = inIdx.map((i, k) => (i < 0 ? literals[k]! : table[i]!));
  const outs: TypedArray[] = outIdx.map((i) => table[i]!);
  if (kernel) {
    return () => {
      for (let k = 0; k < inIdx.length; k++) if (inIdx[k]! >= 0) ins[k] = table[inIdx[k]!]!;
      for (let k = 0; k < outIdx.length; k++) outs[k] = table[outIdx[k]!]!;
      kernel(ins, outs);
    };
  }
  return () => {
    const args = inIdx.map(
      (i, k) => new ConcreteArray(inAvals[k]!.shape, inAvals[k]!.dtype, i < 0 ? literals[k]! : table[i]!),
    );
    const results = e.primitive.impl(args, e.params);
    results.forEach((r, k) => table[outIdx[k]!]!.set(r.data));
  };
}

function describeStep(s: PlanStep, k: number): string {
  if (s.kind === "gemm") {
    const op = (transposed: boolean) => (transposed ? "ᵀ" : "");
    return `${k}: gemm[A${op(s.transposeA)} B${op(s.transposeB)}] -> ${fmtAval(s.out.aval)}`;
  }
  if (s.kind === "fused") {
    const g = s as FusedGroup;
    return `${k}: fused[${g.equations.map((e) => e.primitive.name).join(",")}] -> ${g.outputs.map((v) => fmtAval(v.aval)).join(", ")}`;
  }
  return `${k}: ${s.equation.primitive.name} -> ${s.equation.outputs.map((v) => fmtAval(v.aval)).join(", ")}`;
}

function describe(x: Executable): string {
  const lines = [
    "optimized program:",
    x.program.toString(),
    "",
    `steps: ${x.steps.length} (${x.steps.filter((s) => s.kind === "fused").length} fused loops)`,
  ];
  x.steps.forEach((s, k) => {
    lines.push(`  ${describeStep(s, k)}`);
  });
  lines.push(
    "",
    `memory: arena ${x.memory.arenaBytes} bytes in ${x.memory.slots} slots for ${x.memory.intermediateBytes} bytes of intermediates; plan memory ${x.memory.planBytes} bytes with kernel scratch`,
  );
  return lines.join("\n");
}
