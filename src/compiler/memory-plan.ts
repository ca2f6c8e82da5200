/**
 * The memory planner: a pure function from a program's steps and their liveness to a `Plan` that says
 * where every value lives while the plan runs. Intermediates get best-fit slots of one arena, freed after
 * their last read; a fused loop writes in place over a full-size input that dies there; outputs take
 * the buffer of a donated input that is no longer read (and, in a WebAssembly plan memory, a home there).
 * Kernels that derive the same scratch from the same input share one buffer, filled once per run
 * (shared-buffers.ts). Offsets are laid out from 0 (a sub-plan's from where its parent's memory is up to)
 * with the plan memory's alignment, so the executor reserves the whole layout as the next block of the plan
 * memory and kernels add their scratch after it.
 */
import { PLAN_MEMORY_ALIGNMENT } from "../backend/plan-memory.js";
import type { AbstractValue, NdArray } from "../core/array.js";
import { BYTES_PER_ELEMENT } from "../core/dtype.js";
import { type Program, programNames, Var } from "../core/ir.js";
import type { PlannedDerivedInput } from "../core/primitive.js";
import { shapeEquals, sizeOf } from "../core/shape.js";
import { type Liveness, programOutputVars, rootOf } from "./liveness.js";
import { type PlanStep, stepInputs, stepOutputs } from "./plan-steps.js";
import { planSharedBuffers, type SharedBufferRequest } from "./shared-buffers.js";

/** Where a value lives while the plan runs. */
export type Placement =
  | { readonly kind: "input"; readonly index: number }
  | { readonly kind: "const"; readonly value: NdArray }
  /** An intermediate in `plan.slots[slot]`. */
  | { readonly kind: "slot"; readonly slot: number }
  /** A view of another value's buffer (reshape): no buffer of its own. */
  | { readonly kind: "alias"; readonly of: Var }
  /**
   * A plan output. `donatedFrom`: the donated input whose buffer it may take. `home`: where in the plan
   * memory it lives while it is the output of the last call (byte offset, or -1), so a donated training
   * loop keeps its parameters and optimizer state in the plan memory, read and written in place.
   */
  | { readonly kind: "output"; readonly donatedFrom: number | null; readonly home: number };

/** One value's stay in a slot: written by step `from`, last read by step `to` (steps.length: returned). */
export interface Tenancy {
  readonly value: Var;
  readonly from: number;
  readonly to: number;
  /** The value whose buffer this one overwrites while the same fused loop still reads it. */
  readonly inPlaceOf: Var | null;
}

/** A buffer of the arena, reused by values whose lives do not overlap. */
export interface Slot {
  /** Byte offset in the plan memory. */
  readonly offset: number;
  readonly bytes: number;
  /** The values that live in it, in plan order. */
  readonly tenants: readonly Tenancy[];
}

/** A buffer kernels of several steps share (e.g. a convolution's unrolled input), at its plan offset. */
export interface SharedBuffer extends SharedBufferRequest {
  /** Byte offset in the plan memory. */
  readonly offset: number;
}

export interface Plan {
  readonly program: Program;
  readonly steps: readonly PlanStep[];
  readonly placement: ReadonlyMap<Var, Placement>;
  readonly slots: readonly Slot[];
  readonly liveness: Liveness;
  /** Buffers shared between the kernels of several steps, with who fills and who reads them. */
  readonly shared: readonly SharedBuffer[];
  /** Bytes of all intermediate buffers if each had its own. */
  readonly intermediateBytes: number;
  /** Bytes of the arena's slots. */
  readonly arenaBytes: number;
  /** End of the layout (slots, homes, shared buffers), from `base`: the executor reserves up to here. */
  readonly bytes: number;
  /** The shared buffer step `k`'s kernel uses for its `derivedInput`, if any, and whether it fills it. */
  derivedInputAt(k: number): PlannedDerivedInput | undefined;
  /** The value whose buffer `v` is (itself unless an alias). */
  rootOf(v: Var): Var;
  /** Slots with their tenants' lifetimes, donations and homes, in-place writes, shared buffers. */
  toString(): string;
}

export interface PlanOptions {
  /** Per program input: may the plan write outputs over its buffer. */
  readonly donatable: readonly boolean[];
  /** Give outputs that take a donated buffer a home in the plan memory (a WebAssembly memory). */
  readonly homes: boolean;
  /** Where the layout starts in the plan memory (aligned): 0, or after the parent's for a sub-plan. */
  readonly base?: number;
}

