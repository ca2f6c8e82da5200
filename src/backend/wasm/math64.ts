/**
 * Float64 exp and log as f64x2 SIMD code (for the fused loops, compiler/expr-wasm.ts): fdlibm's
 * __ieee754_exp and __ieee754_log, the same operations in the same order as ../js/fdlibm.ts (the float64
 * exp and log of every JS kernel), so the result is bit-identical lane by lane. fdlibm branches; here
 * every branch that matters for a lane is computed and the lane's result selected. exp:
 * - |x| < 2^-28: 1 + x.
 * - else x = k·ln2 + (hi - lo), k = 0 below ln2/2, ±1 below 1.5·ln2, else trunc(x/ln2 ± 1/2);
 *   c = r - r²·p(r²), and 1 - ((r·c)/(c - 2) - r) for k = 0, else y = 1 - (lo - (r·c)/(2 - c) - hi)
 *   scaled by 2^k as the JS scales it (one exact power of two, or two near the ends of the range).
 * - Specials: NaN as it is, above the overflow threshold Inf, below the underflow threshold 0.
 *
 * log works on the high words in the odd i32 lanes of x: subnormals scaled by 2^54 first, x = 2^k·(1 + f)
 * with 1 + f in [√2/2, √2) (the high word's exponent bits set, as fdlibm does), then fdlibm's three
 * forms (|f| < 2^-20; s = f / (2 + f) with the (i | j) > 0 split), each for k = 0 and k ≠ 0.
 */
import {
  EXP_ONE_STEP,
  EXP_OVERFLOW,
  EXP_P1,
  EXP_P2,
  EXP_P3,
  EXP_P4,
  EXP_P5,
  EXP_REDUCE,
  EXP_TINY,
  EXP_UNDERFLOW,
  INV_LN2,
  LG1,
  LG2,
  LG3,
  LG4,
  LG5,
  LG6,
  LG7,
  LN2_HI,
  LN2_LO,
  TWO_54,
  TWO_M1000,
} from "../js/fdlibm.js";
import { ScratchLocals } from "./math.js";
import type { FunctionBuilder, Local } from "./module-writer.js";

function splat64(value: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, value, true);
  view.setFloat64(8, value, true);
  return bytes;
}

/** i32 lanes 0-1 (as from trunc_sat_f64x2_s_zero) into the high words of two f64 lanes, low words 0. */
const TO_HIGH_WORDS = [0, 1, 2, 3, 16, 17, 18, 19, 0, 1, 2, 3, 20, 21, 22, 23];

class Emitter64 extends ScratchLocals {
  protected get fb(): FunctionBuilder {
    return this.f;
  }

  c(value: number): this {
    this.f.v128Const(splat64(value));
    return this;
  }

  /** 2^m on the stack, for integral m in [-1022, 1023] in the f64 lanes of `m`. */
  powerOfTwo(m: Local): void {
    const f = this.f;
    f.v128Const();
    f.localGet(m).op("i32x4TruncSatF64x2SZero");
    f.v128Const(new Uint8Array(new Int32Array([1023, 1023, 1023, 1023]).buffer)).op("i32x4Add");
    f.i32Const(20).op("i32x4Shl");
    f.i8x16Shuffle(TO_HIGH_WORDS);
  }

  /** m clamped to [-1022, 1023] (NaN lanes are replaced by the specials later). */
  clampExponent(m: Local, out: Local): void {
    this.f.localGet(m);
    this.c(-1022);
    this.f.op("f64x2Max");
    this.c(1023);
    this.f.op("f64x2Min").localSet(out);
  }

