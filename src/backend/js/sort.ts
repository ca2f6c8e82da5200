/**
 * The library's one sort kernel: a stable order of unsigned keys (insertion sort for short lanes, LSD
 * radix sort with 11-bit digits for long ones), and the key maps that make numpy's order an unsigned
 * order: floats ascending with -0 equal to +0 and every NaN last (first when descending), int32 and bool
 * by value. `sortLanes` sorts every lane of an array along one axis into values and/or indices;
 * `stableOrderOfUint32` serves keys that already are unsigned (random permutations); `topKLanes` and
 * `searchSortedLanes` select and search in the same order.
 */
import { type DType, DTypeError, type TypedArray } from "../../core/dtype.js";
import { type Shape, sizeOf } from "../../core/shape.js";

/** Lanes at most this long are insertion-sorted (a radix pass costs a 2048-entry histogram). */
const INSERTION_MAX = 48;
const DIGIT_BITS = 11;
const BUCKETS = 1 << DIGIT_BITS;
const DIGIT_MASK = BUCKETS - 1;

/** Reusable scratch for sorting lanes of up to `capacity` elements. */
export class SortScratch {
  lo: Uint32Array;
  hi: Uint32Array;
  order: Uint32Array;
  private tmpLo: Uint32Array;
  private tmpHi: Uint32Array;
  private tmpOrder: Uint32Array;
  private readonly counts = new Uint32Array(BUCKETS * 6);

  constructor(capacity: number) {
    this.lo = new Uint32Array(capacity);
    this.hi = new Uint32Array(capacity);
    this.order = new Uint32Array(capacity);
    this.tmpLo = new Uint32Array(capacity);
    this.tmpHi = new Uint32Array(capacity);
    this.tmpOrder = new Uint32Array(capacity);
  }

  /**
   * Fills `order[0..n)` with the stable ascending order of the keys `lo[0..n)` (and `hi`, the more
   * significant word, when `wide`).
   */
  stableOrder(n: number, wide: boolean): void {
    const order = this.order;
    for (let i = 0; i < n; i++) order[i] = i;
    if (n <= INSERTION_MAX) {
      this.insertionOrder(n, wide);
      return;
    }
    const passes = wide ? 6 : 3;
    const counts = this.counts;
    counts.fill(0, 0, passes * BUCKETS);
    let lo = this.lo;
    let hi = this.hi;
    for (let i = 0; i < n; i++) {
      const l = lo[i]!;
      counts[l & DIGIT_MASK]!++;
      counts[BUCKETS + ((l >>> DIGIT_BITS) & DIGIT_MASK)]!++;
      counts[2 * BUCKETS + (l >>> (2 * DIGIT_BITS))]!++;
      if (wide) {
        const h = hi[i]!;
        counts[3 * BUCKETS + (h & DIGIT_MASK)]!++;
        counts[4 * BUCKETS + ((h >>> DIGIT_BITS) & DIGIT_MASK)]!++;
        counts[5 * BUCKETS + (h >>> (2 * DIGIT_BITS))]!++;
      }
    }
    let ord = this.order;
    let tLo = this.tmpLo;
    let tHi = this.tmpHi;
    let tOrd = this.tmpOrder;
    for (let p = 0; p < passes; p++) {
      const base = p * BUCKETS;
      const word = p < 3 ? 0 : 1;
      const shift = (p % 3) * DIGIT_BITS;
      // A digit every key shares moves nothing: skip the pass.
      const first = word === 0 ? lo[0]! : hi[0]!;
      if (counts[base + ((first >>> shift) & DIGIT_MASK)] === n) continue;
      let sum = 0;
      for (let b = 0; b < BUCKETS; b++) {
        const c = counts[base + b]!;
        counts[base + b] = sum;
        sum += c;
      }
      const src = word === 0 ? lo : hi;
      for (let i = 0; i < n; i++) {
        const to = counts[base + ((src[i]! >>> shift) & DIGIT_MASK)]!++;
        tLo[to] = lo[i]!;
        if (wide) tHi[to] = hi[i]!;
        tOrd[to] = ord[i]!;
      }
      [lo, tLo] = [tLo, lo];
      [hi, tHi] = [tHi, hi];
      [ord, tOrd] = [tOrd, ord];
    }
    // The buffers swapped roles an odd number of times: keep them for the next lane either way.
    this.lo = lo;
    this.tmpLo = tLo;
    this.hi = hi;
    this.tmpHi = tHi;
    this.order = ord;
    this.tmpOrder = tOrd;
  }

