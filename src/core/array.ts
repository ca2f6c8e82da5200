/**
 * The array value. `NdArray` is the one type users see (exported publicly as `Array`); concrete arrays
 * hold row-major typed storage, tracers (core/trace.ts) stand for values inside a transform.
 * Immutable: nothing here writes to storage after construction.
 */
import { type DType, isFloat, readScalar, storageFor, type TypedArray } from "./dtype.js";
import type { ArrayMethods } from "./methods-types.js";
import { fmtShape, type Shape, sizeOf } from "./shape.js";

/** Shape and dtype: what tracing knows about a value (JAX's ShapedArray). */
export interface AbstractValue {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A shape and dtype standing for an array argument when tracing (JAX's ShapeDtypeStruct). */
export class ShapeDtype implements AbstractValue {
  constructor(
    readonly shape: Shape,
    readonly dtype: DType = "float32",
  ) {}
}

export function fmtAval(aval: AbstractValue): string {
  return `${aval.dtype}${fmtShape(aval.shape)}`;
}

/**
 * Thrown when code reads the value of a traced array (`item()`, `toArray()`, JS control flow on it) inside
 * `jit`, `vmap` or `makeProgram`, where only its shape and dtype are known (JAX's ConcretizationTypeError).
 */
export class ConcretizationError extends Error {
  override name = "ConcretizationError";
}

/**
 * Thrown when donation (`jit`'s `donateArgnums`) is misused: reading an array after it was donated (its
 * buffer now belongs to the outputs, or a failed call may have half-overwritten it), or donating one
 * array twice in a call.
 */
export class DonationError extends Error {
  override name = "DonationError";
}

/**
 * An n-dimensional array: immutable, with a shape and a dtype (exported as `Array`). Concrete arrays hold
 * their values; inside a transform the same type stands for a traced value. The numpy-style methods
 * (`x.add(y).sum()`) are those of `ArrayMethods`; `np` has them all as functions.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: methods are installed by ops/methods.ts
export abstract class NdArray implements AbstractValue {
  /** The size of each axis. */
  abstract readonly shape: Shape;
  /** The element type. */
  abstract readonly dtype: DType;

  /** The number of axes (rank). */
  get ndim(): number {
    return this.shape.length;
  }
  /** The number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }
  /** The shape and dtype, without the values. */
  get aval(): AbstractValue {
    return { shape: this.shape, dtype: this.dtype };
  }

  /** The concrete value; tracers without one throw a ConcretizationError. */
  abstract concrete(): ConcreteArray;

  /**
   * The values, as a row-major copy of the storage (as `toTypedArray()`), asynchronously: what reads an
   * array on any backend, a WebGPU device array's included (which `toTypedArray()` cannot wait for).
   */
  async data(): Promise<TypedArray> {
    return this.toTypedArray();
  }

  /** A row-major copy of the storage (for float16 and bfloat16: their bits, in a Uint16Array). */
  toTypedArray(): TypedArray {
    return this.concrete().storage.slice();
  }

  /** The values as nested JS arrays (booleans for bool arrays). */
  toArray(): NestedArray {
    const c = this.concrete();
    const read = (i: number): number | boolean =>
      c.dtype === "bool" ? c.storage[i] === 1 : readScalar(c.storage[i]!, c.dtype);
    if (c.shape.length === 0) return read(0);
    const build = (dim: number, offset: number, stride: number): NestedArray[] => {
      const n = c.shape[dim]!;
      const inner = stride / (n || 1);
      const out: NestedArray[] = [];
      for (let i = 0; i < n; i++) {
        out.push(dim === c.shape.length - 1 ? read(offset + i) : build(dim + 1, offset + i * inner, inner));
      }
      return out;
    };
    return build(0, 0, sizeOf(c.shape));
  }

  /** The single element of a size-1 array. */
  item(): number {
    const c = this.concrete();
    if (c.size !== 1)
      throw new Error(`item: array of shape ${fmtShape(c.shape)} has ${c.size} elements, not 1`);
    return readScalar(c.storage[0]!, c.dtype);
  }

  /** numpy-style printing: `array([1., 2.], shape=[2], dtype=float32)`; `Traced<...>` for a tracer. */
  toString(): string {
    return formatArray(this);
  }

  /**
   * An array in a numeric context (`x.sum() < 1`, `+x`, `x * 2` in plain JS) is its value when it has
   * one element, as numpy's `float(x)`; any other size throws a TypeError, and a traced array (inside
   * jit, vmap or makeProgram) throws a ConcretizationError, as `item()` does. In a string context
   * (`${x}`, String(x)) it prints as `toString()`.
   */
  [Symbol.toPrimitive](hint: "number" | "string" | "default"): number | string {
    if (hint === "string") return this.toString();
    const c = this.concrete();
    if (c.size !== 1)
      throw new TypeError(
        `an array of shape ${fmtShape(c.shape)} (${c.size} elements) was used as a JS number; only a size-1 array converts (as numpy's float(x)): reduce it, index it or use .item(), and String(x) to print it`,
      );
    return readScalar(c.storage[0]!, c.dtype);
  }

  /** console.log and the Node REPL show the values, not the storage. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }
}

/** The values of an array as nested JS arrays (`toArray()`): numbers, or booleans for bool arrays. */
export type NestedArray = number | boolean | NestedArray[];

// Declaration merging gives NdArray its methods (x.add(y), x.sum(), ...) without a circular import.
export interface NdArray extends ArrayMethods {}

/** An array with its values in row-major typed storage (what `np.array` and eager ops return). */
export class ConcreteArray extends NdArray {
  private stored: TypedArray | null;
  /**
   * The stored value of every element when the array is a constant (`ConcreteArray.filled`), else null.
   * Its storage is written out on the first read of `storage` (and the fill forgotten); eager elementwise
   * kernels read the constant instead and never need it.
   */
  private fill: number | null = null;
  /**
   * While the array is a deferred view (a transpose or a broadcast) with no storage
   * written yet: what writes it on the first read of `storage`.
   */
  private pending: (() => TypedArray) | null = null;
  private transposeOf: ConcreteArray | null = null;
  private broadcastOf: DeferredBroadcast | null = null;
  /**
   * Whether deferred views of this array were made: before its buffer is donated (and overwritten) they
   * get a copy of its values to read (`copyForViews`). No list of them is kept: weak references made in
   * a synchronous loop keep their targets alive to its end, and a long list is a cost on every view.
   */
  private hasViews = false;
  private copyForViews: ConcreteArray | null = null;
  /** Set when a donated call failed after the plan may have written over this array's buffer. */
  private donatedToFailedCall = false;
  constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    /** Row-major storage; never written after construction (except by a jit that it was donated to). */
    data: TypedArray,
  ) {
    super();
    this.stored = data;
  }
  /**
   * An array whose every element is `stored` (as its storage holds it: a float16's bits, a bool's 0 or
   * 1), with no storage until `storage` is first read: a broadcast scalar costs nothing until a kernel
   * needs its elements.
   */
  static filled(shape: Shape, dtype: DType, stored: number): ConcreteArray {
    const a = new ConcreteArray(shape, dtype, NO_STORAGE);
    a.stored = null;
    a.fill = stored;
    return a;
  }
  /**
   * `source` with its last two axes swapped (`shape`), its storage written by `write` when first read:
   * an eager GEMM reads `source` transposed in place instead (`pendingTransposeOf`), and transposing it
   * back gives `source` itself.
   */
  static deferredTranspose(
    shape: Shape,
    source: ConcreteArray,
    write: (source: ConcreteArray) => TypedArray,
  ): ConcreteArray {
    const a = ConcreteArray.deferredView(shape, source, write);
    a.transposeOf = source;
    return a;
  }
  /**
   * `source` broadcast to `shape` (broadcast_in_dim's `broadcastDimensions`), its storage written by
   * `write` when first read: an eager elementwise kernel in wasm reads `source` through the broadcast
   * instead (`pendingBroadcastOf`), as a jit plan's fused loop does.
   */
  static deferredBroadcast(
    shape: Shape,
    source: ConcreteArray,
    broadcastDimensions: readonly number[],
    write: (source: ConcreteArray) => TypedArray,
  ): ConcreteArray {
    const a = ConcreteArray.deferredView(shape, source, write);
    a.broadcastOf = { source, broadcastDimensions };
    return a;
  }
  private static deferredView(
    shape: Shape,
    source: ConcreteArray,
    write: (source: ConcreteArray) => TypedArray,
  ): ConcreteArray {
    const a = new ConcreteArray(shape, source.dtype, NO_STORAGE);
    a.stored = null;
    a.pending = () => write(source.viewSource());
    source.hasViews = true;
    return a;
  }
  /** The array this one is the matrix transpose of, while its own storage is not written (else undefined). */
  get pendingTransposeOf(): ConcreteArray | undefined {
    return this.transposeOf?.viewSource();
  }
  /** The array this one is a broadcast of, and how, while its own storage is not written (else undefined). */
  get pendingBroadcastOf(): DeferredBroadcast | undefined {
    const b = this.broadcastOf;
    if (b === null) return undefined;
    const source = b.source.viewSource();
    return source === b.source ? b : { ...b, source };
  }
  /** What deferred views of this array read: itself, or after it was donated, the copy made then. */
  private viewSource(): ConcreteArray {
    return this.copyForViews ?? this;
  }
  /** Its buffer is about to be donated to a jit call: deferred views of it keep a copy of its values. */
  preserveForDeferredViews(): void {
    if (this.hasViews && this.copyForViews === null)
      this.copyForViews = new ConcreteArray(this.shape, this.dtype, this.storage.slice());
  }
  /** The stored value every element holds, when the array was made as a constant (`filled`). */
  get constantFill(): number | undefined {
    return this.fill ?? undefined;
  }
  /**
   * The row-major storage (not a copy: do not write to it); throws once the array was donated. (`await
   * x.data()` gives a copy of the values of any array, a GPU device array's included.)
   */
  get storage(): TypedArray {
    if (this.stored === null) {
      if (this.fill !== null) {
        const s = storageFor(this.dtype, sizeOf(this.shape));
        if (!Object.is(this.fill, 0)) s.fill(this.fill as never);
        // From here on it is an ordinary array: whoever read the storage may hold on to it.
        this.stored = s;
        this.fill = null;
        return s;
      }
      if (this.pending !== null) {
        const s = this.pending();
        this.stored = s;
        this.pending = null;
        this.transposeOf = null;
        this.broadcastOf = null;
        return s;
      }
      throw new DonationError(
        this.donatedToFailedCall
          ? `this ${fmtAval(this)} array was donated to a jitted function (donateArgnums) whose call failed after it may have written over its buffer; keep a copy of donated arguments if a failed step must be retried`
          : `this ${fmtAval(this)} array was donated to a jitted function (donateArgnums) and its buffer reused; use the function's outputs instead`,
      );
    }
    return this.stored;
  }
  /**
   * Marks the array donated: its buffer now belongs to a jitted function's outputs, or (`failedCall`)
   * the call it was donated to failed part way and its values may be torn.
   */
  donate(failedCall = false): TypedArray {
    const s = this.storage;
    this.stored = null;
    this.fill = null;
    this.donatedToFailedCall = failedCall;
    return s;
  }
  /** Whether the array was donated to a jitted function (its values are gone). */
  get isDonated(): boolean {
    return this.stored === null && this.fill === null && this.pending === null;
  }
  /** Itself: its values are known. */
  concrete(): ConcreteArray {
    return this;
  }
}

/** What a deferred broadcast reads: its source, and the output axis of each source axis. */
export interface DeferredBroadcast {
  readonly source: ConcreteArray;
  readonly broadcastDimensions: readonly number[];
}

/** The placeholder a `filled` array is constructed with (its storage is set null at once). */
const NO_STORAGE = new Float32Array(0);

const SUMMARY_THRESHOLD = 1000;
const EDGE_ITEMS = 3;

function formatNumber(stored: number, dtype: DType): string {
  if (dtype === "bool") return stored ? "true" : "false";
  const v = readScalar(stored, dtype);
  if (!isFloat(dtype)) return String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.`;
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-4 || a >= 1e8)) return v.toExponential(4);
  return String(Number(v.toPrecision(dtype === "float64" ? 8 : dtype === "float32" ? 6 : 4)));
}

function formatArray(x: NdArray): string {
  let c: ConcreteArray;
  try {
    c = x.concrete();
  } catch {
    return `Traced<${fmtAval(x)}>`;
  }
  return `array(${formatValues(c, undefined, "array(".length)}, shape=${fmtShape(c.shape)}, dtype=${c.dtype})`;
}

/**
 * The values of an array as `toString` lays them out (`[[1., 2.],\n [3., 4.]]`, `2.` for a scalar),
 * without the `array(..., shape, dtype)` around them: numpy's `str(x)` to `toString`'s `repr(x)`.
 * `formatElement`, when given, writes each element instead of the default; `column` is where the first
 * bracket stands on its line (rows below align with it).
 */
export function formatValues(c: ConcreteArray, formatElement?: (v: number) => string, column = 0): string {
  const fmt = formatElement ?? ((v: number) => formatNumber(v, c.dtype));
  const summarize = c.size > SUMMARY_THRESHOLD;
  const rec = (dim: number, offset: number, stride: number, indent: string): string => {
    if (c.shape.length === 0) return fmt(c.storage[0]!);
    const n = c.shape[dim]!;
    const inner = n === 0 ? 0 : stride / n;
    const idx: (number | null)[] = [];
    if (summarize && n > 2 * EDGE_ITEMS) {
      for (let i = 0; i < EDGE_ITEMS; i++) idx.push(i);
      idx.push(null);
      for (let i = n - EDGE_ITEMS; i < n; i++) idx.push(i);
    } else for (let i = 0; i < n; i++) idx.push(i);
    const last = dim === c.shape.length - 1;
    const parts = idx.map((i) =>
      i === null
        ? "..."
        : last
          ? fmt(c.storage[offset + i]!)
          : rec(dim + 1, offset + i * inner, inner, `${indent} `),
    );
    const sep = last ? ", " : `,${"\n".repeat(c.shape.length - dim - 1)}${indent} `;
    return `[${parts.join(sep)}]`;
  };
  return rec(0, 0, sizeOf(c.shape), " ".repeat(column));
}