  exp(x: Local, out: Local): void {
    const f = this.f;
    const ax = this.temp();
    const k = this.temp();
    const hi = this.temp();
    const lo = this.temp();
    const r = this.temp();
    const t = this.temp();
    const c = this.temp();
    const rc = this.temp();
    const y = this.temp();
    const m = this.temp();
    const res = this.temp();
    f.localGet(x).op("f64x2Abs").localSet(ax);
    // k = trunc(x / ln2 ± 1/2), ±1 below 1.5 ln2, 0 below ln2 / 2.
    f.localGet(x);
    this.c(INV_LN2);
    f.f64x2Mul();
    this.c(-0.5);
    this.c(0.5);
    f.localGet(x);
    this.c(0);
    f.op("f64x2Lt").op("v128Bitselect").f64x2Add().op("f64x2Trunc").localSet(k);
    this.c(-1);
    this.c(1);
    f.localGet(x);
    this.c(0);
    f.op("f64x2Lt").op("v128Bitselect").localGet(k).localGet(ax);
    this.c(EXP_ONE_STEP);
    f.op("f64x2Lt").op("v128Bitselect").localSet(k);
    this.c(0);
    f.localGet(k).localGet(ax);
    this.c(EXP_REDUCE);
    f.op("f64x2Lt").op("v128Bitselect").localSet(k);
    // hi = x - k ln2hi (exact), lo = k ln2lo, r = hi - lo.
    f.localGet(x).localGet(k);
    this.c(LN2_HI);
    f.f64x2Mul().f64x2Sub().localSet(hi);
    f.localGet(k);
    this.c(LN2_LO);
    f.f64x2Mul().localSet(lo);
    f.localGet(hi).localGet(lo).f64x2Sub().localSet(r);
    // c = r - t (P1 + t (P2 + t (P3 + t (P4 + t P5)))), t = r².
    f.localGet(r).localGet(r).f64x2Mul().localSet(t);
    f.localGet(r).localGet(t);
    for (const p of [EXP_P1, EXP_P2, EXP_P3, EXP_P4]) {
      this.c(p);
      f.localGet(t);
    }
    this.c(EXP_P5);
    f.f64x2Mul().f64x2Add().f64x2Mul().f64x2Add().f64x2Mul().f64x2Add().f64x2Mul().f64x2Add();
    f.f64x2Mul().f64x2Sub().localSet(c);
    f.localGet(r).localGet(c).f64x2Mul().localSet(rc);
    // y = 1 - (lo - (r c) / (2 - c) - hi)
    this.c(1);
    f.localGet(lo).localGet(rc);
    this.c(2);
    f.localGet(c).f64x2Sub().op("f64x2Div").f64x2Sub().localGet(hi).f64x2Sub().f64x2Sub().localSet(y);
    // k in [-1021, 1023]: y 2^k; k = 1024: y 2 2^1023; k < -1021: y 2^(k + 1000) 2^-1000.
    this.clampExponent(k, m);
    f.localGet(y);
    this.powerOfTwo(m);
    f.f64x2Mul().localSet(res);
    f.localGet(y);
    this.c(2);
    f.f64x2Mul();
    this.c(2 ** 1023);
    f.f64x2Mul().localGet(res).localGet(k);
    this.c(1024);
    f.op("f64x2Eq").op("v128Bitselect").localSet(res);
    f.localGet(k);
    this.c(1000);
    f.f64x2Add().localSet(m);
    this.clampExponent(m, m);
    f.localGet(y);
    this.powerOfTwo(m);
    f.f64x2Mul();
    this.c(TWO_M1000);
    f.f64x2Mul().localGet(res).localGet(k);
    this.c(-1021);
    f.op("f64x2Lt").op("v128Bitselect").localSet(res);
    // k = 0: 1 - ((r c) / (c - 2) - r)
    this.c(1);
    f.localGet(rc).localGet(c);
    this.c(2);
    f.f64x2Sub().op("f64x2Div").localGet(r).f64x2Sub().f64x2Sub();
    f.localGet(res).localGet(k);
    this.c(0);
    f.op("f64x2Eq").op("v128Bitselect").localSet(res);
    // |x| < 2^-28: 1 + x
    this.c(1);
    f.localGet(x).f64x2Add().localGet(res).localGet(ax);
    this.c(EXP_TINY);
    f.op("f64x2Lt").op("v128Bitselect").localSet(res);
    // Specials: overflow, underflow, NaN.
    this.c(Infinity);
    f.localGet(res).localGet(x);
    this.c(EXP_OVERFLOW);
    f.op("f64x2Gt").op("v128Bitselect").localSet(res);
    this.c(0);
    f.localGet(res).localGet(x);
    this.c(EXP_UNDERFLOW);
    f.op("f64x2Lt").op("v128Bitselect").localSet(res);
    f.localGet(x).localGet(res).localGet(x).localGet(x).op("f64x2Ne").op("v128Bitselect").localSet(out);
  }
}

function splat32(value: number): Uint8Array {
  return new Uint8Array(new Int32Array([value, value, value, value]).buffer);
}

/** The odd i32 lanes (high words) of a 64-bit lane, copied to both of its halves: a 64-bit mask. */
const HIGH_TO_LANE = [4, 5, 6, 7, 4, 5, 6, 7, 12, 13, 14, 15, 12, 13, 14, 15];
/** The odd i32 lanes moved to lanes 0 and 1 (for f64x2.convert_low_i32x4_s). */
const HIGH_TO_LOW = [4, 5, 6, 7, 12, 13, 14, 15, 4, 5, 6, 7, 12, 13, 14, 15];
/** All ones in the high word of each 64-bit lane. */
const HIGH_WORDS = new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0, 255, 255, 255, 255]);

