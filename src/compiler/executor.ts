/**
 * Compile a program into an executable plan, as a chain of passes with data between them:
 *
 *   optimize (passes.ts)      ClosedProgram -> ClosedProgram   simplify, fold, CSE, DCE
 *   hoistChecks               Program -> Program              value checks first
 *   fuse, absorbTransposes    Program -> PlanStep[]           fused loops, GEMMs
 *   liveness                  PlanStep[] -> Liveness          aliases, definitions, last reads
 *   planMemory                ... -> Plan                     slots, donation, homes, in place (pure)
 *   lowerPlan                 Plan + PlanMemory -> LoweredPlan  kernels bound to a buffer table
 *   execute                   Plan + LoweredPlan -> PlanRunner  the run loop
 *
 * The slots and every kernel's scratch live in one plan memory (a WebAssembly memory on the wasm
 * backend, so wasm kernels work on intermediates in place). All shape logic and allocation of
 * intermediates happen here, once.
 */

import { PlanMemory } from "../backend/plan-memory.js";
import type { ConcreteArray } from "../core/array.js";
import type { TypedArray } from "../core/dtype.js";
import type { Program } from "../core/ir.js";
import type { SubPlanOptions } from "../core/primitive.js";
import "./eager-fused.js";
import { execute } from "./execute.js";
import { wasmFallback } from "./fused-wasm.js";
import { fuse } from "./fusion.js";
import { absorbTransposes } from "./gemm-steps.js";
import { hoistChecks } from "./hoist-checks.js";
import { liveness } from "./liveness.js";
import { type LoweredSubPlan, lowerPlan } from "./lower-plan.js";
import { type Plan, planMemory } from "./memory-plan.js";
import { type ClosedProgram, optimize } from "./passes.js";
import { describeStep, type PlanStep } from "./plan-steps.js";
import { type ProfiledCalls, profilePlan, type StepProfile } from "./profile.js";

export type { PlanStep } from "./plan-steps.js";
export type { StepProfile } from "./profile.js";

export interface MemoryReport {
  /** Bytes of all intermediate buffers if each had its own. */
  intermediateBytes: number;
  /** Bytes of the arena the planner allocated (shared, reused slots). */
  arenaBytes: number;
  /** Bytes of the plan memory: the arena and the kernels' scratch. */
  planBytes: number;
  slots: number;
}

export interface Executable {
  run(args: readonly ConcreteArray[], donate: readonly boolean[]): ConcreteArray[];
  /** A sub-plan's run: on views of the plan memory, outputs written into `outs` (`PlanRunner.runInto`). */
  runInto(args: readonly TypedArray[], outs: readonly TypedArray[]): void;
  /** A sub-plan's invariant inputs changed (`SubPlan.invariantsChanged`). */
  invariantsChanged(): void;
  /**
   * Runs the plan `runs` times on `args` (nothing donated), timing every kernel call, those of its
   * sub-plans included; in plan order.
   */
  profile(args: readonly ConcreteArray[], runs: number): StepProfile[];
  /** The plan's kernel calls as its profile reads them. */
  readonly calls: ProfiledCalls;
  readonly program: Program;
  readonly steps: readonly PlanStep[];
  /** Where every value lives: slots and their tenants' lifetimes, donations, homes, in-place writes. */
  readonly plan: Plan;
  readonly memory: MemoryReport;
  readonly kernelSources: readonly string[];
  /** Plans of the sub-programs steps run (a loop's body and condition, a switch's branches), compiled once. */
  readonly subPlans: readonly LoweredSubPlan<Executable>[];
  toString(): string;
}

/**
 * Compiles a closed program into a plan with a memory of its own; or, given `parent`, a sub-plan (a loop's
 * body, a branch) laid out in its parent's memory, whose operands are views on that memory, run with
 * `runInto`.
 */
export function compile(
  closed: ClosedProgram,
  donatable: readonly boolean[],
  parent: PlanMemory | null = null,
  subPlanOptions: SubPlanOptions = {},
): Executable {
  const optimized = optimize(closed);
  const program = hoistChecks(optimized.program);
  const steps = absorbTransposes(fuse(program.equations, program.outputs), program.outputs);
  const memory = parent ?? PlanMemory.forActiveBackend();
  // The plan's layout is the next block of the plan memory (the first for a plan of its own); kernels
  // reserve their scratch after it.
  const base = memory.reserve(0);
  if (parent === null && base !== 0) throw new Error("jit: the plan memory must start empty");
  const plan = planMemory(program, optimized.consts, steps, liveness(program, steps), {
    donatable,
    homes: memory.wasm,
    base,
  });
  if (memory.reserve(plan.bytes - base) !== base) throw new Error("jit: the plan layout moved");
  const lowered = lowerPlan<Executable>(
    plan,
    memory,
    (sub, options) =>
      compile(
        { program: sub, consts: [] },
        sub.inputs.map(() => false),
        memory,
        options,
      ),
    parent !== null,
    subPlanOptions.invariantInputs ?? 0,
  );
  const runner = execute(plan, lowered, memory);
  const calls: ProfiledCalls = {
    runner,
    callNames: lowered.callNames,
    callStep: lowered.callSteps.map((s) => steps.indexOf(s)),
    subPlans: lowered.subPlans.map((s) => ({ step: s.step, label: s.label, calls: s.plan.calls })),
  };
  const executable: Executable = {
    program,
    steps,
    plan,
    kernelSources: lowered.kernelSources,
    subPlans: lowered.subPlans,
    memory: {
      intermediateBytes: plan.intermediateBytes,
      arenaBytes: plan.arenaBytes,
      planBytes: memory.bytes,
      slots: plan.slots.length,
    },
    profile: (args, runs) => profilePlan(calls, args, runs),
    calls,
    run: (args, donate) => runner.run(args, donate, null),
    runInto: (args, outs) => runner.runInto(args, outs),
    invariantsChanged: lowered.invariantsChanged,
    toString: () => describe(executable),
  };
  return executable;
}

function describe(x: Executable): string {
  const lines = [
    "optimized program:",
    x.program.toString(),
    "",
    `steps: ${x.steps.length} (${x.steps.filter((s) => s.kind === "fused").length} fused loops)`,
    ...describeSteps(x, "  "),
    "",
    `memory: arena ${x.memory.arenaBytes} bytes in ${x.memory.slots} slots for ${x.memory.intermediateBytes} bytes of intermediates; plan memory ${x.memory.planBytes} bytes with kernel scratch`,
    x.plan.toString(),
  ];
  return lines.join("\n");
}

/** The steps of a plan, each followed by the steps of the sub-plans it runs (a loop's body), indented. */
function describeSteps(x: Executable, indent: string): string[] {
  const lines: string[] = [];
  x.steps.forEach((s, k) => {
    // A fused loop that a node keeps out of wasm says which (a performance cliff, not an error).
    const fallback = s.kind === "fused" ? wasmFallback(s) : null;
    lines.push(`${indent}${describeStep(s, k)}`);
    if (fallback) lines.push(`${indent}    (JS loop: ${fallback})`);
    for (const sub of x.subPlans) {
      if (sub.step !== k) continue;
      lines.push(`${indent}    ${sub.label}: ${sub.plan.steps.length} steps, compiled once`);
      lines.push(...describeSteps(sub.plan, `${indent}      `));
    }
  });
  return lines;
}
