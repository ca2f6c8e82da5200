/** Shapes, axes and broadcasting: pure helpers with clear errors. */
import { BYTES_PER_ELEMENT, type DType, MAX_ARRAY_BYTES } from "./dtype.js";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export function shapeEquals(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fmtShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

/** Thrown for invalid shapes and axes, and operands whose shapes do not fit (e.g. do not broadcast). */
export class ShapeError extends Error {
  override name = "ShapeError";
}

/** Normalizes a possibly negative axis for an array of rank `ndim`; errors name the op. */
export function normalizeAxis(op: string, axis: number, ndim: number): number {
  if (!Number.isInteger(axis) || axis < -ndim || axis >= ndim) {
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for an array of rank ${ndim}`);
  }
  return axis < 0 ? axis + ndim : axis;
}

/** Axes argument (a number, a list, or all when undefined/null) to a sorted list of distinct axes. */
export function normalizeAxes(
  op: string,
  axis: number | readonly number[] | null | undefined,
  ndim: number,
): number[] {
  if (axis === undefined || axis === null) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof axis === "number" ? [axis] : axis;
  const out = list.map((a) => normalizeAxis(op, a, ndim));
  if (new Set(out).size !== out.length)
    throw new ShapeError(`${op}: repeated axis in ${JSON.stringify(list)}`);
  return out.sort((x, y) => x - y);
}

/** numpy broadcasting of several shapes; throws naming the op and the shapes. */
export function broadcastShapes(op: string, ...shapes: Shape[]): number[] {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const j = rank - s.length + i;
      const d = s[i]!;
      const o = out[j]!;
      if (o === d || d === 1) continue;
      if (o === 1) out[j] = d;
      else
        throw new ShapeError(
          `${op}: shapes ${shapes.map(fmtShape).join(" and ")} cannot be broadcast together (dimension ${d} vs ${o})`,
        );
    }
  }
  return out;
}

/**
 * Checks a shape: a list of non-negative safe integers; with a dtype, also that the array fits in
 * MAX_ARRAY_BYTES (checked before anything is allocated). Errors name the op and the shape.
 */
export function checkShape(op: string, shape: Shape, dtype?: DType): void {
  if (!Array.isArray(shape))
    throw new ShapeError(
      `${op}: expected a shape (a list of non-negative integers), got ${describeValue(shape)}`,
    );
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0)
      throw new ShapeError(
        `${op}: invalid shape ${fmtShape(shape)}: ${describeValue(d)} is not a non-negative integer`,
      );
  }
  if (dtype === undefined) return;
  const bytes = sizeOf(shape) * BYTES_PER_ELEMENT[dtype];
  if (bytes > MAX_ARRAY_BYTES)
    throw new ShapeError(
      `${op}: shape ${fmtShape(shape)} of ${dtype} needs ${(bytes / 2 ** 30).toPrecision(3)} GiB, over the ${MAX_ARRAY_BYTES / 2 ** 30} GiB limit of one array (MAX_ARRAY_BYTES)`,
    );
}

/** A short description of a bad value for an error message: `null`, `"x"`, `NaN`, `an object`. */
export function describeValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return `a JS array of length ${v.length}`;
  const kind = typeof v === "object" ? (v.constructor?.name ?? "object") : typeof v;
  return `${/^[aeiou]/i.test(kind) ? "an" : "a"} ${kind}`;
}
