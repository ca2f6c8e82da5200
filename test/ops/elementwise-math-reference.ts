/**
 * The numpy 1.24 reference data of the elementwise functions of src/ops/elementwise-math.ts:
 * elementwise-math-reference.json.gz, written by elementwise_math_reference.py (its docstring gives the
 * format). Arrays are base64 of their little-endian bytes, so -0, NaN and the infinities survive.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";

export type FloatDtype = "float64" | "float32";

export interface ReferenceCase {
  args: string[];
  out: string;
  out_dtype: "float64" | "float32" | "bool";
  /** mpmath's correctly rounded value (float64 only, where mpmath has the function). */
  exact?: string;
  exact_known?: string;
}

export interface Reference {
  meta: { numpy_version: string; numpy_cpu_features: string[] };
  ops: Record<string, { python_expr: string } & Record<FloatDtype, ReferenceCase>>;
}

export const REFERENCE_FILE = fileURLToPath(new URL("./elementwise-math-reference.json.gz", import.meta.url));
export const GENERATOR = fileURLToPath(new URL("./elementwise_math_reference.py", import.meta.url));

export const readReference = (file: string = REFERENCE_FILE): Reference =>
  JSON.parse(gunzipSync(readFileSync(file)).toString("utf8")) as Reference;

/** A base64 array of the data as the typed array of its dtype. */
export function decode(
  b64: string,
  dtype: "float64" | "float32" | "bool",
): Float64Array | Float32Array | Uint8Array {
  const bytes = Buffer.from(b64, "base64");
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  return dtype === "float64"
    ? new Float64Array(buffer)
    : dtype === "float32"
      ? new Float32Array(buffer)
      : new Uint8Array(buffer);
}
