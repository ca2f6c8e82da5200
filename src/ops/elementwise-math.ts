/**
 * The elementwise functions numpy and JAX users reach for beyond the core set (sinh … rad2deg), each a
 * primitive declared here with every rule: its kernel as an expression tree (core/expr.ts; the kit
 * derives abstractEval, the eager kernel, the fused loops and batching from it), its jvp, its transpose
 * where it is linear, and the domain its gradient laws draw from (laws/registry-table.ts reads it). No
 * other file knows about them: np.ts re-exports this module whole.
 *
 * The kernels are built from nodes with SIMD renderings where that keeps them within a few ulps of
 * numpy, so their fused loops run in wasm: arithmetic, sqrt, comparisons, select, exp and log (fdlibm's
 * in float64, the float32 algorithms in float32), casts. float32 kernels compute in float64 where a
 * float32 rounding would cost accuracy and round once at the end. log1p is log with Goldberg's
 * correction, 2^n is built exactly from n's binary digits. Only asin, acos, cbrt and log10 in float64
 * (JS's Math functions) and sinc (sin) in both dtypes keep a node without a SIMD form. How close each
 * op is to numpy is measured in test/ops/elementwise-math.test.ts.
 *
 * Gradients at the edges follow JAX: sinc'(0) = 0, hypot's gradient at the origin is 0, copysign's
 * derivative in x is ±1 (JAX's abs'(0) = 1), xlogy's derivative in y is 0 where x = 0. Where JAX gives
 * NaN or a wrong value the limit is used instead (docs/guides/numpy-differences.md lists them).
 */
import type { NdArray } from "../core/array.js";
import { type DType, isFloat } from "../core/dtype.js";
import type { Expr } from "../core/expr.js";
import * as ex from "../core/expr.js";
import type { ArrayLike } from "../core/methods-types.js";
import { broadcastShapes } from "../core/shape.js";
import {
  add,
  astype,
  div,
  equal,
  greaterEqual,
  less,
  logicalAnd,
  mul,
  promoteOperands,
  sub,
  where,
} from "./binary.js";
import { onesLike, zerosLike } from "./creation.js";
import { type ElementwisePrimitive, elementwisePrimitive, type LawDomain } from "./elementwise-kit.js";
import { broadcastTo } from "./layout.js";
import { abs, cos, log, log1p, negative, sigmoid, sqrt } from "./unary.js";

const FLOATS: readonly DType[] = ["float32", "float64"];
const NUMERIC: readonly DType[] = ["int32", "float32", "float64"];
const P = {};

// ---------------------------------------------------------------------------------------------------
// tree helpers

const f64 = (e: Expr): Expr => ex.cast(e, "float64");
const f32 = (e: Expr): Expr => ex.cast(e, "float32");
/** `c[0] + s·(c[1] + s·(c[2] + …))`. */
const horner = (s: Expr, c: readonly number[]): Expr =>
  c.slice(0, -1).reduceRight((acc, k) => ex.add(k, ex.mul(s, acc)), ex.like(s, c[c.length - 1]!));
const isInf = (x: Expr): Expr => ex.eq(ex.abs(x), Infinity);
/** `v` with the sign of `x` (v ≥ 0). */
const signOf = (x: Expr, v: Expr): Expr => ex.select(ex.lt(x, 0), ex.neg(v), v);

/**
 * log(1 + u) of a float64 `u` (below 2^127), as float32, from the float32 log: w = 1 + u rounded to
 * float32, then log(w) · u / (w - 1) undoes the rounding of w (Goldberg's trick), so that small u keep
 * their relative accuracy; u itself where w is 1.
 */
function log1pF32(u: Expr): Expr {
  const w = f32(ex.add(u, 1));
  const wMinus1 = ex.sub(f64(w), 1);
  const corrected = ex.mul(f64(ex.log(w)), ex.div(u, ex.select(ex.eq(wMinus1, 0), 1, wMinus1)));
  return f32(ex.select(ex.eq(wMinus1, 0), u, ex.select(ex.eq(u, Infinity), u, corrected)));
}

/** log(1 + u) of a float64 u from the float64 log, with Goldberg's correction as log1pF32. */
function log1p64(u: Expr): Expr {
  const w = ex.add(u, 1);
  const wMinus1 = ex.sub(w, 1);
  const corrected = ex.mul(ex.log(w), ex.div(u, ex.select(ex.eq(wMinus1, 0), 1, wMinus1)));
  return ex.select(ex.eq(wMinus1, 0), u, ex.select(ex.eq(u, Infinity), u, corrected));
}

/** Odd Taylor series x·Σ x^{2k} / (2k+1)! of sinh, to x^19 (below 2e-20 relative for |x| ≤ 1). */
const SINH_SERIES = Array.from({ length: 9 }, (_, k) => {
  let f = 1;
  for (let i = 2; i <= 2 * k + 3; i++) f *= i;
  return 1 / f;
});
/** Even Taylor series Σ x^{2k} / (2k)! of cosh, to x^20. */
const COSH_SERIES = Array.from({ length: 11 }, (_, k) => {
  let f = 1;
  for (let i = 2; i <= 2 * k; i++) f *= i;
  return 1 / f;
});

