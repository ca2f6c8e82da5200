/**
 * The WebAssembly SIMD renderer of the scalar-expression IR (core/expr.ts), for the fused loops
 * (./fused-wasm.ts): four elements per step. A float32 or int32 value is one v128 (f32x4, i32x4), a bool
 * one i32x4 mask (all ones for true), a float64 value two f64x2 (lanes 0-1, then 2-3).
 *
 * Each node renders to the same value as the JS renderer (ops/expr-js.ts) computes, bit for bit (up to
 * NaN payloads): float32 nodes round as f32x4 does, int32 nodes wrap as i32x4 does, max/min propagate
 * NaN and otherwise pick `x > y ? x : y` (so signed zeros come out as in JS), comparisons are IEEE, round
 * is half to even (nearest), sign keeps NaN and ±0, float32 exp, log, tanh and logistic are the float32
 * algorithms of backend/js/f32-math.ts (emitted by backend/wasm/math.ts). A node that has no exact SIMD
 * form here (float64 exp, sin, pow, a helper `call`, float to int32, ...) has no rendering: `wasmBlocker`
 * names it, and its loop runs in JS. Of the narrow dtypes uint8 operands cast to a wider dtype (an
 * image into float32 math) render here, and float16 bits (int32 lanes) cast to and from float32, exactly
 * as core/half.ts; other nodes of them run in the JS loop.
 */

import { emitF32Math, type F32MathName } from "../backend/wasm/math.js";
import { emitF64Exp, emitF64Log } from "../backend/wasm/math64.js";
import type { FunctionBuilder, Local, PlainOp } from "../backend/wasm/module-writer.js";
import type { DType } from "../core/dtype.js";
import { children, type Expr, logisticFormula } from "../core/expr.js";

/** A value of the loop body: one v128 (float32, int32, bool masks) or two (float64, lanes 0-1 then 2-3). */
export interface Val {
  readonly type: DType;
  readonly regs: readonly Local[];
}

/** A v128 constant of `type` (bool: a mask), hoisted into a local by the loop. */
export type ConstOf = (type: DType, value: number) => Local;

/** Lanes 0-1 of two f64x2 comparison masks, as one i32x4 mask. */
const NARROW64 = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
/** An i32x4 mask's lanes 0-1 (2-3) widened to an i64x2 mask. */
const WIDEN_LO = [0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 4, 5, 6, 7];
const WIDEN_HI = [8, 9, 10, 11, 8, 9, 10, 11, 12, 13, 14, 15, 12, 13, 14, 15];
/** Lanes 2-3 of a 32-bit x4 vector moved to lanes 0-1. */
const HIGH_HALF = [8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15];
/** Lanes 0-1 of two f32x4 (demoted f64x2 pairs) joined. */
const JOIN_LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** The 16 bytes of `value` in every lane of `type` ("i64": the bits of an integer in 64-bit lanes). */
export function splatBytes(type: "float32" | "float64" | "i32" | "i64", value: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < 16; i += type === "float64" || type === "i64" ? 8 : 4) {
    if (type === "float32") view.setFloat32(i, value, true);
    else if (type === "float64") view.setFloat64(i, value, true);
    else if (type === "i32") view.setInt32(i, value, true);
    else view.setBigInt64(i, BigInt(value), true);
  }
  return bytes;
}

/** The bytes of a v128 constant of `type` holding `value` in every lane (bool: a mask). */
export function constBytes(type: DType, value: number): Uint8Array {
  if (type === "bool") return splatBytes("i32", value !== 0 ? -1 : 0);
  if (type === "int32") return splatBytes("i32", value);
  if (type === "float32" || type === "float64") return splatBytes(type, value);
  throw new Error(`constBytes: no SIMD constant of ${type}`);
}

