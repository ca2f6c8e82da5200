/**
 * Dropout as a function (torch.nn.functional.dropout): inverted dropout with an explicit key. The dropout
 * layer and attention's dropout use it, so the mask a key draws is the same everywhere.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import * as np from "../np.js";
import { bernoulli, type Key } from "../random/index.js";

/** Options of `dropout`. */
export interface DropoutOptions {
  /** Drop (default true); false is the identity, as `training=False` in PyTorch. */
  train?: boolean;
}

/** Throws unless `p` is a probability: the dropout rate of `op`. */
export function checkDropoutRate(op: string, p: number): void {
  if (typeof p !== "number" || !(p >= 0 && p <= 1)) {
    throw new RangeError(`${op}: the dropout probability must be in [0, 1], got ${String(p)}`);
  }
}

/**
 * Inverted dropout, as torch.nn.functional.dropout: each element of `x` is zeroed with probability `p`
 * (default 0.5) and the others scaled by 1 / (1 - p), so the expectation is unchanged; the mask is drawn
 * with `key` (random.bernoulli of the keep probability 1 - p over x's shape). `p = 1` gives zeros,
 * `p = 0` and `train: false` give x itself (and need no key).
 */
export function dropout(key: Key | undefined, x: NdArray, p = 0.5, options: DropoutOptions = {}): NdArray {
  checkOptions("dropout", options, ["train"]);
  checkDropoutRate("dropout", p);
  if (!(options.train ?? true) || p === 0) return x;
  if (key === undefined) throw new TypeError("dropout: a key is needed to drop (p > 0 in training mode)");
  if (p === 1) return np.zerosLike(x);
  const keep = bernoulli(key, 1 - p, x.shape);
  return np.where(keep, np.multiply(x, 1 / (1 - p)), 0);
}