/** 2^n as float64 for an integer-valued float64 n in [-255, 255]: exact, from its binary digits. */
const pow2 = (n: Expr): Expr => pow2Bits(n, 8);

/** 2^n for an integer-valued float64 n with |n| < 2^bits and 2^|n| finite. */
function pow2Bits(n: Expr, bits: number): Expr {
  let m = ex.abs(n);
  let p: Expr = ex.like(n, 1);
  for (let k = bits - 1; k >= 0; k--) {
    const bit = ex.ge(m, 2 ** k);
    m = ex.select(bit, ex.sub(m, 2 ** k), m);
    p = ex.mul(p, ex.select(bit, ex.like(n, 2 ** (2 ** k)), 1));
  }
  return ex.select(ex.lt(n, 0), ex.div(1, p), p);
}

/** 2^n as float64 for an integer-valued n in [-1100, 1100] (two exact factors, each within range). */
function pow2Wide(n: Expr): [Expr, Expr] {
  const half = ex.trunc(ex.mul(n, 0.5));
  return [pow2Bits(half, 10), pow2Bits(ex.sub(n, half), 10)];
}

/**
 * 2^x in float32: x = n + f with n = round(x) (f exact, |f| ≤ 1/2), 2^f = exp(f·ln2) with f·ln2 computed
 * in float64, times 2^n exactly, rounded once (subnormal results included).
 */
function exp2F32(x: Expr): Expr {
  const n = ex.round(x);
  const f = ex.sub(x, n);
  const e = f64(ex.exp(f32(ex.mul(f64(f), Math.LN2))));
  const nClamped = ex.min(ex.max(f64(n), -200), 200);
  const r = f32(ex.mul(e, pow2(nClamped)));
  return ex.select(ex.eq(x, Infinity), x, ex.select(ex.eq(x, -Infinity), 0, r));
}

/** x + x·z·P(z), z = x² (Cephes' asinf polynomial, |x| ≤ 1/2), in float64. */
function asinPoly(x: Expr): Expr {
  const z = ex.mul(x, x);
  const p = horner(z, [1.6666752422e-1, 7.4953002686e-2, 4.5470025998e-2, 2.4181311049e-2, 4.2163199048e-2]);
  return ex.add(x, ex.mul(ex.mul(x, z), p));
}

/** log(x) + ln 2, the limit of asinh and acosh for |x| ≥ 2^60 (float32 operand, float64 value). */
const logTimesTwo = (ax: Expr): Expr => ex.add(f64(ex.log(ax)), Math.LN2);

// ---------------------------------------------------------------------------------------------------
// kernels, by dtype

/** sinh in float64 from the float64 exp: the series below 1, (e - 1/e) / 2 above, (e^{|x|/2})² / 2 near overflow. */
function sinh64(x: Expr): Expr {
  const ax = ex.abs(x);
  const s = ex.mul(x, x);
  const series = ex.add(x, ex.mul(ex.mul(x, s), horner(s, SINH_SERIES)));
  const e = ex.exp(ax);
  const h = ex.exp(ex.mul(ax, 0.5));
  const magnitude = ex.select(
    ex.le(ax, 709),
    ex.mul(ex.sub(e, ex.div(1, e)), 0.5),
    ex.mul(h, ex.mul(h, 0.5)),
  );
  return ex.select(ex.lt(ax, 1), series, signOf(x, magnitude));
}

function cosh64(x: Expr): Expr {
  const ax = ex.abs(x);
  const series = horner(ex.mul(x, x), COSH_SERIES);
  const e = ex.exp(ax);
  const h = ex.exp(ex.mul(ax, 0.5));
  const large = ex.select(ex.le(ax, 709), ex.mul(ex.add(e, ex.div(1, e)), 0.5), ex.mul(h, ex.mul(h, 0.5)));
  return ex.select(ex.lt(ax, 1), series, large);
}

function sinhKernel(x: Expr): Expr {
  if (x.dtype === "float64") return sinh64(x);
  const ax = ex.abs(x);
  const X = f64(x);
  const s = ex.mul(X, X);
  // |x| < 1: the Taylor series in float64 (no cancellation of e^x - e^-x), rounded once.
  const series = ex.add(
    X,
    ex.mul(ex.mul(X, s), horner(s, [1 / 6, 1 / 120, 1 / 5040, 1 / 362880, 1 / 39916800])),
  );
  const e = f64(ex.exp(ax));
  const moderate = ex.mul(ex.sub(e, ex.div(1, e)), 0.5);
  // Above 88, e^|x| overflows float32 before sinh does: (e^{|x|/2})² / 2 in float64.
  const h = f64(ex.exp(ex.mul(ax, 0.5)));
  const large = ex.mul(h, ex.mul(h, 0.5));
  const magnitude = ex.select(ex.le(ax, 88), moderate, large);
  return ex.select(ex.lt(ax, 1), f32(series), f32(signOf(x, magnitude)));
}

