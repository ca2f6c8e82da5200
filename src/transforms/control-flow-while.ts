/**
 * `whileLoop` (JAX's lax.while_loop) as the primitive `while`, with every rule, and `forLoop` (lax.fori_loop):
 * a scan over the indices when its bounds are known while tracing (reverse mode works), a while loop when
 * they are traced (forward mode only).
 *
 * - jvp: the tangents ride along in the carry; the condition sees only the primals (JAX's _while_loop_jvp).
 * - vmap: a predicate that does not depend on a batched value keeps one loop; a batched predicate loops
 *   while any example's holds and each example keeps its carry once its own predicate fails (a select).
 * - reverse mode (linearize, vjp, grad): refused, as JAX refuses it, with a pointer to scan/forLoop.
 * - jit: the condition and the body are compiled once into plans of their own and run as a loop.
 */
import type { AbstractValue, NdArray } from "../core/array.js";
import { fmtAval } from "../core/array.js";
import { isFloat, NARROW_DTYPES, type TypedArray } from "../core/dtype.js";
import { evalProgram, type Program, Var } from "../core/ir.js";
import { type BatchDim, type Primitive, primitive } from "../core/primitive.js";
import { ShapeError } from "../core/shape.js";
import { astype, where } from "../ops/binary.js";
import { arange, scalar } from "../ops/creation.js";
import { batchSize, broadcastTo, moveAxisTo0, reshape } from "../ops/layout.js";
import { any } from "../ops/reduce.js";
import { assertSameStructure, leafPaths, unflatten } from "../tree/treedef.js";
import { scan } from "./control-flow.js";
import { checkAvals, PlanOperands, sameAval, subPlanCompiler, tryConcrete } from "./control-flow-common.js";
import { whileToOnnx } from "./control-flow-onnx.js";
import { flattenArgs } from "./flat.js";
import { instantiate, jvpFlat } from "./jvp.js";
import { stageClosed, vmapProgram } from "./program-transforms.js";

/** Reverse-mode differentiation of a loop whose trip count is only known when it runs (whileLoop). */
export class ReverseModeError extends Error {
  override name = "ReverseModeError";
}

const REVERSE_MODE_MESSAGE =
  "Reverse-mode differentiation does not work for whileLoop (lax.while_loop) or forLoop with traced " +
  "bounds (lax.fori_loop with dynamic start/stop values): the trip count is only known when the loop runs, " +
  "so the backward pass cannot be planned. Try using scan, or forLoop with a constant trip count " +
  "(JS-number bounds, e.g. forLoop(n, body, init)), which support reverse mode; forward mode (jvp, jacfwd) " +
  "works with whileLoop.";

export interface WhileParams {
  /** Over [condConsts, carry] to a bool scalar. */
  cond: Program;
  /** Over [bodyConsts, carry] to the carry. */
  body: Program;
  /** How many leading inputs are the condition's constants, then how many the body's; the rest is the carry. */
  condConsts: number;
  bodyConsts: number;
}

/** Splits the inputs of a `while` equation into [cond consts, body consts, carry]. */
function parts<T>(xs: readonly T[], p: WhileParams): [T[], T[], T[]] {
  const a = p.condConsts;
  const b = a + p.bodyConsts;
  return [xs.slice(0, a), xs.slice(a, b), xs.slice(b)];
}

function isBoolScalar(a: AbstractValue): boolean {
  return a.dtype === "bool" && a.shape.length === 0;
}

