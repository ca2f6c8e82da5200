/**
 * Running a lowered plan: bind the call's inputs and output buffers into the table (a donated buffer or
 * the output's home when the plan allows it), run the pre-bound kernel calls, hand the outputs over and
 * mark donated inputs as consumed. Nothing here allocates in steady state but outputs that take no
 * donated buffer.
 */
import { isPlanMemoryBuffer, type PlanMemory, viewAt } from "../backend/plan-memory.js";
import { ConcreteArray } from "../core/array.js";
import { debugNansEnabled } from "../core/debug-nans.js";
import { storageFor, type TypedArray } from "../core/dtype.js";
import { type Atom, Literal, Var } from "../core/ir.js";
import { sizeOf } from "../core/shape.js";
import { programOutputVars } from "./liveness.js";
import type { LoweredPlan } from "./lower-plan.js";
import type { Placement, Plan } from "./memory-plan.js";
import { type NanChecker, nanChecker } from "./nan-check.js";

export interface PlanRunner {
  /**
   * Runs the plan once. `timings`, when given, gets each kernel call's milliseconds added (profiling).
   * A donated input is consumed (or, past a failed call's first write over donated buffers, torn).
   */
  run(
    args: readonly ConcreteArray[],
    donate: readonly boolean[],
    timings: Float64Array | null,
  ): ConcreteArray[];
  /**
   * Runs the plan once on buffers of its memory (a sub-plan's operands, `compileSubPlan`): kernels read
   * `args` and write every output straight into `outs` (a value returned twice, or an input, constant or
   * view returned as it is, is copied there). `outs` must not overlap `args`; nothing is allocated.
   */
  runInto(args: readonly TypedArray[], outs: readonly TypedArray[]): void;
  /**
   * Milliseconds per kernel call that `runInto` added while `subPlanProfiling.active` (a profiled run of
   * the enclosing plan), handed over and reset; null if it ran none.
   */
  takeTimings(): Float64Array | null;
}

/** Set while a plan is profiled: its sub-plans time their kernel calls too (`PlanRunner.takeTimings`). */
export const subPlanProfiling = { active: false };

