import { fromBfloat16Bits, fromFloat16Bits, toBfloat16Bits, toFloat16Bits } from "./half.js";

/**
 * Element types. `bool` is stored as one byte per element (0 or 1); the integer types in the typed array
 * of their width; `float16` and `bfloat16` as their bits in a Uint16Array (Node 20 has no Float16Array):
 * ops compute on them in float32 and round the result to the half type per op (as numpy does on CPUs
 * without half arithmetic), so `data` of a half array holds bits, not values (`item()`, `toArray()` and
 * `toString()` convert).
 */
export type DType =
  | "bool"
  | "uint8"
  | "int8"
  | "uint16"
  | "int16"
  | "uint32"
  | "int32"
  | "bfloat16"
  | "float16"
  | "float32"
  | "float64";

export type TypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array;

export const DTYPES: readonly DType[] = [
  "bool",
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "int32",
  "bfloat16",
  "float16",
  "float32",
  "float64",
];

/** The dtypes every op computes in directly (the others: see `NARROW_DTYPES`). */
export const WIDE_DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

/**
 * The 8- and 16-bit dtypes and uint32. Elementwise ops, casts, reductions and data movement handle them;
 * a primitive that does not (its rules do not say `narrowDtypes`) refuses them with a DTypeError.
 */
export const NARROW_DTYPES: readonly DType[] = [
  "uint8",
  "int8",
  "uint16",
  "int16",
  "uint32",
  "bfloat16",
  "float16",
];

/** A dtype an op does not support, named with the op (a TypeError). */
export class DTypeError extends TypeError {
  override name = "DTypeError";
}

/** Floating point: float16, bfloat16, float32, float64. */
export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64" || dtype === "float16" || dtype === "bfloat16";
}

/** The 16-bit floats, stored as bits and computed on in float32. */
export function isHalf(dtype: DType): dtype is "float16" | "bfloat16" {
  return dtype === "float16" || dtype === "bfloat16";
}

/** Signed or unsigned integer (not bool). */
export function isInteger(dtype: DType): boolean {
  return INT_RANGE[dtype] !== undefined;
}

/** The smallest and largest value of each integer dtype. */
export const INT_RANGE: Readonly<Partial<Record<DType, readonly [number, number]>>> = {
  uint8: [0, 255],
  int8: [-128, 127],
  uint16: [0, 65535],
  int16: [-32768, 32767],
  uint32: [0, 4294967295],
  int32: [-2147483648, 2147483647],
};

/** Bytes per element of each dtype's storage. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  bool: 1,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  uint32: 4,
  int32: 4,
  bfloat16: 2,
  float16: 2,
  float32: 4,
  float64: 8,
};

/**
 * The largest array this library allocates: 2 GiB of storage (2**29 float32 elements, 2**28 float64).
 * Creation functions check it before allocating and throw a ShapeError naming the function and shape.
 */
export const MAX_ARRAY_BYTES = 2 ** 31;

/** Fresh zeroed storage for `size` elements; a RangeError (not an engine crash) past MAX_ARRAY_BYTES. */
export function storageFor(dtype: DType, size: number): TypedArray {
  if (!(size * BYTES_PER_ELEMENT[dtype] <= MAX_ARRAY_BYTES))
    throw new RangeError(
      `cannot allocate ${size} ${dtype} elements: over the ${MAX_ARRAY_BYTES / 2 ** 30} GiB limit of one array (MAX_ARRAY_BYTES)`,
    );
  return new STORAGE[dtype](size);
}

/** A typed array class: `new C(size)` or a view `new C(buffer, byteOffset, length)`. */
export interface TypedArrayClass {
  new (size: number): TypedArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray;
}

/** The typed array class storing each dtype. */
export const STORAGE: Readonly<Record<DType, TypedArrayClass>> = {
  bool: Uint8Array,
  uint8: Uint8Array,
  int8: Int8Array,
  uint16: Uint16Array,
  int16: Int16Array,
  uint32: Uint32Array,
  int32: Int32Array,
  bfloat16: Uint16Array,
  float16: Uint16Array,
  float32: Float32Array,
  float64: Float64Array,
};

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && (DTYPES as readonly string[]).includes(value);
}

/** Throws a TypeError naming `op` unless `value` is one of the dtypes. */
export function checkDType(op: string, value: unknown): asserts value is DType {
  if (!isDType(value))
    throw new TypeError(
      `${op}: unknown dtype ${typeof value === "string" ? JSON.stringify(value) : String(value)} (expected one of ${DTYPES.join(", ")})`,
    );
}

