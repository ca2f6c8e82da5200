/**
 * The embedding lookup (torch.nn.functional.embedding): rows of a table gathered by int32 indices, with
 * PyTorch's `padding_idx` (that row gets no gradient).
 */
import type { NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import * as np from "../np.js";
import { checkClassTargetPrim } from "./losses.js";

/** Options of `embedding`, as torch.nn.functional.embedding's. */
export interface EmbeddingOptions {
  /**
   * A row index (negative counts from the end, as PyTorch) whose row gets no gradient: a padding token's
   * embedding stays as it is while training. Its lookups still return the row's values.
   */
  paddingIdx?: number | null;
}

/**
 * torch.nn.functional.embedding with the table first: `weight[indices]`, of shape
 * `[...indices.shape, embeddingDim]` for a table `weight` [numEmbeddings, embeddingDim] and int32
 * `indices` of any shape. An index outside [0, numEmbeddings) is a RangeError naming `embedding`, eagerly
 * and when a jitted plan runs (negative indices are errors, as PyTorch, not counted from the end).
 * With `paddingIdx`, the lookups of that row pass no gradient to it.
 */
export function embedding(weight: NdArray, indices: NdArray, options: EmbeddingOptions = {}): NdArray {
  const op = "embedding";
  checkOptions(op, options, ["paddingIdx"]);
  if (weight.ndim !== 2) {
    throw new ShapeError(
      `${op}: weight must be a table [numEmbeddings, embeddingDim], got ${fmtShape(weight.shape)}`,
    );
  }
  if (!isFloat(weight.dtype)) throw new TypeError(`${op}: weight must be a float array, got ${weight.dtype}`);
  if (indices.dtype !== "int32") {
    throw new TypeError(
      `${op}: indices must be an int32 array, got ${indices.dtype}${fmtShape(indices.shape)}`,
    );
  }
  const rows = weight.shape[0]!;
  const paddingIdx = normalizePaddingIdx(op, options.paddingIdx, rows);
  const checked = checkClassTargetPrim.bind1([indices], {
    op,
    classes: rows,
    ignoreIndex: null,
    kind: "embedding",
  });
  const looked = np.take(weight, checked, { axis: 0 });
  if (paddingIdx === null) return looked;
  // The padding row's lookups are cut from the gradient; their values are the row's, as PyTorch.
  const isPadding = np.expandDims(np.equal(checked, paddingIdx), -1);
  return np.where(isPadding, np.stopGradient(looked), looked);
}

/** `paddingIdx` in [0, rows), from PyTorch's range [-rows, rows); null when absent. */
export function normalizePaddingIdx(
  op: string,
  paddingIdx: number | null | undefined,
  rows: number,
): number | null {
  if (paddingIdx === undefined || paddingIdx === null) return null;
  if (!Number.isInteger(paddingIdx) || paddingIdx < -rows || paddingIdx >= rows) {
    throw new RangeError(`${op}: paddingIdx must be an integer in [-${rows}, ${rows}), got ${paddingIdx}`);
  }
  return paddingIdx < 0 ? paddingIdx + rows : paddingIdx;
}
