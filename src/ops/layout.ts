/**
 * Layout primitives (reshape, transpose, broadcast_in_dim) and the user-facing functions built on them:
 * reshape with -1, transpose with axes, squeeze, expandDims, flatten, broadcastTo, moveaxis.
 */

import { broadcastInto, transposeCompiled } from "../backend/js/layout.js";
import { chooseKernel } from "../backend/kernel-choice.js";
import { wasmTranspose } from "../backend/wasm/transpose.js";
import { webgpuTranspose } from "../backend/webgpu/layout.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import { makeEquation } from "../core/compiler-facts.js";
import { BYTES_PER_ELEMENT, NARROW_DTYPES, storageFor } from "../core/dtype.js";
import { type Atom, type Equation, Literal, Var } from "../core/ir.js";
import type { Axis } from "../core/methods-types.js";
import {
  type BatchDim,
  type Kernel,
  type Primitive,
  primitive,
  type UndefinedPrimal,
} from "../core/primitive.js";
import {
  broadcastShapes,
  checkShape,
  fmtShape,
  normalizeAxes,
  normalizeAxis,
  type Shape,
  ShapeError,
  shapeEquals,
  sizeOf,
} from "../core/shape.js";
import { zip } from "../core/tuple.js";
import { evalByLowering, loweredPrimitive } from "./eager.js";
import { reduceSumPrim } from "./reduce.js";
import { keepsConstantOf, noOpWhenLikeOutput, toOperand } from "./rewrite-kit.js";

// ---------------------------------------------------------------------------------------------------
// reshape

export interface ReshapeParams {
  shape: Shape;
}

export const reshapePrim: Primitive<ReshapeParams, [x: unknown], [out: unknown]> = primitive({
  name: "reshape",
  narrowDtypes: NARROW_DTYPES,
  abstractEval([x], { shape }) {
    checkShape("reshape", shape);
    if (sizeOf(shape) !== sizeOf(x.shape)) {
      throw new ShapeError(
        `reshape: cannot reshape ${fmtShape(x.shape)} (${sizeOf(x.shape)} elements) into ${fmtShape(shape)}`,
      );
    }
    return [{ shape, dtype: x.dtype }];
  },
  impl: ([x], { shape }) => [new ConcreteArray(shape, x.dtype, x.storage)],
  onnx: (g, [x], { shape }) => [g.node1("Reshape", [x!, g.int64s(shape)])],
  jvp: ([x], [t], params) => ({
    primalsOut: [reshapePrim.bind1([x], params)],
    tangentsOut: [reshapePrim.bind1([t], params)],
  }),
  transpose: ([ct], [x]) => [reshapePrim.bind1([ct], { shape: (x as UndefinedPrimal).aval.shape })],
  batch([x], [d], { shape }) {
    const moved = moveAxisTo0(x, d);
    return [[reshapePrim.bind1([moved], { shape: [moved.shape[0]!, ...shape] })], [0]];
  },
  compiler: {
    aliasesInput: 0,
    rewrites: () => [
      noOpWhenLikeOutput("reshape(x) -> x when x has the shape"),
      keepsConstantOf("reshape(c) -> c"),
      {
        law: "reshape(reshape(x)) -> reshape(x), or x when x has the shape",
        operands: [{ producedBy: reshapePrim }],
        rewrite: ({ equation, output, producers: [inner] }) => {
          const x = inner!.inputs[0]!;
          return shapeEquals(x.aval.shape, output.aval.shape)
            ? toOperand(x)
            : { kind: "equations", equations: [{ ...equation, inputs: [x] }] };
        },
      },
    ],
  },
});

/** Whether a permutation swaps the last two axes and keeps the others (a matrix transpose). */
function swapsLastTwo(permutation: readonly number[]): boolean {
  const r = permutation.length;
  if (r < 2 || permutation[r - 1] !== r - 2 || permutation[r - 2] !== r - 1) return false;
  for (let i = 0; i < r - 2; i++) if (permutation[i] !== i) return false;
  return true;
}

/** reshape with one -1 allowed, inferred from the size. */
export function reshape(x: NdArray, shape: readonly number[]): NdArray {
  const resolved = resolveShape(x.shape, shape);
  if (shapeEquals(resolved, x.shape)) return x;
  return reshapePrim.bind1([x], { shape: resolved });
}

