/**
 * Logits filters for sampling from a language model, as Hugging Face transformers' TopKLogitsWarper and
 * TopPLogitsWarper: the logits a filter removes become -inf (probability 0 under softmax and never drawn
 * by `categorical`), the others are returned unchanged. Each works over the last axis, batched over the
 * leading ones, with array ops only (k and p are static), so it traces under jit and vmap.
 */
import { fmtAval, NdArray } from "../core/array.js";
import { isFloat } from "../core/dtype.js";
import * as np from "../np.js";

function checkLogits(fn: string, logits: unknown): asserts logits is NdArray {
  if (!(logits instanceof NdArray) || !isFloat(logits.dtype) || logits.ndim === 0) {
    throw new TypeError(
      `${fn}: logits must be a float array of rank >= 1 (categories on the last axis), got ${logits instanceof NdArray ? fmtAval(logits) : typeof logits}`,
    );
  }
}

/** `logits` where `keep`, -inf elsewhere. */
function maskOut(logits: NdArray, keep: NdArray): NdArray {
  return np.where(keep, logits, np.full([], Number.NEGATIVE_INFINITY, { dtype: logits.dtype }));
}

/** The entries [..., i] of `x` along its last axis, keeping that axis (size 1). */
function lastAxisAt(x: NdArray, index: NdArray): NdArray {
  return np.takeAlongAxis(x, index, { axis: -1 });
}

/**
 * Top-k filtering (transformers' TopKLogitsWarper): keeps the logits at least as large as the k-th
 * largest along the last axis (so ties with it are kept too) and sets the rest to -inf. A `k` at least
 * the number of categories keeps everything. `k` is a positive integer.
 */
export function topKFilter(logits: NdArray, k: number): NdArray {
  const fn = "random.topKFilter";
  checkLogits(fn, logits);
  if (!Number.isInteger(k) || k < 1)
    throw new RangeError(`${fn}: k must be a positive integer, got ${String(k)}`);
  const n = logits.shape[logits.ndim - 1]!;
  if (k >= n) return logits;
  const [values] = np.topK(logits, k);
  const kth = np.slice(values, [...logits.shape.slice(0, -1).map(() => ({})), { start: k - 1 }]);
  return maskOut(logits, np.greaterEqual(logits, kth));
}

/**
 * Top-p (nucleus) filtering (transformers' TopPLogitsWarper, Holtzman et al. 2019): keeps the most
 * likely categories along the last axis until their softmax probability reaches `p`, the one that
 * crosses it included (a category is kept when the probability of those strictly more likely is below
 * p), plus any tied with the last kept; the rest become -inf. At least one category is always kept;
 * `p = 1` keeps everything. `p` is in (0, 1].
 */
export function topPFilter(logits: NdArray, p: number): NdArray {
  const fn = "random.topPFilter";
  checkLogits(fn, logits);
  if (typeof p !== "number" || !(p > 0 && p <= 1))
    throw new RangeError(`${fn}: p must be a number in (0, 1], got ${String(p)}`);
  if (p === 1) return logits;
  const sorted = np.sort(logits, { axis: -1, descending: true });
  const first = np.slice(sorted, [...logits.shape.slice(0, -1).map(() => ({})), { stop: 1 }]);
  const weights = np.exp(np.subtract(sorted, first));
  const probs = np.divide(weights, np.sum(weights, { axis: -1, keepdims: true }));
  const cumulative = np.cumsum(probs, { axis: -1 });
  // The probability of the categories strictly more likely than each: 0, then the cumulative sums.
  const before = np.concatenate(
    [np.zerosLike(first), np.slice(cumulative, [...logits.shape.slice(0, -1).map(() => ({})), { stop: -1 }])],
    { axis: -1 },
  );
  const kept = np.sum(np.astype(np.less(before, p), "int32"), { axis: -1, keepdims: true });
  const threshold = lastAxisAt(sorted, np.subtract(kept, 1));
  return maskOut(logits, np.greaterEqual(logits, threshold));
}
