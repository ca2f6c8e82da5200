/**
 * Float32 transcendental functions as f32x4 SIMD code (for the fused loops, compiler/expr-wasm.ts): exp, log, tanh
 * and the logistic sigmoid, each within 2 ulp of Math.fround(Math.<f>(x)) over the whole float32 range
 * (test/backend/wasm-math.test.ts measures it), and bit-identical to ../js/f32-math.ts, the float32
 * definitions of these ops in every kernel (the same operations, each rounded to float32; its
 * constants), with the special values: NaN propagates,
 * exp(-Inf) = 0, exp(Inf) = Inf, log(±0) = -Inf, log(x < 0) = NaN, tanh(±Inf) = ±1, tanh(-0) = -0,
 * logistic(Inf) = 1, logistic(-Inf) = 0.
 *
 * The approximations are Cephes' single-precision ones (expf, logf, tanhf), evaluated in float32:
 * - exp: x = n·ln2 + r with a Cody–Waite split of ln2 (n·C1 exact), e^r ≈ 1 + r + r²·p(r) (degree 5),
 *   then scaled by 2^n as two powers of two built from exponent bits (so results in the subnormal range
 *   round once, and n up to 128 overflows to Inf). x is clamped to [-104, 89] first (NaN stays NaN).
 * - log: x = m·2^e with m in [√½, √2) (subnormals scaled by 2^23 first), log(m) = f - f²/2 + f³·p(f) with
 *   f = m - 1 (exact), plus e·ln2 in two parts.
 * - tanh: for |x| < 0.625 an odd polynomial x + x³·p(x²) (so tanh(±0) = ±0), else 1 - 2 / (e^{2|x|} + 1)
 *   with the sign of x (1 once e^{2|x|} overflows).
 * - logistic: t = e^{-|x|}, then 1 / (1 + t) for x ≥ 0 and t / (1 + t) below (the JS formula).
 */
import {
  EXP_C1,
  EXP_C2,
  EXP_HI,
  EXP_LO,
  EXP_LOG2E,
  EXP_P,
  LOG_P,
  LOG_SQRTHF,
  TANH_P,
  TANH_SMALL,
} from "../js/f32-math.js";
import type { FunctionBuilder, Local } from "./module-writer.js";

/** The functions emitted here (the expression IR's nodes, core/expr.ts). */
export type F32MathName = "exp" | "log" | "tanh" | "logistic";

function splat32(value: number, int = false): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 16; i += 4) {
    if (int) view.setInt32(i, value, true);
    else view.setFloat32(i, value, true);
  }
  return bytes;
}

const LOG2E = EXP_LOG2E;
const SQRTHF = LOG_SQRTHF;

/** Scratch v128 locals of one function, reused by every emitted call (calls never interleave). */
const scratch = new WeakMap<FunctionBuilder, Local[]>();

/** An emitter of vector math into `f`, with scratch locals shared by every emitter of that function. */
export class ScratchLocals {
  private next = 0;
  constructor(protected readonly f: FunctionBuilder) {}

  temp(): Local {
    let pool = scratch.get(this.f);
    if (!pool) scratch.set(this.f, (pool = []));
    if (this.next === pool.length) pool.push(this.f.local("v128"));
    return pool[this.next++]!;
  }
}

class Emitter extends ScratchLocals {
  c(value: number): this {
    this.f.v128Const(splat32(value));
    return this;
  }

  ci(value: number): this {
    this.f.v128Const(splat32(value, true));
    return this;
  }

  /** Horner's scheme on the stack: ((p0·x + p1)·x + ...) + p_last. */
  poly(x: Local, p: readonly number[]): void {
    const f = this.f;
    this.c(p[0]!);
    for (let i = 1; i < p.length; i++) {
      f.localGet(x).f32x4Mul();
      this.c(p[i]!);
      f.f32x4Add();
    }
  }

  exp(x: Local, out: Local): void {
    const f = this.f;
    const xc = this.temp();
    const n = this.temp();
    const r = this.temp();
    const ni = this.temp();
    f.localGet(x);
    this.c(EXP_LO);
    f.op("f32x4Max");
    this.c(EXP_HI);
    f.op("f32x4Min").localSet(xc);
    f.localGet(xc);
    this.c(LOG2E);
    f.f32x4Mul().op("f32x4Nearest").localSet(n);
    f.localGet(xc).localGet(n);
    this.c(EXP_C1);
    f.f32x4Mul().f32x4Sub().localGet(n);
    this.c(EXP_C2);
    f.f32x4Mul().f32x4Sub().localSet(r);
    // y = p(r)·r² + r + 1
    this.poly(r, EXP_P);
    f.localGet(r).localGet(r).f32x4Mul().f32x4Mul().localGet(r).f32x4Add();
    this.c(1);
    f.f32x4Add().localSet(out);
    // 2^n = 2^(n >> 1) · 2^(n - (n >> 1)), both normal for n in [-150, 128].
    f.localGet(n).op("i32x4TruncSatF32x4S").localSet(ni);
    f.localGet(ni).i32Const(1).op("i32x4ShrS").localSet(n);
    f.localGet(out).localGet(n);
    this.ci(127);
    f.op("i32x4Add").i32Const(23).op("i32x4Shl").f32x4Mul();
    f.localGet(ni).localGet(n).op("i32x4Sub");
    this.ci(127);
    f.op("i32x4Add").i32Const(23).op("i32x4Shl").f32x4Mul().localSet(out);
  }

