/**
 * How the differential test calls each function of data/numpy-cases.json.gz, and the dtype tracegrad
 * gives where it deliberately differs from numpy's (docs/guides/numpy-differences.md). A function not
 * listed is called as `np[name](...args, kw)` and must give numpy's dtype (int64 indices as int32).
 */
import type { DType } from "../../src/core/dtype.js";
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
}

/** Reductions to a statistic compute in float32 for integer and bool input, as `mean` (numpy: float64). */
const floatStatistic = (inputs: readonly DType[]): DType =>
  inputs[0] === "float32" || inputs[0] === "float64" ? inputs[0] : "float32";

const arrayArg = (a: Arg | undefined): NdArray => a as NdArray;

export const FUNCTIONS: Readonly<Record<string, DifferentialFunction>> = {
  topK: {
    call: ([x, k]) => np.topK(arrayArg(x), k as number),
  },
  kthValue: {
    call: ([x, k], kw) => np.kthValue(arrayArg(x), k as number, kw),
  },
  median: { dtype: floatStatistic },
  quantile: { dtype: floatStatistic, zerosTie: true },
  percentile: { dtype: floatStatistic, zerosTie: true },
};