function coshKernel(x: Expr): Expr {
  if (x.dtype === "float64") return cosh64(x);
  const ax = ex.abs(x);
  const X = f64(x);
  const s = ex.mul(X, X);
  const series = horner(s, [1, 1 / 2, 1 / 24, 1 / 720, 1 / 40320, 1 / 3628800, 1 / 479001600]);
  const e = f64(ex.exp(ax));
  const moderate = ex.mul(ex.add(e, ex.div(1, e)), 0.5);
  const h = f64(ex.exp(ex.mul(ax, 0.5)));
  const large = ex.mul(h, ex.mul(h, 0.5));
  return f32(ex.select(ex.lt(ax, 1), series, ex.select(ex.le(ax, 88), moderate, large)));
}

/** fdlibm's asinh in float64 from log and log1p: x below 2^-28, log|x| + ln2 above 2^28. */
function asinh64(x: Expr): Expr {
  const ax = ex.abs(x);
  const s = ex.mul(ax, ax);
  const mid = log1p64(ex.add(ax, ex.div(s, ex.add(ex.sqrt(ex.add(s, 1)), 1))));
  const magnitude = ex.select(ex.ge(ax, 2 ** 28), ex.add(ex.log(ax), Math.LN2), mid);
  return ex.select(ex.lt(ax, 2 ** -28), x, signOf(x, magnitude));
}

function asinhKernel(x: Expr): Expr {
  if (x.dtype === "float64") return asinh64(x);
  const ax = ex.abs(x);
  const X = f64(ax);
  const s = ex.mul(X, X);
  // asinh|x| = log1p(|x| + x² / (1 + sqrt(1 + x²))): no cancellation for small |x|.
  const u = ex.add(X, ex.div(s, ex.add(ex.sqrt(ex.add(s, 1)), 1)));
  const magnitude = ex.select(ex.ge(ax, 2 ** 60), f32(logTimesTwo(ax)), log1pF32(u));
  // Below 2^-12, asinh(x) rounds to x (and -0 stays -0).
  return ex.select(ex.lt(ax, 2 ** -12), x, signOf(x, magnitude));
}

function acosh64(x: Expr): Expr {
  const t = ex.sub(x, 1);
  const mid = log1p64(ex.add(t, ex.mul(ex.sqrt(t), ex.sqrt(ex.add(x, 1)))));
  return ex.select(ex.ge(x, 2 ** 28), ex.add(ex.log(x), Math.LN2), mid);
}

function acoshKernel(x: Expr): Expr {
  if (x.dtype === "float64") return acosh64(x);
  const X = f64(x);
  const t = ex.sub(X, 1); // exact
  // acosh x = log1p((x - 1) + sqrt(x - 1)·sqrt(x + 1)); NaN below 1 (the square root of a negative).
  const u = ex.add(t, ex.mul(ex.sqrt(t), ex.sqrt(ex.add(X, 1))));
  return ex.select(ex.ge(x, 2 ** 60), f32(logTimesTwo(x)), log1pF32(u));
}

function atanh64(x: Expr): Expr {
  const ax = ex.abs(x);
  const magnitude = ex.mul(log1p64(ex.div(ex.mul(ax, 2), ex.sub(1, ax))), 0.5);
  return ex.select(ex.lt(ax, 2 ** -28), x, signOf(x, magnitude));
}

function atanhKernel(x: Expr): Expr {
  if (x.dtype === "float64") return atanh64(x);
  const ax = ex.abs(x);
  const X = f64(ax);
  // atanh|x| = log1p(2|x| / (1 - |x|)) / 2 (fdlibm's form); 1 gives Infinity, beyond 1 NaN.
  const magnitude = ex.mul(f64(log1pF32(ex.div(ex.mul(X, 2), ex.sub(1, X)))), 0.5);
  return ex.select(ex.lt(ax, 2 ** -12), x, f32(signOf(x, magnitude)));
}

function asinKernel(x: Expr): Expr {
  if (x.dtype === "float64") return ex.asin(x);
  const X = f64(x);
  const A = ex.abs(X);
  // Cephes' asinf in float64: above 1/2, asin a = π/2 - 2 asin(sqrt((1 - a) / 2)); NaN beyond 1.
  const outer = ex.sub(Math.PI / 2, ex.mul(asinPoly(ex.sqrt(ex.mul(ex.sub(1, A), 0.5))), 2));
  return f32(ex.select(ex.gt(A, 0.5), signOf(X, outer), asinPoly(X)));
}

function acosKernel(x: Expr): Expr {
  if (x.dtype === "float64") return ex.acos(x);
  const X = f64(x);
  // Cephes' acosf in float64.
  const low = ex.sub(Math.PI, ex.mul(asinPoly(ex.sqrt(ex.mul(ex.add(X, 1), 0.5))), 2));
  const high = ex.mul(asinPoly(ex.sqrt(ex.mul(ex.sub(1, X), 0.5))), 2);
  const middle = ex.sub(Math.PI / 2, asinPoly(X));
  return f32(ex.select(ex.lt(X, -0.5), low, ex.select(ex.gt(X, 0.5), high, middle)));
}