/**
 * JAX's type-promotion lattice (jax/_src/dtypes.py, `_type_promotion_lattice`, "standard" mode): each
 * type and the types directly above it. `i*` and `f*` are weakly typed JS numbers (integer and not);
 * `int64` and `uint64` are not dtypes here but are kept in the lattice so that joins come out as JAX's,
 * then canonicalized as JAX does without x64 (int64 -> int32, uint64 -> uint32; see `promoteTypes`).
 * The one table promotion is computed from.
 */
const LATTICE = {
  bool: ["i*"],
  "i*": ["uint8", "int8"],
  uint8: ["uint16", "int16"],
  uint16: ["uint32", "int32"],
  uint32: ["uint64", "int64"],
  uint64: ["f*"],
  int8: ["int16"],
  int16: ["int32"],
  int32: ["int64"],
  int64: ["f*"],
  "f*": ["bfloat16", "float16"],
  bfloat16: ["float32"],
  float16: ["float32"],
  float32: ["float64"],
  float64: [],
} as const satisfies Record<string, readonly string[]>;

type LatticeNode = keyof typeof LATTICE;

/** Each node and every node above it, itself included. */
const UPPER: ReadonlyMap<LatticeNode, ReadonlySet<LatticeNode>> = (() => {
  const upper = new Map<LatticeNode, Set<LatticeNode>>();
  const visit = (n: LatticeNode): Set<LatticeNode> => {
    const known = upper.get(n);
    if (known) return known;
    const set = new Set<LatticeNode>([n]);
    for (const m of LATTICE[n]) for (const u of visit(m)) set.add(u);
    upper.set(n, set);
    return set;
  };
  for (const n of Object.keys(LATTICE) as LatticeNode[]) visit(n);
  return upper;
})();

/** The least upper bound of two lattice nodes (every pair has one: float64 is the top). */
function join(a: LatticeNode, b: LatticeNode): LatticeNode {
  const ua = UPPER.get(a)!;
  const common = [...UPPER.get(b)!].filter((n) => ua.has(n));
  // The least common upper bound: the one every other common upper bound is above.
  return common.find((c) => common.every((d) => UPPER.get(c)!.has(d)))!;
}

/** JAX's canonicalization without x64 (our dtypes have no 64-bit integers); weak types default. */
const CANONICAL: Readonly<Record<LatticeNode, DType>> = {
  bool: "bool",
  "i*": "int32",
  uint8: "uint8",
  uint16: "uint16",
  uint32: "uint32",
  uint64: "uint32",
  int8: "int8",
  int16: "int16",
  int32: "int32",
  int64: "int32",
  "f*": "float32",
  bfloat16: "bfloat16",
  float16: "float16",
  float32: "float32",
  float64: "float64",
};

/** promoteTypes for every pair, computed once from the lattice. */
const PROMOTION: ReadonlyMap<string, DType> = (() => {
  const table = new Map<string, DType>();
  for (const a of DTYPES) for (const b of DTYPES) table.set(`${a},${b}`, CANONICAL[join(a, b)]);
  return table;
})();

/**
 * JAX's promotion of two strongly typed dtypes: their join on JAX's type-promotion lattice (`LATTICE`),
 * canonicalized as JAX without x64 does. So uint8 + int8 is int16, int32 + uint32 is int32 (JAX with x64
 * gives int64, which we do not have; numpy gives int64), every integer + float16 is float16, float16 +
 * bfloat16 is float32, bool + anything is the other. The whole table is in docs/guides/dtypes.md.
 */
export function promoteTypes(a: DType, b: DType): DType {
  return a === b ? a : PROMOTION.get(`${a},${b}`)!;
}

/**
 * The dtype a weakly typed JavaScript number takes next to an array of `dtype` (JAX's weak types, the
 * lattice's `i*` and `f*`): `f16 * 2.5` stays float16, `u8 * 2` stays uint8, `i32 * 2.5` becomes
 * float32, `bool + 1` becomes int32, a boolean takes the array's dtype.
 */
export function weakScalarDType(dtype: DType, value: number | boolean): DType {
  if (typeof value === "boolean") return dtype;
  return CANONICAL[join(dtype, Number.isInteger(value) ? "i*" : "f*")];
}

/**
 * What each op does when its operands (after promotion) are bool: JAX's rules, in one table that the ops
 * consult. `bool`: the op stays in bool as its logical counterpart (add is OR, multiply and matmul are
 * AND then OR, maximum is OR, minimum is AND, abs is the identity); `int32`/`float32`: the operands are
 * converted first; `error`: refused, as numpy and JAX refuse them. Functions not listed that compute
 * floats (exp, sqrt, ...) convert bool to float32; comparisons and logical ops take bool as it is.
 */
