/**
 * Rounds of the paired measurement (paired.ts) merged into one report. In each round every runner
 * measures every workload once, all runners of a workload one after another; a time is then the median
 * of that runner's round medians, and a ratio of two runners the median of their per-round ratios, each
 * taken from two measurements seconds apart. On a shared machine a slow period of a few seconds then
 * falls on both sides of a ratio alike, and the spread between rounds shows how noisy the run was.
 */
import { type Measurement, median, type Timing } from "./timing.js";

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

/** A paired ratio: the median of the per-round ratios, and their lowest and highest. */
export interface PairedRatio {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly rounds: number;
}

/**
 * a ÷ b from paired measurements: the median of the per-round ratios (roundRatios), or with a single
 * round the ratio of the two medians; null when either has no timing.
 */
export function pairedRatio(a: Measurement | undefined, b: Measurement | undefined): PairedRatio | null {
  if (!a?.ok || !b?.ok) return null;
  const perRound = roundRatios(a, b);
  if (perRound.length < 2) {
    const single = a.timing.medianMs / b.timing.medianMs;
    return { median: single, min: single, max: single, rounds: 1 };
  }
  const sorted = [...perRound].sort((x, y) => x - y);
  return { median: median(sorted), min: sorted[0]!, max: sorted[sorted.length - 1]!, rounds: sorted.length };
}