  private insertionOrder(n: number, wide: boolean): void {
    const { lo, hi, order } = this;
    for (let i = 1; i < n; i++) {
      const kl = lo[i]!;
      const kh = wide ? hi[i]! : 0;
      const o = order[i]!;
      let j = i - 1;
      while (j >= 0) {
        const jh = wide ? hi[j]! : 0;
        if (jh < kh || (jh === kh && lo[j]! <= kl)) break;
        lo[j + 1] = lo[j]!;
        if (wide) hi[j + 1] = jh;
        order[j + 1] = order[j]!;
        j--;
      }
      lo[j + 1] = kl;
      if (wide) hi[j + 1] = kh;
      order[j + 1] = o;
    }
  }
}

/** A lane view of an array around `axis`: `outer` blocks of `n` positions `inner` apart. */
export interface LaneView {
  outer: number;
  n: number;
  inner: number;
}

export function lanesAround(shape: Shape, axis: number): LaneView {
  return { outer: sizeOf(shape.slice(0, axis)), n: shape[axis]!, inner: sizeOf(shape.slice(axis + 1)) };
}

/**
 * The order key of a float's sign-and-exponent word `w` (the whole float32, or a float64's high word):
 * IEEE bits made monotone as unsigned numbers (negatives complemented, positives above them).
 */
const monotone = (w: number): number => (w & 0x80000000 ? ~w : w | 0x80000000) >>> 0;

/** The IEEE bits of a float array (a view, no copy); null for other dtypes. */
function bitsOf(x: TypedArray, dtype: DType): Uint32Array | null {
  if (dtype !== "float32" && dtype !== "float64") return null;
  return new Uint32Array(x.buffer, x.byteOffset, x.byteLength / 4);
}

/**
 * Writes the order keys of one lane into the scratch (read from the float bits `bits` for floats):
 * -0 as +0, every NaN the largest key, complemented when descending. Returns whether the keys are two
 * words wide (float64).
 */
function laneKeys(
  s: SortScratch,
  x: TypedArray,
  bits: Uint32Array | null,
  dtype: DType,
  start: number,
  n: number,
  stride: number,
  descending: boolean,
): boolean {
  const flip = descending ? 0xffffffff : 0;
  const { lo, hi } = s;
  switch (dtype) {
    case "float64":
      for (let j = 0; j < n; j++) {
        const at = 2 * (start + j * stride);
        const l = bits![at]!;
        const h = bits![at + 1]!;
        const magnitude = h & 0x7fffffff;
        if (magnitude > 0x7ff00000 || (magnitude === 0x7ff00000 && l !== 0)) {
          hi[j] = ~flip;
          lo[j] = ~flip;
        } else if (magnitude === 0 && l === 0) {
          hi[j] = 0x80000000 ^ flip;
          lo[j] = flip;
        } else {
          hi[j] = monotone(h) ^ flip;
          lo[j] = (h & 0x80000000 ? ~l : l) ^ flip;
        }
      }
      return true;
    case "float32":
      for (let j = 0; j < n; j++) {
        const w = bits![start + j * stride]!;
        const magnitude = w & 0x7fffffff;
        lo[j] = (magnitude > 0x7f800000 ? 0xffffffff : magnitude === 0 ? 0x80000000 : monotone(w)) ^ flip;
      }
      return false;
    case "int32":
    case "int16":
    case "int8":
      for (let j = 0; j < n; j++) lo[j] = x[start + j * stride]! ^ 0x80000000 ^ flip;
      return false;
    case "bool":
    case "uint8":
    case "uint16":
    case "uint32":
      for (let j = 0; j < n; j++) lo[j] = x[start + j * stride]! ^ flip;
      return false;
    default:
      throw new DTypeError(`sort: no sort keys for ${dtype} (sorted as float32)`);
  }
}

/**
 * Sorts every lane of `x` (of `shape`, `dtype`) along `axis`, stably: `values` gets the sorted elements
 * and `indices` their positions in the lane (either may be null). Ascending puts NaN last; descending
 * is the reverse order with ties still in their original order (NaN first), as torch's stable sort.
 */