export const BOOL_OPERANDS = {
  add: "bool",
  subtract: "error",
  multiply: "bool",
  divide: "float32",
  floorDivide: "int32",
  mod: "int32",
  rem: "int32",
  power: "int32",
  maximum: "bool",
  minimum: "bool",
  clip: "bool",
  atan2: "float32",
  negative: "error",
  sign: "error",
  abs: "bool",
  square: "int32",
  matmul: "bool",
  dot: "bool",
  outer: "bool",
  einsum: "bool",
  tensordot: "bool",
  sum: "int32",
  prod: "int32",
  cumsum: "int32",
  cumprod: "int32",
  cummax: "bool",
  cummin: "bool",
  mean: "float32",
} as const satisfies Record<string, "bool" | "int32" | "float32" | "error">;

/** An op named in `BOOL_OPERANDS`. */
export type BoolOperandsOp = keyof typeof BOOL_OPERANDS;

/** Ops that accumulate: sum, prod and cumsum of 8- and 16-bit integers give uint32/int32 (as JAX). */
const ACCUMULATING: ReadonlySet<BoolOperandsOp> = new Set<BoolOperandsOp>(["sum", "prod", "cumsum"]);

/** What to use instead where an op refuses bool operands. */
const BOOL_ADVICE: Partial<Record<BoolOperandsOp, string>> = {
  subtract: "use logicalXor, or astype('int32') first",
  negative: "use logicalNot, or astype('int32') first",
  sign: "use astype('int32') first",
};

/**
 * The dtype `op` computes in when its operands are `dtype` (after promotion): `dtype` itself unless it is
 * bool, then the `BOOL_OPERANDS` rule, or an 8- or 16-bit integer that sum, prod and cumsum accumulate
 * in uint32/int32 (as JAX). Throws a TypeError naming the op where the rule is `error`.
 */
export function operandDTypeFor(op: BoolOperandsOp, dtype: DType): DType {
  // As jnp.sum: 8- and 16-bit integers accumulate in the default integer of their signedness.
  if (ACCUMULATING.has(op) && (dtype === "uint8" || dtype === "uint16")) return "uint32";
  if (ACCUMULATING.has(op) && (dtype === "int8" || dtype === "int16")) return "int32";
  if (dtype !== "bool") return dtype;
  const rule = BOOL_OPERANDS[op];
  if (rule === "error")
    throw new TypeError(
      `${op}: bool operands are not supported (numpy and JAX refuse them too); ${BOOL_ADVICE[op] ?? "convert them first"}`,
    );
  return rule;
}

/** The dtype of a number with nothing to take its type from. */
export function defaultDTypeOf(value: number | boolean): DType {
  if (typeof value === "boolean") return "bool";
  return "float32";
}

/**
 * Converts a JS number to what storage of `dtype` holds, as numpy's `astype` does on x86: to an integer
 * dtype it truncates toward zero, then wraps modulo 2**bits (300 -> uint8 44, -1 -> uint8 255, 2**31 ->
 * int32 -2**31); NaN and ±Infinity become 0 (numpy leaves these undefined: it gives 0 or the smallest
 * int depending on the platform and width). To bool: `value !== 0` (NaN is true, as numpy). To float32:
 * rounded to nearest; to float16/bfloat16: rounded to nearest even, overflowing to ±Infinity, and
 * returned as the bits the Uint16Array stores (`readScalar` turns them back).
 */
export function castScalar(value: number, dtype: DType): number {
  switch (dtype) {
    case "int32":
      return value | 0;
    case "uint32":
      return value >>> 0;
    case "uint8":
      return value & 0xff;
    case "int8":
      return (value << 24) >> 24;
    case "uint16":
      return value & 0xffff;
    case "int16":
      return (value << 16) >> 16;
    case "bool":
      return value !== 0 ? 1 : 0;
    case "float32":
      return Math.fround(value);
    case "float16":
      return toFloat16Bits(value);
    case "bfloat16":
      return toBfloat16Bits(value);
    case "float64":
      return value;
  }
}

/** The number an element of `dtype` storage stands for (the value of a half type's bits; else itself). */
export function readScalar(stored: number, dtype: DType): number {
  if (dtype === "float16") return fromFloat16Bits(stored);
  if (dtype === "bfloat16") return fromBfloat16Bits(stored);
  return stored;
}
