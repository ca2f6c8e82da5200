/**
 * Loop-invariant sums out of a transposed scan: the cotangent of a scan's const (a weight the body
 * multiplies by, a bias it adds) is a sum over the steps, which the transposed body accumulates in a carry,
 * one small product per step. Where a step's term is `matmul(transpose(a), b)` or `reduce_sum(b)` of
 * per-step values, the sum over the steps is one product (or one reduction) of the stacked values after the
 * loop: Σ_t a_tᵀ b_t = Aᵀ B with A, B the rows of every step one under the other. For an LSTM that turns
 * 50 GEMMs of k = batch, each followed by a pass over the weight-sized accumulator, into one GEMM of
 * k = steps * batch (what XLA's loop-invariant code motion and cuDNN's weight-gradient pass do).
 */
import type { NdArray } from "../core/array.js";
import { equationHasEffects } from "../core/effects.js";
import { type Atom, type Equation, Program, Var } from "../core/ir.js";
import { addPrim } from "../ops/binary.js";
import { matrixTranspose, reshape, transposePrim } from "../ops/layout.js";
import { matmul, matmulPrim } from "../ops/linalg.js";
import { reduceSumPrim } from "../ops/reduce.js";

/** How a hoisted accumulator's total is computed from stacked per-step values after the loop. */
type HoistedSum =
  | { readonly kind: "matmul"; readonly a: Var; readonly b: Var }
  | { readonly kind: "reduce_sum"; readonly b: Var; readonly axes: readonly number[] };

/** Where the stacked values of a per-step body value come from after the loop. */
type Stacked =
  | { readonly kind: "xs"; readonly index: number }
  | { readonly kind: "ys"; readonly index: number };

export interface HoistedScan {
  /** The body without the hoisted accumulators (inputs and outputs), with the stacked values as extra ys. */
  readonly body: Program;
  /** Per accumulator: whether it was hoisted (then it is no carry of `body`). */
  readonly hoisted: readonly boolean[];
  /** The totals of the hoisted accumulators, in order, from the scan's xs and ys (stacked, [length, ...]). */
  totals(xs: readonly NdArray[], ys: readonly NdArray[]): NdArray[];
}

/**
 * `body` is over [consts (nConsts), carries (nCarry), accumulators (nAcc), xs] to [carries,
 * accumulators, ys], each accumulator output `add(acc, term)`. Hoists the accumulators whose term has one
 * of the forms above; null when none does.
 */
export function hoistAccumulators(
  body: Program,
  counts: { nConsts: number; nCarry: number; nAcc: number },
): HoistedScan | null {
  const { nConsts, nCarry, nAcc } = counts;
  const producer = new Map<Var, Equation>();
  const uses = new Map<Var, number>();
  for (const e of body.equations) {
    for (const o of e.outputs) producer.set(o, e);
    for (const a of e.inputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  }
  for (const a of body.outputs) if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  const accInputs = body.inputs.slice(nConsts + nCarry, nConsts + nCarry + nAcc);
  const xInputs = body.inputs.slice(nConsts + nCarry + nAcc);
  const invariant = new Set(body.inputs.slice(0, nConsts));
  const perStep = (a: Atom): a is Var => a instanceof Var && !invariant.has(a) && !accInputs.includes(a);
  const sums: (HoistedSum | null)[] = accInputs.map((acc, j) => {
    const out = body.outputs[nCarry + j];
    const e = out instanceof Var ? producer.get(out) : undefined;
    if (!e || e.primitive !== addPrim || uses.get(acc) !== 1) return null;
    const term = e.inputs[0] === acc ? e.inputs[1] : e.inputs[1] === acc ? e.inputs[0] : undefined;
    const t = term instanceof Var ? producer.get(term) : undefined;
    if (!t || !shapeEq(term!.aval.shape, acc.aval.shape)) return null;
    if (t.primitive === matmulPrim) {
      const [left, b] = t.inputs;
      const tr = left instanceof Var ? producer.get(left) : undefined;
      const a = tr?.primitive === transposePrim ? tr.inputs[0] : undefined;
      if (!a || !perStep(a) || !perStep(b!) || a.aval.shape.length !== 2 || b!.aval.shape.length !== 2)
        return null;
      return { kind: "matmul", a, b: b as Var };
    }
    if (t.primitive === reduceSumPrim) {
      const [b] = t.inputs;
      if (!perStep(b!)) return null;
      return { kind: "reduce_sum", b: b as Var, axes: (t.params as { axes: readonly number[] }).axes };
    }
    return null;
  });
  if (sums.every((s) => s === null)) return null;

  // The stacked values: a row input is its xs; a ys output is itself; anything else a new ys output.
  const ysOutputs = body.outputs.slice(nCarry + nAcc);
  const extra: Var[] = [];
  const stackedOf = (v: Var): Stacked => {
    const x = xInputs.indexOf(v);
    if (x >= 0) return { kind: "xs", index: x };
    const y = ysOutputs.indexOf(v);
    if (y >= 0) return { kind: "ys", index: y };
    if (!extra.includes(v)) extra.push(v);
    return { kind: "ys", index: ysOutputs.length + extra.indexOf(v) };
  };
  const plans = sums.map((s) => {
    if (s === null) return null;
    return s.kind === "matmul"
      ? { sum: s, a: stackedOf(s.a), b: stackedOf(s.b) }
      : { sum: s, a: null, b: stackedOf(s.b) };
  });
  const hoisted = sums.map((s) => s !== null);
  const outputs = [
    ...body.outputs.slice(0, nCarry),
    ...body.outputs.slice(nCarry, nCarry + nAcc).filter((_, j) => !hoisted[j]),
    ...ysOutputs,
    ...extra,
  ];
  const inputs = body.inputs.filter((_, i) => {
    const j = i - nConsts - nCarry;
    return j < 0 || j >= nAcc || !hoisted[j];
  });
  const hoistedBody = new Program(body.constVars, inputs, liveEquations(body.equations, outputs), outputs);
  return {
    body: hoistedBody,
    hoisted,
    totals(xs, ys) {
      const stacked = (s: Stacked): NdArray => (s.kind === "xs" ? xs[s.index]! : ys[s.index]!);
      return plans.flatMap((p) => {
        if (p === null) return [];
        const b = stacked(p.b);
        if (p.sum.kind === "reduce_sum") {
          return [reduceSumPrim.bind1([b], { axes: [0, ...p.sum.axes.map((a) => a + 1)] })];
        }
        const a = stacked(p.a!);
        const rows = (x: NdArray) => reshape(x, [x.shape[0]! * x.shape[1]!, x.shape[2]!]);
        return [matmul(matrixTranspose(rows(a)), rows(b))];
      });
    },
  };
}

function shapeEq(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The equations some output depends on, in order (the hoisted accumulations and their terms drop out). */
function liveEquations(equations: readonly Equation[], outputs: readonly Atom[]): Equation[] {
  const live = new Set<Var>(outputs.filter((a): a is Var => a instanceof Var));
  const kept: Equation[] = [];
  for (let k = equations.length - 1; k >= 0; k--) {
    const e = equations[k]!;
    if (!e.outputs.some((o) => live.has(o)) && !equationHasEffects(e)) continue;
    kept.push(e);
    for (const a of e.inputs) if (a instanceof Var) live.add(a);
  }
  return kept.reverse();
}
