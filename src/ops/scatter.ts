/**
 * JAX's functional updates, `x.at(index).set(v)` / `.add` / `.mul` / `.min` / `.max` / `.get()`, on two
 * primitives over flat positions: `scatter` (one primitive, its `mode` saying how an update combines
 * with its element) and `gather_flat` (its transpose). The index is turned into the flat positions it
 * reads once, by the user-facing code; the primitives only see an operand, an int32 array of positions
 * into the flattened operand and the updates (one per position). A position outside [0, size) is dropped
 * by scatter and reads a fill value in gather_flat: that is how JAX's out-of-bounds modes are carried.
 * The positions are `np.index` of an iota of the operand's shape, so `at` takes exactly np.index's
 * index forms (ops/index-spec.ts parses them once for both).
 *
 * Repeated positions: add and mul accumulate (as JAX and numpy's add.at), min and max keep the extreme,
 * set keeps the last update in index order (JAX leaves the winner unspecified; ours is deterministic and
 * the derivatives follow the same winner).
 */

import { gatherKernel, type ScatterMode, scatterKernel } from "../backend/js/scatter.js";
import { type AbstractValue, ConcreteArray, NdArray } from "../core/array.js";
import { type DType, isFloat } from "../core/dtype.js";
import type { ArrayLike, AtGetOptions, AtUpdateOptions, IndexUpdateRef } from "../core/methods-types.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { type Primitive, UndefinedPrimal } from "../core/primitive.js";
import { broadcastShapes, fmtShape, type Shape, ShapeError, sizeOf } from "../core/shape.js";
import {
  add,
  astype,
  clip as clipValues,
  divide,
  equal,
  greaterEqual,
  less,
  logicalAnd,
  logicalOr,
  maximum,
  multiply,
  subtract,
  where,
} from "./binary.js";
import { arange, asArray, full, scalar, zeros } from "./creation.js";
import { loweredPrimitive } from "./eager.js";
import { alignBatched } from "./elementwise-kit.js";
import { index } from "./index.js";
import { type IndexArgs, parseIndex } from "./index-spec.js";
import { gatherFlatToOnnx, scatterToOnnx } from "./indexing-onnx.js";
import { broadcastTo, moveAxisTo0, reshape } from "./layout.js";
import { pad } from "./shape.js";
import { abs, isnan } from "./unary.js";

export type { ScatterMode } from "../backend/js/scatter.js";

const SCATTER_MODES: readonly ScatterMode[] = ["set", "add", "mul", "min", "max"];

export interface ScatterParams {
  /** How each update combines with the element it lands on. */
  mode: ScatterMode;
  /** The function the user called, named in errors (default "scatter"). */
  op?: string;
}

export interface GatherFlatParams {
  /** The value read where a position is outside [0, size) (0 in every derivative). */
  fill: number;
  op?: string;
}

function checkPositions(op: string, positions: AbstractValue): void {
  if (positions.dtype !== "int32")
    throw new ShapeError(
      `${op}: positions must be int32, got ${positions.dtype}${fmtShape(positions.shape)}`,
    );
}

/** The storage arithmetic the kernel uses for a dtype. */
function kernelKind(dtype: DType): "float" | "int" | "bool" {
  return dtype === "bool" ? "bool" : isFloat(dtype) ? "float" : "int";
}

/** Positions inside [0, n): the ones a scatter applies and a gather reads. */
function inBounds(positions: NdArray, n: number): NdArray {
  return logicalAnd(greaterEqual(positions, 0), less(positions, n));
}

/**
 * Positions [B, ...S] into each of B operands of `n` elements, as positions into the B operands laid
 * end to end; out-of-bounds ones become -1, so they stay dropped instead of reaching the next example.
 */