function resolveShape(from: Shape, shape: readonly number[]): number[] {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new ShapeError(`reshape: only one dimension can be -1, got ${fmtShape(shape)}`);
  if (unknown === 0) return [...shape];
  const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const total = sizeOf(from);
  if (known === 0 || total % known !== 0) {
    throw new ShapeError(
      `reshape: cannot reshape ${fmtShape(from)} (${total} elements) into ${fmtShape(shape)}`,
    );
  }
  return shape.map((d) => (d === -1 ? total / known : d));
}

// ---------------------------------------------------------------------------------------------------
// transpose

export interface TransposeParams {
  permutation: readonly number[];
}

export const transposePrim: Primitive<TransposeParams, [x: unknown], [out: unknown]> = loweredPrimitive<
  TransposeParams,
  [x: unknown],
  [out: unknown]
>({
  name: "transpose",
  narrowDtypes: NARROW_DTYPES,
  abstractEval([x], { permutation }) {
    const r = x.shape.length;
    const sorted = [...permutation].sort((a, b) => a - b);
    if (permutation.length !== r || sorted.some((p, i) => p !== i)) {
      throw new ShapeError(
        `transpose: axes ${JSON.stringify(permutation)} are not a permutation of ${r} axes of ${fmtShape(x.shape)}`,
      );
    }
    return [{ shape: permutation.map((p) => x.shape[p]!), dtype: x.dtype }];
  },
  lower: ([x], _outs, { permutation }, context) =>
    chooseKernel<Kernel>(
      context,
      { dtype: x.dtype },
      () => {
        const wasm = wasmTranspose(BYTES_PER_ELEMENT[x.dtype], x.shape, permutation, context);
        return wasm && (([a], [o]) => wasm(a!, o!));
      },
      () => {
        const run = transposeCompiled(x.shape, permutation);
        return ([a], [o]) => run(a!, o!);
      },
    ),
  // A matrix transpose is deferred (written out when read): an eager GEMM reads its operand transposed
  // in place, as a jit plan does, and transposing it back gives the array it came from.
  eagerShortcut(args, params) {
    const x = args[0]!;
    if (!swapsLastTwo(params.permutation)) return undefined;
    const source = x.pendingTransposeOf;
    if (source !== undefined) return [source];
    const shape = params.permutation.map((p) => x.shape[p]!);
    return [
      ConcreteArray.deferredTranspose(
        shape,
        x,
        (s) => evalByLowering(transposePrim, [s], params)[0]!.storage,
      ),
    ];
  },
  onnx: (g, [x], { permutation }) => [g.node1("Transpose", [x!], { perm: permutation })],
  webgpu: ([x], _outs, { permutation }) => webgpuTranspose(x.dtype, x.shape, permutation),
  jvp: ([x], [t], p) => ({
    primalsOut: [transposePrim.bind1([x], p)],
    tangentsOut: [transposePrim.bind1([t], p)],
  }),
  transpose: ([ct], _args, { permutation }) => [
    transposePrim.bind1([ct], { permutation: invertPermutation(permutation) }),
  ],
  batch([x], [d], { permutation }) {
    const moved = moveAxisTo0(x, d);
    return [[transposePrim.bind1([moved], { permutation: [0, ...permutation.map((p) => p + 1)] })], [0]];
  },
  compiler: {
    rewrites: () => [
      {
        law: "transpose(x) with the identity permutation -> x",
        when: ({ params }) => params.permutation.every((q, i) => q === i),
        rewrite: ({ inputs: [x] }) => toOperand(x!),
      },
      keepsConstantOf("transpose(c) -> c"),
      {
        law: "a transpose that only moves size-1 axes -> a reshape (no data moves)",
        when: ({ inputs: [x], params }) => onlyMovesUnitAxes(x!.aval.shape, params.permutation),
        rewrite: ({ inputs: [x], output, params }) => ({
          kind: "equations",
          equations: [transposeOrReshape(x!, output, params.permutation)],
        }),
      },
      {
        law: "transpose(transpose(x)) -> x when the permutations cancel",
        operands: [{ producedBy: transposePrim }],
        when: ({ params, producers: [inner] }) =>
          composedPermutation(params, inner!).every((q, i) => q === i),
        rewrite: ({ producers: [inner] }) => toOperand(inner!.inputs[0]!),
      },
      {
        // Only where the inner transpose has no other reader: else it runs anyway, and the outer one
        // kept as it is may be what a GEMM absorbs (a batch of matrices transposed: attention's Kᵀ).
        law: "transpose(transpose(x)) -> one transpose, where the inner one is read by it alone",
        operands: [{ producedBy: transposePrim, onlyUse: true }],
        rewrite: ({ equation, params, producers: [inner] }) => ({
          kind: "equations",
          equations: [
            {
              ...equation,
              inputs: [inner!.inputs[0]!],
              params: { permutation: composedPermutation(params, inner!) },
            },
          ],
        }),
      },
    ],
  },
});

