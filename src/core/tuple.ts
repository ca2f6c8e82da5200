/** `N` elements of `T` as a tuple (`Tuple<Local, 3>` is `[Local, Local, Local]`); `T[]` when `N` is not a literal. */
export type Tuple<T, N extends number, Acc extends T[] = []> = number extends N
  ? T[]
  : Acc["length"] extends N
    ? Acc
    : Tuple<T, N, [...Acc, T]>;
