/**
 * Program-to-program passes run by jit before planning: inlining of call-like primitives, algebraic
 * simplification (mostly of the zeros and ones that transposition leaves), constant folding,
 * common-subexpression elimination and dead-code elimination. Each is a small pure function.
 */
import { gemvLaneOrder } from "../backend/index.js";
import { ConcreteArray, type NdArray } from "../core/array.js";
import type { DType } from "../core/dtype.js";
import { type Atom, type Equation, Literal, Program, Var } from "../core/ir.js";
import { type Primitive, paramsKey, primitives } from "../core/primitive.js";
import { shapeEquals, sizeOf } from "../core/shape.js";
import { evalPrimitive } from "../core/trace.js";

/** A program with concrete values for its constVars: what the compiler works on. */
export interface ClosedProgram {
  program: Program;
  consts: NdArray[];
}

const prim = (name: string): Primitive<unknown> => primitives().get(name) as unknown as Primitive<unknown>;

/** Replaces call-like equations (nested jit, customVjp) by the equations of the program they call. */
export function inlineCalls({ program, consts }: ClosedProgram): ClosedProgram {
  const constVars = [...program.constVars];
  const allConsts = [...consts];
  const equations: Equation[] = [];
  const emit = (eqns: readonly Equation[], rename: Map<Var, Atom>): void => {
    const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
    for (const e of eqns) {
      const inputs = e.inputs.map(atom);
      if (!e.primitive.inlineProgram) {
        equations.push({
          ...e,
          inputs,
          outputs: e.outputs.map((o) => (rename.get(o) as Var | undefined) ?? o),
        });
        continue;
      }
      const inner = e.primitive.inlineProgram(
        inputs.map((a) => a.aval),
        e.params,
      );
      const innerRename = new Map<Var, Atom>();
      inner.program.constVars.forEach((v, i) => {
        const nv = new Var(v.aval);
        constVars.push(nv);
        allConsts.push(inner.consts[i]!);
        innerRename.set(v, nv);
      });
      inner.program.inputs.forEach((v, i) => innerRename.set(v, inputs[i]!));
      for (const ie of inner.program.equations)
        for (const o of ie.outputs) innerRename.set(o, new Var(o.aval));
      emit(inner.program.equations, innerRename);
      // The call's outputs are the inner program's outputs.
      e.outputs.forEach((o, i) => {
        const src = inner.program.outputs[i]!;
        rename.set(o, src instanceof Var ? (innerRename.get(src) ?? src) : src);
      });
    }
  };
  const top = new Map<Var, Atom>();
  emit(program.equations, top);
  const outputs = program.outputs.map((a) => (a instanceof Var ? (top.get(a) ?? a) : a));
  return { program: new Program(constVars, program.inputs, equations, outputs), consts: allConsts };
}

/** Removes equations none of whose outputs are used (every primitive is pure). */
export function eliminateDeadCode(p: ClosedProgram): ClosedProgram {
  const live = new Set<Var>();
  for (const o of p.program.outputs) if (o instanceof Var) live.add(o);
  const kept: Equation[] = [];
  for (let i = p.program.equations.length - 1; i >= 0; i--) {
    const e = p.program.equations[i]!;
    if (!e.outputs.some((o) => live.has(o))) continue;
    kept.push(e);
    for (const a of e.inputs) if (a instanceof Var) live.add(a);
  }
  kept.reverse();
  const constVars: Var[] = [];
  const consts: NdArray[] = [];
  p.program.constVars.forEach((v, i) => {
    if (live.has(v)) {
      constVars.push(v);
      consts.push(p.consts[i]!);
    }
  });
  return { program: new Program(constVars, p.program.inputs, kept, p.program.outputs), consts };
}

function cseKey(params: unknown): string | null {
  try {
    return paramsKey(params);
  } catch {
    return null;
  }
}