/** The one permutation of transpose(transpose(x)), the inner transpose being `inner`. */
function composedPermutation(outer: TransposeParams, inner: Equation): number[] {
  const first = (inner.params as TransposeParams).permutation;
  return outer.permutation.map((i) => first[i]!);
}

/** Whether the permutation keeps every axis of size > 1 in order (so the data does not move). */
export function onlyMovesUnitAxes(shape: Shape, perm: readonly number[]): boolean {
  const moved = perm.filter((axis) => shape[axis] !== 1);
  return moved.every((axis, i) => i === 0 || axis > moved[i - 1]!);
}

/** The equation transpose(x) into `out`, or a reshape when the transpose moves no data. */
export function transposeOrReshape(x: Atom, out: Var, perm: readonly number[]): Equation {
  return onlyMovesUnitAxes(x.aval.shape, perm)
    ? makeEquation(reshapePrim, { shape: out.aval.shape }, [x], [out])
    : makeEquation(transposePrim, { permutation: perm }, [x], [out]);
}

/** The matrix that `e` transposes when it is a matrix transpose (`transpose[1,0]` of a 2-D array), else null. */
/**
 * When `e` swaps the last two axes and keeps the others in place (a matrix transpose of every matrix of
 * a batch; the 2-D transpose included): its input, else null.
 */
export function batchedMatrixTransposed(e: Equation): Var | null {
  const x = e.inputs[0];
  if (e.primitive !== (transposePrim as Primitive<unknown>) || !(x instanceof Var)) return null;
  const perm = (e.params as TransposeParams).permutation;
  const r = perm.length;
  if (r < 2 || perm[r - 1] !== r - 2 || perm[r - 2] !== r - 1) return null;
  return perm.slice(0, -2).every((p, i) => p === i) ? x : null;
}

export function matrixTransposed(e: Equation): Var | null {
  const x = e.inputs[0];
  if (e.primitive !== (transposePrim as Primitive<unknown>) || !(x instanceof Var)) return null;
  const perm = (e.params as TransposeParams).permutation;
  return perm.length === 2 && perm[0] === 1 ? x : null;
}

/** x with its two axes swapped: the input of the swap that made x, else a new swap (or reshape) into a new value. */
export function swapMatrixAxes(
  x: Atom,
  producer: Equation | undefined,
): { value: Atom; equations: Equation[] } {
  const source = producer ? matrixTransposed(producer) : null;
  if (source) return { value: source, equations: [] };
  const [r, c] = x.aval.shape as [number, number];
  const v = new Var({ shape: [c, r], dtype: x.aval.dtype });
  return { value: v, equations: [transposeOrReshape(x, v, [1, 0])] };
}

export function invertPermutation(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return inv;
}

/** Permutes axes; with no axes, reverses them (numpy). */
export function transpose(x: NdArray, axes?: readonly number[]): NdArray {
  const r = x.ndim;
  const perm =
    axes === undefined
      ? Array.from({ length: r }, (_, i) => r - 1 - i)
      : axes.map((a) => normalizeAxis("transpose", a, r));
  if (perm.every((p, i) => p === i) && perm.length === r) return x;
  return transposePrim.bind1([x], { permutation: perm });
}

/** Moves axis `from` to position `to`. */
export function moveaxis(x: NdArray, from: number, to: number): NdArray {
  const r = x.ndim;
  const f = normalizeAxis("moveaxis", from, r);
  const t = normalizeAxis("moveaxis", to, r);
  if (f === t) return x;
  const perm = Array.from({ length: r }, (_, i) => i).filter((i) => i !== f);
  perm.splice(t, 0, f);
  return transposePrim.bind1([x], { permutation: perm });
}

/**
 * The size of the batch axis of the first batched value (a batching rule runs when at least one of its
 * inputs is batched, and vmap has checked that their sizes agree).
 */