function cbrtKernel(x: Expr): Expr {
  if (x.dtype === "float64") return ex.cbrt(x);
  const ax = ex.abs(x);
  // exp(log|x| / 3) in float32, then one Newton step in float64 (error squared: ~1e-11), rounded once.
  const y = f64(ex.exp(ex.mul(ex.log(ax), 1 / 3)));
  const A = f64(ax);
  const newton = ex.sub(y, ex.div(ex.sub(ex.mul(ex.mul(y, y), y), A), ex.mul(ex.mul(y, y), 3)));
  return ex.select(ex.or(ex.eq(ax, 0), ex.eq(ax, Infinity)), x, f32(signOf(x, newton)));
}

/** log(x) times a constant, in float64 from the float32 log, rounded once. */
const scaledLogF32 = (x: Expr, c: number): Expr => f32(ex.mul(f64(ex.log(x)), c));

function log2Kernel(x: Expr): Expr {
  if (x.dtype === "float64") {
    // log(x)·log2(e), exact at powers of two (2^n computed exactly as two factors).
    const r = ex.mul(ex.log(x), Math.LOG2E);
    const n = ex.min(ex.max(ex.round(r), -1100), 1100);
    const [p, q] = pow2Wide(n);
    return ex.select(ex.and(ex.eq(ex.mul(p, q), x), ex.lt(ex.abs(r), Infinity)), n, r);
  }
  // Exact at powers of two: the nearest integer n where 2^n is x.
  const r = scaledLogF32(x, Math.LOG2E);
  const n = ex.round(r);
  const isPower = ex.eq(pow2(f64(ex.min(ex.max(n, -255), 255))), f64(x));
  return ex.select(isPower, n, r);
}

function log10Kernel(x: Expr): Expr {
  return x.dtype === "float64" ? ex.log10(x) : scaledLogF32(x, Math.LOG10E);
}

/** 2^x in float64: 2^round(x) exactly (two factors) times exp(f·ln2), |f| ≤ 1/2. */
function exp2F64(x: Expr): Expr {
  const n = ex.min(ex.max(ex.round(x), -1100), 1100);
  const f = ex.sub(x, n);
  const [p, q] = pow2Wide(n);
  const r = ex.mul(ex.mul(ex.exp(ex.mul(f, Math.LN2)), p), q);
  return ex.select(ex.eq(x, Infinity), x, ex.select(ex.eq(x, -Infinity), 0, r));
}

function exp2Kernel(x: Expr): Expr {
  return x.dtype === "float64" ? exp2F64(x) : exp2F32(x);
}

/**
 * hypot without overflow or underflow: sqrt(a² + b²) of operands scaled by a power of two (exact) when
 * the larger is huge or tiny (float64), or computed in float64 (float32); Infinity if either is infinite,
 * even with a NaN (C's hypot, numpy).
 */
function hypotKernel(x: Expr, y: Expr): Expr {
  const ax = ex.abs(x);
  const ay = ex.abs(y);
  const anyInf = ex.or(isInf(x), isInf(y));
  if (x.dtype === "float32") {
    const [a, b] = [f64(ax), f64(ay)];
    return ex.select(anyInf, ex.like(x, Infinity), f32(ex.sqrt(ex.add(ex.mul(a, a), ex.mul(b, b)))));
  }
  const m = ex.max(ax, ay);
  const scale = ex.select(
    ex.gt(m, 2 ** 500),
    2 ** -600,
    ex.select(ex.lt(m, 2 ** -500), ex.like(m, 2 ** 600), 1),
  );
  const [a, b] = [ex.mul(ax, scale), ex.mul(ay, scale)];
  return ex.select(anyInf, Infinity, ex.div(ex.sqrt(ex.add(ex.mul(a, a), ex.mul(b, b))), scale));
}

/** numpy's npy_logaddexp: x + ln2 where x == y (both infinities too), else max + log1p(exp(-|x - y|)). */
function logaddexpKernel(x: Expr, y: Expr): Expr {
  const m = ex.max(x, y);
  const d = ex.abs(ex.sub(x, y));
  if (x.dtype === "float64")
    return ex.select(ex.eq(x, y), ex.add(x, Math.LN2), ex.add(m, log1p64(ex.exp(ex.neg(d)))));
  const tail = log1pF32(f64(ex.exp(ex.neg(d))));
  return ex.select(ex.eq(x, y), f32(ex.add(f64(x), Math.LN2)), f32(ex.add(f64(m), f64(tail))));
}

/** numpy's npy_logaddexp2: x + 1 where x == y, else max + log2(1 + 2^-|x - y|). */
function logaddexp2Kernel(x: Expr, y: Expr): Expr {
  const m = ex.max(x, y);
  const d = ex.abs(ex.sub(x, y));
  if (x.dtype === "float64")
    return ex.select(ex.eq(x, y), ex.add(x, 1), ex.add(m, ex.mul(log1p64(exp2F64(ex.neg(d))), Math.LOG2E)));
  const tail = ex.mul(f64(log1pF32(f64(exp2F32(ex.neg(d))))), Math.LOG2E);
  return ex.select(ex.eq(x, y), ex.add(x, 1), f32(ex.add(f64(m), tail)));
}

