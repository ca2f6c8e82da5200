/** Mini-batches of a data set (any tree of arrays), shuffled by an explicit key (so an epoch's order is reproducible). */
import { fmtAval, NdArray } from "../core/array.js";
import { checkOptions, optionKeys } from "../core/options.js";
import { ShapeError } from "../core/shape.js";
import { arange } from "../ops/creation.js";
import { take } from "../ops/indexing.js";
import { slice } from "../ops/shape.js";
import { type Key, permutation } from "../random/index.js";
import { flattenWithPath, map as mapTree } from "../tree/index.js";
import { isPlainObject } from "../tree/treedef.js";

/** Options of `batches`. */
export interface BatchOptions {
  /** Visit the examples in the order of random.permutation(key, N) (default true); else in order. */
  shuffle?: boolean;
  /** Leave out the last batch when it has fewer than batchSize examples (default false). */
  dropLast?: boolean;
}

/** One mini-batch of `{ images, labels }`: examples and their labels, along the leading axis. */
export interface Batch {
  /** The examples (rows of `images`). */
  readonly x: NdArray;
  /** Their labels (the same rows of `labels`). */
  readonly y: NdArray;
}

/**
 * What `batches` yields for data of type `T`: `{ x, y }` for `{ images, labels }` (and nothing else, as
 * io.mnist's splits are), else a tree of the same structure as `T`.
 */
export type BatchOf<T> = T extends { readonly images: NdArray; readonly labels: NdArray }
  ? [Exclude<keyof T, "images" | "labels">] extends [never]
    ? Batch
    : T
  : T;

/** Whether `data` is exactly `{ images, labels }` of arrays, which batches yields as `{ x, y }`. */
function isImagesAndLabels(data: unknown): data is { readonly images: NdArray; readonly labels: NdArray } {
  if (!isPlainObject(data)) return false;
  const keys = Object.keys(data);
  return keys.length === 2 && data.images instanceof NdArray && data.labels instanceof NdArray;
}

/**
 * Yields mini-batches of `data`, a tree of arrays (one array, `{ images, labels }`, `[x, y]`,
 * `{ tokens, mask, targets }`, ...) that all have the same leading size N, the examples: each batch is
 * the same tree with every array cut to the batch's rows, one shuffle shared by all of them. Every
 * example comes exactly once per pass (the last batch may be smaller unless dropLast). One key gives one
 * epoch's order; use a new key (random.split) for each epoch.
 *
 * `{ images, labels }` (nothing else, as io.mnist's splits are) yields `{ x, y }`: the rows of `images`
 * and of `labels`.
 */
export function* batches<T>(
  key: Key,
  data: T,
  batchSize: number,
  options: BatchOptions = {},
): Generator<BatchOf<T>, void, undefined> {
  checkOptions("io.batches", options, optionKeys<BatchOptions>({ shuffle: true, dropLast: true }));
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`io.batches: batchSize must be a positive integer, got ${batchSize}`);
  }
  const n = examples(data);
  const order = (options.shuffle ?? true) ? permutation(key, n) : arange(0, n, 1, { dtype: "int32" });
  const stop = options.dropLast ? n - (n % batchSize) : n;
  const imagesAndLabels = isImagesAndLabels(data);
  for (let start = 0; start < stop; start += batchSize) {
    const indices = slice(order, [{ start, stop: Math.min(start + batchSize, n) }]);
    const rows = (array: NdArray) => take(array, indices, { axis: 0 });
    yield (
      imagesAndLabels ? { x: rows(data.images), y: rows(data.labels) } : mapTree(rows, data)
    ) as BatchOf<T>;
  }
}

/** The leading size every array of `data` shares, or a TypeError/ShapeError saying which leaf differs. */
function examples(data: unknown): number {
  const leaves = flattenWithPath<unknown>(data);
  const name = (path: string) => (path === "" ? "the data" : `'${path}'`);
  if (leaves.length === 0) throw new TypeError("io.batches: the data holds no arrays");
  for (const [path, leaf] of leaves) {
    if (!(leaf instanceof NdArray)) {
      const what = typeof leaf === "object" ? "an object" : `a ${typeof leaf}`;
      throw new TypeError(
        `io.batches: every leaf of the data must be an array, but ${name(path)} is ${what}`,
      );
    }
    if (leaf.ndim === 0) {
      throw new ShapeError(`io.batches: ${name(path)} is ${fmtAval(leaf)}, a scalar with no examples axis`);
    }
  }
  const arrays = leaves as [string, NdArray][];
  const n = arrays[0]![1].shape[0]!;
  if (arrays.some(([, a]) => a.shape[0] !== n)) {
    const listed = arrays.map(([path, a]) => `${name(path)} ${fmtAval(a)}`).join(", ");
    throw new ShapeError(`io.batches: every array needs the same leading size (the examples), got ${listed}`);
  }
  return n;
}
