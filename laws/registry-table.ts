/**
 * The table behind the gradient laws and the coverage report: for every primitive in the registry, a
 * user-level function that exercises it and a generator of inputs in its domain (positive for log,
 * away from kinks for abs and max, distinct values where ties would split a derivative, valid indices),
 * with what the laws may assume (differentiable or not, which modes, smooth enough for second order,
 * which arguments it is linear in).
 *
 * Elementwise primitives that declare their `laws` domain (ops/elementwise-kit.ts, `LawDomain`) need no
 * entry here: `derivedEntries` builds theirs from it, so adding such an op touches only its own file.
 *
 * `lawsFor(entry)` says which laws run for an entry; laws/gradients.test.ts runs exactly those and
 * laws/coverage.ts prints them, so the coverage table cannot drift from what is tested.
 */
import * as fc from "fast-check";
import type { NdArray } from "../src/core/array.js";
import { primitives } from "../src/core/primitive.js";
import { sizeOf } from "../src/core/shape.js";
import {
  checkpoint,
  cond,
  customJvp,
  customVjp,
  debug,
  forLoop,
  jit,
  lax,
  nn,
  np,
  random,
  scan,
  stopGradient,
  switchCase,
  whileLoop,
} from "../src/index.js";
import { type ConvParams, conv2dInputGrad, conv2dWeightGrad, convOutputSize } from "../src/ops/conv.js";
import { isElementwise, type LawDomain, type OperandDomain } from "../src/ops/elementwise-kit.js";
import { scatterAddAlongAxisPrim } from "../src/ops/indexing.js";
import {
  type MaxPoolParams,
  maxPool2dGeneral,
  maxPool2dIndices,
  poolGatherPrim,
  poolScatterAddPrim,
} from "../src/ops/pool.js";
import { padPrim } from "../src/ops/shape.js";
import type { ElementOptions } from "../src/testing/arbitraries.js";
import type { GradMode } from "../src/testing/check-grads.js";
import { testing } from "../src/testing.js";
import { seqOpsLaws } from "./seq-ops-table.js";

const { arb } = testing;

export type LawFn = (...xs: NdArray[]) => NdArray;

/** One generated test case: the function (it may depend on generated parameters) and inputs. */
export interface LawCase {
  /** The generated parameters (shapes, axes, ...), for the counterexample printout. */
  readonly description: string;
  readonly fn: LawFn;
  /** Three input lists of identical shapes and dtypes: the first is checked, all three make a vmap batch. */
  readonly examples: readonly (readonly NdArray[])[];
}

export interface Tolerance {
  eps?: number;
  atol?: number;
  rtol?: number;
}

interface EntryBase {
  readonly primitive: string;
  readonly cases: fc.Arbitrary<LawCase>;
  /** Why the generator looks the way it does, or what is not checked. */
  readonly note?: string;
}

export interface DifferentiableEntry extends EntryBase {
  readonly kind: "differentiable";
  /** Modes the primitive supports (default both; a customVjp has reverse mode only). */
  readonly modes?: readonly GradMode[];
  /** Smooth on the generated domain, so derivatives of derivatives can be checked. */
  readonly secondOrder: boolean;
  /**
   * Argument groups the primitive is jointly linear in (add: [[0, 1]]; mul: [[0], [1]]): its transpose
   * rule is checked directly by the dot-product test <ct, p(t)> = <transpose(ct), t>.
   */
  readonly linearIn?: readonly (readonly number[])[];
  /** Finite-difference settings for entries whose values pass through float32. */
  readonly tolerance?: Tolerance;
  /** An effect primitive: the lines its law function's callbacks logged since the last take (the `effects` law). */
  readonly effects?: EffectLog;
}

/** What the callbacks of an effect primitive's law function logged, in order; `take` empties the log. */
export interface EffectLog {
  take(): string[];
}

export interface NonDifferentiableEntry extends EntryBase {
  readonly kind: "non-differentiable";
}

/** A primitive that only appears inside another's derivative and is checked through it. */
export interface CoveredByEntry {
  readonly kind: "covered-by";
  readonly primitive: string;
  readonly coveredBy: string;
  readonly note: string;
}

export type LawEntry = DifferentiableEntry | NonDifferentiableEntry | CoveredByEntry;

export type LawName =
  | "exercises"
  | "jvp"
  | "vjp"
  | "dotProduct"
  | "linearity"
  | "secondOrder"
  | "transpose"
  | "zeroTangent"
  | "vmap"
  | "jit"
  | "effects";

export const LAW_TITLES: Record<LawName, string> = {
  exercises: "its function's traced program contains it",
  jvp: "jvp matches central finite differences (float64)",
  vjp: "vjp matches finite differences, per coordinate and by the dot-product test",
  dotProduct: "dot-product consistency <vjp(u), v> = <u, jvp(v)>",
  linearity: "jvp is linear in the tangent",
  secondOrder: "second order (jvp/vjp of vjp and of jvp) matches finite differences",
  transpose: "its transpose rule passes the dot-product test directly",
  zeroTangent: "its jvp output tangent is zero",
  vmap: "vmap(f) equals stacking f over the batch",
  jit: "jit(f) equals f (float64, within 1e-12)",
  effects:
    "its effects run as in eager f: in the same order with the same values under jit, jvp and vjp (primals, forward pass only), once per example under vmap",
};

export const LAW_COLUMNS: readonly LawName[] = [
  "jvp",
  "vjp",
  "dotProduct",
  "linearity",
  "secondOrder",
  "transpose",
  "zeroTangent",
  "vmap",
  "jit",
  "effects",
  "exercises",
];

/** The laws that run for an entry (and that the coverage table shows). */
export function lawsFor(entry: LawEntry): LawName[] {
  if (entry.kind === "covered-by") return [];
  if (entry.kind === "non-differentiable") return ["exercises", "zeroTangent", "vmap", "jit"];
  const modes = entry.modes ?? ["fwd", "rev"];
  const fwd = modes.includes("fwd");
  const rev = modes.includes("rev");
  const laws: LawName[] = ["exercises"];
  if (fwd) laws.push("jvp");
  if (rev) laws.push("vjp");
  if (fwd && rev) laws.push("dotProduct");
  if (fwd) laws.push("linearity");
  if (entry.secondOrder) laws.push("secondOrder");
  if (entry.linearIn) laws.push("transpose");
  laws.push("vmap", "jit");
  if (entry.effects) laws.push("effects");
  return laws;
}

// ---------------------------------------------------------------------------------------------------
// building cases

const EXAMPLES = 3;

function cases<C>(
  config: fc.Arbitrary<C>,
  build: (c: C) => { fn: LawFn; inputs: fc.Arbitrary<NdArray[]> },
): fc.Arbitrary<LawCase> {
  return config.chain((c) => {
    const { fn, inputs } = build(c);
    return fc
      .array(inputs, { minLength: EXAMPLES, maxLength: EXAMPLES })
      .map((examples): LawCase => ({ description: JSON.stringify(c), fn, examples }));
  });
}

/** A list of arrays from one arbitrary each. */
function arrays(...arbs: fc.Arbitrary<NdArray>[]): fc.Arbitrary<NdArray[]> {
  return fc.tuple(...arbs).map((xs) => [...xs]);
}

const float = (shape: readonly number[], options: ElementOptions = {}) => arb.array({ shape, ...options });
const ints = (shape: readonly number[], min: number, max: number) =>
  arb.array({ shape, dtype: "int32", min, max });
const bools = (shape: readonly number[]) => arb.array({ shape, dtype: "bool" });
const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * A matrix whose partial pivoting does not change under small perturbations: `x` (entries in ±0.5) made
 * column-diagonally dominant, which elimination keeps, then its rows rotated so that pivoting swaps.
 */
function stablePivots(x: NdArray): NdArray {
  const [m, n] = x.shape.slice(-2) as [number, number];
  const dominant = np.add(x, np.multiply(np.eye(m, n, { dtype: x.dtype }), m + 1));
  return np.take(
    dominant,
    np.array(
      range(m).map((i) => (i + 1) % m),
      { dtype: "int32" },
    ),
    { axis: -2 },
  );
}

/** Small shapes, empty ones included, for elementwise primitives. */
const SHAPES = arb.shape({ maxRank: 3, maxDim: 3 });
/** Non-empty shapes of rank >= 1, for reductions and layout. */
const NONEMPTY = arb.shape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 3 });
const withAxes = NONEMPTY.chain((shape) =>
  fc.subarray(range(shape.length), { minLength: 1 }).map((axes) => ({ shape, axes })),
);
/** Operand [n, m] and k indices (0 included) for the functional-update rows. */
const scatterSizes = fc.record({
  n: fc.integer({ min: 1, max: 3 }),
  m: fc.integer({ min: 1, max: 3 }),
  k: fc.integer({ min: 0, max: 4 }),
});
const svdSizes = fc.record({
  batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
  m: fc.integer({ min: 1, max: 3 }),
  n: fc.integer({ min: 1, max: 3 }),
});
/** An m x n float64 matrix with 15, 30, 45 on its diagonal: added to |X| <= 2, well-separated singular values. */
const separatedDiagonal = (m: number, n: number): NdArray =>
  np.eye(m, n, { dtype: "float64" }).mul(np.arange(1, n + 1, 1, { dtype: "float64" }).mul(15));
/** 2 Q, Q's columns (rows, for a wide matrix) an orthonormal basis from x's QR: every singular value 2. */
const equalSingularValues = (x: NdArray, m: number, n: number): NdArray => {
  const [q] = np.linalg.qr(m >= n ? x : np.swapaxes(x, -1, -2));
  return np.multiply(m >= n ? q : np.swapaxes(q, -1, -2), 2);
};
const withAxis = NONEMPTY.chain((shape) =>
  fc.integer({ min: 0, max: shape.length - 1 }).map((axis) => ({ shape, axis })),
);
const withAxisReverse = withAxis.chain((c) => fc.boolean().map((reverse) => ({ ...c, reverse })));

