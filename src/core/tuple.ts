/** `N` elements of `T` as a tuple (`Tuple<Local, 3>` is `[Local, Local, Local]`); `T[]` when `N` is not a literal. */
export type Tuple<T, N extends number, Acc extends T[] = []> = number extends N
  ? T[]
  : Acc["length"] extends N
    ? Acc
    : Tuple<T, N, [...Acc, T]>;

/**
 * The i-th elements of equally long arrays side by side: `zip([1, 2], ["a", "b"])` is
 * `[[1, "a"], [2, "b"]]`. For per-axis arrays read together (a shape and its paddings, say) without a `!`
 * per read; arrays of different lengths throw a RangeError rather than pair an element with undefined.
 */
export function zip<const T extends readonly ArrayLike<unknown>[]>(...arrays: T): Zipped<T>[] {
  const n = arrays[0]?.length ?? 0;
  if (arrays.some((a) => a.length !== n)) {
    throw new RangeError(`zip: arrays of lengths ${arrays.map((a) => a.length).join(", ")} differ`);
  }
  return Array.from({ length: n }, (_, i) => arrays.map((a) => a[i]) as Zipped<T>);
}

/** One element of each of the arrays `T` (typed arrays give numbers). */
type Zipped<T extends readonly ArrayLike<unknown>[]> = {
  -readonly [K in keyof T]: T[K] extends ArrayLike<infer E> ? E : never;
};