export function planMemory(
  program: Program,
  consts: readonly NdArray[],
  steps: readonly PlanStep[],
  live: Liveness,
  options: PlanOptions,
): Plan {
  const { lastUse, definedAt, aliasOf } = live;
  const root = (v: Var): Var => rootOf(live, v);
  const placement = new Map<Var, Placement>();
  program.inputs.forEach((v, i) => placement.set(v, { kind: "input", index: i }));
  program.constVars.forEach((v, i) => placement.set(v, { kind: "const", value: consts[i]! }));
  for (const [v, of] of aliasOf) placement.set(v, { kind: "alias", of });
  const outputSet = programOutputVars(program);

  // ---- outputs: a donated input buffer of the same dtype and size whose last read comes no later.
  // The same dtype, not only the same bytes: the run hands the donated typed array itself to the output
  // (kernel destination and the returned array's storage), so a float32 output in an int32 buffer would
  // truncate its values and a float16 one in a float32 buffer would hold its bits as numbers.
  const donatedFree = program.inputs.map((v, i) => ({ v, i })).filter(({ i }) => options.donatable[i]);
  const donatedOutputs: Var[] = [];
  for (const v of outputSet) {
    if (placement.has(v)) continue; // an input, const or alias
    const k = definedAt.get(v)!;
    const inPlaceOk = steps[k]!.kind === "fused";
    const j = donatedFree.findIndex(
      ({ v: d }) =>
        d.aval.dtype === v.aval.dtype &&
        sizeOf(d.aval.shape) === sizeOf(v.aval.shape) &&
        ((lastUse.get(d) ?? -1) < k ||
          (inPlaceOk && (lastUse.get(d) ?? -1) === k && mayWriteOver(steps[k]!, v, d))),
    );
    if (j >= 0) {
      placement.set(v, { kind: "output", donatedFrom: donatedFree[j]!.i, home: -1 });
      donatedOutputs.push(v);
      donatedFree.splice(j, 1);
    } else placement.set(v, { kind: "output", donatedFrom: null, home: -1 });
  }

  // ---- slots for intermediates: best fit from the free list, freed after their last read
  const slotBytes: number[] = [];
  const tenants: Tenancy[][] = [];
  const free: number[] = [];
  let intermediateBytes = 0;
  /** A free slot for `bytes` (`allowed`: which free slots this value may take). */
  const take = (bytes: number, allowed: (slot: number) => boolean): number => {
    let best = -1;
    free.forEach((s, i) => {
      if (!allowed(s)) return;
      if (slotBytes[s]! >= bytes && (best < 0 || slotBytes[s]! < slotBytes[free[best]!]!)) best = i;
    });
    if (best < 0 && free.some(allowed)) {
      // Grow the largest free slot rather than adding another (nothing is allocated until planning ends).
      free.forEach((s, i) => {
        if (allowed(s) && (best < 0 || slotBytes[s]! > slotBytes[free[best]!]!)) best = i;
      });
      slotBytes[free[best]!] = bytes;
    }
    if (best >= 0) return free.splice(best, 1)[0]!;
    slotBytes.push(bytes);
    tenants.push([]);
    return slotBytes.length - 1;
  };
  const slotOf = (v: Var): number => (placement.get(v) as { slot: number }).slot;
  steps.forEach((s, k) => {
    const dying = [...new Set(stepInputs(s).map(root))].filter(
      (v) => lastUse.get(v) === k && placement.get(v)?.kind === "slot",
    );
    // In place: a fused loop may write an output over a full-size input that dies here, if no wider.
    const early = dying.filter((v) => stepOutputs(s).some((o) => mayWriteOver(s, o, v)));
    for (const v of early) free.push(slotOf(v));
    for (const v of stepOutputs(s)) {
      if (placement.has(v)) continue;
      intermediateBytes += avalBytes(v.aval);
      const allowed = (slot: number): boolean => {
        const input = early.find((e) => slotOf(e) === slot);
        return !input || mayWriteOver(s, v, input);
      };
      const slot = take(Math.max(avalBytes(v.aval), 8), allowed);
      placement.set(v, { kind: "slot", slot });
      const over = early.find((e) => slotOf(e) === slot) ?? null;
      tenants[slot]!.push({ value: v, from: k, to: lastUse.get(v) ?? k, inPlaceOf: over });
    }
    for (const v of dying) if (!early.includes(v)) free.push(slotOf(v));
    // Values defined here and never read (an unused output of a multi-output equation) die at once.
    for (const v of stepOutputs(s)) {
      if (!lastUse.has(v) && placement.get(v)?.kind === "slot") free.push(slotOf(v));
    }
  });

  // ---- layout: the slots, then the homes of outputs that take a donated buffer
  let end = options.base ?? 0;
  const place = (bytes: number): number => {
    const at = Math.ceil(end / PLAN_MEMORY_ALIGNMENT) * PLAN_MEMORY_ALIGNMENT;
    end = at + bytes;
    return at;
  };
  const slots: Slot[] = slotBytes.map((bytes, s) => ({ offset: place(bytes), bytes, tenants: tenants[s]! }));
  if (options.homes) {
    for (const v of donatedOutputs) {
      const p = placement.get(v) as Extract<Placement, { kind: "output" }>;
      placement.set(v, { ...p, home: place(avalBytes(v.aval)) });
    }
  }

  // ---- shared buffers (after the homes): one per key, the plan says which step fills it
  const shared: SharedBuffer[] = planSharedBuffers(steps, root).map((b) => ({
    ...b,
    offset: place(b.bytes),
  }));
  const derivedInputs = new Map<number, PlannedDerivedInput>();
  for (const b of shared)
    for (const u of b.uses) derivedInputs.set(u.step, { offset: b.offset, fill: u.fill });

  const plan: Plan = {
    program,
    steps,
    placement,
    slots,
    shared,
    liveness: live,
    intermediateBytes,
    arenaBytes: slotBytes.reduce((n, b) => n + b, 0),
    bytes: end,
    rootOf: root,
    derivedInputAt: (k) => derivedInputs.get(k),
    toString: () => describePlan(plan),
  };
  return plan;
}

