/**
 * With LAWS_SEED set (CI sets it), every fast-check property in the suite runs from that seed, not only
 * those that pass `propertyParameters()`: a CI run is then reproducible to the last counterexample.
 * Without it each run draws new seeds, and fast-check prints the seed of any failure to replay.
 */
import fc from "fast-check";

const seed = process.env["LAWS_SEED"];
if (seed !== undefined && seed.trim() !== "") {
  const value = Number(seed);
  if (!Number.isInteger(value))
    throw new RangeError(`LAWS_SEED must be an integer, got ${JSON.stringify(seed)}`);
  fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: value });
}
