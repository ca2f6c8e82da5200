/**
 * Time-boxed medians. Shared by the tracegrad runner and the JS peers; torch_bench.py repeats the same
 * loop in Python so every column is measured alike.
 */
import { performance } from "node:perf_hooks";
import type { TimingBudget } from "./workloads.js";

export interface Timing {
  /** Median wall time of one call, in milliseconds. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly iterations: number;
  /** With several rounds (rounds.ts): each round's median, in round order; medianMs is their median. */
  readonly roundMediansMs?: readonly number[];
}

/** A runner's outcome for one workload: a timing, or why there is none. */
export type Measurement =
  | { readonly ok: true; readonly timing: Timing }
  | { readonly ok: false; readonly error: string };

/** The median of values sorted in ascending order. */
export function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function summarize(samples: number[]): Timing {
  const sorted = [...samples].sort((a, b) => a - b);
  return { medianMs: median(sorted), minMs: sorted[0]!, iterations: sorted.length };
}

function keepGoing(samples: readonly number[], spentMs: number, budget: TimingBudget): boolean {
  if (samples.length >= budget.maxIterations) return false;
  if (spentMs >= budget.hardCapMs) return samples.length === 0;
  return samples.length < budget.minIterations || spentMs < budget.budgetMs;
}

/**
 * One warm-up call always (it compiles); then `warmup` calls and `warmupMs`, but never past `budgetMs`, so
 * slow eager cases stay bounded.
 */
function warmingUp(done: number, spentMs: number, budget: TimingBudget): boolean {
  if (done === 0) return true;
  return spentMs < budget.budgetMs && (done < budget.warmup || spentMs < budget.warmupMs);
}

/** Warm-up calls, then timed calls until the budget is spent; the median of the timed calls. */
export function timeSync(call: () => void, budget: TimingBudget): Timing {
  const warmupStarted = performance.now();
  for (let i = 0; warmingUp(i, performance.now() - warmupStarted, budget); i++) call();
  const samples: number[] = [];
  const started = performance.now();
  while (keepGoing(samples, performance.now() - started, budget)) {
    const t0 = performance.now();
    call();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

/** As timeSync, for runners whose results are only ready after an await (jax-js). */
export async function timeAsync(call: () => Promise<void>, budget: TimingBudget): Promise<Timing> {
  const warmupStarted = performance.now();
  for (let i = 0; warmingUp(i, performance.now() - warmupStarted, budget); i++) {
    await call();
  }
  const samples: number[] = [];
  const started = performance.now();
  while (keepGoing(samples, performance.now() - started, budget)) {
    const t0 = performance.now();
    await call();
    samples.push(performance.now() - t0);
  }
  return summarize(samples);
}

export function errorMessage(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  // One line: messages end up in a Markdown footnote.
  return text.split("\n")[0]!.slice(0, 300);
}

/** Runs a measurement, turning a thrown error into a recorded failure. */
export function measureSync(make: () => () => void, budget: TimingBudget): Measurement {
  try {
    return { ok: true, timing: timeSync(make(), budget) };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}

export async function measureAsync(
  make: () => Promise<() => Promise<void>>,
  budget: TimingBudget,
): Promise<Measurement> {
  try {
    return { ok: true, timing: await timeAsync(await make(), budget) };
  } catch (e) {
    return { ok: false, error: errorMessage(e) };
  }
}
