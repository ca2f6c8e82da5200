import { checkOptions } from "../core/options.js";
/**
 * fast-check run parameters from the environment, so every property run is reproducible: `LAWS_SEED`
 * fixes the seed (fast-check prints the seed and path of any failure; set it to replay), `LAWS_RUNS`
 * the number of runs (default 20: quick enough for CI, raise it for a thorough search).
 */

/** Property runs when LAWS_RUNS is not set. */
export const DEFAULT_RUNS = 20;

/** Options of `propertyParameters`. */
export interface PropertyOptions {
  /** Runs relative to LAWS_RUNS, for expensive properties (e.g. 0.25; at least one run). */
  scale?: number;
  /** Overrides LAWS_RUNS. */
  numRuns?: number;
}

function environment(name: string): string | undefined {
  return typeof process === "undefined" ? undefined : process.env[name];
}

function integerFrom(name: string): number | undefined {
  const raw = environment(name);
  if (raw === undefined || raw.trim() === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value))
    throw new RangeError(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  return value;
}

/** What `propertyParameters` gives: fast-check's run parameters (`fc.Parameters`) it sets. */
export interface PropertyParameters {
  readonly numRuns: number;
  readonly seed?: number;
}

/**
 * Parameters for `fc.assert`: `{ numRuns, seed? }` from LAWS_RUNS and LAWS_SEED (typed without
 * fast-check, which `tracegrad` does not depend on).
 */
export function propertyParameters(options: PropertyOptions = {}): PropertyParameters {
  checkOptions("testing.propertyParameters", options, ["scale", "numRuns"]);
  const runs = options.numRuns ?? integerFrom("LAWS_RUNS") ?? DEFAULT_RUNS;
  const numRuns = Math.max(1, Math.round(runs * (options.scale ?? 1)));
  const seed = integerFrom("LAWS_SEED");
  return seed === undefined ? { numRuns } : { numRuns, seed };
}
