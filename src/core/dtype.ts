/** Element types. `bool` is stored as one byte per element (0 or 1). */
export type DType = "float32" | "float64" | "int32" | "bool";

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export const DTYPES: readonly DType[] = ["bool", "int32", "float32", "float64"];

export function isFloat(dtype: DType): boolean {
  return dtype === "float32" || dtype === "float64";
}

export function storageFor(dtype: DType, size: number): TypedArray {
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

export function dtypeOfTypedArray(data: TypedArray): DType {
  if (data instanceof Float32Array) return "float32";
  if (data instanceof Float64Array) return "float64";
  if (data instanceof Int32Array) return "int32";
  return "bool";
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