export const whilePrim: Primitive<WhileParams> = primitive<WhileParams>({
  name: "while",
  narrowDtypes: NARROW_DTYPES,
  abstractEval(avals, p) {
    const [cc, bc, carry] = parts(avals, p);
    checkAvals("while", "the condition's inputs", [...cc, ...carry], p.cond.inAvals);
    const out = p.cond.outAvals;
    if (out.length !== 1 || !isBoolScalar(out[0]!))
      throw new ShapeError(
        `while: the condition must return one bool scalar, got (${out.map(fmtAval).join(", ")})`,
      );
    checkAvals("while", "the body's inputs", [...bc, ...carry], p.body.inAvals);
    checkAvals(
      "while",
      "the carry returned by the body differs from the carry it was given",
      p.body.outAvals,
      carry,
    );
    return carry;
  },
  impl(args, p) {
    const [cc, bc, init] = parts(args, p);
    let carry: NdArray[] = init;
    while (evalProgram(p.cond, [], [...cc, ...carry])[0]!.concrete().storage[0])
      carry = evalProgram(p.body, [], [...bc, ...carry]);
    return carry.map((c) => c.concrete());
  },
  jvp(primals, tangents, p) {
    const [cc, bc, carry] = parts(primals, p);
    const [, tbc, tcarry] = parts(tangents, p);
    const nB = bc.length;
    const nK = carry.length;
    const bcAvals = bc.map((x) => x.aval);
    const kAvals = carry.map((x) => x.aval);
    // Body over [bc, tbc, carry, tcarry] -> [carry', tcarry']; the condition ignores the tangents.
    const jbody = stageClosed(
      (zs) => {
        const [b, tb, k, tk] = [
          zs.slice(0, nB),
          zs.slice(nB, 2 * nB),
          zs.slice(2 * nB, 2 * nB + nK),
          zs.slice(2 * nB + nK),
        ];
        const [outs, touts] = jvpFlat((ys) => evalProgram(p.body, [], ys), [...b, ...k], [...tb, ...tk]);
        return [...outs, ...touts.map(instantiate)];
      },
      [...bcAvals, ...bcAvals, ...kAvals, ...kAvals],
    );
    const jcond = stageClosed(
      (zs) => evalProgram(p.cond, [], [...zs.slice(0, cc.length), ...zs.slice(cc.length, cc.length + nK)]),
      [...cc.map((x) => x.aval), ...kAvals, ...kAvals],
    );
    const outs = whilePrim.bind(
      [...jcond.consts, ...cc, ...jbody.consts, ...bc, ...tbc, ...carry, ...tcarry],
      {
        cond: jcond.program,
        body: jbody.program,
        condConsts: jcond.consts.length + cc.length,
        bodyConsts: jbody.consts.length + 2 * nB,
      },
    );
    return { primalsOut: outs.slice(0, nK), tangentsOut: outs.slice(nK) };
  },
  batch(args, dims, p) {
    const size = batchSize(args, dims);
    const [cc, bc, carry] = parts(args, p);
    const [ccDims, bcDims, kDims] = parts(dims, p);
    // Which carries end up batched: those batched at the start, and those the body makes batched (fixpoint).
    let kBatched = kDims.map((d) => d !== null);
    for (;;) {
      const out = dependsOnBatched(p.body, [...bcDims.map((d) => d !== null), ...kBatched]);
      const next = kBatched.map((b, i) => b || out[i]!);
      if (next.every((b, i) => b === kBatched[i])) break;
      kBatched = next;
    }
    const predBatched = dependsOnBatched(p.cond, [...ccDims.map((d) => d !== null), ...kBatched])[0]!;
    // A batched predicate selects per example, so every carry is batched.
    if (predBatched) kBatched = kBatched.map(() => true);
    const to0 = (x: NdArray, d: BatchDim) => (d === null ? x : moveAxisTo0(x, d));
    const ccB = cc.map((x, i) => to0(x, ccDims[i]!));
    const bcB = bc.map((x, i) => to0(x, bcDims[i]!));
    const dim0 = (d: BatchDim): BatchDim => (d === null ? null : 0);
    const kB = carry.map((x, i) =>
      !kBatched[i] ? x : kDims[i] === null ? broadcastTo(x, [size, ...x.shape]) : moveAxisTo0(x, kDims[i]!),
    );
    const kOutDims: BatchDim[] = kBatched.map((b) => (b ? 0 : null));
    const vcond = vmapProgram(
      p.cond,
      [...ccB, ...kB].map((x) => x.aval),
      [...ccDims.map(dim0), ...kOutDims],
      [predBatched ? 0 : null],
    );
    const vbody = vmapProgram(
      p.body,
      [...bcB, ...kB].map((x) => x.aval),
      [...bcDims.map(dim0), ...kOutDims],
      kOutDims,
    );
    if (!predBatched) {
      const outs = whilePrim.bind([...vcond.consts, ...ccB, ...vbody.consts, ...bcB, ...kB], {
        cond: vcond.program,
        body: vbody.program,
        condConsts: vcond.consts.length + cc.length,
        bodyConsts: vbody.consts.length + bc.length,
      });
      return [outs, kOutDims];
    }
    // Loop while any example's predicate holds; an example whose predicate fails keeps its carry.
    const nC = cc.length;
    const predOf = (consts: readonly NdArray[], k: readonly NdArray[]) =>
      evalProgram(vcond.program, [], [...vcond.consts, ...consts, ...k])[0]!;
    const kAvals = kB.map((x) => x.aval);
    const anyCond = stageClosed(
      (zs) => [any(predOf(zs.slice(0, nC), zs.slice(nC)))],
      [...ccB.map((x) => x.aval), ...kAvals],
    );
    const selectBody = stageClosed(
      (zs) => {
        const consts = zs.slice(0, nC);
        const bconsts = zs.slice(nC, nC + bc.length);
        const k = zs.slice(nC + bc.length);
        const pred = predOf(consts, k);
        const next = evalProgram(vbody.program, [], [...vbody.consts, ...bconsts, ...k]);
        return next.map((n, j) => where(reshape(pred, [size, ...n.shape.slice(1).map(() => 1)]), n, k[j]!));
      },
      [...ccB.map((x) => x.aval), ...bcB.map((x) => x.aval), ...kAvals],
    );
    const outs = whilePrim.bind([...anyCond.consts, ...ccB, ...selectBody.consts, ...ccB, ...bcB, ...kB], {
      cond: anyCond.program,
      body: selectBody.program,
      condConsts: anyCond.consts.length + nC,
      bodyConsts: selectBody.consts.length + nC + bc.length,
    });
    return [outs, outs.map(() => 0)];
  },
  partialEval() {
    throw new ReverseModeError(REVERSE_MODE_MESSAGE);
  },
  // In a jit plan: the condition compiled once for the first test, and the body followed by the next
  // test as one sub-plan, so each iteration runs one plan; the carries are donated from step to step.
  // In a jit plan: the condition compiled once for the first test, the body followed by the next test as
  // one sub-plan, both in the plan's memory; the carries alternate between two buffers of their own.
  lower(inAvals, outAvals, p, context) {
    const compileSub = subPlanCompiler("while", context);
    const [ccAvals, bcAvals, kAvals] = parts(inAvals, p);
    const nC = ccAvals.length;
    const nB = bcAvals.length;
    const nK = kAvals.length;
    const step = stageClosed(
      (zs) => {
        const next = evalProgram(p.body, [], zs.slice(nC));
        return [...next, ...evalProgram(p.cond, [], [...zs.slice(0, nC), ...next])];
      },
      [...ccAvals, ...bcAvals, ...kAvals],
    );
    const condPlan = compileSub("cond", p.cond);
    const stepPlan = compileSub("body, then cond", step.program);
    const operands = new PlanOperands(context, inAvals, outAvals);
    // The step's constants, copied into the plan memory on the first call.
    const stepConsts = step.consts.map((c) => ({ data: c.concrete().storage, at: operands.scratch(c.aval) }));
    const carryBuffers = [kAvals.map((a) => operands.scratch(a)), kAvals.map((a) => operands.scratch(a))];
    const predicate = operands.scratch(p.cond.outAvals[0]!);
    let constsCopied = false;
    const nS = stepConsts.length;
    const condArgs = new Array<TypedArray>(nC + nK);
    const stepArgs = new Array<TypedArray>(nS + nC + nB + nK);
    const stepOuts = new Array<TypedArray>(nK + 1);
    return (ins, outs) => {
      if (!constsCopied) {
        for (const c of stepConsts) c.at().set(c.data);
        constsCopied = true;
      }
      const from = operands.inputs(ins);
      const to = operands.outputs(outs);
      const pred = predicate();
      for (let j = 0; j < nC + nK; j++) condArgs[j] = from[j < nC ? j : nC + nB + j - nC]!;
      condPlan.runInto(condArgs, [pred]);
      stepConsts.forEach((c, j) => {
        stepArgs[j] = c.at();
      });
      for (let j = 0; j < nC + nB + nK; j++) stepArgs[nS + j] = from[j]!;
      stepOuts[nK] = pred;
      for (let parity = 0; pred[0]; parity ^= 1) {
        const next = carryBuffers[parity]!;
        for (let j = 0; j < nK; j++) stepOuts[j] = next[j]!();
        stepPlan.runInto(stepArgs, stepOuts);
        for (let j = 0; j < nK; j++) stepArgs[nS + nC + nB + j] = stepOuts[j]!;
      }
      // The last carries: the step's last outputs, or the initial values when the loop never ran.
      for (let j = 0; j < nK; j++) to[j]!.set(stepArgs[nS + nC + nB + j]!);
      operands.finish(outs);
    };
  },
  onnx: (g, inputs, p, _inAvals, outAvals) =>
    whileToOnnx(g, inputs, p.cond, p.body, p.condConsts, p.bodyConsts, outAvals),
  formatParams: (p) => `cond=(${p.cond.equations.length} eqns) body=(${p.body.equations.length} eqns)`,
});

