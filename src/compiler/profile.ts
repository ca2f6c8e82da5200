/** Timing every kernel call of a plan over a number of runs (`jit(f).lower(...).profile()`). */
import type { ConcreteArray } from "../core/array.js";
import type { PlanRunner } from "./execute.js";

/** Time spent in one step of a plan, from `Executable.profile`. */
export interface StepProfile {
  /** The step as `toString` lists it: its number, primitive (or fused primitives) and output. */
  readonly step: string;
  /** Mean milliseconds per run. */
  readonly ms: number;
}

/** Runs the plan `runs` times on `args` (nothing donated), timing every kernel call; in plan order. */
export function profilePlan(
  runner: PlanRunner,
  callNames: readonly string[],
  args: readonly ConcreteArray[],
  runs: number,
): StepProfile[] {
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`profile: runs must be a positive integer, got ${runs}`);
  const timings = new Float64Array(callNames.length);
  for (let r = 0; r < runs; r++) runner.run(args, [], timings);
  return callNames.map((step, k) => ({ step, ms: timings[k]! / runs }));
}
