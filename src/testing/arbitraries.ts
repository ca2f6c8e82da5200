/**
 * fast-check arbitraries for shapes, arrays, broadcastable pairs and pytrees, for property tests of
 * array code (`fc.assert(fc.property(testing.arb.array(), (x) => ...))`).
 * @module
 */
import * as fc from "fast-check";
import { ConcreteArray, type NdArray } from "../core/array.js";
import { type DType, storageFor, type TypedArray } from "../core/dtype.js";
import { checkOptions } from "../core/options.js";
import { type Shape, sizeOf } from "../core/shape.js";
import type { Tree } from "../tree/fp.js";

/** Bounds of the shapes `shape()` generates. */
export interface ShapeOptions {
  /** Default 0. */
  minRank?: number;
  /** Default 3. */
  maxRank?: number;
  /** Default 0: empty arrays are generated too. */
  minDim?: number;
  /** Default 4. */
  maxDim?: number;
}

/** Shapes of rank minRank..maxRank with dimensions minDim..maxDim. */
export function shape(options: ShapeOptions = {}): fc.Arbitrary<number[]> {
  checkOptions("testing.arbitraries.shape", options, ["minRank", "maxRank", "minDim", "maxDim"]);
  const { minRank = 0, maxRank = 3, minDim = 0, maxDim = 4 } = options;
  return fc.array(fc.integer({ min: minDim, max: maxDim }), { minLength: minRank, maxLength: maxRank });
}

/** What the generated array elements are: dtype, range, and values to keep away from. */
export interface ElementOptions {
  /** Default "float64". */
  dtype?: DType;
  /** Smallest element (default -2). */
  min?: number;
  /** Largest element (default 2). */
  max?: number;
  /**
   * Values the elements keep at least `margin` away from, e.g. [0] for the kink of relu and abs, so
   * finite differences never straddle it. Ignored for bool.
   */
  avoid?: readonly number[];
  /** Distance kept from each `avoid` value (default 0.05). */
  margin?: number;
  /**
   * Pairwise distinct float elements, at least (max - min) / (5·size) apart: no ties for max, sort or
   * pooling to split a derivative across.
   */
  distinct?: boolean;
}

/** Options of `array()`: the elements and the shape. */
export interface ArrayOptions extends ElementOptions {
  /** A fixed shape or an arbitrary of shapes (default `shape()`). */
  shape?: Shape | fc.Arbitrary<Shape>;
}

/**
 * A strictly increasing map of [min, max] onto [min, max] with every (a - margin, a + margin) cut out:
 * values keep their order (so `distinct` survives) and shrink towards the same place.
 */
function avoidingMap(
  min: number,
  max: number,
  avoid: readonly number[],
  margin: number,
): (v: number) => number {
  const cuts = avoid
    .filter((a) => a + margin > min && a - margin < max)
    .map((a) => [Math.max(min, a - margin), Math.min(max, a + margin)] as const)
    .sort((p, q) => p[0] - q[0]);
  if (cuts.length === 0) return (v) => v;
  const allowed: [number, number][] = [];
  let from = min;
  for (const [lo, hi] of cuts) {
    if (lo > from) allowed.push([from, lo]);
    from = Math.max(from, hi);
  }
  if (from < max) allowed.push([from, max]);
  const total = allowed.reduce((s, [lo, hi]) => s + (hi - lo), 0);
  if (!(total > 0)) {
    throw new RangeError(
      `arb.array: no values in [${min}, ${max}] stay ${margin} away from ${JSON.stringify(avoid)}`,
    );
  }
  return (v) => {
    let s = ((v - min) / (max - min || 1)) * total;
    for (const [lo, hi] of allowed) {
      if (s <= hi - lo) return lo + s;
      s -= hi - lo;
    }
    return allowed[allowed.length - 1]![1];
  };
}

const ELEMENT_KEYS = ["dtype", "min", "max", "avoid", "margin", "distinct"] as const;

/** `size` elements of the dtype, as its storage. */
export function elements(size: number, options: ElementOptions = {}): fc.Arbitrary<TypedArray> {
  checkOptions("testing.arbitraries.elements", options, ELEMENT_KEYS);
  const { dtype = "float64", min = -2, max = 2, avoid = [], margin = 0.05, distinct = false } = options;
  const exactly = { minLength: size, maxLength: size };
  const store = (values: readonly number[]): TypedArray => {
    const s = storageFor(dtype, size);
    values.forEach((v, i) => {
      s[i] = v;
    });
    return s;
  };
  if (dtype === "bool") return fc.array(fc.boolean(), exactly).map((bs) => store(bs.map((b) => (b ? 1 : 0))));
  if (dtype === "int32") {
    const allowed = (v: number) => avoid.every((a) => Math.abs(v - a) >= margin);
    return fc
      .array(fc.integer({ min: Math.ceil(min), max: Math.floor(max) }).filter(allowed), exactly)
      .map(store);
  }
  const away = avoidingMap(min, max, avoid, margin);
  if (distinct) {
    const slots = Array.from({ length: size }, (_, i) => i);
    const width = (max - min) / Math.max(size, 1);
    return fc
      .tuple(
        fc.shuffledSubarray(slots, exactly),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), exactly),
      )
      .map(([order, jitter]) =>
        store(order.map((slot, i) => away(min + (slot + 0.1 + 0.8 * jitter[i]!) * width))),
      );
  }
  return fc
    .array(fc.double({ min, max, noNaN: true, noDefaultInfinity: true }), exactly)
    .map((vs) => store(vs.map((v) => away(v))));
}