function offsetPerExample(positions: NdArray, n: number): NdArray {
  const b = positions.shape[0]!;
  if (n === 0) return full(positions.shape, -1, { dtype: "int32" });
  const offsets = reshape(arange(0, b * n, n, { dtype: "int32" }), [
    b,
    ...positions.shape.slice(1).map(() => 1),
  ]);
  return where(inBounds(positions, n), add(positions, offsets), -1);
}

/** Equal, or both NaN: which inputs a min/max scatter's result came from. */
function sameValue(a: NdArray, b: NdArray): NdArray {
  return logicalOr(equal(a, b), logicalAnd(isnan(a), isnan(b)));
}

// ---------------------------------------------------------------------------------------------------
// scatter: [operand, positions, updates] -> operand with the updates combined in

/** The operand with `updates[j]` combined into its flat element `positions[j]` by `mode`. */
export function scatterFlat(
  x: NdArray,
  positions: NdArray,
  updates: NdArray,
  mode: ScatterMode,
  op?: string,
): NdArray {
  return scatterPrim.bind1([x, positions, updates], op === undefined ? { mode } : { mode, op });
}

/** The elements of `x` (flattened) at `positions`, `fill` where a position is outside [0, x.size). */
export function gatherFlat(x: NdArray, positions: NdArray, fill = 0, op?: string): NdArray {
  return gatherFlatPrim.bind1([x, positions], op === undefined ? { fill } : { fill, op });
}

/**
 * Below this magnitude an update counts as zero in the derivative of a mul scatter: dividing by it, and
 * the derivatives of that division (1/u², 1/u³), stay finite above it.
 */
const MUL_JVP_TINY: Partial<Record<DType, number>> = { float64: 2 ** -300, float32: 2 ** -60 };

/**
 * For update j, the product of the other updates that land on its position (scatter mul's jvp), written
 * so that its own derivative is right too (second derivatives of the scatter). Updates of magnitude
 * below MUL_JVP_TINY ("small") are kept out of the division: per position, with P the product of the
 * other updates and s the sum of the small ones, a small update's others are P (the only small one) or
 * P·(s - u_j) (one of two), a larger one's are P/u_j (no small one) or P/u_j·s (one small one); beyond
 * that the others hold a product of two small updates, taken as 0 (their derivative is 0 to first order).
 * Known limit: through the division, second derivatives lose precision where two updates at one
 * position differ in magnitude by more than ~1e16 (first derivatives are exact).
 */
function productOfOthers(shape: Shape, positions: NdArray, updates: NdArray): NdArray {
  const dtype = updates.dtype;
  const isSmall = less(abs(updates), MUL_JVP_TINY[dtype] ?? Number.MIN_VALUE);
  const large = where(isSmall, 1, updates);
  const perPosition = (mode: ScatterMode, init: number, values: NdArray) =>
    gatherFlat(scatterFlat(full(shape, init, { dtype }), positions, values, mode), positions);
  const products = perPosition("mul", 1, large);
  const smallCount = perPosition("add", 0, astype(isSmall, dtype));
  const smallSum = perPosition("add", 0, where(isSmall, updates, 0));
  const count = (c: number) => equal(smallCount, c);
  const othersOfLarge = divide(products, large);
  return where(
    isSmall,
    where(count(1), products, where(count(2), multiply(products, subtract(smallSum, updates)), 0)),
    where(count(0), othersOfLarge, where(count(1), multiply(othersOfLarge, smallSum), 0)),
  );
}

export const scatterPrim: Primitive<
  ScatterParams,
  [x: unknown, positions: unknown, updates: unknown],
  [out: unknown]