  log(x: Local, out: Local): void {
    const f = this.f;
    const xs = this.temp();
    const e = this.temp();
    const m = this.temp();
    const lt = this.temp();
    const z = this.temp();
    // Subnormals (and everything below 2^-126, overridden below): scaled by 2^23, exponent - 23.
    f.localGet(x);
    this.c(2 ** -126);
    f.op("f32x4Lt").localSet(lt);
    f.localGet(x);
    this.c(2 ** 23);
    f.f32x4Mul().localGet(x).localGet(lt).op("v128Bitselect").localSet(xs);
    // e: the exponent with m in [0.5, 1); m: the significand with exponent -1.
    f.localGet(xs).i32Const(23).op("i32x4ShrU");
    this.ci(126);
    f.op("i32x4Sub").localGet(lt);
    this.ci(-23);
    f.op("v128And").op("i32x4Add").localSet(e);
    f.localGet(xs);
    this.ci(0x007fffff);
    f.op("v128And");
    this.ci(0x3f000000);
    f.op("v128Or").localSet(m);
    // m < √½: e - 1 and f = 2m - 1, else f = m - 1 (both exact).
    f.localGet(m);
    this.c(SQRTHF);
    f.op("f32x4Lt").localSet(lt);
    f.localGet(e).localGet(lt).op("i32x4Add").op("f32x4ConvertI32x4S").localSet(e);
    f.localGet(m).localGet(m).localGet(lt).op("v128And").f32x4Add();
    this.c(1);
    f.f32x4Sub().localSet(m);
    f.localGet(m).localGet(m).f32x4Mul().localSet(z);
    // y = p(f)·f·f² + e·C2 - f²/2; log = f + y + e·C1
    this.poly(m, LOG_P);
    f.localGet(m).f32x4Mul().localGet(z).f32x4Mul().localGet(e);
    this.c(EXP_C2);
    f.f32x4Mul().f32x4Add().localGet(z);
    this.c(-0.5);
    f.f32x4Mul().f32x4Add().localGet(m).f32x4Add().localGet(e);
    this.c(EXP_C1);
    f.f32x4Mul().f32x4Add().localSet(out);
    // Specials: log(Inf) = Inf, log(±0) = -Inf, log(x < 0) = log(NaN) = NaN.
    f.localGet(x).localGet(out).localGet(x);
    this.c(Infinity);
    f.op("f32x4Eq").op("v128Bitselect").localSet(out);
    this.c(-Infinity);
    f.localGet(out).localGet(x);
    this.c(0);
    f.op("f32x4Eq").op("v128Bitselect").localSet(out);
    f.localGet(out);
    this.c(Number.NaN);
    f.localGet(x);
    this.c(0);
    f.op("f32x4Ge").op("v128Bitselect").localSet(out);
  }

  tanh(x: Local, out: Local): void {
    const f = this.f;
    const z = this.temp();
    const big = this.temp();
    // Large |x|: 1 - 2 / (e^{2|x|} + 1), the magnitude.
    f.localGet(x).op("f32x4Abs").localGet(x).op("f32x4Abs").f32x4Add().localSet(z);
    this.exp(z, big);
    this.c(1);
    this.c(2);
    f.localGet(big);
    this.c(1);
    f.f32x4Add().op("f32x4Div").f32x4Sub().localSet(big);
    // Small |x|: x + x·x²·p(x²).
    f.localGet(x).localGet(x).f32x4Mul().localSet(z);
    this.poly(z, TANH_P);
    f.localGet(z).f32x4Mul().localGet(x).f32x4Mul().localGet(x).f32x4Add();
    f.localGet(big).localGet(x).op("f32x4Abs");
    this.c(TANH_SMALL);
    f.op("f32x4Lt").op("v128Bitselect");
    // The sign of x (both forms have it already but for tanh(-0) and the large form's magnitude).
    f.localGet(x);
    this.ci(-0x80000000);
    f.op("v128And").op("v128Or").localSet(out);
  }

  logistic(x: Local, out: Local): void {
    const f = this.f;
    const t = this.temp();
    const e = this.temp();
    f.localGet(x).op("f32x4Abs").op("f32x4Neg").localSet(t);
    this.exp(t, e);
    this.c(1);
    f.localGet(e).localGet(x);
    this.c(0);
    f.op("f32x4Ge").op("v128Bitselect");
    this.c(1);
    f.localGet(e).f32x4Add().op("f32x4Div").localSet(out);
  }
}

/**
 * Emits `out = name(x)` on four float32 lanes (`x` and `out` v128 locals; they may be the same). Scratch
 * locals are declared on `f` once and reused by later calls.
 */
export function emitF32Math(f: FunctionBuilder, name: F32MathName, x: Local, out: Local): void {
  const em = new Emitter(f);
  if (x.index === out.index) {
    const copy = em.temp();
    f.localGet(x).localSet(copy);
    x = copy;
  }
  if (name === "exp") em.exp(x, out);
  else if (name === "log") em.log(x, out);
  else if (name === "tanh") em.tanh(x, out);
  else em.logistic(x, out);
}