/** The SIMD arithmetic the module writer emits by method rather than by name. */
const METHOD_OPS = {
  f32x4Add: (f: FunctionBuilder) => f.f32x4Add(),
  f32x4Sub: (f: FunctionBuilder) => f.f32x4Sub(),
  f32x4Mul: (f: FunctionBuilder) => f.f32x4Mul(),
  f64x2Add: (f: FunctionBuilder) => f.f64x2Add(),
  f64x2Sub: (f: FunctionBuilder) => f.f64x2Sub(),
  f64x2Mul: (f: FunctionBuilder) => f.f64x2Mul(),
} as const;

type SimdOp = PlainOp | keyof typeof METHOD_OPS;

function apply(f: FunctionBuilder, op: SimdOp): void {
  if (op in METHOD_OPS) METHOD_OPS[op as keyof typeof METHOD_OPS](f);
  else f.op(op as PlainOp);
}

/** Per dtype: the f32x4 / f64x2 / i32x4 instruction of a node, or null where there is none. */
type ByType = Partial<Record<DType, SimdOp>>;

const ARITH: Record<string, ByType> = {
  add: { float32: "f32x4Add", float64: "f64x2Add", int32: "i32x4Add" },
  sub: { float32: "f32x4Sub", float64: "f64x2Sub", int32: "i32x4Sub" },
  mul: { float32: "f32x4Mul", float64: "f64x2Mul", int32: "i32x4Mul" },
  div: { float32: "f32x4Div", float64: "f64x2Div" },
};

const UNARY: Record<string, ByType> = {
  neg: { float32: "f32x4Neg", float64: "f64x2Neg", int32: "i32x4Neg" },
  abs: { float32: "f32x4Abs", float64: "f64x2Abs", int32: "i32x4Abs" },
  sqrt: { float32: "f32x4Sqrt", float64: "f64x2Sqrt" },
  floor: { float32: "f32x4Floor", float64: "f64x2Floor" },
  ceil: { float32: "f32x4Ceil", float64: "f64x2Ceil" },
  trunc: { float32: "f32x4Trunc", float64: "f64x2Trunc" },
  // Round half to even: nearest.
  round: { float32: "f32x4Nearest", float64: "f64x2Nearest" },
};

const COMPARE: Record<string, ByType> = {
  eq: { float32: "f32x4Eq", float64: "f64x2Eq", int32: "i32x4Eq", bool: "i32x4Eq" },
  ne: { float32: "f32x4Ne", float64: "f64x2Ne", int32: "i32x4Ne", bool: "i32x4Ne" },
  lt: { float32: "f32x4Lt", float64: "f64x2Lt", int32: "i32x4LtS" },
  le: { float32: "f32x4Le", float64: "f64x2Le", int32: "i32x4LeS" },
  gt: { float32: "f32x4Gt", float64: "f64x2Gt", int32: "i32x4GtS" },
  ge: { float32: "f32x4Ge", float64: "f64x2Ge", int32: "i32x4GeS" },
};

const LOGIC: Record<string, PlainOp> = { and: "v128And", or: "v128Or", xor: "v128Xor" };

/** What a node's code needs: the function, its operands' values and its own. */
interface At {
  readonly f: FunctionBuilder;
  readonly ins: readonly Val[];
  readonly out: Val;
}

type Emit = (at: At) => void;

const halves = (v: Val): number[] => (v.type === "float64" ? [0, 1] : [0]);
const reg = (v: Val, h: number): Local => v.regs[h]!;

/** `op` lane-wise over the operands, half by half. */
const lanewise =
  (op: SimdOp): Emit =>
  ({ f, ins, out }) => {
    for (const h of halves(out)) {
      for (const x of ins) f.localGet(reg(x, h));
      apply(f, op);
      f.localSet(reg(out, h));
    }
  };

/** A comparison into a bool mask: per half, then float64's two masks narrowed to one. */
const compareWith =
  (op: SimdOp, y: (at: At, h: number) => void): Emit =>
  (at) => {
    const { f, ins, out } = at;
    const x = ins[0]!;
    for (const h of halves(x)) {
      f.localGet(reg(x, h));
      y(at, h);
      apply(f, op);
    }
    if (x.type === "float64") f.i8x16Shuffle(NARROW64);
    f.localSet(reg(out, 0));
  };