export function execute(plan: Plan, lowered: LoweredPlan, memory: PlanMemory): PlanRunner {
  const { program, placement } = plan;
  const { table, tableIndex, perCall, firstDonatedWrite } = lowered;
  let calls: readonly (() => void)[] = [];
  const inputCount = program.inputs.length;
  const inputIndex = program.inputs.map((v) => tableIndex.get(v)!);
  const outputSet = programOutputVars(program);
  const returnedUnchanged = program.inputs.map((v) => outputSet.has(v));
  /** The array that last received each home (by offset): the home is free once that array is donated. */
  const homeOwners = new Map<number, ConcreteArray>();
  const written: { index: number; offset: number }[] = [];
  const homeViews = new Map<number, TypedArray>();
  let nanCheck: NanChecker | null = null;
  const homeView = (v: Var, offset: number): TypedArray => {
    let view = homeViews.get(offset);
    if (!view)
      homeViews.set(
        offset,
        (view = viewAt(memory.view().buffer, v.aval.dtype, offset, sizeOf(v.aval.shape))),
      );
    return view;
  };
  const materialize = (a: Atom, args: readonly ConcreteArray[]): ConcreteArray => {
    if (a instanceof Literal) return a.value;
    const p = placement.get(a)!;
    if (p.kind === "input") return args[p.index]!;
    if (p.kind === "const") return p.value.concrete();
    const data = table[tableIndex.get(a)!]!;
    // Outputs in their own per-call buffers are handed over; anything living in the arena is copied.
    const root = placement.get(plan.rootOf(a))!;
    const owned = p.kind === "output" || (p.kind === "alias" && root.kind === "output");
    return new ConcreteArray(a.aval.shape, a.aval.dtype, owned ? data : data.slice());
  };

  /** The output position whose destination each output-placed value is written into (its first). */
  const firstOutputOf = new Map<Var, number>();
  program.outputs.forEach((a, k) => {
    if (a instanceof Var && placement.get(a)?.kind === "output" && !firstOutputOf.has(a))
      firstOutputOf.set(a, k);
  });
  /** Output positions whose value is not written there by a kernel, so runInto copies it in. */
  const copiedOutputs = program.outputs.flatMap((a, k) =>
    a instanceof Var && firstOutputOf.get(a) === k ? [] : [k],
  );
  let bound = false;
  const bindOnce = (): void => {
    if (bound) return;
    calls = lowered.bind();
    bound = true;
  };
  /** The call running (or, after a failure, the one that threw); the run loop's counter. */
  let k = 0;
  const runCalls = (timings: Float64Array | null): void => {
    if (timings) {
      for (k = 0; k < calls.length; k++) {
        const start = performance.now();
        calls[k]!();
        timings[k]! += performance.now() - start;
      }
    } else if (debugNansEnabled) {
      nanCheck ??= nanChecker(lowered);
      for (k = 0; k < calls.length; k++) {
        nanCheck.before(k);
        calls[k]!();
        nanCheck.after(k);
      }
    } else for (k = 0; k < calls.length; k++) calls[k]!();
  };

  let subTimings: Float64Array | null = null;
  return {
    takeTimings() {
      const t = subTimings;
      subTimings = null;
      return t;
    },
    runInto(args, outs) {
      bindOnce();
      for (let i = 0; i < inputCount; i++) table[inputIndex[i]!] = args[i]!;
      for (const { index, v, place } of perCall) {
        if (place.kind === "alias") table[index] = table[tableIndex.get(plan.rootOf(v))!]!;
        else table[index] = outs[firstOutputOf.get(v)!]!;
      }
      if (subPlanProfiling.active) runCalls((subTimings ??= new Float64Array(calls.length)));
      else runCalls(null);
      for (const k of copiedOutputs) {
        const a = program.outputs[k]!;
        if (a instanceof Literal) outs[k]!.set(a.value.storage);
        else {
          const p = placement.get(a)!;
          if (p.kind === "input") outs[k]!.set(args[p.index]!);
          else if (p.kind === "const") outs[k]!.set(p.value.concrete().storage);
          else outs[k]!.set(table[tableIndex.get(a)!]!);
        }
      }
    },
    run(args, donate, timings) {
      bindOnce();
      const ours = memory.view().buffer;
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
        const donated = d !== null && donate[d] ? args[d]!.storage : null;
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
      for (let i = 0; i < inputCount; i++) {
        // The plan writes over donated buffers: deferred views of them read a copy from now on.
        if (donate[i]) args[i]!.preserveForDeferredViews();
        table[inputIndex[i]!] = args[i]!.storage;
      }
      written.length = 0;
      for (const { index, v, place } of perCall) {
        if (place.kind === "alias") table[index] = table[tableIndex.get(plan.rootOf(v))!]!;
        else table[index] = outputBuffer(v, place, index);
      }
      try {
        runCalls(timings);
      } catch (error) {
        // Past the first write over a donated buffer the inputs may be torn: none stays readable (but
        // those returned unchanged, which no step writes, stay valid as after a successful call).
        if (k >= firstDonatedWrite) {
          for (let i = 0; i < inputCount; i++)
            if (donate[i] && !returnedUnchanged[i] && !args[i]!.isDonated) args[i]!.donate(true);
        }
        throw error;
      }
      const outs = program.outputs.map((a) => materialize(a, args));
      // The same value returned twice: each array gets its own buffer, so donating one leaves the other.
      for (let k = 1; k < outs.length; k++) {
        const out = outs[k]!;
        if (!args.includes(out) && outs.findIndex((o) => o.storage === out.storage) < k)
          outs[k] = new ConcreteArray(out.shape, out.dtype, out.storage.slice());
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
  };
}