> = loweredPrimitive<ScatterParams, [x: unknown, positions: unknown, updates: unknown], [out: unknown]>({
  name: "scatter",
  onnx: (g, [x, positions, updates], { mode }, [xAval, positionsAval]) => [
    scatterToOnnx(g, x!, positions!, updates!, mode, xAval!, positionsAval!),
  ],
  abstractEval([x, positions, updates], { mode, op = "scatter" }) {
    if (!SCATTER_MODES.includes(mode))
      throw new ShapeError(
        `${op}: unknown scatter mode ${JSON.stringify(mode)} (expected one of ${SCATTER_MODES.join(", ")})`,
      );
    checkPositions(op, positions);
    if (updates.dtype !== x.dtype)
      throw new ShapeError(
        `${op}: updates dtype ${updates.dtype} differs from the operand's ${x.dtype}${fmtShape(x.shape)}`,
      );
    if (
      updates.shape.length !== positions.shape.length ||
      updates.shape.some((d, i) => d !== positions.shape[i])
    )
      throw new ShapeError(
        `${op}: updates of shape ${fmtShape(updates.shape)} must have the shape of the positions ${fmtShape(positions.shape)}`,
      );
    return [x];
  },
  lower:
    ([x], _outAvals, { mode }) =>
    ([xd, pd, ud], [out]) =>
      scatterKernel(mode, kernelKind(x.dtype), xd, pd as Int32Array, ud, out),
  jvp([x, positions, updates], [tx, , tu], params) {
    const out = scatterPrim.bind1([x, positions, updates], params);
    if (!isFloat(x.dtype)) return { primalsOut: [out], tangentsOut: [zeros(x.shape, { dtype: x.dtype })] };
    const p = { op: params.op ?? "scatter" };
    let tangent: NdArray;
    switch (params.mode) {
      case "set":
      case "add":
        // set: the tangent of whichever update won (the same one, the kernel being deterministic).
        tangent = scatterPrim.bind1([tx, positions, tu], params);
        break;
      case "mul": {
        // out = x * prod(u): d out = dx * prod(u) + x * sum_j du_j * prod_{k != j} u_k.
        const others = productOfOthers(x.shape, positions, updates);
        const fromUpdates = scatterPrim.bind1(
          [zeros(x.shape, { dtype: x.dtype }), positions, multiply(tu, others)],
          {
            ...p,
            mode: "add",
          },
        );
        tangent = add(scatterPrim.bind1([tx, positions, updates], params), multiply(x, fromUpdates));
        break;
      }
      case "min":
      case "max": {
        // As JAX's _scatter_extremal_jvp: the mean of the tangents of every input that equals the result.
        const won = astype(
          logicalAnd(inBounds(positions, x.size), sameValue(updates, gatherFlat(out, positions))),
          x.dtype,
        );
        const kept = astype(sameValue(x, out), x.dtype);
        const zero = zeros(x.shape, { dtype: x.dtype });
        const count = add(kept, scatterPrim.bind1([zero, positions, won], { ...p, mode: "add" }));
        const sum = add(
          multiply(kept, tx),
          scatterPrim.bind1([zero, positions, multiply(won, tu)], { ...p, mode: "add" }),
        );
        tangent = divide(sum, maximum(count, 1));
        break;
      }
    }
    return { primalsOut: [out], tangentsOut: [tangent] };
  },
  transpose([ct], [x, positions, updates], params) {
    const op = params.op ?? "scatter";
    if (positions instanceof UndefinedPrimal) throw new Error(`${op}: positions cannot be a linear input`);
    const xLinear = x instanceof UndefinedPrimal;
    const uLinear = updates instanceof UndefinedPrimal;
    const updatesShape = uLinear ? updates.aval.shape : (updates as NdArray).shape;
    switch (params.mode) {
      case "add":
        return [xLinear ? ct : null, null, uLinear ? gatherFlat(ct, positions, 0, op) : null];
      case "set": {
        // The operand's cotangent loses the overwritten elements; each update gets the cotangent of
        // its element if it was the one kept (the last at its position, dropped ones none).
        const ctX = xLinear
          ? scatterPrim.bind1([ct, positions, zeros(updatesShape, { dtype: ct.dtype })], params)
          : null;
        if (!uLinear) return [ctX, null, null];
        const order = reshape(arange(sizeOf(updatesShape), undefined, 1, { dtype: "int32" }), updatesShape);
        const keptIds = scatterPrim.bind1([full(ct.shape, -1, { dtype: "int32" }), positions, order], params);
        const kept = equal(gatherFlat(keptIds, positions, -1, op), order);
        return [ctX, null, where(kept, gatherFlat(ct, positions, 0, op), 0)];
      }
      case "mul":
        if (uLinear)
          throw new Error(`${op}: a mul scatter is linear in its operand only, not in the updates`);
        return [scatterPrim.bind1([ct, positions, updates as NdArray], params), null, null];
      default:
        throw new Error(`${op}: a ${params.mode} scatter is not linear and has no transpose`);
    }
  },
  batch(args, dims, params) {
    const [x, positions, updates] = alignBatched(args, dims) as [NdArray, NdArray, NdArray];
    const flat = offsetPerExample(positions, sizeOf(x.shape.slice(1)));
    return [[scatterPrim.bind1([x, flat, updates], params)], [0]];
  },
});