/** A constant of a node's code, inline (the loop's prologue is written before the body). */
const constant = (at: At, type: DType, value: number): void => {
  at.f.v128Const(constBytes(type, value));
};

/** The dtypes a SIMD value may have: one v128 of float32, int32 or bool lanes, or two of float64. */
const SIMD_DTYPES: ReadonlySet<DType> = new Set<DType>(["float32", "float64", "int32", "bool"]);

/** The code of node `e`, or null where it has no SIMD rendering. */
function rendering(e: Expr): Emit | null {
  const d = e.dtype;
  if (!SIMD_DTYPES.has(d) || children(e).some((c) => !SIMD_DTYPES.has(c.dtype))) {
    // uint8 (images) into float math: the loop loads a uint8 operand as int32 lanes (./fused-wasm.ts).
    if (e.op === "input" && d === "uint8") return () => {};
    if (e.op === "cast" && e.x.dtype === "uint8" && SIMD_DTYPES.has(d)) return castRendering("int32", d);
    // float16 (bits, loaded as int32 lanes) to and from float32, where the kit computes half ops.
    if (e.op === "input" && d === "float16") return () => {};
    if (e.op === "cast" && e.x.dtype === "float16" && d === "float32") return float16ToFloat32;
    if (e.op === "cast" && e.x.dtype === "float32" && d === "float16") return float32ToFloat16;
    // Other narrow dtypes (8/16-bit integers, uint32, float16, bfloat16) run in the JS loop.
    return null;
  }
  const float = d === "float32" || d === "float64";
  switch (e.op) {
    case "input":
    case "const":
      return () => {};
    case "add":
    case "sub":
    case "mul":
    case "div": {
      const op = ARITH[e.op]![d];
      return op ? lanewise(op) : null;
    }
    case "neg":
    case "abs":
    case "sqrt":
    case "floor":
    case "ceil":
    case "trunc":
    case "round": {
      const op = UNARY[e.op]![d];
      return op ? lanewise(op) : null;
    }
    case "max":
    case "min": {
      if (d === "int32") return lanewise(e.op === "max" ? "i32x4MaxS" : "i32x4MinS");
      if (!float) return null;
      // JS: x !== x || y !== y ? NaN : x > y ? x : y (min: <). pmax(y, x) = y < x ? x : y; then a NaN x wins.
      const f64 = d === "float64";
      const pick: PlainOp =
        e.op === "max" ? (f64 ? "f64x2Pmax" : "f32x4Pmax") : f64 ? "f64x2Pmin" : "f32x4Pmin";
      const ne: PlainOp = f64 ? "f64x2Ne" : "f32x4Ne";
      return ({ f, ins: [x, y], out }) => {
        for (const h of halves(out)) {
          f.localGet(reg(y!, h)).localGet(reg(x!, h)).op(pick).localSet(reg(out, h));
          f.localGet(reg(x!, h)).localGet(reg(out, h)).localGet(reg(x!, h)).localGet(reg(x!, h)).op(ne);
          f.op("v128Bitselect").localSet(reg(out, h));
        }
      };
    }
    case "sign": {
      if (d === "int32")
        // (x < 0) - (x > 0) on masks of -1: -1, 0 or 1.
        return (at) => {
          const { f, ins, out } = at;
          f.localGet(reg(ins[0]!, 0));
          constant(at, "int32", 0);
          f.op("i32x4LtS").localGet(reg(ins[0]!, 0));
          constant(at, "int32", 0);
          f.op("i32x4GtS").op("i32x4Sub").localSet(reg(out, 0));
        };
      if (!float) return null;
      const f64 = d === "float64";
      // Math.sign: NaN and ±0 as they are, else ±1 (the sign bit of x on 1).
      return ({ f, ins: [x], out }) => {
        for (const h of halves(out)) {
          f.localGet(reg(x!, h));
          f.v128Const(constBytes(d, 1));
          f.v128Const(splatBytes(f64 ? "i64" : "i32", f64 ? -(2 ** 63) : -(2 ** 31)));
          f.op("v128Bitselect").localGet(reg(x!, h));
          f.localGet(reg(x!, h)).op(f64 ? "f64x2Abs" : "f32x4Abs");
          f.v128Const(constBytes(d, 0));
          f.op(f64 ? "f64x2Gt" : "f32x4Gt");
          f.op("v128Bitselect").localSet(reg(out, h));
        }
      };
    }
    case "exp":
    case "log":
    case "tanh":
    case "logistic": {
      if ((e.op === "exp" || e.op === "log") && d === "float64") {
        const emit64 = e.op === "exp" ? emitF64Exp : emitF64Log;
        return ({ f, ins: [x], out }) => {
          for (const h of [0, 1]) emit64(f, reg(x!, h), reg(out, h));
        };
      }
      if (d !== "float32") return null;
      const name: F32MathName = e.op;
      return ({ f, ins: [x], out }) => emitF32Math(f, name, reg(x!, 0), reg(out, 0));
    }
    case "eq":
    case "ne":
    case "lt":
    case "le":
    case "gt":
    case "ge": {
      const t = e.x.dtype;
      if (t === "bool" && e.op !== "eq" && e.op !== "ne") {
        // On masks: x < y is ~x & y, x <= y is ~(x & ~y).
        const [first, second] = e.op === "lt" || e.op === "ge" ? [1, 0] : [0, 1];
        const negate = e.op === "le" || e.op === "ge";
        return ({ f, ins, out }) => {
          f.localGet(reg(ins[first]!, 0)).localGet(reg(ins[second]!, 0)).op("v128AndNot");
          if (negate) f.op("v128Not");
          f.localSet(reg(out, 0));
        };
      }
      const op = COMPARE[e.op]![t];
      return op ? compareWith(op, ({ f, ins }, h) => f.localGet(reg(ins[1]!, h))) : null;
    }
    case "and":
    case "or":
    case "xor":
      return lanewise(LOGIC[e.op]!);
    case "not":
      return lanewise("v128Not");
    case "select":
      return ({ f, ins: [c, x, y], out }) => {
        if (out.type !== "float64") {
          f.localGet(reg(x!, 0)).localGet(reg(y!, 0)).localGet(reg(c!, 0)).op("v128Bitselect");
          f.localSet(reg(out, 0));
          return;
        }
        for (const h of [0, 1]) {
          f.localGet(reg(x!, h)).localGet(reg(y!, h));
          f.localGet(reg(c!, 0))
            .localGet(reg(c!, 0))
            .i8x16Shuffle(h === 0 ? WIDEN_LO : WIDEN_HI);
          f.op("v128Bitselect").localSet(reg(out, h));
        }
      };
    case "cast":
      return castRendering(e.x.dtype, d);
    default:
      return null;
  }
}