export function batchSize(xs: readonly NdArray[], dims: readonly BatchDim[]): number {
  for (const [x, d] of zip(xs, dims)) if (d !== null) return x.shape[d]!;
  throw new Error("batchSize: no value is batched");
}

/** `x` with `axis` first; batching rules pass a batched input's dim, which is never null. */
export function moveAxisTo0(x: NdArray, axis: BatchDim): NdArray {
  if (axis === null) throw new Error("moveAxisTo0: the array has no batch axis to move");
  return axis === 0 ? x : moveaxis(x, axis, 0);
}

/** Swaps the last two axes (matrix transpose); a no-op below rank 2. */
export function matrixTranspose(x: NdArray): NdArray {
  const r = x.ndim;
  if (r < 2) return x;
  const perm = Array.from({ length: r }, (_, i) => i);
  perm[r - 2] = r - 1;
  perm[r - 1] = r - 2;
  return transposePrim.bind1([x], { permutation: perm });
}

// ---------------------------------------------------------------------------------------------------
// broadcast_in_dim

export interface BroadcastInDimParams {
  /** The output shape. */
  shape: Shape;
  /** For each input axis, the output axis it maps to (increasing). Input axes of size 1 may stretch. */
  broadcastDimensions: readonly number[];
}

export const broadcastInDimPrim: Primitive<BroadcastInDimParams, [x: unknown], [out: unknown]> =
  loweredPrimitive<BroadcastInDimParams, [x: unknown], [out: unknown]>({
    name: "broadcast_in_dim",
    narrowDtypes: NARROW_DTYPES,
    abstractEval([x], { shape, broadcastDimensions: dims }) {
      checkShape("broadcast_in_dim", shape, x.dtype);
      const ok =
        dims.length === x.shape.length &&
        dims.every((d, i) => d >= 0 && d < shape.length && (i === 0 || d > dims[i - 1]!)) &&
        dims.every((d, i) => x.shape[i] === 1 || x.shape[i] === shape[d]);
      if (!ok) {
        throw new ShapeError(
          `broadcast_in_dim: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)} with dimensions ${JSON.stringify(dims)}`,
        );
      }
      return [{ shape, dtype: x.dtype }];
    },
    lower:
      ([x], _outs, { shape, broadcastDimensions }) =>
      ([a], [o]) => {
        broadcastInto(a, x.shape, shape, broadcastDimensions, o);
      },
    // One element broadcast (a scalar, zeros): a constant array, written out only if something reads it.
    // Others are deferred: an eager elementwise kernel in wasm reads x through the broadcast (as a fused
    // loop does), anything else writes it out when it reads it.
    eagerShortcut(args, params) {
      const x = args[0]!;
      if (sizeOf(x.shape) !== 1) {
        if (sizeOf(params.shape) === sizeOf(x.shape)) return undefined;
        return [
          ConcreteArray.deferredBroadcast(
            params.shape,
            x,
            params.broadcastDimensions,
            (s) => evalByLowering(broadcastInDimPrim, [s], params)[0]!.storage,
          ),
        ];
      }
      const value: unknown = x.constantFill ?? x.storage[0];
      return typeof value === "number" ? [ConcreteArray.filled(params.shape, x.dtype, value)] : undefined;
    },
    // Reshape to the output's rank (size-1 axes where x has none), then Expand (numpy broadcasting).
    onnx(g, [x], { shape, broadcastDimensions }, [xAval]) {
      const ranked = shape.map((_, i) => {
        const j = broadcastDimensions.indexOf(i);
        return j < 0 ? 1 : xAval!.shape[j]!;
      });
      const aligned = shapeEquals(ranked, xAval!.shape) ? x! : g.node1("Reshape", [x!, g.int64s(ranked)]);
      return [shapeEquals(ranked, shape) ? aligned : g.node1("Expand", [aligned, g.int64s(shape)])];
    },
    jvp: ([x], [t], p) => ({
      primalsOut: [broadcastInDimPrim.bind1([x], p)],
      tangentsOut: [broadcastInDimPrim.bind1([t], p)],
    }),
    transpose([ct], [x], { shape, broadcastDimensions }) {
      const inShape = (x as UndefinedPrimal).aval.shape;
      // Sum over the new axes and over the stretched size-1 axes, then restore the input's shape.
      const summed = shape
        .map((_, i) => i)
        .filter((i) => {
          const j = broadcastDimensions.indexOf(i);
          return j < 0 || (inShape[j] === 1 && shape[i] !== 1);
        });
      const reduced = summed.length ? reduceSumPrim.bind1([ct], { axes: summed }) : ct;
      return [reshapeIfNeeded(reduced, inShape)];
    },
    batch([x], [d], { shape, broadcastDimensions }) {
      const moved = moveAxisTo0(x, d);
      return [
        [
          broadcastInDimPrim.bind1([moved], {
            shape: [moved.shape[0]!, ...shape],
            broadcastDimensions: [0, ...broadcastDimensions.map((b) => b + 1)],
          }),
        ],
        [0],
      ];
    },
    compiler: {
      keepsConstant: true,
      fusion: { kind: "broadcast" },
      rewrites: () => [noOpWhenLikeOutput("broadcast_in_dim(x) to x's own shape -> x")],
    },
  });