/** Per output of `program`: whether it depends on an input flagged batched (so vmap batches it). */
function dependsOnBatched(program: Program, batched: readonly boolean[]): boolean[] {
  const set = new Set<Var>(program.inputs.filter((_, i) => batched[i]));
  for (const e of program.equations)
    if (e.inputs.some((a) => a instanceof Var && set.has(a))) for (const o of e.outputs) set.add(o);
  return program.outputs.map((o) => o instanceof Var && set.has(o));
}

/**
 * `whileLoop(condFn, bodyFn, init)`: `carry = bodyFn(carry)` while `condFn(carry)` holds, starting from
 * `init` (a pytree), like JAX's lax.while_loop. `condFn` returns a bool scalar; `bodyFn` returns a carry
 * of the same structure, shapes and dtypes as `init`.
 *
 * Differentiable in forward mode (`jvp`, `jacfwd`); reverse mode (`grad`, `vjp`) throws a
 * `ReverseModeError`, as in JAX: use `scan` or `forLoop` with a constant trip count. Under `vmap` a
 * batched predicate runs the loop while any example's holds, each example stopping where its own fails.
 * In a `jit` plan the condition and body are compiled once and run as a loop, whatever the trip count.
 *
 * @example
 * ```ts
 * // Newton's iteration for sqrt(2), until the step is small.
 * const [x] = whileLoop(
 *   ([x, step]: Array[]) => np.abs(step).greater(1e-12),
 *   ([x]: Array[]) => { const next = x.sub(x.mul(x).sub(2).div(x.mul(2))); return [next, next.sub(x)]; },
 *   [np.array(1), np.array(1)],
 * );
 * ```
 */