function castRendering(from: DType, to: DType): Emit | null {
  if (to === "bool") {
    // x !== 0 (true for NaN).
    const op = COMPARE["ne"]![from];
    return op ? compareWith(op, (at) => constant(at, from, 0)) : null;
  }
  if (from === "bool") {
    // The mask on the bits of 1.
    return (at) => {
      const { f, ins, out } = at;
      for (const h of halves(out)) {
        f.localGet(reg(ins[0]!, 0));
        if (to === "float64") f.localGet(reg(ins[0]!, 0)).i8x16Shuffle(h === 0 ? WIDEN_LO : WIDEN_HI);
        constant(at, to, 1);
        f.op("v128And").localSet(reg(out, h));
      }
    };
  }
  if (to === "float64") {
    // float32 (exact) or int32 (exact) to float64: lanes 0-1, then 2-3.
    const op: SimdOp | null =
      from === "float32" ? "f64x2PromoteLowF32x4" : from === "int32" ? "f64x2ConvertLowI32x4S" : null;
    if (!op) return null;
    return ({ f, ins: [x], out }) => {
      f.localGet(reg(x!, 0)).op(op).localSet(reg(out, 0));
      f.localGet(reg(x!, 0)).localGet(reg(x!, 0)).i8x16Shuffle(HIGH_HALF).op(op).localSet(reg(out, 1));
    };
  }
  if (to === "float32") {
    if (from === "int32") return lanewise("f32x4ConvertI32x4S"); // rounds to nearest, as Math.fround
    if (from !== "float64") return null;
    // Math.fround: round to nearest even.
    return ({ f, ins: [x], out }) => {
      f.localGet(reg(x!, 0)).op("f32x4DemoteF64x2Zero").localGet(reg(x!, 1)).op("f32x4DemoteF64x2Zero");
      f.i8x16Shuffle(JOIN_LOW).localSet(reg(out, 0));
    };
  }
  // Float to int32: `x | 0` wraps modulo 2^32 where SIMD saturates.
  return null;
}