/** An operand shape and a window inside it (sizes from 0 to the whole axis), for the dynamic slices. */
const dynamicWindow = arb
  .shape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 4 })
  .chain((shape) =>
    fc
      .tuple(...shape.map((d) => fc.integer({ min: 0, max: d })))
      .map((sizes) => ({ shape, sizes: sizes as number[] })),
  );

function unary(
  primitive: string,
  fn: LawFn,
  elements: ElementOptions = {},
  extra: Partial<Omit<DifferentiableEntry, "kind" | "primitive" | "cases">> = {},
): DifferentiableEntry {
  return {
    kind: "differentiable",
    primitive,
    secondOrder: true,
    cases: cases(SHAPES, (shape) => ({ fn, inputs: arrays(float(shape, elements)) })),
    ...extra,
  };
}

/** Binary elementwise functions on broadcastable shapes (the broadcast is part of the user function). */
function broadcastBinary(
  primitive: string,
  fn: LawFn,
  a: ElementOptions,
  b: ElementOptions,
  extra: Partial<DifferentiableEntry> = {},
): DifferentiableEntry {
  return {
    kind: "differentiable",
    primitive,
    secondOrder: true,
    cases: cases(arb.broadcastableShapes({ maxRank: 3, maxDim: 3 }), ([sa, sb]) => ({
      fn,
      inputs: arrays(float(sa, a), float(sb, b)),
    })),
    ...extra,
  };
}

function nonDifferentiable(
  primitive: string,
  caseArb: fc.Arbitrary<LawCase>,
  note?: string,
): NonDifferentiableEntry {
  return { kind: "non-differentiable", primitive, cases: caseArb, ...(note ? { note } : {}) };
}

/** x and x + d with |d| >= 0.1 elementwise: no ties between the operands of max and min. */
function untiedPair(shape: readonly number[]): fc.Arbitrary<NdArray[]> {
  return fc
    .tuple(float(shape), float(shape, { min: -1, max: 1, avoid: [0], margin: 0.1 }))
    .map(([x, d]) => [x, np.add(x, d)]);
}

// ---------------------------------------------------------------------------------------------------
// convolution and pooling geometry

interface ConvCase {
  xShape: number[];
  wShape: number[];
  ctShape: number[];
  params: ConvParams;
}

const convCases: fc.Arbitrary<ConvCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    groups: fc.integer({ min: 1, max: 2 }),
    inPerGroup: fc.integer({ min: 1, max: 2 }),
    outPerGroup: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 2, max: 5 }),
    w: fc.integer({ min: 2, max: 5 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    stride: fc.integer({ min: 1, max: 2 }),
    pad: fc.integer({ min: 0, max: 1 }),
    dilation: fc.integer({ min: 1, max: 2 }),
  })
  .map((r) => {
    const params: ConvParams = {
      stride: [r.stride, r.stride],
      padding: [
        [r.pad, r.pad],
        [r.pad, r.pad],
      ],
      dilation: [r.dilation, r.dilation],
      groups: r.groups,
    };
    const oh = convOutputSize(r.h, r.kh, r.stride, [r.pad, r.pad], r.dilation);
    const ow = convOutputSize(r.w, r.kw, r.stride, [r.pad, r.pad], r.dilation);
    const o = r.groups * r.outPerGroup;
    return {
      xShape: [r.n, r.groups * r.inPerGroup, r.h, r.w],
      wShape: [o, r.inPerGroup, r.kh, r.kw],
      ctShape: [r.n, o, oh, ow],
      params,
    };
  })
  .filter((c) => c.ctShape[2]! >= 1 && c.ctShape[3]! >= 1);

interface PoolCase {
  xShape: number[];
  outShape: number[];
  params: MaxPoolParams;
}

const poolCases: fc.Arbitrary<PoolCase> = fc
  .record({
    n: fc.integer({ min: 1, max: 2 }),
    c: fc.integer({ min: 1, max: 2 }),
    h: fc.integer({ min: 1, max: 5 }),
    w: fc.integer({ min: 1, max: 5 }),
    kh: fc.integer({ min: 1, max: 3 }),
    kw: fc.integer({ min: 1, max: 3 }),
    sh: fc.integer({ min: 1, max: 2 }),
    sw: fc.integer({ min: 1, max: 2 }),
    ph: fc.integer({ min: 0, max: 2 }),
    pw: fc.integer({ min: 0, max: 2 }),
  })
  .map((r) => {
    const ph = Math.min(r.ph, r.kh - 1);
    const pw = Math.min(r.pw, r.kw - 1);
    const params: MaxPoolParams = {
      kernel: [r.kh, r.kw],
      stride: [r.sh, r.sw],
      padding: [
        [ph, ph],
        [pw, pw],
      ],
    };
    const oh = convOutputSize(r.h, r.kh, r.sh, [ph, ph], 1);
    const ow = convOutputSize(r.w, r.kw, r.sw, [pw, pw], 1);
    return { xShape: [r.n, r.c, r.h, r.w], outShape: [r.n, r.c, oh, ow], params };
  })
  .filter((p) => p.outShape[2]! >= 1 && p.outShape[3]! >= 1);

// ---------------------------------------------------------------------------------------------------
// functions defined once (so jit caches and customVjp names stay stable)

/** sin(x)·y with a hand-written (correct) reverse rule. */
const customSinTimes = customVjp(
  (x: NdArray, y: NdArray) => np.sin(x).mul(y),
  (x: NdArray, y: NdArray): [NdArray, [NdArray, NdArray]] => [np.sin(x).mul(y), [x, y]],
  ([x, y]: [NdArray, NdArray], ct: NdArray) => [ct.mul(y).mul(np.cos(x)), ct.mul(np.sin(x))],
);

/** sin(x)·y + exp(y/2) with a hand-written (correct) forward rule, linear in the tangents. */
const customSinTimesJvp = customJvp((x: NdArray, y: NdArray) =>
  np
    .sin(x)
    .mul(y)
    .add(np.exp(y.mul(0.5))),
);
customSinTimesJvp.defjvp(([x, y], [tx, ty]) => [
  customSinTimesJvp(x, y),
  np
    .cos(x)
    .mul(y)
    .mul(tx)
    .add(np.sin(x).mul(ty))
    .add(np.exp(y.mul(0.5)).mul(0.5).mul(ty)),
]);

const jittedSmooth = jit((x: NdArray, y: NdArray) =>
  np
    .sin(x)
    .mul(y)
    .add(np.exp(y.mul(0.5))),
);

const checkpointed = checkpoint((x: NdArray, y: NdArray) => np.sin(x.mul(y)).add(np.exp(x.mul(0.5))));

const effectLines: string[] = [];
const effectLog: EffectLog = { take: () => effectLines.splice(0) };
const logged = (tag: string) => (x: NdArray) => {
  effectLines.push(`${tag} ${x.shape.join("x")} ${(x.toTypedArray() as Float64Array).join(",")}`);
};
/** sin(x)·y with a debug.callback on the inputs before and on the result after. */
function withCallbacks(x: NdArray, y: NdArray): NdArray {
  debug.callback(logged("x"), x);
  debug.callback(logged("y"), y);
  const z = np.sin(x).mul(y);
  debug.callback(logged("z"), z);
  return z;
}

/** A cond on a traced predicate whose branches use both operands differently. */
const branchy = (pred: NdArray, x: NdArray, y: NdArray): NdArray =>
  cond(
    pred,
    (a: NdArray, b: NdArray) => np.sin(a).mul(b),
    (a: NdArray, b: NdArray) => np.exp(a.mul(0.5)).sub(b.square()),
    x,
    y,
  );

/** A three-way switch (the index drawn from -1 to 3, so clamping is exercised) over two operands. */
const switched = (index: NdArray, x: NdArray, y: NdArray): NdArray =>
  switchCase(
    index,
    [
      (a: NdArray, b: NdArray) => np.sin(a).mul(b),
      (a: NdArray, b: NdArray) => np.exp(a.mul(0.5)).sub(b.square()),
      (a: NdArray, b: NdArray) => a.mul(b).add(np.cos(b)),
    ],
    x,
    y,
  );

/** A while loop whose trip count is an int input (batched under vmap: a batched predicate). */
const whileLooped = (x: NdArray, w: NdArray, n: NdArray): NdArray =>
  whileLoop(
    ([i]: NdArray[]) => i!.less(n),
    ([i, y]: NdArray[]) => [i!.add(1), np.sin(y!).mul(w).add(y!.mul(0.5))],
    [np.zeros([], { dtype: "int32" }), x],
  )[1]!;

/** forLoop with array bounds: a while loop when traced (makeProgram, vmap, jit), a scan when concrete. */
const forLooped = (x: NdArray, w: NdArray, upper: NdArray): NdArray =>
  forLoop(
    np.ones([], { dtype: "int32" }),
    upper,
    (i, y: NdArray) => np.sin(y).mul(w).add(i.astype(y.dtype)),
    x,
  );