export function whileLoop<C>(condFn: (carry: C) => NdArray | boolean, bodyFn: (carry: C) => C, init: C): C {
  if (typeof condFn !== "function" || typeof bodyFn !== "function")
    throw new TypeError("whileLoop: condFn and bodyFn must be functions");
  const [leaves, inTree] = flattenArgs("whileLoop (init)", init);
  const avals = leaves.map((l) => l.aval);
  const cond = stageClosed((xs) => {
    const p = condFn(unflatten<C>(inTree, xs));
    const pred = typeof p === "boolean" ? scalar(p) : p;
    if (typeof pred !== "object" || pred === null || !("dtype" in pred) || !isBoolScalar(pred))
      throw new ShapeError(
        `whileLoop: condFn must return a bool scalar, got ${typeof pred === "object" && pred !== null && "dtype" in pred ? fmtAval(pred) : typeof pred}`,
      );
    return [pred];
  }, avals);
  const body = stageClosed((xs) => {
    const [outs, outTree] = flattenArgs("whileLoop (bodyFn's carry)", bodyFn(unflatten<C>(inTree, xs)));
    assertSameStructure("whileLoop: the carry returned by bodyFn vs init", inTree, outTree);
    const paths = leafPaths(inTree);
    outs.forEach((o, i) => {
      if (!sameAval(o.aval, avals[i]!))
        throw new ShapeError(
          `whileLoop: bodyFn must return the carry with the shapes and dtypes of init: leaf ${i}${paths[i] ? ` (${paths[i]})` : ""} is ${fmtAval(o.aval)}, init has ${fmtAval(avals[i]!)}`,
        );
    });
    return outs;
  }, avals);
  const outs = whilePrim.bind([...cond.consts, ...body.consts, ...leaves], {
    cond: cond.program,
    body: body.program,
    condConsts: cond.consts.length,
    bodyConsts: body.consts.length,
  });
  return unflatten<C>(inTree, outs);
}