const splat32 = (at: At, value: number): void => {
  at.f.v128Const(splatBytes("i32", value));
};

/**
 * float16 bits (int32 lanes) to float32, exact as core/half.ts: the exponent and fraction shifted into
 * float32 place and scaled by 2**112 (subnormals too); infinities keep their sign, NaN is 0x7fc00000.
 */
const float16ToFloat32: Emit = (at) => {
  const { f, ins, out } = at;
  const h = reg(ins[0]!, 0);
  const magnitude = f.local("v128");
  f.localGet(h);
  splat32(at, 0x7fff);
  f.op("v128And").localSet(magnitude);
  // 0x7f800000 where the exponent is all ones, else the finite value.
  splat32(at, 0x7f800000);
  f.localGet(magnitude).i32Const(13).op("i32x4Shl");
  splat32(at, 0x77800000); // 2**112
  f.f32x4Mul();
  f.localGet(magnitude);
  splat32(at, 0x7bff);
  f.op("i32x4GtS").op("v128Bitselect");
  f.localGet(h).i32Const(16).op("i32x4Shl");
  splat32(at, 0x80000000 | 0);
  f.op("v128And").op("v128Or");
  // NaN: the quiet NaN without sign (a Float32Array's NaN in the JS loop).
  splat32(at, 0x7fc00000);
  f.op("v128Xor");
  f.localGet(magnitude);
  splat32(at, 0x7c00);
  f.op("i32x4GtS").op("v128Not").op("v128And");
  splat32(at, 0x7fc00000);
  f.op("v128Xor").localSet(reg(out, 0));
};

/**
 * float32 to float16 bits (int32 lanes), round half to even as core/half.ts: normals by the integer
 * rounding of the dropped 13 bits, subnormals by adding 0.5 (whose ulp is 2**-24, float16's subnormal
 * step) in float32; 65520 and beyond to infinity; NaN to 0x7e00 (toFloat16Bits' NaN has no sign).
 */