/** 0 where x is 0 and y is not NaN (scipy and PyTorch: NaN propagates), else x·log(y). */
function xlogyKernel(x: Expr, y: Expr): Expr {
  const product = ex.mul(x, ex.log(y));
  return ex.select(ex.and(ex.eq(x, 0), ex.eq(y, y)), ex.like(x, 0), product);
}

function xlog1pyKernel(x: Expr, y: Expr): Expr {
  const l = x.dtype === "float64" ? log1p64(y) : log1pF32(f64(y));
  return ex.select(ex.and(ex.eq(x, 0), ex.eq(y, y)), ex.like(x, 0), ex.mul(x, l));
}

/** numpy's sinc, sin(πx) / (πx) with 1e-20 standing in for x = 0 (which gives exactly 1). */
function sincKernel(x: Expr): Expr {
  const y = ex.mul(ex.select(ex.eq(x, 0), 1e-20, x), Math.PI);
  return ex.div(ex.sin(y), y);
}

/** The sign bit of x, -0 included (the sign of a NaN is not seen: JS engines do not keep it). */
const signBit = (x: Expr): Expr => ex.or(ex.lt(x, 0), ex.and(ex.eq(x, 0), ex.lt(ex.div(1, x), 0)));

// ---------------------------------------------------------------------------------------------------
// primitives

type Rule = (x: NdArray, t: NdArray, y: NdArray) => NdArray;

/** A float unary primitive whose tangent is `rule(x, t, y)`. */
function floatUnary(
  name: string,
  kernel: (x: Expr) => Expr,
  rule: Rule,
  laws: LawDomain,
): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 1,
    accepts: FLOATS,
    kernel: ([x]) => kernel(x!),
    jvp: ([x], [t]) => {
      const y = prim.bind1([x!], P);
      return { primalsOut: [y], tangentsOut: [rule(x!, t!, y)] };
    },
    laws,
  });
  return prim;
}

/** A unary primitive whose derivative is zero wherever it exists, or whose output is not a float. */
function flatUnary(
  name: string,
  kernel: (x: Expr) => Expr,
  accepts: readonly DType[],
  laws: LawDomain,
): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 1,
    accepts,
    kernel: ([x]) => kernel(x!),
    jvp: ([x]) => ({ primalsOut: [prim.bind1([x!], P)], tangentsOut: [] }),
    laws: { ...laws, flat: true },
  });
  return prim;
}

type BinaryRule = (x: NdArray, y: NdArray, tx: NdArray, ty: NdArray, out: NdArray) => NdArray;

function floatBinary(
  name: string,
  kernel: (x: Expr, y: Expr) => Expr,
  rule: BinaryRule,
  laws: LawDomain,
): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 2,
    accepts: FLOATS,
    kernel: ([x, y]) => kernel(x!, y!),
    jvp: ([x, y], [tx, ty]) => {
      const out = prim.bind1([x!, y!], P);
      return { primalsOut: [out], tangentsOut: [rule(x!, y!, tx!, ty!, out)] };
    },
    laws,
  });
  return prim;
}

const sinhPrim: ElementwisePrimitive = floatUnary(
  "sinh",
  sinhKernel,
  (x, t) => mul(t, coshPrim.bind1([x], P)),
  { operands: [{ min: -3, max: 3 }] },
);
const coshPrim: ElementwisePrimitive = floatUnary(
  "cosh",
  coshKernel,
  (x, t) => mul(t, sinhPrim.bind1([x], P)),
  { operands: [{ min: -3, max: 3 }] },
);
const asinhPrim: ElementwisePrimitive = floatUnary(
  "asinh",
  asinhKernel,
  // 1 / hypot(x, 1): no overflow of x² for large x.
  (x, t) => div(t, hypotPrim.bind1([x, onesLike(x)], P)),
  { operands: [{ min: -4, max: 4 }] },
);
const acoshPrim: ElementwisePrimitive = floatUnary(
  "acosh",
  acoshKernel,
  (x, t) => div(t, mul(sqrt(sub(x, 1)), sqrt(add(x, 1)))),
  { operands: [{ min: 1.2, max: 4 }], note: "x ≥ 1.2: the derivative has a pole at 1" },
);
const atanhPrim: ElementwisePrimitive = floatUnary(
  "atanh",
  atanhKernel,
  (x, t) => div(t, mul(sub(1, x), add(1, x))),
  { operands: [{ min: -0.8, max: 0.8 }], note: "|x| ≤ 0.8: poles at ±1" },
);
const asinPrim: ElementwisePrimitive = floatUnary(
  "asin",
  asinKernel,
  (x, t) => div(t, sqrt(mul(sub(1, x), add(1, x)))),
  { operands: [{ min: -0.8, max: 0.8 }], note: "|x| ≤ 0.8: the derivative has poles at ±1" },
);
const acosPrim: ElementwisePrimitive = floatUnary(
  "acos",
  acosKernel,
  (x, t) => negative(div(t, sqrt(mul(sub(1, x), add(1, x))))),
  { operands: [{ min: -0.8, max: 0.8 }], note: "|x| ≤ 0.8: the derivative has poles at ±1" },
);
const cbrtPrim: ElementwisePrimitive = floatUnary(
  "cbrt",
  cbrtKernel,
  (_x, t, y) => div(t, mul(mul(y, y), 3)),
  {
    operands: [{ min: -3, max: 3, avoid: [0], margin: 0.2 }],
    note: "away from the pole of the derivative at 0",
  },
);
const log2Prim: ElementwisePrimitive = floatUnary("log2", log2Kernel, (x, t) => div(t, mul(x, Math.LN2)), {
  operands: [{ min: 0.5, max: 4 }],
});
const log10Prim: ElementwisePrimitive = floatUnary(
  "log10",
  log10Kernel,
  (x, t) => div(t, mul(x, Math.LN10)),
  { operands: [{ min: 0.5, max: 4 }] },
);
const exp2Prim: ElementwisePrimitive = floatUnary(
  "exp2",
  exp2Kernel,
  (_x, t, y) => mul(t, mul(y, Math.LN2)),
  { operands: [{ min: -3, max: 3 }] },
);

