/**
 * Shape primitives (concatenate, pad, slice, rev) and the numpy-style functions built on them:
 * concatenate, stack, split, slice (Python slicing), pad, flip, tile, repeat. All four primitives are
 * linear; each one's transpose is another of them (concatenate ↔ slice, pad ↔ slice, rev ↔ rev).
 */

import { concatenateInto, paddedSize, padInto, revKernel, sliceInto } from "../backend/js/shape.js";
import { type AbstractValue, ConcreteArray, type NdArray } from "../core/array.js";
import { makeEquation, type RewriteRule, rewriteOf } from "../core/compiler-facts.js";
import { castScalar, type DType, NARROW_DTYPES } from "../core/dtype.js";
import { type Atom, type Equation, Literal, Var } from "../core/ir.js";
import type { Axis, SliceSpec } from "../core/methods-types.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { type Primitive, primitive, UndefinedPrimal } from "../core/primitive.js";
import {
  fmtShape,
  normalizeAxes,
  normalizeAxis,
  type Shape,
  ShapeError,
  shapeEquals,
} from "../core/shape.js";
import { zip } from "../core/tuple.js";
import { addPrim, promoteOperands } from "./binary.js";
import { loweredPrimitive } from "./eager.js";
import { alignBatched } from "./elementwise-kit.js";
import {
  broadcastInDimPrim,
  broadcastTo,
  expandDims,
  fillEquation,
  moveAxisTo0,
  reshape,
  reshapePrim,
} from "./layout.js";
import { concatenateToOnnx, padToOnnx, revToOnnx, sliceToOnnx } from "./shape-onnx.js";

const fmtShapes = (shapes: readonly Shape[]): string => shapes.map(fmtShape).join(", ");
const shapeOfArg = (a: NdArray | UndefinedPrimal): Shape =>
  a instanceof UndefinedPrimal ? a.aval.shape : a.shape;
const filled = (n: number, v: number): number[] => new Array<number>(n).fill(v);

function checkAxisParam(op: string, axis: number, shape: Shape): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= shape.length) {
    throw new ShapeError(`${op}: axis ${axis} is out of bounds for shape ${fmtShape(shape)}`);
  }
}

