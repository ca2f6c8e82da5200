/**
 * What `customVjp` and `customJvp` share: the flat functions they carry as params, the output shapes
 * of such a function (traced once per signature), and aligning batch axes before vmapping them.
 */
import { type AbstractValue, fmtAval, type NdArray } from "../core/array.js";
import type { BatchDim } from "../core/primitive.js";
import { type StagedProgram, stageFlat } from "../core/staging.js";
import { zip } from "../core/tuple.js";
import { full } from "../ops/creation.js";
import { broadcastTo, moveAxisTo0 } from "../ops/layout.js";
import { flatten, unflatten } from "../tree/treedef.js";

export type FlatFn = (xs: NdArray[]) => NdArray[];

const stagedCache = new WeakMap<FlatFn, Map<string, StagedProgram>>();

/** `fun` traced on `avals` (cached per function and signature). */
export function stagedOf(fun: FlatFn, avals: readonly AbstractValue[]): StagedProgram {
  let byKey = stagedCache.get(fun);
  if (!byKey) stagedCache.set(fun, (byKey = new Map()));
  const key = avals.map(fmtAval).join(";");
  let out = byKey.get(key);
  if (!out) {
    out = stageFlat(fun, avals);
    byKey.set(key, out);
  }
  return out;
}

/** The output shapes and dtypes of `fun` on `avals`. */
export function outAvalsOf(fun: FlatFn, avals: readonly AbstractValue[]): AbstractValue[] {
  return stagedOf(fun, avals).program.outAvals;
}

/** Moves every batch axis to 0, broadcasting unbatched values, so the vmapped functions see axis 0. */
export function alignTo0(xs: readonly NdArray[], dims: readonly BatchDim[], size: number): NdArray[] {
  return zip(xs, dims).map(([x, d]) => (d === null ? broadcastTo(x, [size, ...x.shape]) : moveAxisTo0(x, d)));
}

/** Batch dims all 0, for `n` values. */
export function zerosIn(n: number): BatchDim[] {
  return new Array<BatchDim>(n).fill(0);
}

/** A tree of zeros shaped like a tree of arrays. */
export function zerosTree(t: unknown): unknown {
  const [leaves, def] = flatten<NdArray>(t);
  return unflatten(
    def,
    leaves.map((l) => full(l.shape, 0, { dtype: l.dtype })),
  );
}