/** The equation that fills `out` with `value` (a broadcast of a scalar literal, rounded to out's dtype). */
export function fillEquation(out: Var, value: number): Equation {
  const storage = storageFor(out.aval.dtype, 1);
  storage[0] = value;
  const literal = new Literal(new ConcreteArray([], out.aval.dtype, storage));
  return makeEquation(
    broadcastInDimPrim,
    { shape: out.aval.shape, broadcastDimensions: [] },
    [literal],
    [out],
  );
}

function reshapeIfNeeded(x: NdArray, shape: Shape): NdArray {
  return shapeEquals(x.shape, shape) ? x : reshapePrim.bind1([x], { shape });
}

/** numpy broadcast_to: align trailing axes, stretch size-1 axes. */
export function broadcastTo(x: NdArray, shape: readonly number[]): NdArray {
  if (shapeEquals(x.shape, shape)) return x;
  const target = broadcastShapes("broadcastTo", x.shape, shape);
  if (!shapeEquals(target, shape)) {
    throw new ShapeError(`broadcastTo: cannot broadcast ${fmtShape(x.shape)} to ${fmtShape(shape)}`);
  }
  const offset = shape.length - x.ndim;
  return broadcastInDimPrim.bind1([x], {
    shape: [...shape],
    broadcastDimensions: x.shape.map((_, i) => i + offset),
  });
}

/** Broadcasts arrays against each other (numpy rules); `op` names the caller in error messages. */
export function broadcastArrays(op: string, ...xs: NdArray[]): NdArray[] {
  const shape = broadcastShapes(op, ...xs.map((x) => x.shape));
  return xs.map((x) => broadcastTo(x, shape));
}

// ---------------------------------------------------------------------------------------------------
// squeeze, expandDims, flatten

/** Removes size-1 axes: those in `axis` (each must have size 1), or all of them by default. */
export function squeeze(x: NdArray, axis?: Axis): NdArray {
  const axes =
    axis === undefined || axis === null
      ? x.shape.map((d, i) => (d === 1 ? i : -1)).filter((i) => i >= 0)
      : normalizeAxes("squeeze", axis, x.ndim);
  for (const a of axes) {
    if (x.shape[a] !== 1)
      throw new ShapeError(`squeeze: axis ${a} of ${fmtShape(x.shape)} has size ${x.shape[a]}, not 1`);
  }
  return reshape(
    x,
    x.shape.filter((_, i) => !axes.includes(i)),
  );
}

/** Inserts a size-1 axis at `axis` (negative counts from the end of the result). */
export function expandDims(x: NdArray, axis: number | readonly number[]): NdArray {
  const list = typeof axis === "number" ? [axis] : axis;
  const rank = x.ndim + list.length;
  const axes = normalizeAxes("expandDims", list, rank);
  const shape: number[] = [];
  let j = 0;
  for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]!);
  return reshape(x, shape);
}

/** Flattens axes `startAxis..endAxis` into one, like torch.flatten(x, 1). */
export function flatten(x: NdArray, startAxis = 0, endAxis = -1): NdArray {
  if (x.ndim === 0) return reshape(x, [1]);
  const s = normalizeAxis("flatten", startAxis, x.ndim);
  const e = normalizeAxis("flatten", endAxis, x.ndim);
  if (e < s) throw new ShapeError(`flatten: start axis ${startAxis} comes after end axis ${endAxis}`);
  const mid = x.shape.slice(s, e + 1).reduce((a, b) => a * b, 1);
  return reshape(x, [...x.shape.slice(0, s), mid, ...x.shape.slice(e + 1)]);
}