/** sinc'(x) = (cos(πx) - sinc(x)) / x; below 0.1 its Maclaurin series (no cancellation; 0 at 0, as JAX). */
function sincDerivative(x: NdArray): NdArray {
  const small = less(abs(x), 0.1);
  // Σ_{k≥1} (-1)^k 2k π^{2k} x^{2k-1} / (2k+1)!, to k = 6 (the next term is below 1e-17 relative).
  const x2 = mul(x, x);
  let series: NdArray = zerosLike(x);
  for (let k = 6; k >= 1; k--) {
    let factorial = 1;
    for (let i = 2; i <= 2 * k + 1; i++) factorial *= i;
    series = add(mul(series, x2), ((-1) ** k * 2 * k * Math.PI ** (2 * k)) / factorial);
  }
  series = mul(series, x);
  // The quotient on a safe x where the series is used, so its derivatives are finite there too.
  const safe = where(small, 1, x);
  const quotient = div(sub(cos(mul(safe, Math.PI)), sincPrim.bind1([safe], P)), safe);
  return where(small, series, quotient);
}

const sincPrim: ElementwisePrimitive = floatUnary("sinc", sincKernel, (x, t) => mul(t, sincDerivative(x)), {
  operands: [{ min: -3, max: 3 }],
  note: "both sides of the series/quotient switch at |x| = 0.1",
});

const DEG2RAD = Math.PI / 180;
const RAD2DEG = 180 / Math.PI;

/** x·c for a constant c (numpy's float32 constant: Math.fround(c32), see the kernels): linear. */
function scaling(name: string, c64: number, c32: number): ElementwisePrimitive {
  const prim: ElementwisePrimitive = elementwisePrimitive({
    name,
    arity: 1,
    accepts: FLOATS,
    kernel: ([x]) => ex.mul(x!, x!.dtype === "float64" ? c64 : c32),
    jvp: ([x], [t]) => ({ primalsOut: [prim.bind1([x!], P)], tangentsOut: [prim.bind1([t!], P)] }),
    transpose: ([ct]) => [prim.bind1([ct!], P)],
    laws: { operands: [{}], linearIn: [[0]] },
  });
  return prim;
}

// numpy's float32 loops multiply by float32 constants: deg2rad by fround(π/180) (NPY_PIf / 180.0f
// rounds to the same), rad2deg by 180.0f / NPY_PIf.
const deg2radPrim = scaling("deg2rad", DEG2RAD, Math.fround(DEG2RAD));
const rad2degPrim = scaling("rad2deg", RAD2DEG, Math.fround(180 / Math.fround(Math.PI)));

const truncPrim = flatUnary("trunc", ex.trunc, FLOATS, { operands: [{ min: -4, max: 4 }] });
/** An int32 is never infinite: `x !== x` is the tree of a constant false. */
const infTest =
  (test: (x: Expr) => Expr) =>
  (x: Expr): Expr =>
    isFloat(x.dtype) ? test(x) : ex.ne(x, x);
const isInfPrim = flatUnary("is_inf", infTest(isInf), NUMERIC, { operands: [{}] });
const isPosInfPrim = flatUnary(
  "is_posinf",
  infTest((x) => ex.eq(x, Infinity)),
  NUMERIC,
  { operands: [{}] },
);
const isNegInfPrim = flatUnary(
  "is_neginf",
  infTest((x) => ex.eq(x, -Infinity)),
  NUMERIC,
  { operands: [{}] },
);

const hypotPrim: ElementwisePrimitive = floatBinary(
  "hypot",
  hypotKernel,
  (x, y, tx, ty, out) => {
    // x / h and y / h; 0 at the origin (JAX's value there), on a safe h so second derivatives stay finite.
    const h = where(equal(out, 0), 1, out);
    return add(mul(tx, div(x, h)), mul(ty, div(y, h)));
  },
  {
    operands: [
      { avoid: [0], margin: 0.2 },
      { avoid: [0], margin: 0.2 },
    ],
    note: "away from the origin",
  },
);

/**
 * The weights of d logaddexp: σ(x - y) and σ(y - x) (times ln2 for base 2), ½ where x and y are the same
 * infinity (x - y is NaN there). Equal finite values go through σ(0) = ½ itself, so the weights keep
 * their own derivative (second order) there.
 */