/** Merges equations that apply the same primitive with the same params to the same inputs. */
export function eliminateCommonSubexpressions(p: ClosedProgram): ClosedProgram {
  const ids = new Map<Var, number>();
  const id = (a: Atom): string => {
    if (a instanceof Literal) {
      const v = a.value.data[0]!;
      return `L${a.value.dtype}:${Object.is(v, -0) ? "-0" : v}`; // a -0 literal is not a 0 literal
    }
    let n = ids.get(a);
    if (n === undefined) {
      n = ids.size;
      ids.set(a, n);
    }
    return `V${n}`;
  };
  const rename = new Map<Var, Var>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const seen = new Map<string, Equation>();
  const out: Equation[] = [];
  for (const e0 of p.program.equations) {
    const e = { ...e0, inputs: e0.inputs.map(atom) };
    const pk = cseKey(e.params);
    if (pk !== null) {
      const key = `${e.primitive.name}|${pk}|${e.inputs.map(id).join(",")}`;
      const prev = seen.get(key);
      if (prev) {
        e.outputs.forEach((o, i) => rename.set(o, prev.outputs[i]!));
        continue;
      }
      seen.set(key, e);
    }
    out.push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

/** Evaluates equations whose inputs are all scalar literals, replacing them by literals. */
export function foldConstants(p: ClosedProgram): ClosedProgram {
  const rename = new Map<Var, Atom>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const out: Equation[] = [];
  for (const e0 of p.program.equations) {
    const e = { ...e0, inputs: e0.inputs.map(atom) };
    const foldable =
      e.inputs.length > 0 &&
      !e.primitive.inlineProgram &&
      e.inputs.every((a) => a instanceof Literal) &&
      e.outputs.every((o) => sizeOf(o.aval.shape) === 1 && o.aval.shape.length === 0);
    if (foldable) {
      const values = evalPrimitive(
        e.primitive,
        e.inputs.map((a) => (a as Literal).value),
        e.params,
      );
      e.outputs.forEach((o, i) => rename.set(o, new Literal(values[i]!)));
      continue;
    }
    out.push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

/**
 * Algebraic clean-up, exact for every IEEE value: tracks values known to hold one constant (broadcasts
 * of a literal and what moves, negates or sums them); drops adds of -0, subtractions of +0 and
 * multiplies by one, merges reshape chains and transpose chains, and drops identity reshapes,
 * transposes, broadcasts and converts. jit computes what eager computes, bit for bit, so nothing is
 * rewritten that only holds for finite values (x * 0 is NaN for x = Inf, x + 0 is +0 for x = -0).
 */
export function simplify(p: ClosedProgram): ClosedProgram {
  const rename = new Map<Var, Atom>();
  const atom = (a: Atom): Atom => (a instanceof Var ? (rename.get(a) ?? a) : a);
  const filled = new Map<Var, number>(); // var -> the constant every element holds
  const producer = new Map<Var, Equation>();
  const out: Equation[] = [];
  const fillValue = (a: Atom): number | undefined => (a instanceof Literal ? a.value.data[0] : filled.get(a));
  const constantOf = (v: Var, value: number): Equation => {
    const storage = scalarStorage(v.aval.dtype);
    storage[0] = value;
    const lit = new Literal(new ConcreteArray([], v.aval.dtype, storage));
    return {
      primitive: prim("broadcast_in_dim"),
      params: { shape: v.aval.shape, broadcastDimensions: [] },
      inputs: [lit],
      outputs: [v],
    };
  };
  const push = (e: Equation): void => {
    out.push(e);
    for (const o of e.outputs) producer.set(o, e);
  };
  const uses = useCounts(p.program);
  /** x with its two axes swapped: cancels a swap that produced x; a swap of a size-1 axis is a reshape. */
  const swapped = (x: Atom): Atom => {
    const pe = x instanceof Var ? producer.get(x) : undefined;
    if (
      pe &&
      pe.primitive.name === "transpose" &&
      isMatrixSwap((pe.params as { permutation: number[] }).permutation)
    ) {
      return pe.inputs[0]!;
    }
    const [r, c] = x.aval.shape as [number, number];
    const v = new Var({ shape: [c, r], dtype: x.aval.dtype });
    push(transposeOrReshape(x, v, [1, 0]));
    return v;
  };
  const matmulInto = (a: Atom, b: Atom, out: Var): void =>
    push({ primitive: prim("matmul"), params: {}, inputs: [a, b], outputs: [out] });
  for (const e0 of p.program.equations) {
    const e: Equation = { ...e0, inputs: e0.inputs.map(atom) };
    const name = e.primitive.name;
    const [a, b] = e.inputs;
    const o = e.outputs[0]!;
    const same = (x: Atom | undefined): boolean =>
      x !== undefined && shapeEquals(x.aval.shape, o.aval.shape) && x.aval.dtype === o.aval.dtype;
    const replaceBy = (x: Atom): void => {
      rename.set(o, x);
      const v = fillValue(x);
      if (v !== undefined && x instanceof Var) filled.set(o, v);
    };
    const fa = a === undefined ? undefined : fillValue(a);
    const fb = b === undefined ? undefined : fillValue(b);
    if (name === "broadcast_in_dim" && fa !== undefined) filled.set(o, fa);
    const identityTranspose =
      name === "transpose" && (e.params as { permutation: number[] }).permutation.every((q, i) => q === i);
    if (
      ((name === "reshape" || name === "broadcast_in_dim" || name === "convert") && same(a)) ||
      identityTranspose
    ) {
      replaceBy(a!);
      continue;
    }
    // Only rewrites exact for every IEEE value (NaN, ±Inf, ±0) are made: x + (-0) = x and x - (+0) = x
    // (x + 0 is not: -0 + 0 = +0), x * 1 = x. Products and quotients with zeros are kept (0 * Inf is NaN,
    // -3 * 0 is -0), as XLA and JAX keep them.
    if (name === "add" && Object.is(fb, -0) && same(a)) {
      replaceBy(a!);
      continue;
    }
    if (name === "add" && Object.is(fa, -0) && same(b)) {
      replaceBy(b!);
      continue;
    }
    if (name === "sub" && Object.is(fb, 0) && same(a)) {
      replaceBy(a!);
      continue;
    }
    if (name === "mul" && fb === 1 && same(a)) {
      replaceBy(a!);
      continue;
    }
    if (name === "mul" && fa === 1 && same(b)) {
      replaceBy(b!);
      continue;
    }
    // Moves and sums of an array of +0 are +0 (a sum of +0 is +0 in any order); select between equal
    // constants is that constant.
    const movedConstant =
      (name === "reshape" || name === "transpose" || name === "convert") && fa !== undefined
        ? fa
        : name === "neg" && fa !== undefined
          ? -fa
          : (name === "reduce_sum" || name === "cumsum") && Object.is(fa, 0)
            ? 0
            : name === "select" && Object.is(fillValue(e.inputs[1]!), fillValue(e.inputs[2]!))
              ? fillValue(e.inputs[1]!)
              : undefined;
    if (movedConstant !== undefined && e.outputs.length === 1 && isFloatAval(o)) {
      const c = constantOf(o, movedConstant);
      push(c);
      filled.set(o, (c.inputs[0] as Literal).value.data[0]!); // rounded to o's dtype
      continue;
    }
    // Matrix transposes around products (XLA's algebraic simplifier): keep the smaller transposes.
    if (name === "matmul" && o.aval.shape.length === 2 && b instanceof Var) {
      // X @ W.T -> (W @ X.T).T when X and the product are smaller than W (small batches).
      const pb = producer.get(b);
      const [m, k] = a!.aval.shape as [number, number];
      const n = o.aval.shape[1]!;
      if (
        pb &&
        pb.primitive.name === "transpose" &&
        isMatrixSwap((pb.params as { permutation: number[] }).permutation) &&
        m * k + m * n < n * k &&
        !gemvLaneOrderEither(o.aval.dtype, m, k, n)
      ) {
        const w = pb.inputs[0]!;
        const product = new Var({ shape: [n, m], dtype: o.aval.dtype });
        matmulInto(w, swapped(a!), product);
        push(transposeOrReshape(product, o, [1, 0]));
        continue;
      }
    }
    if (name === "transpose" && a instanceof Var && o.aval.shape.length === 2 && uses.get(a) === 1) {
      // (A @ B).T -> B.T @ A.T when A and B are smaller than their product (weight gradients).
      const pm = producer.get(a);
      if (pm && pm.primitive.name === "matmul") {
        const [lhs, rhs] = pm.inputs as [Atom, Atom];
        const [m, k] = lhs.aval.shape as [number, number];
        if (
          sizeOf(lhs.aval.shape) + sizeOf(rhs.aval.shape) < sizeOf(o.aval.shape) &&
          !gemvLaneOrderEither(o.aval.dtype, m, k, rhs.aval.shape[1]!)
        ) {
          matmulInto(swapped(rhs), swapped(lhs), o);
          continue;
        }
      }
    }
    // A transpose that only moves size-1 axes is a reshape (no data moves).
    if (
      name === "transpose" &&
      onlyMovesUnitAxes(a!.aval.shape, (e.params as { permutation: number[] }).permutation)
    ) {
      push(transposeOrReshape(a!, o, (e.params as { permutation: number[] }).permutation));
      continue;
    }
    // reshape(reshape(x)) -> reshape(x); transpose(transpose(x)) -> one transpose.
    if ((name === "reshape" || name === "transpose") && a instanceof Var) {
      const pe = producer.get(a);
      if (pe && pe.primitive.name === name) {
        const inner = pe.inputs[0]!;
        if (name === "reshape") {
          if (shapeEquals(inner.aval.shape, o.aval.shape)) replaceBy(inner);
          else push({ ...e, inputs: [inner] });
          continue;
        }
        const p1 = (pe.params as { permutation: number[] }).permutation;
        const p2 = (e.params as { permutation: number[] }).permutation;
        const composed = p2.map((i) => p1[i]!);
        if (composed.every((x, i) => x === i)) replaceBy(inner);
        else push({ ...e, inputs: [inner], params: { permutation: composed } });
        continue;
      }
    }
    push(e);
  }
  return {
    program: new Program(p.program.constVars, p.program.inputs, out, p.program.outputs.map(atom)),
    consts: p.consts,
  };
}

function useCounts(program: Program): Map<Var, number> {
  const uses = new Map<Var, number>();
  const use = (a: Atom) => {
    if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  };
  for (const e of program.equations) e.inputs.forEach(use);
  program.outputs.forEach(use);
  return uses;
}

function isMatrixSwap(perm: readonly number[]): boolean {
  return perm.length === 2 && perm[0] === 1 && perm[1] === 0;
}

/** Whether the permutation keeps every axis of size > 1 in order (so the data does not move). */
function onlyMovesUnitAxes(shape: readonly number[], perm: readonly number[]): boolean {
  const moved = perm.filter((axis) => shape[axis] !== 1);
  return moved.every((axis, i) => i === 0 || axis > moved[i - 1]!);
}

/** transpose(x) into `out`, or a reshape when the transpose moves no data. */
function transposeOrReshape(x: Atom, out: Var, perm: readonly number[]): Equation {
  return onlyMovesUnitAxes(x.aval.shape, perm)
    ? { primitive: prim("reshape"), params: { shape: out.aval.shape }, inputs: [x], outputs: [out] }
    : { primitive: prim("transpose"), params: { permutation: perm }, inputs: [x], outputs: [out] };
}

function isFloatAval(v: Var): boolean {
  return v.aval.dtype === "float32" || v.aval.dtype === "float64";
}

function scalarStorage(dtype: string) {
  return dtype === "float64"
    ? new Float64Array(1)
    : dtype === "int32"
      ? new Int32Array(1)
      : dtype === "bool"
        ? new Uint8Array(1)
        : new Float32Array(1);
}

/** The whole pipeline, repeated until the program stops shrinking. */
export function optimize(p: ClosedProgram): ClosedProgram {
  let cur = inlineCalls(p);
  for (let round = 0; round < 4; round++) {
    const before = cur.program.equations.length;
    cur = eliminateDeadCode(eliminateCommonSubexpressions(foldConstants(simplify(cur))));
    if (cur.program.equations.length === before) break;
  }
  return cur;
}

/**
 * Whether (m x k) @ (k x n) or its transposed form (n x k) @ (k x m) sums in the wasm GEMV kernel's lanes
 * (backend gemvLaneOrder) and so the other in k order: rewriting one as the other would change the bits.
 */
function gemvLaneOrderEither(dtype: DType, m: number, k: number, n: number): boolean {
  return gemvLaneOrder(dtype, 1, m, k, n) || gemvLaneOrder(dtype, 1, n, k, m);
}
