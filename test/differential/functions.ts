/**
 * How the differential test calls each function of data/numpy-cases.json.gz, and the dtype tracegrad
 * gives where it deliberately differs from numpy's (docs/guides/numpy-differences.md). A function not
 * listed is called as `np[name](...args, kw)` and must give numpy's dtype (int64 indices as int32).
 */
import { type DType, promoteTypes } from "../../src/core/dtype.js";
import { type NdArray, np } from "../../src/index.js";

/** A decoded positional argument: arrays become NdArrays, numbers and lists of numbers stay JS values. */
export type Arg = NdArray | number | readonly number[];
export type Options = Record<string, unknown>;

export interface DifferentialFunction {
  /** Calls tracegrad (default: `np[name](...args, kw)`); a tuple result is a list of outputs. */
  call?(args: readonly Arg[], kw: Options): NdArray | readonly NdArray[];
  /** The dtype of output `k` from the array arguments' dtypes (default: numpy's, int64 read as int32). */
  dtype?(inputs: readonly DType[], k: number): DType;
  /**
   * -0 and +0 count as equal: where numpy selects with an unstable partition, which of two tied zeros
   * it returns is an accident of the partition (tracegrad selects by the stable sort).
   */
  zerosTie?: boolean;
  /**
   * Cases whose result size depends on the values (no static `size`): under jit they must throw the
   * error that asks for `size`, instead of being replayed.
   */
  needsSizeUnderJit?(kw: Options, args: readonly unknown[]): boolean;
  /**
   * Sums compare to rounding even where the dtype is numpy's: numpy adds pairwise in blocks (and keeps
   * the sign of a lone -0), tracegrad's reductions add in another order.
   */
  summed?: boolean;
  /**
   * Computed with JS's Math.exp and Math.log1p, whose last bit may differ from the C library's that numpy
   * calls: compared to rounding.
   */
  libm?: boolean;
}

const withoutSize = (kw: Options): boolean => kw.size === undefined;

/** Reductions to a statistic compute in float32 for integer and bool input, as `mean` (numpy: float64). */
const floatStatistic = (inputs: readonly DType[]): DType =>
  inputs[0] === "float32" || inputs[0] === "float64" ? inputs[0] : "float32";

const arrayArg = (a: Arg | undefined): NdArray => a as NdArray;

/**
 * Joined and multiplied arrays of different dtypes take the library's promotion (int32 with float32 is
 * float32; numpy's is float64), docs/guides/numpy-differences.md.
 */
const promoted = (inputs: readonly DType[]): DType => inputs.reduce(promoteTypes);

/** The stacks take a list of arrays (numpy's tuple): the case's positional arrays. */
const joined = (fn: (xs: readonly NdArray[]) => NdArray): DifferentialFunction => ({
  call: (args) => fn(args.map(arrayArg)),
  dtype: promoted,
});

/** numpy's default float64 of logspace and geomspace is the library's default float, float32. */
const defaultFloat = (): DType => "float32";

/** Float statistics of int or float64 weights: float64 if any input is, else float32 (numpy: float64 for int). */
const averageDType = (inputs: readonly DType[]): DType =>
  inputs.includes("float64") ? "float64" : "float32";

/** Numbers of an options object as generate.py's enc() writes them ("nan", "inf", "-inf", "-0"). */
const decodeNumbers = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(decodeNumbers)
    : v === "nan"
      ? Number.NaN
      : v === "inf"
        ? Number.POSITIVE_INFINITY
        : v === "-inf"
          ? Number.NEGATIVE_INFINITY
          : v === "-0"
            ? -0
            : v;

export const FUNCTIONS: Readonly<Record<string, DifferentialFunction>> = {
  pad: {
    call: ([x, width], kw) =>
      np.pad(arrayArg(x), width as number, {
        ...kw,
        ...(kw.constantValues === undefined
          ? {}
          : { constantValues: decodeNumbers(kw.constantValues) as number }),
      }),
  },
  logcumsumexp: { libm: true },
  nansum: { summed: true },
  nanmean: { dtype: floatStatistic, summed: true },
  nanvar: { dtype: floatStatistic, summed: true },
  nanstd: { dtype: floatStatistic, summed: true },
  nanmax: { zerosTie: true },
  nanmin: { zerosTie: true },
  ptp: { zerosTie: true },
  average: {
    call: ([x, weights], kw) =>
      np.average(arrayArg(x), { ...kw, ...(weights === undefined ? {} : { weights: arrayArg(weights) }) }),
    dtype: averageDType,
    summed: true,
  },
  topK: {
    call: ([x, k]) => np.topK(arrayArg(x), k as number),
  },
  kthValue: {
    call: ([x, k], kw) => np.kthValue(arrayArg(x), k as number, kw),
  },
  median: { dtype: floatStatistic },
  roll: { call: ([x, shift], kw) => np.roll(arrayArg(x), shift as number | number[], kw) },
  tri: {
    call: ([n, m], kw) => np.tri(n as number, m as number | undefined, kw),
  },
  swapaxes: { call: ([x, a, b]) => np.swapaxes(arrayArg(x), a as number, b as number) },
  ravel: { call: ([x]) => np.ravel(arrayArg(x)) },
  vstack: joined(np.vstack),
  hstack: joined(np.hstack),
  dstack: joined(np.dstack),
  columnStack: joined(np.columnStack),
  atleast1d: { call: ([x]) => np.atleast1d(arrayArg(x)) },
  atleast2d: { call: ([x]) => np.atleast2d(arrayArg(x)) },
  atleast3d: { call: ([x]) => np.atleast3d(arrayArg(x)) },
  kron: { call: ([a, b]) => np.kron(arrayArg(a), arrayArg(b)), dtype: promoted },
  meshgrid: { call: (args, kw) => np.meshgrid(...args.map(arrayArg), kw) },
  indices: {
    call: ([dims], kw) => np.indices(dims as number[], kw as { sparse?: false }),
  },
  nonzero: { needsSizeUnderJit: withoutSize },
  argwhere: { needsSizeUnderJit: withoutSize },
  unique: { needsSizeUnderJit: withoutSize, zerosTie: true },
  logspace: {
    call: ([start, stop, num], kw) => np.logspace(start as number, stop as number, num as number, kw),
    dtype: defaultFloat,
  },
  geomspace: {
    call: ([start, stop, num], kw) => np.geomspace(start as number, stop as number, num as number, kw),
    dtype: defaultFloat,
  },
  index: {
    call: ([x, ...items], kw) =>
      np.index(arrayArg(x), ...(items as np.IndexItem[]), ...(kw.size === undefined ? [] : [kw as never])),
    // A bool mask array (traced under jit) without a static size; masks written as JS lists are constants.
    needsSizeUnderJit: (kw, args) =>
      kw.size === undefined &&
      args
        .slice(1)
        .some((a) => typeof a === "object" && a !== null && (a as { dtype?: string }).dtype === "bool"),
  },
  quantile: { dtype: floatStatistic, zerosTie: true },
  percentile: { dtype: floatStatistic, zerosTie: true },
};