function softmaxWeights(x: NdArray, y: NdArray, scale: number): [NdArray, NdArray] {
  const sameInfinity = logicalAnd(equal(x, y), isinf(x));
  const d = where(sameInfinity, 0, mul(sub(x, y), scale));
  return [sigmoid(d), sigmoid(negative(d))];
}

const logaddexpPrim: ElementwisePrimitive = floatBinary(
  "logaddexp",
  logaddexpKernel,
  (x, y, tx, ty) => {
    const [wx, wy] = softmaxWeights(x, y, 1);
    return add(mul(tx, wx), mul(ty, wy));
  },
  {
    operands: [
      { min: -4, max: 4 },
      { min: -4, max: 4 },
    ],
  },
);
const logaddexp2Prim: ElementwisePrimitive = floatBinary(
  "logaddexp2",
  logaddexp2Kernel,
  (x, y, tx, ty) => {
    const [wx, wy] = softmaxWeights(x, y, Math.LN2);
    return add(mul(tx, wx), mul(ty, wy));
  },
  {
    operands: [
      { min: -4, max: 4 },
      { min: -4, max: 4 },
    ],
  },
);

const xlogyPrim: ElementwisePrimitive = floatBinary(
  "xlogy",
  xlogyKernel,
  (x, y, tx, ty) => {
    // d/dx = log y; d/dy = x / y, which is 0 where x = 0: at y = 0 too (a safe y of 1 there), and its
    // derivative in x stays 1/y elsewhere.
    const singular = logicalAnd(equal(x, 0), equal(y, 0));
    return add(mul(tx, log(y)), mul(ty, div(x, where(singular, 1, y))));
  },
  {
    operands: [
      { min: -2, max: 2, zeros: true },
      { min: 0.5, max: 3 },
    ],
    note: "x has exact zeros",
  },
);
const xlog1pyPrim: ElementwisePrimitive = floatBinary(
  "xlog1py",
  xlog1pyKernel,
  (x, y, tx, ty) => {
    // As xlogy: d/dy = x / (1 + y), 0 where x = 0, y = -1 included.
    const singular = logicalAnd(equal(x, 0), equal(y, -1));
    return add(mul(tx, log1p(y)), mul(ty, div(x, add(where(singular, 0, y), 1))));
  },
  {
    operands: [
      { min: -2, max: 2, zeros: true },
      { min: -0.5, max: 3 },
    ],
    note: "x has exact zeros",
  },
);

const copysignPrim: ElementwisePrimitive = floatBinary(
  "copysign",
  (x, y) => ex.select(signBit(y), ex.neg(ex.abs(x)), ex.abs(x)),
  // d/dx = ±1: the sign of x (JAX's abs'(0) = 1) times the sign bit of y; d/dy = 0.
  (x, y, tx) => {
    const ones = onesLike(x);
    const signX = where(greaterEqual(x, 0), ones, negative(ones));
    return mul(mul(tx, signX), copysignPrim.bind1([ones, y], P));
  },
  {
    operands: [
      { avoid: [0], margin: 0.1 },
      { avoid: [0], margin: 0.1 },
    ],
    note: "away from sign changes",
  },
);

const heavisidePrim: ElementwisePrimitive = floatBinary(
  "heaviside",
  (x, h) => ex.select(ex.lt(x, 0), 0, ex.select(ex.gt(x, 0), 1, ex.select(ex.eq(x, 0), h, x))),
  // Piecewise constant in x; h where x == 0.
  (x, _h, _tx, th) => where(equal(x, 0), th, zerosLike(th)),
  {
    operands: [{ values: [-1, 0, 1] }, {}],
    note: "x held at -1, 0 and 1 (a step: no finite differences in x); the derivative in h",
  },
);

// ---------------------------------------------------------------------------------------------------
// user-facing

const toFloat = (x: NdArray): NdArray => (isFloat(x.dtype) ? x : astype(x, "float32"));
const numeric = (x: NdArray): NdArray => (x.dtype === "bool" ? astype(x, "int32") : x);

/** Two operands broadcast to one shape and promoted to one float dtype (integers give float32). */
function floatPair(op: string, x: ArrayLike, y: ArrayLike): [NdArray, NdArray] {
  const [a, b] = promoteOperands(op, [x, y], "float") as [NdArray, NdArray];
  const shape = broadcastShapes(op, a.shape, b.shape);
  return [broadcastTo(a, shape), broadcastTo(b, shape)];
}