function checkPerAxis(op: string, name: string, values: readonly number[], shape: Shape, min: number): void {
  if (values.length !== shape.length) {
    throw new ShapeError(
      `${op}: ${name} ${JSON.stringify(values)} has ${values.length} entries, expected one per axis of ${fmtShape(shape)}`,
    );
  }
  if (values.some((v) => !Number.isInteger(v) || v < min)) {
    throw new ShapeError(
      `${op}: ${name} ${JSON.stringify(values)} must be integers >= ${min} (operand ${fmtShape(shape)})`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// concatenate

export interface ConcatenateParams {
  axis: number;
}

function concatenatedShape(shapes: readonly Shape[], axis: number): number[] {
  const [first] = shapes;
  if (first === undefined) throw new ShapeError("concatenate: expected at least one operand");
  checkAxisParam("concatenate", axis, first);
  let total = 0;
  for (const s of shapes) {
    const sameElsewhere = s.length === first.length && s.every((d, i) => i === axis || d === first[i]);
    if (!sameElsewhere) {
      throw new ShapeError(
        `concatenate: operands must have the same rank and equal sizes except along axis ${axis}, got ${fmtShapes(shapes)}`,
      );
    }
    total += s[axis]!;
  }
  return first.map((d, i) => (i === axis ? total : d));
}

function commonDtype(op: string, args: readonly [AbstractValue, ...AbstractValue[]]): DType {
  const d = args[0].dtype;
  if (args.some((a) => a.dtype !== d)) {
    throw new ShapeError(`${op}: operand dtypes differ: ${args.map((a) => a.dtype).join(", ")}`);
  }
  return d;
}

export const concatenatePrim: Primitive<
  ConcatenateParams,
  [first: unknown, ...rest: unknown[]],
  [out: unknown]
> = loweredPrimitive({
  name: "concatenate",
  narrowDtypes: NARROW_DTYPES,
  onnx: (g, xs, { axis }) => [concatenateToOnnx(g, xs, axis)],
  abstractEval(args, { axis }) {
    const shape = concatenatedShape(
      args.map((a) => a.shape),
      axis,
    );
    return [{ shape, dtype: commonDtype("concatenate", args) }];
  },
  // Strided copies into the output (in a plan, its slot: nothing allocated per call).
  lower: (ins, [out], { axis }) => {
    const shapes = ins.map((a) => a.shape);
    return (xs, [o]) => concatenateInto(xs, shapes, axis, out!.shape, o!);
  },
  jvp: (xs, ts, p) => ({
    primalsOut: [concatenatePrim.bind1(xs, p)],
    tangentsOut: [concatenatePrim.bind1(ts, p)],
  }),
  transpose([ct], args, { axis }) {
    // Each linear operand gets the slab of the cotangent it was copied to.
    let offset = 0;
    return args.map((a) => {
      const shape = shapeOfArg(a);
      const start = offset;
      offset += shape[axis]!;
      if (!(a instanceof UndefinedPrimal)) return null;
      return slicePrim.bind1([ct], {
        start: shape.map((_, i) => (i === axis ? start : 0)),
        limit: ct.shape.map((d, i) => (i === axis ? start + shape[axis]! : d)),
        strides: filled(shape.length, 1),
      });
    });
  },
  batch: (args, dims, { axis }) => [
    [concatenatePrim.bind1(alignBatched(args, dims), { axis: axis + 1 })],
    [0],
  ],
});

// ---------------------------------------------------------------------------------------------------
// pad

export interface PadParams {
  /** Elements added before the first element of each axis. */
  lo: readonly number[];
  /** Elements added after the last element of each axis. */
  hi: readonly number[];
  /** Elements added between neighbouring elements of each axis (lax.pad's interior padding). */
  interior: readonly number[];
  /** The padding value, cast to the operand's dtype. */
  value: number;
}

function paddedShape(shape: Shape, { lo, hi, interior }: PadParams): number[] {
  checkPerAxis("pad", "lo", lo, shape, 0);
  checkPerAxis("pad", "hi", hi, shape, 0);
  checkPerAxis("pad", "interior", interior, shape, 0);
  return zip(shape, lo, hi, interior).map(([d, l, h, i]) => paddedSize(d, l, h, i));
}

export const padPrim: Primitive<PadParams, [x: unknown], [out: unknown]> = loweredPrimitive({
  name: "pad",
  narrowDtypes: NARROW_DTYPES,
  onnx: (g, [x], p, [aval]) => [padToOnnx(g, x!, p.lo, p.hi, p.interior, p.value, aval!)],
  abstractEval: ([x], p) => [{ shape: paddedShape(x.shape, p), dtype: x.dtype }],
  // A strided copy into the output (in a plan, its slot: nothing allocated per call).
  lower: ([x], _outs, p) => {
    const fill = castScalar(p.value, x.dtype);
    return ([data], [out]) => padInto(data, x.shape, p.lo, p.hi, p.interior, fill, out);
  },
  // The padding value is a constant, so the tangent is padded with zeros.
  jvp: ([x], [t], p) => ({
    primalsOut: [padPrim.bind1([x], p)],
    tangentsOut: [padPrim.bind1([t], { ...p, value: 0 })],
  }),
  transpose([ct], [x], { lo, interior }) {
    const shape = shapeOfArg(x);
    return [
      slicePrim.bind1([ct], {
        start: lo,
        limit: zip(shape, lo, interior).map(([d, l, i]) => (d === 0 ? l : l + (d - 1) * (i + 1) + 1)),
        strides: interior.map((i) => i + 1),
      }),
    ];
  },
  batch([x], [d], p) {
    return [
      [
        padPrim.bind1([moveAxisTo0(x, d)], {
          lo: [0, ...p.lo],
          hi: [0, ...p.hi],
          interior: [0, ...p.interior],
          value: p.value,
        }),
      ],
      [0],
    ];
  },
  compiler: { rewritesOf: () => [rewriteOf(addPrim, sumOfDisjointPads)] },
});

/** A run of an axis: [start, stop) holds `atom`, or +0 where atom is null. */
interface Segment {
  readonly start: number;
  readonly stop: number;
  readonly atom: Atom | null;
}

/**
 * x as runs along one axis, when it is a pad with +0 along that axis only (+0 around its operand) or a
 * concatenation along it (+0 fills among its operands count as +0); else null.
 */
function segmentsOf(
  x: Atom,
  producer: (x: Atom) => Equation | undefined,
): { axis: number; segments: Segment[] } | null {
  const made = producer(x);
  const size = (axis: number) => x.aval.shape[axis]!;
  /** The runs of a concatenation along `axis` from `offset` on (+0 fills among its operands are +0). */
  const concatenated = (pieces: readonly Atom[], axis: number, offset: number): Segment[] => {
    let start = offset;
    return pieces.map((piece): Segment => {
      const stop = start + piece.aval.shape[axis]!;
      const segment = { start, stop, atom: isPositiveZeroFill(piece, producer) ? null : piece };
      start = stop;
      return segment;
    });
  };
  if (made?.primitive === (padPrim as Primitive<unknown>)) {
    const p = made.params as PadParams;
    const padded = p.lo.flatMap((l, i) => (l !== 0 || p.hi[i] !== 0 ? [i] : []));
    if (!Object.is(p.value, 0) || p.interior.some((i) => i !== 0) || padded.length !== 1) return null;
    const axis = padded[0]!;
    const [start, stop] = [p.lo[axis]!, size(axis) - p.hi[axis]!];
    const operand = made.inputs[0]!;
    const inner = producer(operand);
    const middle =
      inner?.primitive === (concatenatePrim as Primitive<unknown>) &&
      (inner.params as ConcatenateParams).axis === axis
        ? concatenated(inner.inputs, axis, start)
        : [{ start, stop, atom: operand }];
    return {
      axis,
      segments: [
        { start: 0, stop: start, atom: null },
        ...middle,
        { start: stop, stop: size(axis), atom: null },
      ],
    };
  }
  if (made?.primitive === (concatenatePrim as Primitive<unknown>)) {
    const axis = (made.params as ConcatenateParams).axis;
    return { axis, segments: concatenated(made.inputs, axis, 0) };
  }
  return null;
}

/** The runs of x + y when their non-zero runs do not overlap (so each element is one of them plus +0); else null. */
function sumOfSegments(x: Segment[], y: Segment[]): Segment[] | null {
  const cuts = [...new Set([...x, ...y].flatMap((s) => [s.start, s.stop]))].sort((a, b) => a - b);
  const at = (segments: Segment[], i: number) => segments.find((s) => s.start <= i && i < s.stop)!.atom;
  const out: Segment[] = [];
  for (let k = 0; k + 1 < cuts.length; k++) {
    const [start, stop] = [cuts[k]!, cuts[k + 1]!];
    if (start === stop) continue;
    const [a, b] = [at(x, start), at(y, start)];
    if (a !== null && b !== null) return null;
    const atom = a ?? b;
    const last = out[out.length - 1];
    // A run of x or y that the cuts of the other split is one piece again.
    if (last && last.atom === atom && atom === null) out[out.length - 1] = { ...last, stop };
    else if (last && last.atom === atom && atom !== null) out[out.length - 1] = { ...last, stop };
    else out.push({ start, stop, atom });
  }
  return out;
}

/** x + y as runs along one axis, when both are such pads or concatenations along it and do not overlap. */
function disjointSum(
  x: Atom,
  y: Atom,
  producer: (x: Atom) => Equation | undefined,
): { axis: number; segments: Segment[] } | null {
  const [sx, sy] = [segmentsOf(x, producer), segmentsOf(y, producer)];
  if (sx === null || sy === null || sx.axis !== sy.axis) return null;
  const segments = sumOfSegments(sx.segments, sy.segments);
  return segments && { axis: sx.axis, segments };
}

/**
 * pad(a) + pad(b), both with +0 around a run of the same axis, the runs apart (the cotangent of a split:
 * an LSTM's four gates) -> pad(concatenate(a + 0, +0 fill, b + 0)): copies instead of zero fills, padded
 * copies and additions. Exact: every element is a + 0, 0 + b or +0 + +0 as before (a + 0 turns -0 into
 * +0, as the sum did; the fused loop computing `a` adds the zero in passing). A chain of such sums grows
 * one concatenation, whose pieces already had their zero added and whose +0 fills take later runs.
 */
const sumOfDisjointPads: RewriteRule<unknown> = {
  law: "pad(a, +0) + pad(b, +0) on runs apart -> pad(concatenate(a + 0, +0, b + 0), +0)",
  operands: [
    { onlyUse: true, likeOutput: true },
    { onlyUse: true, likeOutput: true },
  ],
  when: ({ output, inputs: [x, y], producer }) => {
    const dtype = output.aval.dtype;
    return (dtype === "float32" || dtype === "float64") && disjointSum(x!, y!, producer) !== null;
  },
  rewrite: ({ output, inputs: [x, y], producer }) => {
    const { axis, segments } = disjointSum(x!, y!, producer)!;
    const shape = output.aval.shape;
    const dtype = output.aval.dtype;
    const equations: Equation[] = [];
    const runShape = (s: Segment) => shape.map((d, i) => (i === axis ? s.stop - s.start : d));
    /** x + 0, unless x already is a sum with +0 (a piece of an earlier rewrite). */
    const zeroAdded = (piece: Atom): Atom => {
      const made = producer(piece);
      if (
        made?.primitive === (addPrim as Primitive<unknown>) &&
        isPositiveZeroFill(made.inputs[1]!, producer)
      )
        return piece;
      const zero = new Var(piece.aval);
      const sum = new Var(piece.aval);
      equations.push(fillEquation(zero, 0), makeEquation(addPrim, {}, [piece, zero], [sum]));
      return sum;
    };
    const first = segments.findIndex((s) => s.atom !== null);
    const last = segments.length - 1 - [...segments].reverse().findIndex((s) => s.atom !== null);
    const inner = segments.slice(first, last + 1);
    const parts = inner.map((s) => {
      if (s.atom !== null) return zeroAdded(s.atom);
      const zero = new Var({ shape: runShape(s), dtype });
      equations.push(fillEquation(zero, 0));
      return zero;
    });
    const [lo, hi] = [inner[0]!.start, shape[axis]! - inner[inner.length - 1]!.stop];
    const covered = lo === 0 && hi === 0;
    let joined: Atom;
    if (parts.length === 1 && !covered) joined = parts[0]!;
    else {
      joined = covered
        ? output
        : new Var({ shape: runShape({ start: lo, stop: shape[axis]! - hi, atom: null }), dtype });
      equations.push(
        parts.length === 1
          ? makeEquation(reshapePrim, { shape }, parts, [joined as Var])
          : makeEquation(concatenatePrim, { axis }, parts, [joined as Var]),
      );
    }
    if (!covered) {
      const edges = (value: number) => shape.map((_, i) => (i === axis ? value : 0));
      equations.push(
        makeEquation(
          padPrim,
          { lo: edges(lo), hi: edges(hi), interior: edges(0), value: 0 },
          [joined],
          [output],
        ),
      );
    }
    return { kind: "equations", equations };
  },
};

/** Whether x is +0 everywhere: a broadcast of a +0 literal (as `fillEquation` makes it). */
function isPositiveZeroFill(x: Atom, producer: (x: Atom) => Equation | undefined): boolean {
  const made = producer(x);
  const source = made?.primitive === (broadcastInDimPrim as Primitive<unknown>) ? made.inputs[0] : x;
  return (
    source instanceof Literal && source.value.storage.length === 1 && Object.is(source.value.storage[0], 0)
  );
}

// ---------------------------------------------------------------------------------------------------
// slice

export interface SliceParams {
  /** First index per axis. */
  start: readonly number[];
  /** Exclusive end per axis (start <= limit <= size). */
  limit: readonly number[];
  /** Step per axis (>= 1). */
  strides: readonly number[];
}

function slicedShape(shape: Shape, { start, limit, strides }: SliceParams): number[] {
  checkPerAxis("slice", "start", start, shape, 0);
  checkPerAxis("slice", "limit", limit, shape, 0);
  checkPerAxis("slice", "strides", strides, shape, 1);
  return zip(shape, start, limit, strides).map(([d, s, l, step]) => {
    if (s > l || l > d) {
      throw new ShapeError(
        `slice: expected start <= limit <= size on every axis of ${fmtShape(shape)}, got start ${JSON.stringify(start)} and limit ${JSON.stringify(limit)}`,
      );
    }
    return Math.ceil((l - s) / step);
  });
}

export const slicePrim: Primitive<SliceParams, [x: unknown], [out: unknown]> = loweredPrimitive({
  name: "slice",
  narrowDtypes: NARROW_DTYPES,
  onnx: (g, [x], p) => [sliceToOnnx(g, x!, p.start, p.limit, p.strides)],
  abstractEval: ([x], p) => [{ shape: slicedShape(x.shape, p), dtype: x.dtype }],
  // A strided copy into the output (in a plan, its slot: nothing allocated per call).
  lower:
    ([x], _outs, p) =>
    ([data], [out]) =>
      sliceInto(data, x.shape, p.start, p.limit, p.strides, out),
  jvp: ([x], [t], p) => ({ primalsOut: [slicePrim.bind1([x], p)], tangentsOut: [slicePrim.bind1([t], p)] }),
  transpose([ct], [x], { start, strides }) {
    // Put the cotangent back where the slice read it: zeros around, and between elements when strided.
    const shape = shapeOfArg(x);
    const lo: number[] = [];
    const hi: number[] = [];
    const interior: number[] = [];
    for (const [d, n, s, step] of zip(shape, ct.shape, start, strides)) {
      if (n === 0) {
        lo.push(d);
        hi.push(0);
        interior.push(0);
      } else {
        const lastRead = s + (n - 1) * step;
        lo.push(s);
        hi.push(d - lastRead - 1);
        interior.push(step - 1);
      }
    }
    return [padPrim.bind1([ct], { lo, hi, interior, value: 0 })];
  },
  batch: ([x], [d], p) => [
    [
      slicePrim.bind1([moveAxisTo0(x, d)], {
        start: [0, ...p.start],
        limit: [x.shape[d!]!, ...p.limit],
        strides: [1, ...p.strides],
      }),
    ],
    [0],
  ],
});

// ---------------------------------------------------------------------------------------------------
// rev

export interface RevParams {
  /** Distinct axes to reverse. */
  axes: readonly number[];
}

function checkRevAxes(shape: Shape, axes: readonly number[]): void {
  if (
    axes.some((a) => !Number.isInteger(a) || a < 0 || a >= shape.length) ||
    new Set(axes).size !== axes.length
  ) {
    throw new ShapeError(`rev: axes ${JSON.stringify(axes)} must be distinct axes of ${fmtShape(shape)}`);
  }
}

export const revPrim: Primitive<RevParams, [x: unknown], [out: unknown]> = primitive({
  name: "rev",
  narrowDtypes: NARROW_DTYPES,
  onnx: (g, [x], { axes }) => [revToOnnx(g, x!, axes)],
  abstractEval([x], { axes }) {
    checkRevAxes(x.shape, axes);
    return [x];
  },
  impl([x], { axes }) {
    checkRevAxes(x.shape, axes);
    return [new ConcreteArray(x.shape, x.dtype, revKernel(x.storage, x.shape, axes, x.dtype))];
  },
  jvp: ([x], [t], p) => ({ primalsOut: [revPrim.bind1([x], p)], tangentsOut: [revPrim.bind1([t], p)] }),
  transpose: ([ct], _args, p) => [revPrim.bind1([ct], p)],
  batch: ([x], [d], { axes }) => [
    [revPrim.bind1([moveAxisTo0(x, d)], { axes: axes.map((a) => a + 1) })],
    [0],
  ],
});

// ---------------------------------------------------------------------------------------------------
// user-facing: concatenate, stack, split

/** Joins arrays along an existing axis (default 0; null flattens them first), promoting dtypes. */
export function concatenate(xs: readonly NdArray[], options: { axis?: number | null } = {}): NdArray {
  checkOptions("concatenate", options, ["axis"]);
  if (xs.length === 0) throw new ShapeError("concatenate: expected at least one array");
  let arrays = promoteOperands("concatenate", xs);
  if (options.axis === null) arrays = arrays.map((x) => reshape(x, [x.size]));
  const first = arrays[0]!;
  if (first.ndim === 0) throw new ShapeError("concatenate: zero-dimensional arrays cannot be concatenated");
  const axis = normalizeAxis("concatenate", options.axis ?? 0, first.ndim);
  const shapes = arrays.map((x) => x.shape);
  if (shapes.some((s) => s.length !== first.ndim)) {
    throw new ShapeError(`concatenate: all arrays must have the same rank, got shapes ${fmtShapes(shapes)}`);
  }
  if (shapes.some((s) => s.some((d, i) => i !== axis && d !== first.shape[i]))) {
    throw new ShapeError(`concatenate: shapes ${fmtShapes(shapes)} differ outside axis ${axis}`);
  }
  if (arrays.length === 1) return first;
  return concatenatePrim.bind1(arrays, { axis });
}

/** Joins arrays of one shape along a new axis (default 0). */
export function stack(xs: readonly NdArray[], options: { axis?: number } = {}): NdArray {
  checkOptions("stack", options, ["axis"]);
  if (xs.length === 0) throw new ShapeError("stack: expected at least one array");
  const shape = xs[0]!.shape;
  if (xs.some((x) => !shapeEquals(x.shape, shape))) {
    throw new ShapeError(
      `stack: all arrays must have the same shape, got ${fmtShapes(xs.map((x) => x.shape))}`,
    );
  }
  const axis = normalizeAxis("stack", options.axis ?? 0, shape.length + 1);
  return concatenate(
    xs.map((x) => expandDims(x, axis)),
    { axis },
  );
}

/**
 * numpy split: a number of equal sections, or the indices where `axis` (default 0) is cut
 * (`[2, 5]` gives x[:2], x[2:5], x[5:], with Python slicing's clamping and negative indices).
 */
export function split(
  x: NdArray,
  indicesOrSections: number | readonly number[],
  options: { axis?: number } = {},
): NdArray[] {
  checkOptions("split", options, ["axis"]);
  if (x.ndim === 0) throw new ShapeError("split: cannot split a zero-dimensional array");
  const axis = normalizeAxis("split", options.axis ?? 0, x.ndim);
  const n = x.shape[axis]!;
  const along = (spec: SliceSpec): NdArray => slice(x, [...Array.from({ length: axis }, () => ({})), spec]);
  if (typeof indicesOrSections === "number") {
    const sections = indicesOrSections;
    if (!Number.isInteger(sections) || sections <= 0) {
      throw new RangeError(`split: the number of sections must be a positive integer, got ${sections}`);
    }
    if (n % sections !== 0) {
      throw new ShapeError(
        `split: axis ${axis} of ${fmtShape(x.shape)} (size ${n}) does not divide into ${sections} equal sections`,
      );
    }
    const size = n / sections;
    return Array.from({ length: sections }, (_, i) => along({ start: i * size, stop: (i + 1) * size }));
  }
  const cuts = indicesOrSections;
  if (cuts.some((c) => !Number.isInteger(c)))
    throw new RangeError(`split: indices must be integers, got ${JSON.stringify(cuts)}`);
  const starts: (number | undefined)[] = [undefined, ...cuts];
  const stops: (number | undefined)[] = [...cuts, undefined];
  return starts.map((start, i) => along({ start, stop: stops[i] }));
}

// ---------------------------------------------------------------------------------------------------
// user-facing: slice, pad, flip

export type { SliceSpec };

/** Python's slice.indices(n): the first index, the step and the count of selected elements. */
function resolveSlice(
  spec: SliceSpec,
  n: number,
  axis: number,
): { first: number; step: number; count: number } {
  const step = spec.step ?? 1;
  if (!Number.isInteger(step) || step === 0)
    throw new RangeError(`slice: step on axis ${axis} must be a non-zero integer, got ${step}`);
  for (const v of [spec.start, spec.stop]) {
    if (v !== undefined && !Number.isInteger(v))
      throw new RangeError(`slice: bounds on axis ${axis} must be integers, got ${v}`);
  }
  const [lower, upper] = step > 0 ? [0, n] : [-1, n - 1];
  const clamp = (v: number | undefined, fallback: number): number => {
    if (v === undefined) return fallback;
    return v < 0 ? Math.max(v + n, lower) : Math.min(v, upper);
  };
  const first = clamp(spec.start, step > 0 ? lower : upper);
  const stop = clamp(spec.stop, step > 0 ? upper : lower);
  const count =
    step > 0 ? Math.max(0, Math.ceil((stop - first) / step)) : Math.max(0, Math.ceil((first - stop) / -step));
  return { first, step, count };
}

/**
 * Python slicing on the leading axes: `slice(x, [{ start: 1 }, { step: -1 }])` is `x[1:, ::-1]`.
 * Negative bounds count from the end and are clamped; negative steps read backwards.
 */
export function slice(x: NdArray, specs: readonly SliceSpec[]): NdArray {
  if (specs.length > x.ndim) {
    throw new ShapeError(
      `slice: ${specs.length} slices given for an array of rank ${x.ndim} (shape ${fmtShape(x.shape)})`,
    );
  }
  const resolved = x.shape.map((n, a) => resolveSlice(specs[a] ?? {}, n, a));
  // Negative steps: reverse those axes, then read forward from the mirrored first index.
  const reversed = resolved.flatMap((r, a) => (r.step < 0 && r.count > 0 ? [a] : []));
  const source = reversed.length ? revPrim.bind1([x], { axes: reversed }) : x;
  const start: number[] = [];
  const limit: number[] = [];
  const strides: number[] = [];
  resolved.forEach(({ first, step, count }, a) => {
    const n = x.shape[a]!;
    const stride = Math.abs(step);
    const from = count === 0 ? 0 : step > 0 ? first : n - 1 - first;
    start.push(from);
    limit.push(count === 0 ? 0 : from + (count - 1) * stride + 1);
    strides.push(count <= 1 ? 1 : stride);
  });
  const identity = x.shape.every((n, a) => start[a] === 0 && limit[a] === n && strides[a] === 1);
  return identity ? source : slicePrim.bind1([source], { start, limit, strides });
}

/** numpy pad_width: a number, a [before, after] pair for every axis, or one pair per axis. */
export type PadWidth = number | readonly number[] | readonly (readonly number[])[];

/**
 * numpy's `_as_pairs`: one number for every side, a [before, after] pair for every axis, or per axis a
 * pair or a single number (`[[1], [2]]`), broadcast to one [before, after] pair per axis.
 */
function asPairs(what: string, value: PadWidth, shape: Shape): [number, number][] {
  const r = shape.length;
  const bad = (): ShapeError =>
    new ShapeError(
      `pad: ${what} ${JSON.stringify(value)} does not fit shape ${fmtShape(shape)}; expected a number, [before, after], or ${r} pairs`,
    );
  const same = (p: [number, number]): [number, number][] => filled(r, 0).map(() => [p[0], p[1]]);
  if (typeof value === "number") return same([value, value]);
  if (value.every((p) => typeof p === "number")) {
    const flat = value as readonly number[];
    if (flat.length === 1) return same([flat[0]!, flat[0]!]);
    if (flat.length === 2) return same([flat[0]!, flat[1]!]);
    throw bad();
  }
  if (!value.every((p) => typeof p !== "number")) throw bad();
  const rows = value as readonly (readonly number[])[];
  const width = rows[0]!.length;
  if (rows.some((p) => p.length !== width || p.some((v) => typeof v !== "number"))) throw bad();
  // One element, or two that are not a column of two single numbers: the same pair everywhere.
  if (rows.length * width === 1) return same([rows[0]![0]!, rows[0]![0]!]);
  if (rows.length * width === 2 && !(rows.length === 2 && width === 1))
    return same(rows.length === 1 ? [rows[0]![0]!, rows[0]![1]!] : [rows[0]![0]!, rows[1]![0]!]);
  // Else numpy's broadcast to [rank, 2].
  if ((rows.length !== 1 && rows.length !== r) || (width !== 1 && width !== 2)) throw bad();
  return shape.map((_, axis) => {
    const p = rows[rows.length === 1 ? 0 : axis]!;
    return [p[0]!, p[width - 1]!];
  });
}

function resolvePadWidth(padWidth: PadWidth, shape: Shape): [number[], number[]] {
  const pairs = asPairs("pad width", padWidth, shape);
  if (pairs.some(([b, a]) => !Number.isInteger(b) || !Number.isInteger(a) || b < 0 || a < 0)) {
    throw new ShapeError(`pad: pad widths must be non-negative integers, got ${JSON.stringify(padWidth)}`);
  }
  return [pairs.map((p) => p[0]), pairs.map((p) => p[1])];
}

/** The numpy pad modes implemented: constant (the default), edge, reflect, symmetric and wrap. */
export type PadMode = "constant" | "edge" | "reflect" | "symmetric" | "wrap";

const PAD_MODES: readonly PadMode[] = ["constant", "edge", "reflect", "symmetric", "wrap"];

/** Options of `pad`, as numpy's. */
export interface PadOptions {
  /** How the border is filled (numpy's mode names; default "constant"). */
  mode?: PadMode;
  /**
   * The fill of mode "constant" (numpy's constant_values, default 0): one number, a [before, after] pair
   * for every axis, or a pair per axis, broadcast as numpy's pad width.
   */
  constantValues?: PadWidth;
}

/**
 * numpy pad (1.24). "constant" fills with `constantValues`, per side and axis if given so (where pads of
 * two axes meet, the later axis' value is used, as numpy); "edge" repeats the border element; "reflect"
 * mirrors without repeating the border (`[1,2,3]` → `3,2 | 1,2,3 | 2,1`), "symmetric" with it
 * (`2,1 | 1,2,3 | 3,2`); pads wider than the axis mirror again off the pad already written, numpy's
 * iteration, element for element. "wrap" continues the array periodically. (For a wrap pad wider than
 * the axis numpy 1.24 repeats border pieces irregularly, a bug fixed in numpy 1.25; this is the periodic
 * result of numpy 1.25 and JAX.) Every mode is built from slices, flips, broadcasts and concatenations
 * (constant: `pad`), so all transforms apply and the gradient sums the cotangent back onto the elements
 * each pad copied.
 */
export function pad(x: NdArray, padWidth: PadWidth, options: PadOptions = {}): NdArray {
  checkOptions("pad", options, ["mode", "constantValues"]);
  const mode = checkOptionValue("pad", "mode", options.mode, PAD_MODES) ?? "constant";
  if (mode !== "constant" && options.constantValues !== undefined) {
    throw new TypeError(`pad: option constantValues applies to mode 'constant' only, got mode '${mode}'`);
  }
  const [lo, hi] = resolvePadWidth(padWidth, x.shape);
  if (lo.every((v) => v === 0) && hi.every((v) => v === 0)) return x;
  if (mode === "constant") return padConstant(x, lo, hi, options.constantValues ?? 0);
  let y = x;
  for (let axis = 0; axis < x.ndim; axis++) {
    if (lo[axis]! > 0 || hi[axis]! > 0) y = padAlongAxis(y, axis, lo[axis]!, hi[axis]!, mode);
  }
  return y;
}

/** A constant pad value as the operand's dtype holds it; a value that dtype cannot hold throws, as numpy. */
function constantFor(value: number, dtype: DType): number {
  if (typeof value !== "number")
    throw new TypeError(`pad: constantValues must be numbers, got ${String(value)}`);
  if (dtype === "bool") return value !== 0 ? 1 : 0; // Python's bool(v): NaN is true
  if (dtype === "int32" && !(value >= -(2 ** 31) && value < 2 ** 31))
    throw new RangeError(
      `pad: constant value ${value} does not fit the int32 operand; convert the array to float first`,
    );
  return value;
}

function padConstant(x: NdArray, lo: number[], hi: number[], values: PadWidth): NdArray {
  const pairs = asPairs("constantValues", values, x.shape).map(
    ([b, a]) => [constantFor(b, x.dtype), constantFor(a, x.dtype)] as const,
  );
  const zeros = filled(x.ndim, 0);
  const first = pairs[0]?.[0] ?? 0;
  if (pairs.every(([b, a]) => Object.is(b, first) && Object.is(a, first)))
    return padPrim.bind1([x], { lo, hi, interior: zeros, value: first });
  // Axis by axis, each side with its value: a later axis' pad covers the corners, as numpy's.
  let y = x;
  pairs.forEach(([before, after], axis) => {
    const at = (n: number) => zeros.map((_, i) => (i === axis ? n : 0));
    if (lo[axis]! > 0)
      y = padPrim.bind1([y], { lo: at(lo[axis]!), hi: zeros, interior: zeros, value: before });
    if (hi[axis]! > 0)
      y = padPrim.bind1([y], { lo: zeros, hi: at(hi[axis]!), interior: zeros, value: after });
  });
  return y;
}

/**
 * Which element of an axis of size n each position of the padded axis copies, for the non-constant
 * modes: numpy 1.24's arraypad run on positions instead of values (its `_set_reflect_both` loop, whose
 * later rounds mirror off the pad written before), wrap periodic.
 */
function padSources(mode: Exclude<PadMode, "constant">, n: number, lo: number, hi: number): number[] {
  const total = lo + n + hi;
  const position = (i: number) => i - lo;
  const mod = (a: number, m: number): number => ((a % m) + m) % m;
  if (mode === "edge")
    return Array.from({ length: total }, (_, i) => Math.min(Math.max(position(i), 0), n - 1));
  if (mode === "wrap") return Array.from({ length: total }, (_, i) => mod(position(i), n));
  // numpy: reflecting a single element is legacy edge padding.
  if (n === 1) return filled(total, 0);
  const src = filled(total, -1);
  for (let i = 0; i < n; i++) src[lo + i] = i;
  const includeEdge = mode === "symmetric";
  let [left, right] = [lo, hi];
  while (left > 0 || right > 0) {
    // One round of numpy's _set_reflect_both on the unfilled widths (left, right).
    const edgeOffset = includeEdge ? 1 : 0;
    const oldLength = total - left - right - (includeEdge ? 0 : 1);
    if (left > 0) {
      const chunk = Math.min(oldLength, left);
      const stop = left - edgeOffset; // padded[stop + chunk : stop : -1]
      for (let k = 0; k < chunk; k++) src[left - chunk + k] = src[stop + chunk - k]!;
      left -= chunk;
    }
    if (right > 0) {
      const chunk = Math.min(oldLength, right);
      const start = total - right + edgeOffset - 2; // padded[start : start - chunk : -1]
      for (let k = 0; k < chunk; k++) src[total - right + k] = src[start - k]!;
      right -= chunk;
    }
  }
  return src;
}

/** Pads one axis: the source positions split into runs (ascending, descending or repeated), one piece each. */
function padAlongAxis(
  x: NdArray,
  axis: number,
  lo: number,
  hi: number,
  mode: Exclude<PadMode, "constant">,
): NdArray {
  const n = x.shape[axis]!;
  if (n === 0) {
    throw new ShapeError(
      `pad: cannot extend the empty axis ${axis} of ${fmtShape(x.shape)} with mode '${mode}' (only 'constant' can)`,
    );
  }
  const along = (start: number, stop: number): NdArray =>
    slice(x, [...Array.from({ length: axis }, () => ({})), { start, stop }]);
  const sources = padSources(mode, n, lo, hi);
  const pieces: NdArray[] = [];
  const end = sources.length;
  for (let i = 0; i < end; ) {
    const s = sources[i]!;
    const next = i + 1 < end ? sources[i + 1]! : Number.NaN;
    const step = next === s + 1 ? 1 : next === s - 1 ? -1 : 0;
    let len = 1;
    while (i + len < end && sources[i + len] === s + step * len) len++;
    if (step === 1) pieces.push(along(s, s + len));
    else if (step === -1) pieces.push(revPrim.bind1([along(s - len + 1, s + 1)], { axes: [axis] }));
    else {
      const one = along(s, s + 1);
      pieces.push(
        len === 1
          ? one
          : broadcastTo(
              one,
              one.shape.map((d, a) => (a === axis ? len : d)),
            ),
      );
    }
    i += len;
  }
  return concatenate(pieces, { axis });
}

/** Reverses the order of elements along `axis` (all axes by default). */
export function flip(x: NdArray, options: { axis?: Axis } = {}): NdArray {
  checkOptions("flip", options, ["axis"]);
  const axes = normalizeAxes("flip", options.axis, x.ndim);
  if (axes.length === 0) return x;
  return revPrim.bind1([x], { axes });
}

// ---------------------------------------------------------------------------------------------------
// user-facing: tile, repeat (a broadcast into an interleaved shape, then a reshape)

function checkCount(op: string, what: string, n: number): void {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`${op}: ${what} must be a non-negative integer, got ${n}`);
}

/** numpy tile: the array repeated `reps` times along each axis (shapes aligned at the end). */
export function tile(x: NdArray, reps: number | readonly number[]): NdArray {
  const list = typeof reps === "number" ? [reps] : [...reps];
  for (const r of list) checkCount("tile", "reps", r);
  const rank = Math.max(x.ndim, list.length);
  const counts = [...filled(rank - list.length, 1), ...list];
  const shape = [...filled(rank - x.ndim, 1), ...x.shape];
  if (counts.every((c) => c === 1)) return reshape(x, shape);
  // [r0, d0, r1, d1, ...]: each copy of the whole block comes before the next along the axis.
  const interleaved = shape.flatMap((d, i) => [counts[i]!, d]);
  const offset = rank - x.ndim;
  const spread = broadcastInDimPrim.bind1([x], {
    shape: interleaved,
    broadcastDimensions: x.shape.map((_, i) => 2 * (i + offset) + 1),
  });
  return reshape(
    spread,
    shape.map((d, i) => d * counts[i]!),
  );
}

/** numpy repeat: each element repeated `repeats` times along `axis` (of the flattened array when `axis` is omitted or null). */
export function repeat(x: NdArray, repeats: number, options: { axis?: number | null } = {}): NdArray {
  checkOptions("repeat", options, ["axis"]);
  checkCount("repeat", "repeats", repeats);
  const source = options.axis === undefined || options.axis === null ? reshape(x, [x.size]) : x;
  const axis = normalizeAxis("repeat", options.axis ?? 0, source.ndim);
  if (repeats === 1) return source;
  // [..., d, repeats, ...]: the copies of one element sit next to each other.
  const shape = source.shape;
  const spread = broadcastInDimPrim.bind1([source], {
    shape: [...shape.slice(0, axis + 1), repeats, ...shape.slice(axis + 1)],
    broadcastDimensions: shape.map((_, i) => (i <= axis ? i : i + 1)),
  });
  return reshape(
    spread,
    shape.map((d, i) => (i === axis ? d * repeats : d)),
  );
}