// ---------------------------------------------------------------------------------------------------
// gather_flat: [operand, positions] -> operand.flat[positions]

export const gatherFlatPrim: Primitive<GatherFlatParams, [x: unknown, positions: unknown], [out: unknown]> =
  loweredPrimitive<GatherFlatParams, [x: unknown, positions: unknown], [out: unknown]>({
    name: "gather_flat",
    onnx: (g, [x, positions], { fill }, [xAval]) => [gatherFlatToOnnx(g, x!, positions!, fill, xAval!)],
    abstractEval([x, positions], { op = "gather_flat" }) {
      checkPositions(op, positions);
      return [{ shape: positions.shape, dtype: x.dtype }];
    },
    lower:
      (_inAvals, _outAvals, { fill }) =>
      ([xd, pd], [out]) =>
        gatherKernel(xd, pd as Int32Array, fill, out),
    jvp: ([x, positions], [tx], params) => ({
      primalsOut: [gatherFlatPrim.bind1([x, positions], params)],
      tangentsOut: [gatherFlatPrim.bind1([tx, positions], { ...params, fill: 0 })],
    }),
    transpose([ct], [x, positions], params) {
      const op = params.op ?? "gather_flat";
      if (!(x instanceof UndefinedPrimal)) return [null, null];
      if (positions instanceof UndefinedPrimal) throw new Error(`${op}: positions cannot be a linear input`);
      if (params.fill !== 0) throw new Error(`${op}: a gather filling ${params.fill} is affine, not linear`);
      const zero = zeros(x.aval.shape, { dtype: x.aval.dtype });
      return [scatterPrim.bind1([zero, positions, ct], { mode: "add", op }), null];
    },
    batch([x, positions], [dx, dp], params) {
      // One operand for every example: the positions already address it.
      if (dx === null) return [[gatherFlatPrim.bind1([x, moveAxisTo0(positions, dp)], params)], [0]];
      const [xb, pb] = alignBatched([x, positions], [dx, dp]) as [NdArray, NdArray];
      const flat = offsetPerExample(pb, sizeOf(xb.shape.slice(1)));
      return [[gatherFlatPrim.bind1([xb, flat], params)], [0]];
    },
  });

// ---------------------------------------------------------------------------------------------------
// user-facing: at

/**
 * The flat positions `x[...index]` reads, as `np.index` of an iota of x's shape, with JAX's
 * out-of-bounds modes instead of numpy's IndexError: every integer and index array is first brought in
 * range, clamped to its axis ("clip"), or pointed one past the end of its axis ("drop") where the iota
 * is padded with -1, the position the scatter drops and the gather fills.
 */