/**
 * Whether fused loop `step` may write its output `o` over the buffer of its input `v` (a dying slot, or
 * a donated input it reads last): v is read only at the loop index (`readAtLoopIndex`) and o's elements
 * are no wider than v's. Then o's writes land on elements of v already read, in each way a loop runs:
 * - The JS loop (fusion.ts) reads all of element i's inputs before it writes element i's outputs; output
 *   element i covers bytes [i*w_o, (i+1)*w_o), inside input elements 0..i when w_o <= w_v.
 * - The wasm loop (fused-wasm.ts) loads the inputs of elements i..i+3 (or the tail's lanes), computes,
 *   then stores those elements of every output: bytes below (i+4)*w_o, inside input elements 0..i+3.
 *   Float16 and bool outputs are stored lane by lane in their own bytes (no 16-byte store past them).
 * - Reductions write their output once, after the loop.
 * - Threaded chunks run at once only if every output overlaps inputs element for element with equal
 *   widths (fused-wasm.ts `chunksIndependent`); a narrower output over a wider input runs in order.
 * The loop's other outputs do not matter (wider ones included): each has a buffer of its own.
 */
export function mayWriteOver(step: PlanStep, o: Var, v: Var): boolean {
  return readAtLoopIndex(step, v) && BYTES_PER_ELEMENT[o.aval.dtype] <= BYTES_PER_ELEMENT[v.aval.dtype];
}

/** Whether fused loop `step` reads input `v` only at the loop index (its shape, not through a broadcast). */
function readAtLoopIndex(step: PlanStep, v: Var): boolean {
  return step.kind === "fused" && step.inputs.includes(v) && shapeEquals(v.aval.shape, step.shape);
}

/** A value's bytes in the plan memory: its elements at its dtype's width. */
function avalBytes(a: AbstractValue): number {
  return sizeOf(a.shape) * BYTES_PER_ELEMENT[a.dtype];
}

/** The plan as `jit(f).lower(...)` prints it, naming values as the optimized program does. */
function describePlan(plan: Plan): string {
  const names = programNames(plan.program);
  const name = (v: Var): string => names.get(v) ?? "?";
  const end = plan.steps.length;
  const at = (k: number): string => (k === end ? "out" : String(k));
  const lines = [`slots: ${plan.slots.length} (value [written at step..last read], "out": returned)`];
  plan.slots.forEach((slot, s) => {
    const lives = slot.tenants.map(
      (t) =>
        `${name(t.value)} [${t.from}..${at(t.to)}]${t.inPlaceOf ? ` in place of ${name(t.inPlaceOf)}` : ""}`,
    );
    lines.push(`  slot ${s} @${slot.offset} ${slot.bytes} bytes: ${lives.join(", ")}`);
  });
  const outputs: string[] = [];
  plan.program.outputs.forEach((a, i) => {
    const p = a instanceof Var ? plan.placement.get(a) : undefined;
    if (!(a instanceof Var) || p?.kind !== "output" || p.donatedFrom === null) return;
    const input = plan.program.inputs[p.donatedFrom]!;
    const home = p.home >= 0 ? `, home @${p.home}` : "";
    outputs.push(`  output ${i} ${name(a)} takes donated input ${name(input)}'s buffer${home}`);
  });
  if (outputs.length) lines.push("donations:", ...outputs);
  if (plan.shared.length) {
    lines.push(
      `shared buffers: ${plan.shared.length} (a step fills one from its input; later steps reading that input reuse it)`,
    );
    plan.shared.forEach((b, i) => {
      const uses = b.uses.map((u) => {
        const eqn = plan.steps[u.step];
        const prim = eqn?.kind === "eqn" ? eqn.equation.primitive.name : "?";
        return `step ${u.step} ${prim} ${u.fill ? `fills from ${name(u.from)}` : `reads (${name(u.from)})`}`;
      });
      lines.push(`  shared ${i} @${b.offset} ${b.bytes} bytes, ${b.label}: ${uses.join(", ")}`);
    });
  }
  return lines.join("\n");
}
