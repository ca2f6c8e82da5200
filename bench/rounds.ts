/**
 * Several rounds of the whole suite, merged into one report. In each round every runner (tracegrad, then
 * each peer) measures every workload once, one after another; a cell is then the median of that runner's
 * round medians. On a shared machine a slow period of a few seconds would otherwise fall on one runner's
 * whole measurement and skew its column; interleaved rounds spread such periods over all runners, and
 * the spread between rounds shows how noisy the run was.
 */
import type { PeerColumn } from "./report.js";
import { type Measurement, median, type Timing } from "./timing.js";
import type { TracegradRow, TracegradSuiteResult } from "./tracegrad-suite.js";

/** One runner's measurements of one workload, a round each: the median round, or the first failure. */
export function mergeMeasurements(rounds: readonly (Measurement | undefined)[]): Measurement | undefined {
  if (rounds.length === 0 || rounds.some((m) => m === undefined)) return rounds.find((m) => m !== undefined);
  const failed = rounds.find((m) => !m!.ok);
  if (failed) return failed;
  const timings = rounds.map((m) => (m as Extract<Measurement, { ok: true }>).timing);
  if (timings.length === 1) return { ok: true, timing: timings[0]! };
  const roundMediansMs = timings.map((t) => t.medianMs);
  const timing: Timing = {
    medianMs: median([...roundMediansMs].sort((a, b) => a - b)),
    minMs: Math.min(...timings.map((t) => t.minMs)),
    iterations: timings.reduce((sum, t) => sum + t.iterations, 0),
    roundMediansMs,
  };
  return { ok: true, timing };
}

/** tracegrad's rows of every round (same workloads, same order) merged; memory figures from round one. */
export function mergeSuites(rounds: readonly TracegradSuiteResult[]): TracegradSuiteResult {
  const first = rounds[0];
  if (!first) throw new RangeError("mergeSuites: no rounds");
  const rows = first.rows.map(
    (row, i): TracegradRow => ({
      ...row,
      eager: mergeMeasurements(rounds.map((r) => r.rows[i]!.eager))!,
      jit: mergeMeasurements(rounds.map((r) => r.rows[i]!.jit))!,
    }),
  );
  return { backend: first.backend, rows };
}

/**
 * The peers' columns of every round merged, column by column (same titles, same order each round). A
 * column that is not measured in some round keeps that round's status and reason.
 */
export function mergePeerColumns(rounds: readonly (readonly PeerColumn[])[]): PeerColumn[] {
  const first = rounds[0] ?? [];
  return first.map((column, i) => {
    const columns = rounds.map((r) => r[i]!);
    const unmeasured = columns.find((c) => c.status !== "ok");
    if (unmeasured) return unmeasured;
    const ids = new Set(columns.flatMap((c) => Object.keys(c.results)));
    const results: Record<string, Measurement> = {};
    for (const id of ids) {
      const merged = mergeMeasurements(columns.map((c) => c.results[id]));
      if (merged) results[id] = merged;
    }
    return { ...column, results };
  });
}

/**
 * a's time ÷ b's time in each round (both measured in the same round, so a slow period affects the
 * pair alike); empty unless both have every round.
 */
export function roundRatios(a: Measurement | undefined, b: Measurement | undefined): number[] {
  if (!a?.ok || !b?.ok) return [];
  const x = a.timing.roundMediansMs;
  const y = b.timing.roundMediansMs;
  if (!x || !y || x.length !== y.length) return [];
  return x.map((v, i) => v / y[i]!);
}
