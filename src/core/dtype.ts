/** Element types. `bool` is stored as one byte per element (0 or 1). */
export type DType = "float32" | "float64" | "int32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

/** Bytes per element of each dtype's storage. */
export const BYTES_PER_ELEMENT: Readonly<Record<DType, number>> = {
  bool: 1,
  int32: 4,
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
  switch (dtype) {
    case "float32":
      return new Float32Array(size);
    case "float64":
      return new Float64Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

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

/** numpy/JAX promotion between two strongly typed dtypes: bool < int32 < float32 < float64. */
export function promoteTypes(a: DType, b: DType): DType {
  return DTYPES.indexOf(a) >= DTYPES.indexOf(b) ? a : b;
}

/**
 * The dtype a weakly typed JavaScript number takes next to an array of `dtype` (JAX's weak types):
 * `f32 * 2` stays float32, `i32 * 2` stays int32, `i32 * 2.5` becomes float32, `bool + 1` becomes int32.
 */
export function weakScalarDType(dtype: DType, value: number | boolean): DType {
  if (typeof value === "boolean") return dtype;
  if (isFloat(dtype)) return dtype;
  if (Number.isInteger(value)) return dtype === "bool" ? "int32" : dtype;
  return "float32";
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

/** What to use instead where an op refuses bool operands. */
const BOOL_ADVICE: Partial<Record<BoolOperandsOp, string>> = {
  subtract: "use logicalXor, or astype('int32') first",
  negative: "use logicalNot, or astype('int32') first",
  sign: "use astype('int32') first",
};

/**
 * The dtype `op` computes in when its operands are `dtype` (after promotion): `dtype` itself unless it is
 * bool, then the `BOOL_OPERANDS` rule. Throws a TypeError naming the op where the rule is `error`.
 */
export function operandDTypeFor(op: BoolOperandsOp, dtype: DType): DType {
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

/** Converts a JS number to what storage of `dtype` holds (int32 truncates toward zero like numpy's astype). */
export function castScalar(value: number, dtype: DType): number {
  switch (dtype) {
    case "int32":
      return Number.isFinite(value) ? Math.trunc(value) | 0 : 0;
    case "bool":
      return value !== 0 && !Number.isNaN(value) ? 1 : 0;
    case "float32":
      return Math.fround(value);
    default:
      return value;
  }
}