function flatPositions(
  op: string,
  shape: Shape,
  args: IndexArgs,
  oob: "drop" | "clip",
): { positions: NdArray; maskFill: number | undefined } {
  // An integer is the 0-d index array of the same selection (numpy places both alike), so that one out
  // of range is dropped or clamped rather than refused.
  const items = args.map((a) => (typeof a === "number" && Number.isSafeInteger(a) ? scalar(a, "int32") : a));
  const spec = parseIndex(op, shape, items);
  const padded = shape.map(() => 0);
  const inRange = spec.items.map((item) => {
    switch (item.kind) {
      case "newaxis":
        return null;
      case "slice":
        return item.spec;
      case "mask":
      case "scalarMask":
        return item.mask;
      case "int":
      case "array": {
        const n = shape[item.axis]!;
        const indices = item.kind === "int" ? scalar(item.value, "int32") : item.indices;
        const clip = oob === "clip" && n > 0;
        if (!clip) padded[item.axis] = 1;
        return boundedIndices(indices, n, clip);
      }
    }
  });
  const iota = reshape(arange(sizeOf(shape), undefined, 1, { dtype: "int32" }), shape);
  const base = padded.some((p) => p > 0)
    ? pad(
        iota,
        padded.map((p) => [0, p]),
        { constantValues: -1 },
      )
    : iota;
  const options = spec.options ? [{ size: spec.options.size, fillValue: -1 }] : [];
  return {
    positions: index(base, ...([...inRange, ...options] as IndexArgs)),
    // A mask's { size, fillValue }: what get() reads past the count of true elements.
    maskFill: spec.options?.fillValue,
  };
}

/**
 * Indices into an axis of n, negative ones counted from the end, the rest clamped into [0, n) ("clip")
 * or sent to n ("drop"). Concrete indices are mapped in one loop, traced ones by elementwise ops.
 */
function boundedIndices(indices: NdArray, n: number, clip: boolean): NdArray {
  const outside = clip ? 0 : n;
  if (indices instanceof ConcreteArray) {
    const data = indices.storage as Int32Array;
    const out = new Int32Array(data.length);
    for (let k = 0; k < data.length; k++) {
      const v = data[k]! < 0 ? data[k]! + n : data[k]!;
      out[k] = v >= 0 && v < n ? v : clip ? (v < 0 ? 0 : n - 1) : outside;
    }
    return new ConcreteArray(indices.shape, "int32", out);
  }
  const wrapped = where(less(indices, 0), add(indices, n), indices);
  if (clip) return clipValues(wrapped, 0, n - 1);
  return where(inBounds(wrapped, n), wrapped, n);
}

/** The default fill of an out-of-bounds read, JAX's: NaN, the most negative integer, or true. */
function defaultFill(dtype: DType): number {
  if (isFloat(dtype)) return Number.NaN;
  return dtype === "bool" ? 1 : -(2 ** 31);
}

/** `x.at(...index)`: functional updates of the elements the index selects (JAX's `x.at[index]`). */
class IndexUpdate implements IndexUpdateRef {
  constructor(
    private readonly x: NdArray,
    private readonly index: IndexArgs,
  ) {}

  /** x with the selected elements replaced by `values` (broadcast, cast to x's dtype); repeated indices: the last update wins. */
  set(values: ArrayLike, options?: AtUpdateOptions): NdArray {
    return this.update("set", values, options);
  }

  /** x with `values` added at the selected elements; repeated indices accumulate (numpy's add.at). */
  add(values: ArrayLike, options?: AtUpdateOptions): NdArray {
    return this.update("add", values, options);
  }

  /** x with the selected elements multiplied by `values`; repeated indices accumulate (numpy's multiply.at). */
  mul(values: ArrayLike, options?: AtUpdateOptions): NdArray {
    return this.update("mul", values, options);
  }

  /** x with the selected elements replaced by their minimum with `values` (NaN propagates; numpy's minimum.at). */
  min(values: ArrayLike, options?: AtUpdateOptions): NdArray {
    return this.update("min", values, options);
  }

  /** x with the selected elements replaced by their maximum with `values` (NaN propagates; numpy's maximum.at). */
  max(values: ArrayLike, options?: AtUpdateOptions): NdArray {
    return this.update("max", values, options);
  }