/** A scan with a carry that mixes with each row, returning the final carry on top of the stacked ys. */
function scanned(reverse: boolean) {
  return (init: NdArray, xs: NdArray): NdArray => {
    const [carry, ys] = scan(
      (c: NdArray, x: NdArray): [NdArray, NdArray] => [c.mul(np.sin(x)).add(x), c.mul(x)],
      init,
      xs,
      {
        reverse,
      },
    );
    return np.concatenate([np.expandDims(carry, 0), ys]);
  };
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

// ---------------------------------------------------------------------------------------------------
// the table

const entries: LawEntry[] = [
  // unary, elementwise
  unary("neg", np.negative, {}, { linearIn: [[0]] }),
  unary("abs", np.abs, { avoid: [0], margin: 0.1 }, { note: "inputs keep 0.1 from the kink at 0" }),
  unary("exp", np.exp),
  unary("expm1", np.expm1),
  unary("log", np.log, { min: 0.5, max: 3 }),
  unary("log1p", np.log1p, { min: -0.5, max: 3 }),
  unary("sqrt", np.sqrt, { min: 0.5, max: 3 }),
  unary("rsqrt", np.rsqrt, { min: 0.5, max: 3 }),
  unary("sin", np.sin),
  unary("cos", np.cos),
  unary("tan", np.tan, { min: -1.2, max: 1.2 }),
  unary("tanh", np.tanh),
  unary("atan", np.atan),
  unary("erf", np.erf),
  unary("logistic", np.sigmoid, { min: -4, max: 4 }),
  unary("erf_inv", random.erfInv, { min: -0.8, max: 0.8 }),
  {
    kind: "differentiable",
    primitive: "convert",
    secondOrder: true,
    linearIn: [[0]],
    // Rounding to float32 on the way: differences over a wider step, to the float32 tolerance.
    tolerance: { eps: 1e-2, atol: 1e-4, rtol: 1e-4 },
    note: "float64 → float32 → float64, checked to float32 accuracy",
    cases: cases(SHAPES, (shape) => ({
      fn: (x) => np.astype(np.astype(x, "float32"), "float64"),
      inputs: arrays(float(shape)),
    })),
  },
  nonDifferentiable(
    "sign",
    cases(SHAPES, (shape) => ({ fn: np.sign, inputs: arrays(float(shape, { avoid: [0] })) })),
  ),
  nonDifferentiable(
    "floor",
    cases(SHAPES, (shape) => ({ fn: np.floor, inputs: arrays(float(shape)) })),
  ),
  nonDifferentiable(
    "ceil",
    cases(SHAPES, (shape) => ({ fn: np.ceil, inputs: arrays(float(shape)) })),
  ),
  nonDifferentiable(
    "round",
    cases(SHAPES, (shape) => ({ fn: np.round, inputs: arrays(float(shape)) })),
  ),
  nonDifferentiable(
    "is_nan",
    cases(SHAPES, (shape) => ({ fn: np.isnan, inputs: arrays(float(shape)) })),
  ),
  nonDifferentiable(
    "is_finite",
    cases(SHAPES, (shape) => ({ fn: np.isfinite, inputs: arrays(float(shape)) })),
  ),
  nonDifferentiable(
    "not",
    cases(SHAPES, (shape) => ({ fn: np.logicalNot, inputs: arrays(bools(shape)) })),
  ),
  nonDifferentiable(
    "stop_gradient",
    cases(SHAPES, (shape) => ({ fn: stopGradient, inputs: arrays(float(shape)) })),
    "the identity with a zero derivative by definition",
  ),

  // binary, elementwise
  broadcastBinary("add", np.add, {}, {}, { linearIn: [[0, 1]] }),
  broadcastBinary("sub", np.subtract, {}, {}, { linearIn: [[0, 1]] }),
  broadcastBinary("mul", np.multiply, {}, {}, { linearIn: [[0], [1]] }),
  broadcastBinary(
    "div",
    np.divide,
    {},
    { avoid: [0], margin: 0.5 },
    { linearIn: [[0]], note: "denominators keep 0.5 from 0" },
  ),
  {
    kind: "differentiable",
    primitive: "pow",
    secondOrder: true,
    note: "positive bases",
    cases: cases(SHAPES, (shape) => ({
      fn: np.power,
      inputs: arrays(float(shape, { min: 0.5, max: 2 }), float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "pow_scalar",
    secondOrder: true,
    note: "positive bases; exponents 0, 1, 2, 3, 0.5, -1.5",
    cases: cases(fc.tuple(SHAPES, fc.constantFrom(0, 1, 2, 3, 0.5, -1.5)), ([shape, exponent]) => ({
      fn: (x) => np.power(x, exponent),
      inputs: arrays(float(shape, { min: 0.5, max: 2 })),
    })),
  },
  {
    kind: "differentiable",
    primitive: "max",
    secondOrder: true,
    note: "operands at least 0.1 apart (no ties)",
    cases: cases(SHAPES, (shape) => ({ fn: np.maximum, inputs: untiedPair(shape) })),
  },
  {
    kind: "differentiable",
    primitive: "min",
    secondOrder: true,
    note: "operands at least 0.1 apart (no ties)",
    cases: cases(SHAPES, (shape) => ({ fn: np.minimum, inputs: untiedPair(shape) })),
  },
  {
    kind: "differentiable",
    primitive: "atan2",
    secondOrder: true,
    note: "y keeps 0.2 from 0 (the branch cut)",
    cases: cases(SHAPES, (shape) => ({
      fn: np.atan2,
      inputs: arrays(float(shape, { avoid: [0], margin: 0.2 }), float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "rem",
    secondOrder: true,
    note: "x / y keeps 0.1 from the integers (the jumps)",
    cases: cases(SHAPES, (shape) => ({
      fn: np.rem,
      inputs: fc
        .tuple(
          float(shape, { min: -3, max: 3, avoid: [-3, -2, -1, 0, 1, 2, 3], margin: 0.1 }),
          float(shape, { avoid: [0], margin: 0.5 }),
        )
        .map(([q, y]) => [np.multiply(q, y), y]),
    })),
  },
  {
    kind: "differentiable",
    primitive: "mod",
    secondOrder: true,
    note: "x / y keeps 0.1 from the integers (the jumps)",
    cases: cases(SHAPES, (shape) => ({
      fn: np.mod,
      inputs: fc
        .tuple(
          float(shape, { min: -3, max: 3, avoid: [-3, -2, -1, 0, 1, 2, 3], margin: 0.1 }),
          float(shape, { avoid: [0], margin: 0.5 }),
        )
        .map(([q, y]) => [np.multiply(q, y), y]),
    })),
  },
  nonDifferentiable(
    "floor_divide",
    cases(SHAPES, (shape) => ({
      fn: np.floorDivide,
      inputs: arrays(float(shape), float(shape, { avoid: [0], margin: 0.5 })),
    })),
  ),
  {
    kind: "differentiable",
    primitive: "select",
    secondOrder: true,
    linearIn: [[1, 2]],
    cases: cases(SHAPES, (shape) => ({
      fn: np.where,
      inputs: arrays(bools(shape), float(shape), float(shape)),
    })),
  },
  ...(
    [
      ["eq", np.equal],
      ["ne", np.notEqual],
      ["lt", np.less],
      ["le", np.lessEqual],
      ["gt", np.greater],
      ["ge", np.greaterEqual],
    ] as const
  ).map(([name, fn]) =>
    nonDifferentiable(
      name,
      cases(arb.broadcastableShapes({ maxRank: 3, maxDim: 3 }), ([sa, sb]) => ({
        fn,
        // Rounded values, so that equal elements occur.
        inputs: arrays(float(sa), float(sb)).map((xs) => xs.map((x) => np.round(x))),
      })),
    ),
  ),
  ...(
    [
      ["and", np.logicalAnd],
      ["or", np.logicalOr],
      ["xor", np.logicalXor],
    ] as const
  ).map(([name, fn]) =>
    nonDifferentiable(
      name,
      cases(arb.broadcastableShapes({ maxRank: 3, maxDim: 3 }), ([sa, sb]) => ({
        fn,
        inputs: arrays(bools(sa), bools(sb)),
      })),
    ),
  ),

  // reductions
  {
    kind: "differentiable",
    primitive: "reduce_sum",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.sum(x, { axis: axes }),
      inputs: arrays(float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "reduce_max",
    secondOrder: true,
    note: "distinct elements (no ties)",
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.max(x, { axis: axes }),
      inputs: arrays(float(shape, { distinct: true })),
    })),
  },
  {
    kind: "differentiable",
    primitive: "reduce_min",
    secondOrder: true,
    note: "distinct elements (no ties)",
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.min(x, { axis: axes }),
      inputs: arrays(float(shape, { distinct: true })),
    })),
  },
  {
    kind: "differentiable",
    primitive: "reduce_prod",
    secondOrder: true,
    note: "a polynomial: smooth everywhere, exact zeros included",
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.prod(x, { axis: axes }),
      // Some elements exactly zero: the rule has separate paths for no, one and several zeros.
      inputs: fc
        .tuple(float(shape, { min: -1.5, max: 1.5 }), arb.array({ shape, dtype: "bool" }))
        .map(([x, keep]) => [np.where(keep, x, 0)]),
    })),
  },
  nonDifferentiable(
    "reduce_and",
    cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.all(x, { axis: axes }),
      inputs: arrays(bools(shape)),
    })),
  ),
  nonDifferentiable(
    "reduce_or",
    cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.any(x, { axis: axes }),
      inputs: arrays(bools(shape)),
    })),
  ),
  nonDifferentiable(
    "argmax",
    cases(withAxis, ({ shape, axis }) => ({
      fn: (x) => np.argmax(x, { axis }),
      inputs: arrays(float(shape)),
    })),
  ),
  nonDifferentiable(
    "argmin",
    cases(withAxis, ({ shape, axis }) => ({
      fn: (x) => np.argmin(x, { axis }),
      inputs: arrays(float(shape)),
    })),
  ),
  {
    kind: "differentiable",
    primitive: "cumsum",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(withAxisReverse, ({ shape, axis, reverse }) => ({
      fn: (x) => np.cumsum(x, { axis, reverse }),
      inputs: arrays(float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "cumprod",
    secondOrder: true,
    note: "a polynomial; some elements exactly zero (the scan's derivative divides by nothing)",
    cases: cases(withAxisReverse, ({ shape, axis, reverse }) => ({
      fn: (x) => np.cumprod(x, { axis, reverse }),
      inputs: fc
        .tuple(float(shape, { min: -1.5, max: 1.5 }), bools(shape))
        .map(([x, keep]) => [np.where(keep, x, 0)]),
    })),
  },
  ...(["cummax", "cummin"] as const).map(
    (name): DifferentiableEntry => ({
      kind: "differentiable",
      primitive: name,
      secondOrder: true,
      note: "distinct elements (no ties), so the running extremum has one position",
      cases: cases(withAxisReverse, ({ shape, axis, reverse }) => ({
        fn: (x) => np[name](x, { axis, reverse }),
        inputs: arrays(float(shape, { distinct: true })),
      })),
    }),
  ),
  {
    kind: "differentiable",
    primitive: "logcumsumexp",
    secondOrder: true,
    note: "elements from -6 to 6, so the softmax weights span several orders of magnitude",
    cases: cases(withAxisReverse, ({ shape, axis, reverse }) => ({
      fn: (x) => np.logcumsumexp(x, { axis, reverse }),
      inputs: arrays(float(shape, { min: -6, max: 6 })),
    })),
  },

  // layout
  {
    kind: "differentiable",
    primitive: "reshape",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(NONEMPTY, (shape) => ({
      fn: (x) => np.reshape(x, [1, ...[...shape].reverse()]),
      inputs: arrays(float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "transpose",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(
      arb
        .shape({ minRank: 2, maxRank: 4, minDim: 1, maxDim: 3 })
        .chain((shape) =>
          fc
            .shuffledSubarray(range(shape.length), { minLength: shape.length, maxLength: shape.length })
            .map((perm) => ({ shape, perm })),
        ),
      ({ shape, perm }) => {
        const axes = perm.every((p, i) => p === i) ? [...perm].reverse() : perm;
        return { fn: (x) => np.transpose(x, axes), inputs: arrays(float(shape)) };
      },
    ),
  },
  {
    kind: "differentiable",
    primitive: "broadcast_in_dim",
    secondOrder: true,
    linearIn: [[0]],
    note: "a new leading axis and stretched size-1 axes",
    cases: cases(arb.shape({ maxRank: 3, minDim: 1, maxDim: 3 }), (shape) => ({
      fn: (x) => np.broadcastTo(x, [2, ...shape.map((d) => (d === 1 ? 3 : d))]),
      inputs: arrays(float(shape)),
    })),
  },

  // linear algebra
  {
    kind: "differentiable",
    primitive: "matmul",
    secondOrder: true,
    linearIn: [[0], [1]],
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        n: fc.integer({ min: 1, max: 3 }),
      }),
      ({ batch, m, k, n }) => ({
        fn: np.matmul,
        inputs: arrays(float([...batch, m, k]), float([...batch, k, n])),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "cholesky",
    secondOrder: true,
    note: "a = M Mᵀ + n I (positive definite), batched or not; symmetrized as JAX, or the lower triangle alone (the primitive)",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        n: fc.integer({ min: 1, max: 4 }),
        symmetrizeInput: fc.boolean(),
      }),
      ({ batch, n, symmetrizeInput }) => ({
        fn: (a) => lax.linalg.cholesky(a, { symmetrizeInput }),
        inputs: arrays(float([...batch, n, n], { min: -1, max: 1 })).map(([m]) => [
          np.add(np.matmul(m!, np.swapaxes(m!, -1, -2)), np.multiply(np.eye(n, n, { dtype: "float64" }), n)),
        ]),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "triangular_solve",
    secondOrder: true,
    linearIn: [[1]],
    note: "every side/triangle/transpose/unit-diagonal variant; a = 3I + 0.3 R (well conditioned), batched or not",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        n: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 1, max: 3 }),
        leftSide: fc.boolean(),
        lower: fc.boolean(),
        transposeA: fc.boolean(),
        unitDiagonal: fc.boolean(),
      }),
      ({ batch, n, k, ...flags }) => ({
        fn: (a, b) => lax.linalg.triangularSolve(a, b, flags),
        inputs: arrays(
          float([...batch, n, n], { min: -1, max: 1 }),
          float(flags.leftSide ? [...batch, n, k] : [...batch, k, n]),
        ).map(([a, b]) => [
          np.add(np.multiply(a!, 0.3), np.multiply(np.eye(n, n, { dtype: "float64" }), 3)),
          b!,
        ]),
      }),
    ),
  },

  {
    kind: "differentiable",
    primitive: "lu",
    secondOrder: true,
    note: "column-dominant matrices with rotated rows: pivoting swaps rows, and no pivot is near a tie; square and rectangular",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        m: fc.integer({ min: 1, max: 4 }),
        n: fc.integer({ min: 1, max: 4 }),
      }),
      ({ batch, m, n }) => ({
        fn: (x) => lax.linalg.lu(x)[0],
        inputs: arrays(float([...batch, m, n], { min: -0.5, max: 0.5 })).map(([x]) => [stablePivots(x!)]),
      }),
    ),
  },

  {
    kind: "differentiable",
    primitive: "det",
    secondOrder: true,
    note: "column-dominant matrices with rotated rows, as for lu (nonsingular; the rule at singular matrices, where the second derivative is NaN, is checked in test/ops/linalg-degenerate.test.ts); 0 x 0 to 4 x 4",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        n: fc.integer({ min: 0, max: 4 }),
      }),
      ({ batch, n }) => ({
        fn: (a) => np.linalg.det(a),
        inputs: arrays(float([...batch, n, n], { min: -0.5, max: 0.5 })).map(([x]) => [stablePivots(x!)]),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "slogdet",
    secondOrder: true,
    note: "sign and logabsdet stacked (the sign's tangent is zero); the matrices of det",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        n: fc.integer({ min: 1, max: 4 }),
      }),
      ({ batch, n }) => ({
        fn: (a) => np.stack(np.linalg.slogdet(a), { axis: -1 }),
        inputs: arrays(float([...batch, n, n], { min: -0.5, max: 0.5 })).map(([x]) => [stablePivots(x!)]),
      }),
    ),
  },
  nonDifferentiable(
    "lu_pivots_to_permutation",
    cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        m: fc.integer({ min: 1, max: 4 }),
        n: fc.integer({ min: 1, max: 4 }),
      }),
      ({ batch, m, n }) => ({
        fn: (x) => lax.linalg.luPivotsToPermutation(lax.linalg.lu(x)[1], m),
        inputs: arrays(float([...batch, m, n])),
      }),
    ),
    "int32 permutations out, from the pivots of lu",
  ),
  {
    kind: "differentiable",
    primitive: "qr",
    secondOrder: true,
    note: "a + 4·I (m x n) with 0.1 <= |a| <= 1: the leading min(m, n) columns well conditioned, R invertible, and no column zero below the diagonal (where LAPACK's reflector, and so the signs of Q and R, jump); tall, square and wide, reduced and (m <= n) complete; q and r flattened into one output",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        m: fc.integer({ min: 1, max: 3 }),
        n: fc.integer({ min: 1, max: 3 }),
        complete: fc.boolean(),
      }),
      ({ batch, m, n, complete }) => ({
        fn: (a) => {
          const [q, r] = np.linalg.qr(
            np.add(a, np.eye(m, n, { dtype: a.dtype }).mul(4)),
            complete && m <= n ? "complete" : "reduced",
          );
          return np.concatenate([np.reshape(q, [-1]), np.reshape(r, [-1])]);
        },
        inputs: arrays(float([...batch, m, n], { min: -1, max: 1, avoid: [0], margin: 0.1 })),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "eigh",
    secondOrder: true,
    note: "a + diag(0, 8, 16) with |a| <= 1 (eigenvalues at least 2 apart, eigenvectors near the axes so the sign convention never flips); not symmetric: the primitive reads one triangle (UPLO L or U), so the derivative is that of the mirrored triangle; eigh (w and v flattened into one output) or eigvalsh",
    cases: cases(
      fc.record({
        batch: fc.array(fc.integer({ min: 1, max: 2 }), { maxLength: 1 }),
        n: fc.integer({ min: 1, max: 3 }),
        UPLO: fc.constantFrom("L" as const, "U" as const),
        valuesOnly: fc.boolean(),
      }),
      ({ batch, n, UPLO, valuesOnly }) => ({
        fn: (a) => {
          const spread = np.diag(np.arange(0, n, 1, { dtype: a.dtype }).mul(8));
          const x = np.add(a, spread);
          if (valuesOnly) return np.linalg.eigvalsh(x, { UPLO });
          const [w, v] = np.linalg.eigh(x, { UPLO });
          return np.concatenate([np.reshape(w, [-1]), np.reshape(v, [-1])]);
        },
        inputs: arrays(float([...batch, n, n], { min: -1, max: 1 })),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "svd",
    secondOrder: true,
    note: "U, s and Vh (reduced) of D + X, D diagonal 15, 30, 45 and |X| <= 2: distinct nonzero singular values and an unambiguous largest component in each column of U (the sign convention); tall, square and wide",
    cases: cases(svdSizes, ({ batch, m, n }) => ({
      fn: (x) => {
        const [u, s, vh] = np.linalg.svd(x, { fullMatrices: false });
        const flat = (y: NdArray) => np.reshape(y, [...batch, sizeOf(y.shape.slice(batch.length))]);
        return np.concatenate([flat(u), s, flat(vh)], { axis: -1 });
      },
      inputs: arrays(float([...batch, m, n])).map(([x]) => [x!.add(separatedDiagonal(m, n))]),
    })),
  },

  {
    kind: "differentiable",
    primitive: "pinv",
    secondOrder: true,
    note: "D + X (distinct singular values), or 2 Q with Q's columns (rows, for a wide matrix) orthonormal: every singular value 2, where the derivative through svd is NaN; full rank, so a⁺ is smooth in every direction; tall, square and wide",
    cases: cases(
      svdSizes.chain((c) => fc.boolean().map((repeated) => ({ ...c, repeated }))),
      ({ batch, m, n, repeated }) => ({
        fn: (x) => np.linalg.pinv(x),
        inputs: arrays(float([...batch, m, n])).map(([x]) => {
          const separated = x!.add(separatedDiagonal(m, n));
          return [repeated ? equalSingularValues(separated, m, n) : separated];
        }),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "lstsq",
    secondOrder: true,
    note: "x and s of D + X (distinct singular values) against b [m, k], or x alone of 2 Q (every singular value 2: x's derivative is pinv's, finite there; s is not differentiable where values repeat); residuals: \"always\", so it traces under vmap and jit",
    cases: cases(
      svdSizes.chain((c) =>
        fc.record({ k: fc.integer({ min: 1, max: 2 }), repeated: fc.boolean() }).map((r) => ({ ...c, ...r })),
      ),
      ({ m, n, k, repeated }) => ({
        fn: (a, b) => {
          const [x, , , s] = np.linalg.lstsq(a, b, { residuals: "always" });
          return repeated ? x : np.concatenate([np.reshape(x, [-1]), s]);
        },
        inputs: arrays(float([m, n]), float([m, k])).map(([a, b]) => {
          const separated = a!.add(separatedDiagonal(m, n));
          return [repeated ? equalSingularValues(separated, m, n) : separated, b!];
        }),
      }),
    ),
  },
  // shape
  {
    kind: "differentiable",
    primitive: "concatenate",
    secondOrder: true,
    linearIn: [[0, 1]],
    cases: cases(
      withAxis.chain((c) => fc.integer({ min: 0, max: 3 }).map((other) => ({ ...c, other }))),
      ({ shape, axis, other }) => ({
        fn: (a, b) => np.concatenate([a, b], { axis }),
        inputs: arrays(float(shape), float(shape.map((d, i) => (i === axis ? other : d)))),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "pad",
    secondOrder: true,
    linearIn: [[0]],
    note: "edge and interior padding, straight on the primitive (np.pad has no interior padding)",
    cases: cases(
      arb.shape({ minRank: 1, maxRank: 3, maxDim: 3 }).chain((shape) => {
        const perAxis = fc.array(fc.integer({ min: 0, max: 2 }), {
          minLength: shape.length,
          maxLength: shape.length,
        });
        return fc.record({ shape: fc.constant(shape), lo: perAxis, hi: perAxis, interior: perAxis });
      }),
      ({ shape, lo, hi, interior }) => ({
        fn: (x) => padPrim.bind1([x], { lo, hi, interior, value: 0 }),
        inputs: arrays(float(shape)),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "slice",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(
      arb.shape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 4 }).chain((shape) =>
        fc
          .tuple(
            ...shape.map((d) =>
              fc.record({
                start: fc.integer({ min: 0, max: d - 1 }),
                step: fc.integer({ min: 1, max: 2 }),
              }),
            ),
          )
          .map((specs) => ({
            shape,
            specs: specs.map((s, i) => (i === 0 ? { start: Math.max(1, s.start), step: s.step } : s)),
          })),
      ),
      ({ shape, specs }) => ({ fn: (x) => np.slice(x, specs), inputs: arrays(float(shape)) }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "rev",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.flip(x, { axis: axes }),
      inputs: arrays(float(shape)),
    })),
  },

  // indexing
  {
    kind: "differentiable",
    primitive: "take",
    secondOrder: true,
    linearIn: [[0]],
    note: "negative and repeated indices",
    cases: cases(
      fc.record({
        x: arb.shape({ minRank: 1, maxRank: 2, minDim: 1, maxDim: 3 }),
        idx: arb.shape({ maxRank: 2, maxDim: 3 }),
        axisSeed: fc.nat(),
      }),
      ({ x, idx, axisSeed }) => {
        const axis = axisSeed % x.length;
        const n = x[axis]!;
        return { fn: (a, i) => np.take(a, i, { axis }), inputs: arrays(float(x), ints(idx, -n, n - 1)) };
      },
    ),
  },
  {
    kind: "differentiable",
    primitive: "scatter_add",
    secondOrder: true,
    linearIn: [[0, 2]],
    note: "repeated indices accumulate",
    cases: cases(
      fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 0, max: 4 }),
      }),
      ({ n, m, k }) => ({
        fn: (x, i, u) => np.scatterAdd(x, i, u, { axis: 0 }),
        inputs: arrays(float([n, m]), ints([k], -n, n - 1), float([k, m])),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "take_along_axis",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(
      fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 0, max: 4 }),
      }),
      ({ n, m, k }) => ({
        fn: (x, i) => np.takeAlongAxis(x, i, { axis: 1 }),
        inputs: arrays(float([n, m]), ints([n, k], -m, m - 1)),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "dynamic_slice",
    secondOrder: true,
    linearIn: [[0]],
    note: "traced int32 starts from -size-2 to size+2 (negative ones wrap, the rest clamp); vmap stacks the starts, so its law runs the batched-start gather",
    cases: cases(dynamicWindow, ({ shape, sizes }) => ({
      fn: (x, ...starts) => lax.dynamicSlice(x, starts, sizes),
      inputs: arrays(float(shape), ...shape.map((d) => ints([], -d - 2, d + 2))),
    })),
  },
  {
    kind: "differentiable",
    primitive: "dynamic_update_slice",
    secondOrder: true,
    linearIn: [[0, 1]],
    note: "traced int32 starts from -size-2 to size+2; vmap stacks the starts (the batched-start select rule)",
    cases: cases(dynamicWindow, ({ shape, sizes }) => ({
      fn: (x, u, ...starts) => lax.dynamicUpdateSlice(x, u, starts),
      inputs: arrays(float(shape), float(sizes), ...shape.map((d) => ints([], -d - 2, d + 2))),
    })),
  },
  {
    kind: "differentiable",
    primitive: "check_class_target",
    secondOrder: true,
    note: "through nllLoss (the check is the identity on valid labels); -1 is the ignored label, summed so no mean divides by 0",
    cases: cases(
      fc.record({ n: fc.integer({ min: 1, max: 3 }), c: fc.integer({ min: 1, max: 3 }) }),
      ({ n, c }) => ({
        fn: (x, t) => nn.nllLoss(x, t, { ignoreIndex: -1, reduction: "sum" }),
        inputs: arrays(float([n, c]), ints([n], -1, c - 1)),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "check_probabilities",
    secondOrder: true,
    note: "through binaryCrossEntropy (the check is the identity on probabilities), away from 0 and 1",
    cases: cases(arb.shape({ maxRank: 2, maxDim: 3 }), (shape) => ({
      fn: (p, y) => nn.binaryCrossEntropy(p, y, { reduction: "sum" }),
      inputs: arrays(float(shape, { min: 0.1, max: 0.9 }), float(shape, { min: 0, max: 1 })),
    })),
  },
  {
    kind: "differentiable",
    primitive: "scatter_add_along_axis",
    secondOrder: true,
    linearIn: [[0, 2]],
    note: "straight on the primitive (the transpose of take_along_axis; no numpy function)",
    cases: cases(
      fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        m: fc.integer({ min: 1, max: 3 }),
        k: fc.integer({ min: 0, max: 4 }),
      }),
      ({ n, m, k }) => ({
        fn: (x, i, u) => scatterAddAlongAxisPrim.bind1([x, i, u], { axis: 1 }),
        inputs: arrays(float([n, m]), ints([n, k], 0, m - 1), float([n, k])),
      }),
    ),
  },

  // functional updates (x.at(...)): one scatter primitive with a mode, and the gather that transposes it
  {
    kind: "differentiable",
    primitive: "scatter",
    secondOrder: true,
    linearIn: [[0, 2]],
    note: "x.at(i).add(u): repeated indices accumulate, out-of-bounds ones (-n-1 and n) are dropped",
    cases: cases(scatterSizes, ({ n, m, k }) => ({
      fn: (x, i, u) => np.at(x, i).add(u),
      inputs: arrays(float([n, m]), ints([k], -n - 1, n), float([k, m])),
    })),
  },
  {
    kind: "differentiable",
    primitive: "gather_flat",
    secondOrder: true,
    linearIn: [[0]],
    note: 'x.at(i, j).get({ mode: "fill", fillValue: 0 }): indices one past either end read the fill',
    cases: cases(scatterSizes, ({ n, m, k }) => ({
      fn: (x, i, j) => np.at(x, i, j).get({ mode: "fill", fillValue: 0 }),
      inputs: arrays(float([n, m]), ints([k], -n - 1, n), ints([k], -m, m - 1)),
    })),
  },

  // convolution and pooling
  {
    kind: "differentiable",
    primitive: "conv2d",
    secondOrder: true,
    linearIn: [[0], [1]],
    note: "stride, padding, dilation and groups drawn at random",
    cases: cases(convCases, ({ xShape, wShape, params }) => ({
      fn: (x, w) =>
        nn.conv2d(x, w, null, {
          stride: params.stride,
          padding: [params.padding[0][0], params.padding[1][0]],
          dilation: params.dilation,
          groups: params.groups,
        }),
      inputs: arrays(float(xShape), float(wShape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "conv2d_input_grad",
    secondOrder: true,
    linearIn: [[0], [1]],
    cases: cases(convCases, ({ xShape, wShape, ctShape, params }) => ({
      fn: (ct, w) => conv2dInputGrad(ct, w, params, xShape),
      inputs: arrays(float(ctShape), float(wShape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "conv2d_weight_grad",
    secondOrder: true,
    linearIn: [[0], [1]],
    cases: cases(convCases, ({ xShape, wShape, ctShape, params }) => ({
      fn: (x, ct) => conv2dWeightGrad(x, ct, params, wShape),
      inputs: arrays(float(xShape), float(ctShape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "max_pool2d",
    secondOrder: true,
    note: "distinct elements (no ties within a window)",
    cases: cases(poolCases, ({ xShape, params }) => ({
      fn: (x) => maxPool2dGeneral(x, params),
      inputs: arrays(float(xShape, { distinct: true })),
    })),
  },
  nonDifferentiable(
    "max_pool2d_argmax",
    cases(poolCases, ({ xShape, params }) => ({
      fn: (x) => maxPool2dIndices(x, params),
      inputs: arrays(float(xShape)),
    })),
  ),
  {
    kind: "differentiable",
    primitive: "pool_gather",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(poolCases, ({ xShape, outShape }) => ({
      fn: (t, idx) => poolGatherPrim.bind1([t, idx], {}),
      inputs: arrays(float(xShape), ints(outShape, 0, xShape[2]! * xShape[3]! - 1)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "pool_scatter_add",
    secondOrder: true,
    linearIn: [[0]],
    cases: cases(poolCases, ({ xShape, outShape }) => ({
      fn: (ct, idx) => poolScatterAddPrim.bind1([ct, idx], { planeShape: [xShape[2]!, xShape[3]!] }),
      inputs: arrays(float(outShape), ints(outShape, 0, xShape[2]! * xShape[3]! - 1)),
    })),
  },

  // sorting
  {
    kind: "differentiable",
    primitive: "sort",
    secondOrder: true,
    note: "distinct elements (a permutation is linear where no two elements tie); ascending and descending",
    cases: cases(
      withAxis.chain((c) => fc.boolean().map((descending) => ({ ...c, descending }))),
      ({ shape, axis, descending }) => ({
        fn: (x) => np.sort(x, { axis, descending }),
        inputs: arrays(float(shape, { distinct: true })),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "top_k",
    secondOrder: true,
    note: "distinct elements; k from 0 to the last axis' size",
    cases: cases(
      NONEMPTY.chain((shape) =>
        fc.integer({ min: 0, max: shape[shape.length - 1]! }).map((k) => ({ shape, k })),
      ),
      ({ shape, k }) => ({ fn: (x) => np.topK(x, k)[0], inputs: arrays(float(shape, { distinct: true })) }),
    ),
  },
  nonDifferentiable(
    "searchsorted",
    cases(
      fc.record({
        n: fc.integer({ min: 0, max: 4 }),
        v: arb.shape({ maxRank: 2, maxDim: 3 }),
        side: fc.constantFrom("left" as const, "right" as const),
      }),
      ({ n, v, side }) => ({
        fn: (a, x) => np.searchsorted(a, x, { side }),
        // Sorted and rounded, so that values equal to elements occur.
        inputs: arrays(float([n]), float(v)).map(([a, x]) => [np.sort(np.round(a!)), np.round(x!)]),
      }),
    ),
    "integer positions out; values equal to elements test left against right",
  ),

  // transforms as primitives
  {
    kind: "differentiable",
    primitive: "custom_vjp_call",
    modes: ["rev"],
    secondOrder: true,
    note: "reverse mode only (a customVjp has no forward rule, as in JAX)",
    cases: cases(SHAPES, (shape) => ({ fn: customSinTimes, inputs: arrays(float(shape), float(shape)) })),
  },
  {
    kind: "covered-by",
    primitive: "custom_lin",
    coveredBy: "custom_vjp_call",
    note: "the linear half of a customVjp under linearization: its transpose is the user's bwd, checked by custom_vjp_call's vjp laws",
  },
  {
    kind: "differentiable",
    primitive: "custom_jvp_call",
    secondOrder: true,
    note: "both modes through the user's jvp rule (reverse mode linearizes it); second order differentiates the rule",
    cases: cases(SHAPES, (shape) => ({ fn: customSinTimesJvp, inputs: arrays(float(shape), float(shape)) })),
  },
  {
    kind: "differentiable",
    primitive: "jit",
    secondOrder: true,
    cases: cases(SHAPES, (shape) => ({ fn: jittedSmooth, inputs: arrays(float(shape), float(shape)) })),
  },

  // control flow and rematerialization
  {
    kind: "differentiable",
    primitive: "switch",
    secondOrder: true,
    note: "switchCase over three branches, the traced int index drawn from -1 to 3 (clamped; vmap batches it into a select)",
    cases: cases(SHAPES, (shape) => ({
      fn: switched,
      inputs: arrays(ints([], -1, 3), float(shape), float(shape)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "while",
    modes: ["fwd"],
    secondOrder: false,
    note: "whileLoop with a traced trip count of 0 to 3 (an int input, so vmap batches the predicate); forward mode only: reverse mode is refused, as in JAX",
    cases: cases(SHAPES, (shape) => ({
      fn: whileLooped,
      inputs: arrays(float(shape), float(shape), ints([], 0, 3)),
    })),
  },
  {
    kind: "differentiable",
    primitive: "scan",
    secondOrder: true,
    note: "forward and reverse scans of 1 to 3 steps",
    cases: cases(
      fc.record({
        length: fc.integer({ min: 1, max: 3 }),
        width: fc.integer({ min: 1, max: 3 }),
        reverse: fc.boolean(),
      }),
      ({ length, width, reverse }) => ({
        fn: scanned(reverse),
        inputs: arrays(float([width]), float([length, width])),
      }),
    ),
  },
  {
    kind: "differentiable",
    primitive: "checkpoint",
    secondOrder: true,
    cases: cases(SHAPES, (shape) => ({ fn: checkpointed, inputs: arrays(float(shape), float(shape)) })),
  },
  {
    kind: "covered-by",
    primitive: "checkpoint_lin",
    coveredBy: "checkpoint",
    note: "the tangent half of a checkpoint (linear in the tangents): its impl and transpose run in checkpoint's jvp and vjp laws",
  },

  // effects
  {
    kind: "differentiable",
    primitive: "debug_callback",
    secondOrder: true,
    effects: effectLog,
    note: "debug.callback before and after sin(x)·y: transforms leave the values alone, and the callbacks see what eager f sees",
    cases: cases(SHAPES, (shape) => ({ fn: withCallbacks, inputs: arrays(float(shape), float(shape)) })),
  },

  // random
  nonDifferentiable(
    "random_bits",
    cases(fc.constant(null), () => ({
      fn: (key) => random.bits(key, [3]),
      inputs: arrays(ints([2], INT32_MIN, INT32_MAX)),
    })),
    "integer keys in, integer bits out",
  ),
  nonDifferentiable(
    "random_fold_in",
    cases(fc.constant(null), () => ({
      fn: (key, data) => random.foldIn(key, data),
      inputs: arrays(ints([2], INT32_MIN, INT32_MAX), ints([], INT32_MIN, INT32_MAX)),
    })),
  ),
  {
    kind: "differentiable",
    primitive: "sort_by_key",
    secondOrder: true,
    linearIn: [[1]],
    note: "few key values, so ties test the stable order",
    cases: cases(
      fc.record({ n: fc.integer({ min: 1, max: 4 }), m: fc.integer({ min: 1, max: 2 }) }),
      ({ n, m }) => ({
        fn: (keys, values) => random.sortByKey(keys, values, 0),
        inputs: arrays(ints([n], 0, 3), float([n, m])),
      }),
    ),
  },
];

/**
 * Functions without a primitive of their own whose derivative is still worth its laws: compositions
 * that select elements (median, quantile, kthValue). `primitive` names the primitive each is built on
 * (the "traced" law checks that it is used); the coverage report lists them under their function name.
 */
export interface FunctionLawEntry extends DifferentiableEntry {
  readonly function: string;
}

const QUANTILE_METHODS = ["linear", "lower", "higher", "nearest", "midpoint", "hazen", "weibull"] as const;

export const FUNCTION_LAWS: readonly FunctionLawEntry[] = [
  {
    kind: "differentiable",
    function: "linalg.svdvals",
    primitive: "svd",
    secondOrder: true,
    note: "the values-only path (no rotations accumulated; the jvp decomposes again for U and V); D + X as for svd",
    cases: cases(svdSizes, ({ batch, m, n }) => ({
      fn: (x) => np.linalg.svdvals(x),
      inputs: arrays(float([...batch, m, n])).map(([x]) => [x!.add(separatedDiagonal(m, n))]),
    })),
  },
  {
    kind: "differentiable",
    function: "linalg.norm (nuc, 2, -2)",
    primitive: "svd",
    secondOrder: true,
    note: "matrix norms through the singular values, over a pair of axes in either order",
    cases: cases(
      fc.record({
        ord: fc.constantFrom("nuc" as const, 2, -2),
        swap: fc.boolean(),
        m: fc.integer({ min: 1, max: 3 }),
      }),
      ({ ord, swap, m }) => ({
        fn: (x) => np.linalg.norm(x, ord, { axis: swap ? [2, 0] : [0, 2] }),
        inputs: arrays(float([m, 2, 3])).map(([x]) => [x!.add(np.expandDims(separatedDiagonal(m, 3), 1))]),
      }),
    ),
  },
  {
    kind: "differentiable",
    function: "cond",
    primitive: "switch",
    secondOrder: true,
    note: "a two-way switch on a traced bool predicate (vmap batches it into a select)",
    cases: cases(SHAPES, (shape) => ({ fn: branchy, inputs: arrays(bools([]), float(shape), float(shape)) })),
  },
  {
    kind: "differentiable",
    function: "forLoop (traced bounds)",
    primitive: "while",
    modes: ["fwd"],
    secondOrder: false,
    note: "bounds 1..upper, upper an int input from 0 to 4: a while loop under makeProgram, vmap (per-example trip counts) and jit; the eager jvp law reads concrete bounds, so it runs the scan form (the while loop's jvp is checked by the `while` row)",
    cases: cases(SHAPES, (shape) => ({
      fn: forLooped,
      inputs: arrays(float(shape), float(shape), ints([], 0, 4)),
    })),
  },
  {
    kind: "differentiable",
    function: "median",
    primitive: "sort",
    secondOrder: true,
    note: "distinct elements; one or several axes, odd and even counts",
    cases: cases(withAxes, ({ shape, axes }) => ({
      fn: (x) => np.median(x, { axis: axes }),
      inputs: arrays(float(shape, { distinct: true })),
    })),
  },
  {
    kind: "differentiable",
    function: "quantile",
    primitive: "sort",
    secondOrder: true,
    note: `distinct elements; q a list in [0, 1]; methods ${QUANTILE_METHODS.join(", ")}`,
    cases: cases(
      withAxis.chain((c) =>
        fc.record({
          shape: fc.constant(c.shape),
          axis: fc.constant(c.axis),
          qs: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 3 }),
          method: fc.constantFrom(...QUANTILE_METHODS),
        }),
      ),
      ({ shape, axis, qs, method }) => ({
        fn: (x) => np.quantile(x, qs, { axis, method }),
        inputs: arrays(float(shape, { distinct: true })),
      }),
    ),
  },
  {
    kind: "differentiable",
    function: "kthValue",
    primitive: "sort",
    secondOrder: true,
    note: "distinct elements; k from 1 to the axis' size",
    cases: cases(
      withAxis.chain((c) => fc.integer({ min: 1, max: c.shape[c.axis]! }).map((k) => ({ ...c, k }))),
      ({ shape, axis, k }) => ({
        fn: (x) => np.kthValue(x, k, { axis })[0],
        inputs: arrays(float(shape, { distinct: true })),
      }),
    ),
  },
  {
    kind: "differentiable",
    function: "at(...).set",
    primitive: "scatter",
    secondOrder: true,
    linearIn: [[0, 2]],
    note: "x.at(i, j).set(u) over two axes: with repeated indices the last update wins, in value and derivative",
    cases: cases(scatterSizes, ({ n, m, k }) => ({
      fn: (x, i, j, u) => np.at(x, i, j).set(u),
      inputs: arrays(float([n, m]), ints([k], -n, n - 1), ints([k], -m, m - 1), float([k])),
    })),
  },
  {
    kind: "differentiable",
    function: "at(...).mul",
    primitive: "scatter",
    secondOrder: true,
    linearIn: [[0]],
    note: "x.at(i).mul(u): repeated indices multiply (the product rule over every update at a position); linear in x only. Updates kept 0.05 from 0: the product of the other updates at a position is a division, so second derivatives lose precision where two updates there differ by more than ~1e16 in magnitude (first derivatives do not; exact zeros are handled apart, see test/ops/scatter.test.ts)",
    cases: cases(scatterSizes, ({ n, m, k }) => ({
      fn: (x, i, u) => np.at(x, i).mul(u),
      inputs: arrays(float([n, m]), ints([k], -n, n - 1), float([k, m], { avoid: [0], margin: 0.05 })),
    })),
  },
  ...(["min", "max"] as const).map(
    (mode): FunctionLawEntry => ({
      kind: "differentiable",
      function: `at(...).${mode}`,
      primitive: "scatter",
      secondOrder: true,
      note: `x.at(i).${mode}(u) with every element of x and u distinct (no ties to split a derivative)`,
      cases: cases(scatterSizes, ({ n, m, k }) => ({
        fn: (x, i, u) => (mode === "min" ? np.at(x, i).min(u) : np.at(x, i).max(u)),
        inputs: fc
          .tuple(float([(n + k) * m], { distinct: true }), ints([k], -n, n - 1))
          .map(([all, i]) => [
            np.reshape(np.slice(all, [{ stop: n * m }]), [n, m]),
            i,
            np.reshape(np.slice(all, [{ start: n * m }]), [k, m]),
          ]),
      })),
    }),
  ),
  ...shapeFunctionLaws(),
  ...moreShapeFunctionLaws(),
  ...nanReductionLaws(),
  ...padLaws(),
  ...seqOpsLaws(),
];

// ---------------------------------------------------------------------------------------------------
// entries derived from the primitives' declared domains

/** The elements of one operand as its domain says (held operands are built from their drawn values). */
function operandArb(shape: readonly number[], d: OperandDomain): fc.Arbitrary<NdArray> {
  const base = float(shape, {
    ...(d.min !== undefined ? { min: d.min } : {}),
    ...(d.max !== undefined ? { max: d.max } : {}),
    ...(d.avoid !== undefined ? { avoid: d.avoid } : {}),
    ...(d.margin !== undefined ? { margin: d.margin } : {}),
  });
  if (!d.zeros) return base;
  return fc.tuple(base, bools(shape)).map(([x, keep]) => np.where(keep, x, 0));
}

/**
 * The entry of an elementwise primitive from its `laws` domain: operands of one shape drawn from their
 * ranges, the primitive applied directly (its user function's broadcasting and promotion are tested
 * with the op). Operands with `values` are drawn once per case and held fixed: not differentiated.
 */
function derivedEntry(name: string, bind: (args: NdArray[]) => NdArray, domain: LawDomain): LawEntry {
  const held = domain.operands.map((d) => d.values !== undefined);
  const config = SHAPES.chain((shape) =>
    fc
      .tuple(
        ...domain.operands
          .filter((_, k) => held[k])
          .map((d) =>
            fc.array(fc.constantFrom(...d.values!), { minLength: sizeOf(shape), maxLength: sizeOf(shape) }),
          ),
      )
      .map((fixed) => ({ shape, fixed })),
  );
  const caseArb = cases(config, ({ shape, fixed }) => {
    const fixedArrays = fixed.map((v) => np.array(v, { shape: [...shape], dtype: "float64" }));
    const fn: LawFn = (...free) => {
      let [i, j] = [0, 0];
      return bind(domain.operands.map((_, k) => (held[k] ? fixedArrays[j++]! : free[i++]!)));
    };
    const freeArbs = domain.operands.filter((_, k) => !held[k]).map((d) => operandArb(shape, d));
    return { fn, inputs: arrays(...freeArbs) };
  });
  const note = domain.note ? { note: domain.note } : {};
  if (domain.flat) return { kind: "non-differentiable", primitive: name, cases: caseArb, ...note };
  return {
    kind: "differentiable",
    primitive: name,
    secondOrder: domain.secondOrder ?? true,
    cases: caseArb,
    ...(domain.linearIn ? { linearIn: domain.linearIn } : {}),
    ...note,
  };
}

/** Entries of every registered elementwise primitive that declares its domain. */
function derivedEntries(): LawEntry[] {
  const out: LawEntry[] = [];
  for (const [name, prim] of primitives()) {
    if (!isElementwise(prim) || prim.elementwise.laws === undefined) continue;
    const p = prim;
    out.push(derivedEntry(name, (args) => p.bind1(args, {} as never), prim.elementwise.laws));
  }
  return out;
}

/**
 * The shape and construction functions of issue 18: compositions of layout primitives, all linear (kron
 * bilinear); the transpose law belongs to the primitives' own rows.
 */
function shapeFunctionLaws(): FunctionLawEntry[] {
  // Shapes whose every axis has at least 2 elements (so rolls and stacks move something); batches of matrices.
  const ATLEAST_TWO = arb.shape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 3 });
  const MATRICES = arb.shape({ minRank: 2, maxRank: 3, minDim: 1, maxDim: 3 });
  const row = (
    fn: string,
    primitive: string,
    note: string,
    arbitrary: fc.Arbitrary<LawCase>,
  ): FunctionLawEntry => ({
    kind: "differentiable",
    function: fn,
    primitive,
    secondOrder: true,
    note,
    cases: arbitrary,
  });
  // Axes of 2 or more, so the diagonal is read by a strided slice (a 1 x 1 one is a mere reshape).
  const diagonalConfig = arb.shape({ minRank: 2, maxRank: 3, minDim: 2, maxDim: 3 }).chain((shape) =>
    fc.record({
      shape: fc.constant(shape),
      offset: fc.integer({ min: -2, max: 2 }),
      axes: fc.shuffledSubarray(range(shape.length), { minLength: 2, maxLength: 2 }),
    }),
  );
  return [
    row(
      "roll",
      "concatenate",
      "shifts from 1 to the axis' size - 1, negative too",
      cases(
        withAxis
          .filter(({ shape, axis }) => shape[axis]! >= 2)
          .chain((c) =>
            fc
              .integer({ min: 1, max: c.shape[c.axis]! - 1 })
              .chain((s) => fc.constantFrom(s, s - c.shape[c.axis]!))
              .map((shift) => ({ ...c, shift })),
          ),
        ({ shape, axis, shift }) => ({
          fn: (x) => np.roll(x, shift, { axis }),
          inputs: arrays(float(shape)),
        }),
      ),
    ),
    ...(["tril", "triu"] as const).map((name) =>
      row(
        name,
        "select",
        "k from -2 to 2, batches of matrices",
        cases(fc.record({ shape: MATRICES, k: fc.integer({ min: -2, max: 2 }) }), ({ shape, k }) => ({
          fn: (x) => np[name](x, { k }),
          inputs: arrays(float(shape)),
        })),
      ),
    ),
    row(
      "diag",
      "pad",
      "a 1-d v built into a matrix, k from -2 to 2 (nonzero, so the pad is there)",
      cases(
        fc.record({ n: fc.integer({ min: 1, max: 4 }), k: fc.constantFrom(-2, -1, 1, 2) }),
        ({ n, k }) => ({ fn: (v) => np.diag(v, { k }), inputs: arrays(float([n])) }),
      ),
    ),
    row(
      "diagonal",
      "slice",
      "offset from -2 to 2, any two axes",
      cases(diagonalConfig, ({ shape, offset, axes }) => ({
        fn: (x) => np.diagonal(x, { offset, axis1: axes[0]!, axis2: axes[1]! }),
        inputs: arrays(float(shape)),
      })),
    ),
    row(
      "trace",
      "reduce_sum",
      "offset from -2 to 2, any two axes",
      cases(diagonalConfig, ({ shape, offset, axes }) => ({
        fn: (x) => np.trace(x, { offset, axis1: axes[0]!, axis2: axes[1]! }),
        inputs: arrays(float(shape)),
      })),
    ),
    row(
      "kron",
      "mul",
      "bilinear: linear in each operand; ranks 1 to 3, the shorter padded",
      cases(fc.record({ a: ATLEAST_TWO, b: ATLEAST_TWO }), ({ a, b }) => ({
        fn: (x, y) => np.kron(x, y),
        inputs: arrays(float(a), float(b)),
      })),
    ),
    row(
      "swapaxes",
      "transpose",
      "two distinct axes",
      cases(
        ATLEAST_TWO.filter((s) => s.length >= 2).chain((shape) =>
          fc
            .shuffledSubarray(range(shape.length), { minLength: 2, maxLength: 2 })
            .map((axes) => ({ shape, axes })),
        ),
        ({ shape, axes }) => ({
          fn: (x) => np.swapaxes(x, axes[0]!, axes[1]!),
          inputs: arrays(float(shape)),
        }),
      ),
    ),
    ...(["vstack", "hstack"] as const).map((name) =>
      row(
        name,
        "concatenate",
        "two arrays of rank 1 to 3, sizes differing along the joined axis",
        cases(fc.record({ shape: ATLEAST_TWO, n: fc.integer({ min: 1, max: 3 }) }), ({ shape, n }) => {
          const axis = name === "vstack" ? (shape.length === 1 ? -1 : 0) : shape.length === 1 ? 0 : 1;
          const other = shape.map((d, i) => (i === axis ? n : d));
          return {
            fn: (x, y) => np[name]([x, y]),
            inputs: arrays(float(shape), float(axis < 0 ? shape : other)),
          };
        }),
      ),
    ),
  ];
}

/** A differentiable function row with second order (the rows below are all smooth on their domain). */
function functionRow(
  fn: string,
  primitive: string,
  note: string,
  arbitrary: fc.Arbitrary<LawCase>,
): FunctionLawEntry {
  return { kind: "differentiable", function: fn, primitive, secondOrder: true, note, cases: arbitrary };
}

/** The rest of issue 18's shape functions: dstack, columnStack, ravel, meshgrid, atleast1d/2d/3d. */
function moreShapeFunctionLaws(): FunctionLawEntry[] {
  const TWO_PLUS = arb.shape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 3 });
  const ANY_RANK = arb.shape({ minRank: 0, maxRank: 3, minDim: 1, maxDim: 3 });
  // dstack joins along axis 2 (after atleast3d), columnStack along axis 1 (1-d arrays become columns).
  const joined = (name: "dstack" | "columnStack", axis: number) =>
    functionRow(
      name,
      "concatenate",
      "two arrays of rank 1 to 3, sizes differing along the joined axis where they have it",
      cases(fc.record({ shape: TWO_PLUS, n: fc.integer({ min: 1, max: 3 }) }), ({ shape, n }) => {
        const other = shape.length > axis ? shape.map((d, i) => (i === axis ? n : d)) : shape;
        return { fn: (x, y) => np[name]([x, y]), inputs: arrays(float(shape), float(other)) };
      }),
    );
  return [
    joined("dstack", 2),
    joined("columnStack", 1),
    functionRow(
      "ravel",
      "reshape",
      "rank 2 and 3",
      cases(arb.shape({ minRank: 2, maxRank: 3, minDim: 1, maxDim: 3 }), (shape) => ({
        fn: (x) => np.ravel(x),
        inputs: arrays(float(shape)),
      })),
    ),
    functionRow(
      "meshgrid",
      "broadcast_in_dim",
      "two 1-d arrays of 2 or 3 (so each is broadcast), xy and ij indexing; the grids stacked into one output",
      cases(
        fc.record({
          a: fc.integer({ min: 2, max: 3 }),
          b: fc.integer({ min: 2, max: 3 }),
          indexing: fc.constantFrom("xy" as const, "ij" as const),
        }),
        ({ a, b, indexing }) => ({
          fn: (x, y) => np.stack(np.meshgrid(x, y, { indexing })),
          inputs: arrays(float([a]), float([b])),
        }),
      ),
    ),
    ...(["atleast1d", "atleast2d", "atleast3d"] as const).map((name) =>
      functionRow(
        name,
        "reshape",
        "ranks 0 to 3 (the ranks it leaves alone are the identity)",
        cases(
          ANY_RANK.filter((shape) => shape.length < Number(name[7])),
          (shape) => ({ fn: (x) => np[name](x), inputs: arrays(float(shape)) }),
        ),
      ),
    ),
  ];
}

/**
 * Floats with NaN where every coordinate is at least `from` (shapes of 2 or more per axis): every slice
 * any reduction takes keeps at least `from` numbers, so no result is NaN and the NaN entries' zero
 * gradient is checked against finite differences (which cannot move a NaN).
 */
function withNaN(
  shape: readonly number[],
  from: number,
  options: ElementOptions = {},
): fc.Arbitrary<NdArray> {
  const mask = np.array(
    Array.from({ length: sizeOf(shape) }, (_, flat) => {
      let rest = flat;
      let all = true;
      for (let a = shape.length - 1; a >= 0; a--) {
        if (rest % shape[a]! < from) all = false;
        rest = Math.floor(rest / shape[a]!);
      }
      return all;
    }),
    { shape: [...shape], dtype: "bool" },
  );
  return float(shape, options).map((x) => np.where(mask, Number.NaN, x));
}

/** The NaN-ignoring reductions, ptp and average (issue 18): compositions of where, isnan and reductions. */
function nanReductionLaws(): FunctionLawEntry[] {
  const AXES = arb
    .shape({ minRank: 1, maxRank: 3, minDim: 2, maxDim: 3 })
    .chain((shape) => fc.subarray(range(shape.length), { minLength: 1 }).map((axes) => ({ shape, axes })));
  const nanRow = (
    name: "nansum" | "nanmean" | "nanvar" | "nanstd",
    primitive: string,
    from: number,
    note: string,
  ) =>
    functionRow(
      name,
      primitive,
      note,
      cases(AXES, ({ shape, axes }) => ({
        fn: (x) => np[name](x, { axis: axes }),
        inputs: arrays(withNaN(shape, from, { distinct: true })),
      })),
    );
  const extremum = (name: "nanmax" | "nanmin" | "ptp", primitive: string, note: string) =>
    functionRow(
      name,
      primitive,
      note,
      cases(AXES, ({ shape, axes }) => ({
        fn: (x) => np[name](x, { axis: axes }),
        inputs: arrays(float(shape, { distinct: true })),
      })),
    );
  return [
    nanRow("nansum", "reduce_sum", 1, "NaN where every coordinate is >= 1: a zero gradient there"),
    nanRow("nanmean", "reduce_sum", 1, "NaN where every coordinate is >= 1: a zero gradient there"),
    nanRow(
      "nanvar",
      "reduce_sum",
      1,
      "NaN where every coordinate is >= 1 (one number left is variance 0, smooth)",
    ),
    nanRow(
      "nanstd",
      "sqrt",
      2,
      "distinct; NaN where every coordinate is 2, so each slice keeps 2 numbers (std > 0)",
    ),
    extremum("nanmax", "reduce_max", "distinct elements (no ties)"),
    extremum("nanmin", "reduce_min", "distinct elements (no ties)"),
    extremum("ptp", "reduce_max", "distinct elements (no ties)"),
    functionRow(
      "average",
      "reduce_sum",
      "weights of x's shape in [0.5, 2], differentiated too",
      cases(AXES, ({ shape, axes }) => ({
        fn: (x, w) => np.average(x, { axis: axes, weights: w }),
        inputs: arrays(float(shape), float(shape, { min: 0.5, max: 2 })),
      })),
    ),
  ];
}

/** pad's modes (issue 18): edge, reflect, symmetric, wrap as slices/flips/concatenations; constant per side. */
function padLaws(): FunctionLawEntry[] {
  const widths = (shape: readonly number[]) =>
    fc.array(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 5 })), {
      minLength: shape.length,
      maxLength: shape.length,
    });
  // Axes of 2 or more and some padding, so every mode concatenates at least two pieces.
  const config = arb
    .shape({ minRank: 1, maxRank: 2, minDim: 2, maxDim: 3 })
    .chain((shape) => fc.record({ shape: fc.constant(shape), width: widths(shape) }))
    .filter(({ width }) => width.some(([lo, hi]) => lo + hi > 0));
  return [
    functionRow(
      "pad",
      "concatenate",
      "modes edge, reflect, symmetric, wrap; widths up to 5, wider than the axis too",
      cases(
        config.chain((c) =>
          fc
            .constantFrom("edge" as const, "reflect" as const, "symmetric" as const, "wrap" as const)
            .map((mode) => ({
              ...c,
              mode,
            })),
        ),
        ({ shape, width, mode }) => ({
          fn: (x) => np.pad(x, width, { mode }),
          inputs: arrays(float(shape)),
        }),
      ),
    ),
    functionRow(
      "pad (constantValues per side)",
      "pad",
      "a [before, after] pair per axis",
      cases(
        config.chain((c) =>
          fc
            .array(
              fc.tuple(
                fc.double({ min: -2, max: 2, noNaN: true }),
                fc.double({ min: -2, max: 2, noNaN: true }),
              ),
              {
                minLength: c.shape.length,
                maxLength: c.shape.length,
              },
            )
            .map((values) => ({ ...c, values })),
        ),
        ({ shape, width, values }) => ({
          fn: (x) => np.pad(x, width, { constantValues: values }),
          inputs: arrays(float(shape)),
        }),
      ),
    ),
  ];
}

function buildTable(list: readonly LawEntry[]): ReadonlyMap<string, LawEntry> {
  const table = new Map<string, LawEntry>();
  for (const e of list) {
    if (table.has(e.primitive)) throw new Error(`laws/registry-table: ${e.primitive} has two entries`);
    table.set(e.primitive, e);
  }
  return table;
}

/** Law entries by primitive name. */
export const LAW_TABLE: ReadonlyMap<string, LawEntry> = buildTable([...entries, ...derivedEntries()]);
