/**
 * What every WGSL kernel of the WebGPU backend shares: how dtypes are stored (WGSL has no 8- or 16-bit
 * storage and no f64: bool is stored as u32 0/1 and float32, int32 and uint32 as themselves), literals
 * written exactly, and one invocation per element of a flat range (dispatched in two dimensions where it
 * exceeds the 65,535 workgroups WebGPU allows along one).
 */
import type { DType } from "../../core/dtype.js";

/** What the WebGPU backend cannot compute (a dtype, a primitive, a helper), named: jit then runs on the CPU. */
export class WgslUnsupportedError extends Error {
  override name = "WgslUnsupportedError";
}

/** The dtypes WebGPU plans compute in. */
export const WEBGPU_DTYPES: readonly DType[] = ["float32", "int32", "uint32", "bool"];

/**
 * The WGSL type of a value of `dtype` in registers (bool as bool). float64 is computed as f32: WGSL has no
 * f64, and a WebGPU plan admits float64 only as scalars (an optimizer's learning-rate schedule) and inside
 * a float32 op's expression tree (compiler/webgpu-plan.ts keeps anything else on the CPU).
 */
export function wgslType(dtype: DType): "f32" | "i32" | "u32" | "bool" {
  switch (dtype) {
    case "float32":
    case "float64":
      return "f32";
    case "int32":
      return "i32";
    case "uint32":
      return "u32";
    case "bool":
      return "bool";
    default:
      throw new TypeError(
        `webgpu: ${dtype} has no WGSL type (WebGPU computes float32, int32, uint32 and bool)`,
      );
  }
}

/** The WGSL element type of a storage buffer of `dtype` (bool: u32). */
export function wgslStorageType(dtype: DType): "f32" | "i32" | "u32" {
  const t = wgslType(dtype);
  return t === "bool" ? "u32" : t;
}

/** A stored element read as its register value. */
export function fromStorage(dtype: DType, load: string): string {
  return dtype === "bool" ? `(${load} != 0u)` : load;
}

/** A register value as stored. */
export function toStorage(dtype: DType, value: string): string {
  return dtype === "bool" ? `select(0u, 1u, ${value})` : value;
}

/**
 * Declarations every kernel starts with. WGSL rejects a constant expression that is Infinity or NaN, so
 * those come from bits in a private variable (a run-time value).
 */
export const WGSL_PRELUDE = "var<private> nonFinite: vec2u = vec2u(0x7f800000u, 0x7fc00000u);";
/**
 * Whether the f32 `value` is NaN, from its bits: compilers may fold `x != x` to false (SwiftShader's
 * does), which would silently drop NaNs.
 */
export function wgslIsNan(value: string): string {
  return `((bitcast<u32>(${value}) & 0x7fffffffu) > 0x7f800000u)`;
}

/** +Infinity and NaN in float32 (see WGSL_PRELUDE). */
export const WGSL_INFINITY = "bitcast<f32>(nonFinite.x)";
export const WGSL_NAN = "bitcast<f32>(nonFinite.y)";

/** A constant of `dtype`, exactly (Infinity and NaN through WGSL_PRELUDE's bits). */
export function wgslLiteral(value: number, dtype: DType): string {
  switch (wgslType(dtype)) {
    case "bool":
      return value !== 0 ? "true" : "false";
    case "i32":
      return `i32(${value | 0})`;
    case "u32":
      return `${value >>> 0}u`;
    case "f32": {
      const f = Math.fround(value);
      if (Number.isFinite(f)) return `f32(${Object.is(f, -0) ? "-0.0" : f.toPrecision(9)})`;
      return Number.isNaN(f) ? WGSL_NAN : f > 0 ? WGSL_INFINITY : `(-${WGSL_INFINITY})`;
    }
  }
}

/** Invocations per workgroup of the flat kernels. */
export const FLAT_WORKGROUP = 256;
const MAX_GROUPS = 65535;

/** Workgroups for `n` invocations, `size` per workgroup: [x, y, 1], y > 1 past 65,535 groups. */
export function flatWorkgroups(n: number, size: number = FLAT_WORKGROUP): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / size));
  if (groups <= MAX_GROUPS) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_GROUPS);
  return [Math.ceil(groups / y), y, 1];
}

/**
 * The head of a flat kernel: `main` with the flat index `i` of this invocation, returning past `n`
 * (dispatched as `flatWorkgroups(n, size)`). The body follows; close it with `}`.
 */
export function flatMain(n: number, size: number = FLAT_WORKGROUP): string {
  return `@compute @workgroup_size(${size})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
  let i = gid.x + gid.y * groups.x * ${size}u;
  if (i >= ${n}u) { return; }`;
}

/** The expression for coordinate `d` of the row-major flat index `index` into `shape`. */
export function coordinate(shape: readonly number[], d: number, index: string): string {
  let stride = 1;
  for (let j = d + 1; j < shape.length; j++) stride *= shape[j]!;
  const q = stride === 1 ? index : `(${index} / ${stride}u)`;
  return d === 0 ? q : `(${q} % ${shape[d]}u)`;
}

/** A storage buffer declaration at `binding` of group 0. */
export function storageBinding(binding: number, name: string, dtype: DType, writable: boolean): string {
  return `@group(0) @binding(${binding}) var<storage, ${writable ? "read_write" : "read"}> ${name}: array<${wgslStorageType(dtype)}>;`;
}