/** The hyperbolic sine, elementwise (integer input gives float32). */
export const sinh = (x: NdArray): NdArray => sinhPrim.bind1([toFloat(x)], P);
/** The hyperbolic cosine, elementwise. */
export const cosh = (x: NdArray): NdArray => coshPrim.bind1([toFloat(x)], P);
/** The inverse hyperbolic sine (numpy arcsinh), elementwise. */
export const asinh = (x: NdArray): NdArray => asinhPrim.bind1([toFloat(x)], P);
/** The inverse hyperbolic cosine (numpy arccosh): NaN below 1, elementwise. */
export const acosh = (x: NdArray): NdArray => acoshPrim.bind1([toFloat(x)], P);
/** The inverse hyperbolic tangent (numpy arctanh): ±Infinity at ±1, NaN beyond, elementwise. */
export const atanh = (x: NdArray): NdArray => atanhPrim.bind1([toFloat(x)], P);
/** The arcsine in radians (numpy arcsin): NaN outside [-1, 1], elementwise. */
export const asin = (x: NdArray): NdArray => asinPrim.bind1([toFloat(x)], P);
/** The arccosine in radians (numpy arccos): NaN outside [-1, 1], elementwise. */
export const acos = (x: NdArray): NdArray => acosPrim.bind1([toFloat(x)], P);
/** The real cube root (negative for negative x), elementwise. */
export const cbrt = (x: NdArray): NdArray => cbrtPrim.bind1([toFloat(x)], P);
/** The base-2 logarithm, elementwise. */
export const log2 = (x: NdArray): NdArray => log2Prim.bind1([toFloat(x)], P);
/** The base-10 logarithm, elementwise. */
export const log10 = (x: NdArray): NdArray => log10Prim.bind1([toFloat(x)], P);
/** 2 ** x, elementwise (exact for integer x in range). */
export const exp2 = (x: NdArray): NdArray => exp2Prim.bind1([toFloat(x)], P);
/**
 * The normalized sinc, sin(πx) / (πx) with sinc(0) = 1, as numpy and JAX (their formula, so values near
 * nonzero integers are rounding noise as theirs are); its derivative at 0 is 0.
 */
export const sinc = (x: NdArray): NdArray => sincPrim.bind1([toFloat(x)], P);
/** Degrees to radians, x · π/180 (numpy deg2rad, radians), elementwise. */
export const deg2rad = (x: NdArray): NdArray => deg2radPrim.bind1([toFloat(x)], P);
/** Radians to degrees, x · 180/π (numpy rad2deg, degrees), elementwise. */
export const rad2deg = (x: NdArray): NdArray => rad2degPrim.bind1([toFloat(x)], P);
/** Alias of `deg2rad`. */
export const radians = deg2rad;
/** Alias of `rad2deg`. */
export const degrees = rad2deg;
/** Rounds toward zero, elementwise (integer input is returned as is, as floor and ceil). */
export const trunc = (x: NdArray): NdArray => (isFloat(x.dtype) ? truncPrim.bind1([x], P) : x);
/** Whether each element is +Infinity or -Infinity, as a bool array. */
export const isinf = (x: NdArray): NdArray => isInfPrim.bind1([numeric(x)], P);
/** Whether each element is +Infinity, as a bool array. */
export const isposinf = (x: NdArray): NdArray => isPosInfPrim.bind1([numeric(x)], P);
/** Whether each element is -Infinity, as a bool array. */
export const isneginf = (x: NdArray): NdArray => isNegInfPrim.bind1([numeric(x)], P);

/**
 * sqrt(x² + y²) without overflow or underflow, with numpy broadcasting; Infinity if either is infinite
 * (even with a NaN), as C and numpy. Its gradient at the origin is 0, as JAX's.
 */
export const hypot = (x: ArrayLike, y: ArrayLike): NdArray => hypotPrim.bind1(floatPair("hypot", x, y), P);
/**
 * log(exp(x) + exp(y)) without overflow (numpy's formula: x + ln 2 where x == y, so two -Infinity give
 * -Infinity). Its gradient is (σ(x - y), σ(y - x)), ½ each where x == y, infinities included.
 */
export const logaddexp = (x: ArrayLike, y: ArrayLike): NdArray =>
  logaddexpPrim.bind1(floatPair("logaddexp", x, y), P);
/** log2(2^x + 2^y) without overflow, as numpy's logaddexp2. */
export const logaddexp2 = (x: ArrayLike, y: ArrayLike): NdArray =>
  logaddexp2Prim.bind1(floatPair("logaddexp2", x, y), P);
/**
 * x · log(y), 0 where x is 0 (y = 0 included) unless y is NaN (scipy.special.xlogy and torch.xlogy;
 * JAX gives 0 there too). Its derivative in y is 0 where x is 0.
 */
export const xlogy = (x: ArrayLike, y: ArrayLike): NdArray => xlogyPrim.bind1(floatPair("xlogy", x, y), P);
/** x · log(1 + y), 0 where x is 0 unless y is NaN (scipy.special.xlog1py). */
export const xlog1py = (x: ArrayLike, y: ArrayLike): NdArray =>
  xlog1pyPrim.bind1(floatPair("xlog1py", x, y), P);
/**
 * |x| with the sign of y, -0 included (numpy copysign; the sign of a NaN y is not seen, see
 * numpy-differences). Its derivative in x is ±1, in y 0.
 */
export const copysign = (x: ArrayLike, y: ArrayLike): NdArray =>
  copysignPrim.bind1(floatPair("copysign", x, y), P);
/**
 * numpy's heaviside(x, h): 0 where x < 0, `h` where x == 0, 1 where x > 0, NaN where x is NaN. Its
 * derivative is 0 in x and, where x == 0, 1 in h.
 */
export const heaviside = (x: ArrayLike, h: ArrayLike): NdArray =>
  heavisidePrim.bind1(floatPair("heaviside", x, h), P);