export function sortLanes(
  x: TypedArray,
  dtype: DType,
  shape: Shape,
  axis: number,
  descending: boolean,
  values: TypedArray | null,
  indices: Int32Array | null,
  scratch?: SortScratch,
): void {
  const { outer, n, inner } = lanesAround(shape, axis);
  if (n === 0 || outer * inner === 0) return;
  const s = scratch ?? new SortScratch(n);
  const bits = bitsOf(x, dtype);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const start = o * n * inner + i;
      const wide = laneKeys(s, x, bits, dtype, start, n, inner, descending);
      s.stableOrder(n, wide);
      const order = s.order;
      for (let j = 0; j < n; j++) {
        const from = order[j]!;
        if (values) values[start + j * inner] = x[start + from * inner]!;
        if (indices) indices[start + j * inner] = from;
      }
    }
  }
}

/** The stable ascending order of `keys[offset .. offset + n)` compared as uint32 (random permutations). */
export function stableOrderOfUint32(keys: ArrayLike<number>, offset: number, n: number): Uint32Array {
  const s = new SortScratch(n);
  for (let j = 0; j < n; j++) s.lo[j] = keys[offset + j]! >>> 0;
  s.stableOrder(n, false);
  return s.order.slice(0, n);
}

/** a before b in descending order with NaN largest (ties are decided by position elsewhere). */
const greater = (a: number, b: number): boolean => a > b || (Number.isNaN(a) && !Number.isNaN(b));

/**
 * The `k` largest elements of every lane along the last axis, largest first, ties by lower index
 * (jax.lax.top_k), NaN largest: a bounded insertion buffer for small `k`, a stable descending sort
 * otherwise.
 */
export function topKLanes(
  x: TypedArray,
  dtype: DType,
  shape: Shape,
  k: number,
  values: TypedArray,
  indices: Int32Array,
): void {
  const n = shape[shape.length - 1]!;
  const rows = sizeOf(shape.slice(0, -1));
  if (k === 0 || rows === 0) return;
  if (k > 64 || k * 8 > n) {
    const s = new SortScratch(n);
    const bits = bitsOf(x, dtype);
    for (let r = 0; r < rows; r++) {
      laneKeys(s, x, bits, dtype, r * n, n, 1, true);
      s.stableOrder(n, dtype === "float64");
      for (let j = 0; j < k; j++) {
        const from = s.order[j]!;
        values[r * k + j] = x[r * n + from]!;
        indices[r * k + j] = from;
      }
    }
    return;
  }
  const bufV = new Float64Array(k);
  const bufI = new Int32Array(k);
  for (let r = 0; r < rows; r++) {
    const base = r * n;
    let size = 0;
    for (let j = 0; j < n; j++) {
      const v = x[base + j]!;
      // Enters only if strictly before the current k-th: an equal value at a higher index loses the tie.
      if (size === k && !greater(v, bufV[k - 1]!)) continue;
      let p = size === k ? k - 1 : size++;
      while (p > 0 && greater(v, bufV[p - 1]!)) {
        bufV[p] = bufV[p - 1]!;
        bufI[p] = bufI[p - 1]!;
        p--;
      }
      bufV[p] = v;
      bufI[p] = j;
    }
    for (let j = 0; j < k; j++) {
      values[r * k + j] = x[base + bufI[j]!]!;
      indices[r * k + j] = bufI[j]!;
    }
  }
}

/**
 * numpy's searchsorted per lane: for each of the `m` values of a lane, the insertion point in the
 * lane's `n` sorted elements: the first position whose element is not before the value (side left) or
 * is after it (right), in sort order (NaN largest).
 */
export function searchSortedLanes(
  sorted: TypedArray,
  values: TypedArray,
  lanes: number,
  n: number,
  m: number,
  right: boolean,
  out: Int32Array,
): void {
  for (let l = 0; l < lanes; l++) {
    const base = l * n;
    for (let j = 0; j < m; j++) {
      const v = values[l * m + j]!;
      let lo = 0;
      let hi = n;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const a = sorted[base + mid]!;
        // left: advance while a < v; right: while a <= v, i.e. while not v < a.
        const advance = right ? !greater(a, v) : greater(v, a);
        if (advance) lo = mid + 1;
        else hi = mid;
      }
      out[l * m + j] = lo;
    }
  }
}
