/**
 * The paired measurement: every runner is started once and kept alive; then, workload by workload, each
 * runner measures the workload in turn (one at a time, so they never compete for the cores), and rounds
 * repeat that alternation with the runners' order rotated by one each round. All columns of a row are so
 * measured within seconds of each other, and a ratio of two columns can be taken round by round from
 * measurements that saw the same machine (rounds.ts).
 */
import { performance } from "node:perf_hooks";
import type { MemoryResult } from "./peers/protocol.js";
import type { RunnerProcess, RunnerStatus } from "./peers/runner-process.js";
import { mergeMeasurements } from "./rounds.js";
import type { Measurement } from "./timing.js";
import type { BenchMode, TimingBudget, Workload } from "./workloads.js";

export interface PairedOptions {
  readonly mode: BenchMode;
  readonly budget: TimingBudget;
  readonly rounds: number;
  readonly log?: (line: string) => void;
  /** Called after each row of a round: how long all its runners took, from the first request to the last reply. */
  readonly onRow?: (workloadId: string, round: number, ms: number) => void;
}

/** One runner's column: each workload it runs merged over the rounds, and the first round's memory. */
export interface PairedColumn {
  readonly runner: RunnerProcess;
  readonly status: RunnerStatus;
  readonly results: Readonly<Record<string, Measurement>>;
  readonly memory: Readonly<Record<string, MemoryResult>>;
}

/** `items` rotated left by `by` places. */
export function rotated<T>(items: readonly T[], by: number): T[] {
  if (items.length === 0) return [];
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/**
 * Starts every runner (all at once: nothing is measured yet), then measures `workloads` in alternation,
 * `rounds` times. Runners that did not start fine keep their status and measure nothing; a runner that
 * fails on a workload (a crash, a timeout) gets a failed measurement for it and goes on with the next.
 * The caller stops the runners.
 */
export async function runPaired(
  runners: readonly RunnerProcess[],
  workloads: readonly Workload[],
  options: PairedOptions,
): Promise<PairedColumn[]> {
  const log = options.log ?? (() => {});
  if (!Number.isInteger(options.rounds) || options.rounds < 1)
    throw new RangeError(`bench: rounds must be >= 1, got ${options.rounds}`);
  const statuses = await Promise.all(runners.map((r) => r.start()));
  runners.forEach((r, i) => log(`-- ${r.spec.title}: ${statuses[i]!.status}, ${r.description}`));
  const live = runners.filter((r) => r.usable);
  // By runner, then workload id: one measurement per round.
  const measured = new Map<RunnerProcess, Map<string, Measurement[]>>(live.map((r) => [r, new Map()]));
  const memory = new Map<RunnerProcess, Record<string, MemoryResult>>(live.map((r) => [r, {}]));
  for (let round = 0; round < options.rounds; round++) {
    if (options.rounds > 1) log(`== round ${round + 1} of ${options.rounds}`);
    const order = rotated(live, round);
    for (const w of workloads) {
      const turn = order.filter((r) => r.spec.runs?.(w) ?? true);
      log(`-- ${w.id}: ${turn.map((r) => r.spec.title).join(", ")}`);
      const rowStarted = performance.now();
      for (const runner of turn) {
        const { measurement, reply } = await runner.measure(w, options.mode, options.budget);
        // Runners log their own results; a crash or a timeout only run.ts can tell.
        if (!reply && !measurement.ok) log(`${runner.spec.title}  ${w.id}: failed (${measurement.error})`);
        const perRound = measured.get(runner)!;
        perRound.set(w.id, [...(perRound.get(w.id) ?? []), measurement]);
        const columnMemory = memory.get(runner)!;
        if (reply?.memory && !(w.id in columnMemory)) columnMemory[w.id] = reply.memory;
      }
      options.onRow?.(w.id, round + 1, performance.now() - rowStarted);
    }
  }
  return runners.map((runner, i): PairedColumn => {
    const results: Record<string, Measurement> = {};
    for (const [id, rounds] of measured.get(runner) ?? []) results[id] = mergeMeasurements(rounds)!;
    return { runner, status: statuses[i]!, results, memory: memory.get(runner) ?? {} };
  });
}