class Log64 extends Emitter64 {
  log(x: Local, out: Local): void {
    const f = this.fb;
    const xs = this.temp();
    const k = this.temp();
    const hm = this.temp();
    const i = this.temp();
    const fr = this.temp();
    const s = this.temp();
    const z = this.temp();
    const w = this.temp();
    const r = this.temp();
    const hfsq = this.temp();
    const res = this.temp();
    const sub = this.temp();
    const k0 = this.temp();
    const ci = (v: number) => f.v128Const(splat32(v));
    // Subnormals (0 < x < 2^-1022): x 2^54, k starts at -54.
    f.localGet(x);
    this.c(0);
    f.op("f64x2Gt").localGet(x);
    this.c(2 ** -1022);
    f.op("f64x2Lt").op("v128And").localSet(sub);
    f.localGet(x);
    this.c(TWO_54);
    f.f64x2Mul().localGet(x).localGet(sub).op("v128Bitselect").localSet(xs);
    this.c(-54);
    this.c(0);
    f.localGet(sub).op("v128Bitselect").localSet(k0);
    // On the high words: hm = hx & 0xfffff, i = (hm + 0x95f64) & 0x100000, scale = (hx >> 20) - 1023 + (i >> 20).
    f.localGet(xs);
    ci(0x000fffff);
    f.op("v128And").localSet(hm);
    f.localGet(hm);
    ci(0x95f64);
    f.op("i32x4Add");
    ci(0x100000);
    f.op("v128And").localSet(i);
    f.localGet(xs).i32Const(20).op("i32x4ShrS");
    ci(1023);
    f.op("i32x4Sub").localGet(i).i32Const(20).op("i32x4ShrS").op("i32x4Add");
    f.localTee(k).localGet(k).i8x16Shuffle(HIGH_TO_LOW).op("f64x2ConvertLowI32x4S").localGet(k0).f64x2Add();
    f.localSet(k);
    // 1 + f: x with the high word hm | (i ^ 0x3ff00000), exactly x 2^-scale.
    f.localGet(hm).localGet(i);
    ci(0x3ff00000);
    f.op("v128Xor").op("v128Or").localGet(xs);
    f.v128Const(HIGH_WORDS).op("v128Bitselect");
    this.c(1);
    f.f64x2Sub().localSet(fr);
    // s = f / (2 + f), z = s², w = z², r = t2 + t1.
    f.localGet(fr);
    this.c(2);
    f.localGet(fr).f64x2Add().op("f64x2Div").localSet(s);
    f.localGet(s).localGet(s).f64x2Mul().localSet(z);
    f.localGet(z).localGet(z).f64x2Mul().localSet(w);
    // t2 = z (LG1 + w (LG3 + w (LG5 + w LG7)))
    f.localGet(z);
    for (const p of [LG1, LG3, LG5]) {
      this.c(p);
      f.localGet(w);
    }
    this.c(LG7);
    f.f64x2Mul().f64x2Add().f64x2Mul().f64x2Add().f64x2Mul().f64x2Add().f64x2Mul();
    // t1 = w (LG2 + w (LG4 + w LG6))
    f.localGet(w);
    for (const p of [LG2, LG4]) {
      this.c(p);
      f.localGet(w);
    }
    this.c(LG6);
    f.f64x2Mul().f64x2Add().f64x2Mul().f64x2Add().f64x2Mul();
    f.f64x2Add().localSet(r);
    this.c(0.5);
    f.localGet(fr).f64x2Mul().localGet(fr).f64x2Mul().localSet(hfsq);
    // (i | j) <= 0 (i = hm - 0x6147a, j = 0x6b851 - hm): k = 0: f - s (f - r); else k ln2hi - ((s (f - r) - k ln2lo) - f)
    this.kSelect(
      k,
      () => {
        f.localGet(fr).localGet(s).localGet(fr).localGet(r).f64x2Sub().f64x2Mul().f64x2Sub();
      },
      () => {
        f.localGet(k);
        this.c(LN2_HI);
        f.f64x2Mul().localGet(s).localGet(fr).localGet(r).f64x2Sub().f64x2Mul().localGet(k);
        this.c(LN2_LO);
        f.f64x2Mul().f64x2Sub().localGet(fr).f64x2Sub().f64x2Sub();
      },
      res,
    );
    // (i | j) > 0: k = 0: f - (hfsq - s (hfsq + r)); else k ln2hi - ((hfsq - (s (hfsq + r) + k ln2lo)) - f)
    this.kSelect(
      k,
      () => {
        f.localGet(fr).localGet(hfsq).localGet(s).localGet(hfsq).localGet(r).f64x2Add().f64x2Mul();
        f.f64x2Sub().f64x2Sub();
      },
      () => {
        f.localGet(k);
        this.c(LN2_HI);
        f.f64x2Mul().localGet(hfsq).localGet(s).localGet(hfsq).localGet(r).f64x2Add().f64x2Mul().localGet(k);
        this.c(LN2_LO);
        f.f64x2Mul().f64x2Add().f64x2Sub().localGet(fr).f64x2Sub().f64x2Sub();
      },
      w,
    );
    f.localGet(w).localGet(res);
    f.localGet(hm);
    ci(0x6147a);
    f.op("i32x4Sub");
    ci(0x6b851);
    f.localGet(hm).op("i32x4Sub").op("v128Or");
    ci(0);
    f.op("i32x4GtS").localTee(i).localGet(i).i8x16Shuffle(HIGH_TO_LANE).op("v128Bitselect").localSet(res);
    // |f| < 2^-20 ((2 + hm) & 0xfffff < 3): r = f² (1/2 - f/3); k = 0: f - r; else k ln2hi - ((r - k ln2lo) - f)
    f.localGet(fr).localGet(fr).f64x2Mul();
    this.c(0.5);
    this.c(0.3333333333333333);
    f.localGet(fr).f64x2Mul().f64x2Sub().f64x2Mul().localSet(z);
    this.kSelect(
      k,
      () => {
        f.localGet(fr).localGet(z).f64x2Sub();
      },
      () => {
        f.localGet(k);
        this.c(LN2_HI);
        f.f64x2Mul().localGet(z).localGet(k);
        this.c(LN2_LO);
        f.f64x2Mul().f64x2Sub().localGet(fr).f64x2Sub().f64x2Sub();
      },
      w,
    );
    // f = 0 there: k = 0: 0; else k ln2hi + k ln2lo
    this.kSelect(
      k,
      () => {
        this.c(0);
      },
      () => {
        f.localGet(k);
        this.c(LN2_HI);
        f.f64x2Mul().localGet(k);
        this.c(LN2_LO);
        f.f64x2Mul().f64x2Add();
      },
      s,
    );
    f.localGet(s).localGet(w).localGet(fr);
    this.c(0);
    f.op("f64x2Eq").op("v128Bitselect").localSet(w);
    f.localGet(w).localGet(res);
    ci(2);
    f.localGet(hm).op("i32x4Add");
    ci(0x000fffff);
    f.op("v128And");
    ci(3);
    f.op("i32x4LtS").localTee(i).localGet(i).i8x16Shuffle(HIGH_TO_LANE).op("v128Bitselect").localSet(res);
    // Specials: Inf and NaN: x + x; x < 0: NaN; ±0: -Inf.
    f.localGet(x).localGet(x).f64x2Add().localGet(res).localGet(x).localGet(x).op("f64x2Ne");
    f.localGet(x);
    this.c(Infinity);
    f.op("f64x2Eq").op("v128Or").op("v128Bitselect").localSet(res);
    this.c(Number.NaN);
    f.localGet(res).localGet(x);
    this.c(0);
    f.op("f64x2Lt").op("v128Bitselect").localSet(res);
    this.c(-Infinity);
    f.localGet(res).localGet(x);
    this.c(0);
    f.op("f64x2Eq").op("v128Bitselect").localSet(out);
  }

  /** `into` = k = 0 ? zero() : other(), each pushing one value. */
  private kSelect(k: Local, zero: () => void, other: () => void, into: Local): void {
    zero();
    other();
    this.fb.localGet(k);
    this.c(0);
    this.fb.op("f64x2Eq").op("v128Bitselect").localSet(into);
  }
}

/** Emits `out = log(x)` on two float64 lanes (`x` and `out` v128 locals; they may be the same). */
export function emitF64Log(f: FunctionBuilder, x: Local, out: Local): void {
  const em = new Log64(f);
  if (x.index === out.index) {
    const copy = em.temp();
    f.localGet(x).localSet(copy);
    x = copy;
  }
  em.log(x, out);
}

/** Emits `out = exp(x)` on two float64 lanes (`x` and `out` v128 locals; they may be the same). */
export function emitF64Exp(f: FunctionBuilder, x: Local, out: Local): void {
  const em = new Emitter64(f);
  if (x.index === out.index) {
    const copy = em.temp();
    f.localGet(x).localSet(copy);
    x = copy;
  }
  em.exp(x, out);
}