  /** The selected elements, `x[index]`; out-of-bounds indices clamp unless mode is "fill". */
  get(options: AtGetOptions = {}): NdArray {
    const op = "at(...).get";
    checkOptions(op, options, ["mode", "fillValue"]);
    const mode = checkOptionValue(op, "mode", options.mode, ["drop", "clip", "fill"]) ?? "clip";
    const { fillValue } = options;
    if (fillValue !== undefined && typeof fillValue !== "number" && typeof fillValue !== "boolean")
      throw new TypeError(`${op}: fillValue must be a number or boolean, got ${String(fillValue)}`);
    if (fillValue !== undefined && mode === "clip")
      throw new TypeError(`${op}: fillValue applies to mode "fill" only (mode is "clip")`);
    const { positions, maskFill } = flatPositions(
      op,
      this.x.shape,
      this.index,
      mode === "clip" ? "clip" : "drop",
    );
    const fill = fillValue !== undefined ? Number(fillValue) : (maskFill ?? defaultFill(this.x.dtype));
    return gatherFlat(this.x, positions, fill, op);
  }

  private update(mode: ScatterMode, values: ArrayLike, options: AtUpdateOptions = {}): NdArray {
    const op = `at(...).${mode}`;
    checkOptions(op, options, ["mode"]);
    const oob = checkOptionValue(op, "mode", options.mode, ["drop", "clip", "fill"]) ?? "drop";
    const { x } = this;
    const { positions } = flatPositions(op, x.shape, this.index, oob === "clip" ? "clip" : "drop");
    const v = asArray(values, x.dtype);
    const mismatch = () =>
      new ShapeError(
        `${op}: values of shape ${fmtShape(v.shape)} do not broadcast to ${fmtShape(positions.shape)}, the shape the index selects from ${fmtShape(x.shape)}`,
      );
    let shape: number[];
    try {
      shape = broadcastShapes(op, v.shape, positions.shape);
    } catch {
      throw mismatch();
    }
    if (shape.length !== positions.shape.length || shape.some((d, i) => d !== positions.shape[i]))
      throw mismatch();
    const updates = broadcastTo(v.dtype === x.dtype ? v : astype(v, x.dtype), positions.shape);
    return scatterFlat(x, positions, updates, mode, op);
  }
}

/**
 * JAX's functional update `x.at[index]` (also `x.at(...)`): `np.at(x, 1, "2:").set(0)` is x with
 * x[1, 2:] set to 0, as a new array. The index takes np.index's forms (integers, slices, null, "...",
 * integer arrays broadcast across axes, boolean masks eagerly or with `{ size, fillValue }` under jit);
 * see IndexUpdateRef for set, add, mul, min, max and get.
 *
 * As JAX, and unlike numpy: repeated indices accumulate in add and mul (numpy's `ufunc.at`, not
 * `x[i] += v`) and keep the extreme in min and max; set keeps the last of repeated indices (JAX leaves
 * it unspecified); values are cast to x's dtype (float to int truncates; numpy would refuse); indices
 * out of bounds are dropped by the updates and clamped by get (JAX's defaults; `mode` chooses), where
 * numpy raises an IndexError. Differentiable in x and the values (min and max split ties evenly, as
 * JAX); vmap and jit apply.
 *
 * @example
 * const x = np.zeros([3]);
 * x.at([0, 0, 2]).add(1)          // [2, 0, 1]
 * x.at(1).set(5)                  // [0, 5, 0]
 * x.at([0, 5]).set(7)             // [7, 0, 0]: index 5 is dropped
 * x.at([0, 5]).get({ mode: "fill", fillValue: -1 }) // [0, -1]
 */
export function at(x: NdArray, ...index: IndexArgs): IndexUpdateRef {
  if (!(x instanceof NdArray)) throw new TypeError("at: expected an array as the first argument");
  return new IndexUpdate(x, index);
}
