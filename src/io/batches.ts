/** Mini-batches of a labelled data set, shuffled by an explicit key (so an epoch's order is reproducible). */
import { fmtAval, type NdArray } from "../core/array.js";
import { ShapeError } from "../core/shape.js";
import { arange } from "../ops/creation.js";
import { take } from "../ops/indexing.js";
import { slice } from "../ops/shape.js";
import { type Key, permutation } from "../random/index.js";

/** Options of `batches`. */
export interface BatchOptions {
  /** Visit the examples in the order of random.permutation(key, N) (default true); else in order. */
  shuffle?: boolean;
  /** Leave out the last batch when it has fewer than batchSize examples (default false). */
  dropLast?: boolean;
}

/** One mini-batch: examples and their labels, along the leading axis. */
export interface Batch {
  /** The examples (rows of `images`). */
  readonly x: NdArray;
  /** Their labels (the same rows of `labels`). */
  readonly y: NdArray;
}

/**
 * Yields `{ x, y }` batches along the leading axis of `images` and `labels`: every example exactly once
 * per pass (the last batch may be smaller unless dropLast). One key gives one epoch's order; use a new
 * key (random.split) for each epoch.
 */
export function* batches(
  key: Key,
  data: { readonly images: NdArray; readonly labels: NdArray },
  batchSize: number,
  options: BatchOptions = {},
): Generator<Batch, void, undefined> {
  const { images, labels } = data;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`io.batches: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (images.ndim === 0 || labels.ndim === 0 || images.shape[0] !== labels.shape[0]) {
    throw new ShapeError(
      `io.batches: images and labels need the same leading size, got ${fmtAval(images)} and ${fmtAval(labels)}`,
    );
  }
  const n = images.shape[0]!;
  const order = (options.shuffle ?? true) ? permutation(key, n) : arange(0, n, 1, { dtype: "int32" });
  const stop = options.dropLast ? n - (n % batchSize) : n;
  for (let start = 0; start < stop; start += batchSize) {
    const indices = slice(order, [{ start, stop: Math.min(start + batchSize, n) }]);
    yield { x: take(images, indices, { axis: 0 }), y: take(labels, indices, { axis: 0 }) };
  }
}