/** A loop bound as an int32 scalar: a JS integer or an integer scalar array. */
function boundArray(name: string, x: number | NdArray): NdArray {
  if (typeof x === "number") {
    if (!Number.isInteger(x)) throw new TypeError(`forLoop: the ${name} bound must be an integer, got ${x}`);
    return scalar(x, "int32");
  }
  if (x.shape.length !== 0 || x.dtype === "bool" || isFloat(x.dtype))
    throw new ShapeError(`forLoop: the ${name} bound must be an integer scalar, got ${fmtAval(x)}`);
  return x.dtype === "int32" ? x : astype(x, "int32");
}

/** A bound as a JS number when it is known while tracing (a number, or an array with a value now). */
function staticBound(x: number | NdArray): number | null {
  if (typeof x === "number") return x;
  const c = tryConcrete(x);
  return c === null ? null : c.storage[0]!;
}

/**
 * `forLoop(n, body, init)`: `carry = body(i, carry)` for i = 0..n-1; `forLoop(lower, upper, body, init)`:
 * for i = lower..upper-1 (JAX's lax.fori_loop). `i` is an int32 scalar.
 *
 * Bounds known while tracing (JS integers, or arrays with a value) make a `scan` over the indices, which
 * every transform supports, reverse mode included. Traced bounds (arrays inside `jit`) make a `whileLoop`:
 * forward mode only, reverse mode throws a `ReverseModeError` as in JAX.
 */
export function forLoop<C>(n: number, body: (i: NdArray, carry: C) => C, init: C): C;
export function forLoop<C>(
  lower: number | NdArray,
  upper: number | NdArray,
  body: (i: NdArray, carry: C) => C,
  init: C,
): C;
export function forLoop<C>(...args: unknown[]): C {
  const [lower, upper, body, init] =
    ((args.length === 3 ? [0, ...args] : args.length === 4 ? args : null) as
      | [number | NdArray, number | NdArray, (i: NdArray, carry: C) => C, C]
      | null) ?? forLoopArity(args.length);
  if (typeof body !== "function")
    throw new TypeError("forLoop: the body must be a function (i, carry) => carry");
  if (args.length === 3 && typeof upper === "number" && (!Number.isInteger(upper) || upper < 0))
    throw new RangeError(`forLoop: the trip count must be a non-negative integer, got ${upper}`);
  const lo = boundArray("lower", lower);
  const hi = boundArray("upper", upper);
  const [l, u] = [staticBound(lower), staticBound(upper)];
  if (l !== null && u !== null) {
    const n = Math.max(0, u - l);
    const [carry] = scan(
      (c: C, i: NdArray) => [body(i, c), null],
      init,
      arange(l, l + n, 1, { dtype: "int32" }),
      {
        length: n,
      },
    );
    return carry;
  }
  const [, carry] = whileLoop(
    ([i]: [NdArray, C]) => i.less(hi),
    ([i, c]: [NdArray, C]): [NdArray, C] => [i.add(1), body(i, c)],
    [lo, init] as [NdArray, C],
  );
  return carry;
}

function forLoopArity(n: number): never {
  throw new TypeError(`forLoop: expected (n, body, init) or (lower, upper, body, init), got ${n} arguments`);
}