/** Arrays of a shape (fixed or generated) with elements as `ElementOptions` say. */
export function array(options: ArrayOptions = {}): fc.Arbitrary<NdArray> {
  checkOptions("testing.arbitraries.array", options, [...ELEMENT_KEYS, "shape"]);
  const { shape: _shape, ...elementOptions } = options;
  const dtype = options.dtype ?? "float64";
  const shapes: fc.Arbitrary<Shape> =
    options.shape === undefined
      ? shape()
      : options.shape instanceof fc.Arbitrary
        ? options.shape
        : fc.constant([...options.shape]);
  return shapes.chain((s) =>
    elements(sizeOf(s), elementOptions).map((data): NdArray => new ConcreteArray([...s], dtype, data)),
  );
}

const BROADCAST_KEYS = ["maxRank", "minDim", "maxDim"] as const;

/** Bounds of the common shape of `broadcastableShapes()` (rank up to maxRank, dims minDim..maxDim). */
export interface BroadcastOptions extends Omit<ShapeOptions, "minRank"> {}

/**
 * Two shapes that broadcast together (numpy rules): each is a suffix of a common shape, some of its
 * dimensions replaced by 1.
 */
export function broadcastableShapes(options: BroadcastOptions = {}): fc.Arbitrary<[number[], number[]]> {
  checkOptions("testing.arbitraries.broadcastableShapes", options, BROADCAST_KEYS);
  const operand = (full: readonly number[]) =>
    fc
      .tuple(
        fc.integer({ min: 0, max: full.length }),
        fc.array(fc.boolean(), { minLength: full.length, maxLength: full.length }),
      )
      .map(([drop, ones]) => full.slice(drop).map((d, i) => (ones[i + drop] ? 1 : d)));
  return shape(options).chain((full) => fc.tuple(operand(full), operand(full)));
}

/** Two arrays whose shapes broadcast together, with elements as `ElementOptions` say. */
export function broadcastablePair(
  options: BroadcastOptions & ElementOptions = {},
): fc.Arbitrary<[NdArray, NdArray]> {
  checkOptions("testing.arbitraries.broadcastablePair", options, [...BROADCAST_KEYS, ...ELEMENT_KEYS]);
  const { maxRank, minDim, maxDim, ...elementOptions } = options;
  return broadcastableShapes({ maxRank, minDim, maxDim }).chain(([a, b]) =>
    fc.tuple(array({ ...elementOptions, shape: a }), array({ ...elementOptions, shape: b })),
  );
}

/** The shape of the trees `tree()` generates. */
export interface TreeOptions {
  /** Nesting depth (default 3). */
  maxDepth?: number;
  /** Most children of a node (default 3). */
  maxChildren?: number;
  /** Object keys to draw from (default a few parameter-like names). */
  keys?: readonly string[];
}

const DEFAULT_KEYS = ["weight", "bias", "conv1", "fc", "a", "b"];

/**
 * Pytrees whose leaves come from `leaf`: the root may be a leaf, a JS array or a plain object (no null
 * subtrees). Leaves must not themselves be JS arrays or plain objects.
 */
export function tree<L>(leaf: fc.Arbitrary<L>, options: TreeOptions = {}): fc.Arbitrary<Tree<L>> {
  checkOptions("testing.arbitraries.tree", options, ["maxDepth", "maxChildren", "keys"]);
  const { maxDepth = 3, maxChildren = 3, keys = DEFAULT_KEYS } = options;
  const depthIdentifier = fc.createDepthIdentifier();
  const { node } = fc.letrec<{ node: Tree<L> }>((tie) => ({
    node: fc.oneof(
      { maxDepth, depthIdentifier },
      leaf,
      fc.array(tie("node"), { maxLength: maxChildren, depthIdentifier }),
      fc.dictionary(fc.constantFrom(...keys), tie("node"), {
        maxKeys: maxChildren,
        depthIdentifier,
        noNullPrototype: true,
      }),
    ),
  }));
  return node;
}
