/** Timing every kernel call of a plan over a number of runs (`jit(f).lower(...).profile()`). */
import type { ConcreteArray } from "../core/array.js";
import { type PlanRunner, subPlanProfiling } from "./execute.js";

/** Time spent in one step of a plan, from `Executable.profile`. */
export interface StepProfile {
  /**
   * The step as `toString` lists it: its number, primitive (or fused primitives) and output. A step of a
   * sub-plan (a loop's body) follows the step that runs it, named after it and the sub-plan, e.g.
   * `6 body > 0: matmul -> float32[32,1024]`; its time is the sum over the iterations, and is part of the
   * time of the step that runs it.
   */
  readonly step: string;
  /** Mean milliseconds per run. */
  readonly ms: number;
}

/** What a plan's profile needs of it: its runner, its calls, the steps they run, its sub-plans. */
export interface ProfiledCalls {
  readonly runner: PlanRunner;
  readonly callNames: readonly string[];
  /** The plan step each call runs. */
  readonly callStep: readonly number[];
  readonly subPlans: readonly {
    readonly step: number;
    readonly label: string;
    readonly calls: ProfiledCalls;
  }[];
}

/** Runs the plan `runs` times on `args` (nothing donated), timing every kernel call; in plan order. */
export function profilePlan(
  plan: ProfiledCalls,
  args: readonly ConcreteArray[],
  runs: number,
): StepProfile[] {
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`profile: runs must be a positive integer, got ${runs}`);
  const timings = new Float64Array(plan.callNames.length);
  subPlanProfiling.active = true;
  try {
    for (let r = 0; r < runs; r++) plan.runner.run(args, [], timings);
  } finally {
    subPlanProfiling.active = false;
  }
  return rows(plan, timings, runs, "");
}

/** The plan's rows, each followed by the rows of the sub-plans its step ran (their timings taken). */
function rows(
  plan: ProfiledCalls,
  timings: Float64Array | null,
  runs: number,
  prefix: string,
): StepProfile[] {
  return plan.callNames.flatMap((name, k) => {
    const own = { step: `${prefix}${name}`, ms: (timings?.[k] ?? 0) / runs };
    const step = plan.callStep[k];
    const subs = plan.subPlans.filter((s) => s.step === step);
    return [
      own,
      ...subs.flatMap((s) =>
        rows(s.calls, s.calls.runner.takeTimings(), runs, `${prefix}${step} ${s.label} > `),
      ),
    ];
  });
}