const float32ToFloat16: Emit = (at) => {
  const { f, ins, out } = at;
  const x = reg(ins[0]!, 0);
  const a = f.local("v128");
  const res = f.local("v128");
  f.localGet(x);
  splat32(at, 0x7fffffff);
  f.op("v128And").localSet(a);
  // Subnormal (below 2**-14): the bits of a + 0.5 minus those of 0.5.
  f.localGet(a);
  splat32(at, 0x3f000000);
  f.f32x4Add();
  splat32(at, 0x3f000000);
  f.op("i32x4Sub");
  // Normal: rebias the exponent (-112), add 0xfff plus the kept lowest bit, shift out 13 bits.
  f.localGet(a);
  splat32(at, (0xfff - (112 << 23)) | 0);
  f.op("i32x4Add");
  f.localGet(a).i32Const(13).op("i32x4ShrU");
  splat32(at, 1);
  f.op("v128And").op("i32x4Add").i32Const(13).op("i32x4ShrU");
  f.localGet(a);
  splat32(at, 0x38800000);
  f.op("i32x4LtS").op("v128Bitselect").localSet(res);
  // 65520 and beyond (infinity included) round to infinity; then the sign.
  splat32(at, 0x7c00);
  f.localGet(res).localGet(a);
  splat32(at, 0x477fefff);
  f.op("i32x4GtS").op("v128Bitselect");
  f.localGet(x).i32Const(16).op("i32x4ShrU");
  splat32(at, 0x8000);
  f.op("v128And").op("v128Or").localSet(res);
  splat32(at, 0x7e00);
  f.localGet(res).localGet(a);
  splat32(at, 0x7f800000);
  f.op("i32x4GtS").op("v128Bitselect").localSet(reg(out, 0));
};

/** The tree a node is rendered as, where it is a formula of other nodes (float64 logistic). */
const expansions = new WeakMap<Expr, Expr>();
function expansion(e: Expr): Expr | null {
  if (e.op !== "logistic" || e.dtype !== "float64") return null;
  let x = expansions.get(e);
  if (!x) expansions.set(e, (x = logisticFormula(e.x)));
  return x;
}

/** The first node of the tree (operands before their users) without a SIMD rendering, or null. */
export function wasmBlocker(root: Expr): Expr | null {
  const seen = new Set<Expr>();
  const visit = (e: Expr): Expr | null => {
    if (seen.has(e)) return null;
    seen.add(e);
    for (const c of children(e)) {
      const b = visit(c);
      if (b) return b;
    }
    const expanded = expansion(e);
    if (expanded) return visit(expanded);
    return rendering(e) ? null : e;
  };
  // A loop stores only SIMD dtypes and float16 bits (a uint8 operand passed through is no uint8 store).
  return visit(root) ?? (SIMD_DTYPES.has(root.dtype) || root.dtype === "float16" ? null : root);
}

/** The loop body's code of one tree: its value, and `emit()` to emit the code (once per loop body). */
export interface CompiledExpr {
  readonly value: Val;
  emit(): void;
}

/**
 * Allocates the locals of `root`'s nodes on `f` (operand k of the tree is `inputs[k]`); `emit` appends
 * the code computing them. Throws where a node has no rendering (check `wasmBlocker` first).
 */
export function compileExpr(
  f: FunctionBuilder,
  root: Expr,
  inputs: readonly Val[],
  constOf: ConstOf,
): CompiledExpr {
  const values = new Map<Expr, Val>();
  const steps: (() => void)[] = [];
  const visit = (e: Expr): Val => {
    const known = values.get(e);
    if (known) return known;
    let v: Val;
    if (e.op === "input") {
      const x = inputs[e.index];
      if (!x) throw new Error(`compileExpr: no operand ${e.index}`);
      v = x;
    } else if (e.op === "const") {
      const local = constOf(e.dtype, e.value);
      v = { type: e.dtype, regs: e.dtype === "float64" ? [local, local] : [local] };
    } else if (expansion(e)) {
      v = visit(expansion(e)!);
    } else {
      const emit = rendering(e);
      if (!emit) throw new Error(`compileExpr: no SIMD rendering of ${e.op} (${e.dtype})`);
      const ins = children(e).map(visit);
      const out: Val = {
        type: e.dtype,
        regs: e.dtype === "float64" ? [f.local("v128"), f.local("v128")] : [f.local("v128")],
      };
      steps.push(() => emit({ f, ins, out }));
      v = out;
    }
    values.set(e, v);
    return v;
  };
  const value = visit(root);
  return {
    value,
    emit() {
      for (const s of steps) s();
    },
  };
}
