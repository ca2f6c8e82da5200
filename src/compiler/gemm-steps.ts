/**
 * Transposes absorbed into matrix products. The GEMM reads either operand stored transposed, and
 * (A·B)ᵀ = Bᵀ·Aᵀ, so a `transpose[1,0]` that only feeds a 2-D `matmul`, or only reads its result, need
 * not run: the product becomes one GEMM step on the untransposed arrays. `x @ W.T` (a linear layer with
 * PyTorch's [out, in] weights) and the transposes its gradient brings stop moving data.
 */
import { gemvLaneOrder } from "../backend/index.js";
import type { DType } from "../core/dtype.js";
import { type Atom, type Equation, Var } from "../core/ir.js";
import type { FusedGroup, Step } from "./fusion.js";

/** C = op(A) @ op(B) with op a transpose where flagged; A is [m, k] and B is [k, n] after op. */
export interface GemmStep {
  kind: "gemm";
  a: Var;
  b: Var;
  transposeA: boolean;
  transposeB: boolean;
  out: Var;
  m: number;
  k: number;
  n: number;
  dtype: DType;
  /** The equations this step computes: the matmul and the transposes it absorbed. */
  equations: Equation[];
}

const isMatrixTranspose = (e: Equation): boolean =>
  e.primitive.name === "transpose" &&
  e.outputs[0]!.aval.shape.length === 2 &&
  (e.params as { permutation: readonly number[] }).permutation[0] === 1;

const isFloatMatmul2d = (e: Equation): boolean =>
  e.primitive.name === "matmul" &&
  e.outputs[0]!.aval.shape.length === 2 &&
  e.inputs.every((a) => a instanceof Var && a.aval.shape.length === 2) &&
  (e.outputs[0]!.aval.dtype === "float32" || e.outputs[0]!.aval.dtype === "float64");

/** Replaces 2-D float matmul steps (and the transposes that only they read or that only read them). */
export function absorbTransposes(
  steps: readonly Step[],
  programOutputs: readonly Atom[],
): (Step | GemmStep)[] {
  const uses = new Map<Var, number>();
  const use = (a: Atom): void => {
    if (a instanceof Var) uses.set(a, (uses.get(a) ?? 0) + 1);
  };
  const producer = new Map<Var, Equation>();
  const consumer = new Map<Var, Equation>();
  for (const s of steps) {
    if (s.kind === "fused") {
      for (const v of (s as FusedGroup).inputs) use(v);
      continue;
    }
    for (const a of s.equation.inputs) {
      use(a);
      if (a instanceof Var) consumer.set(a, s.equation);
    }
    producer.set(s.equation.outputs[0]!, s.equation);
  }
  for (const a of programOutputs) use(a);
  const onlyUse = (v: Var): boolean => uses.get(v) === 1;

  const absorbed = new Set<Equation>();
  const replaced = new Map<Equation, GemmStep>();
  for (const s of steps) {
    if (s.kind !== "eqn" || !isFloatMatmul2d(s.equation)) continue;
    const e = s.equation;
    const operand = (x: Var): { v: Var; transposed: boolean; eqn: Equation | null } => {
      const t = producer.get(x);
      // A transpose already absorbed (as the transposed result of an earlier GEMM) no longer runs: its
      // input is not computed, so x is read as it is, the output of that GEMM.
      if (t && isMatrixTranspose(t) && onlyUse(x) && t.inputs[0] instanceof Var && !absorbed.has(t))
        return { v: t.inputs[0], transposed: true, eqn: t };
      return { v: x, transposed: false, eqn: null };
    };
    const lhs = operand(e.inputs[0] as Var);
    const rhs = operand(e.inputs[1] as Var);
    const product = e.outputs[0]!;
    const [m, k] = (e.inputs[0] as Var).aval.shape as [number, number];
    const n = product.aval.shape[1]!;
    const equations = [e, ...[lhs.eqn, rhs.eqn].filter((x): x is Equation => x !== null)];
    const after = consumer.get(product);
    let step: GemmStep;
    if (after && isMatrixTranspose(after) && onlyUse(product) && !absorbed.has(after)) {
      // (op(A) op(B))ᵀ = op(B)ᵀ op(A)ᵀ: the operands swap and their flags flip.
      step = {
        kind: "gemm",
        a: rhs.v,
        b: lhs.v,
        transposeA: !rhs.transposed,
        transposeB: !lhs.transposed,
        out: after.outputs[0]!,
        m: n,
        k,
        n: m,
        dtype: product.aval.dtype,
        equations: [...equations, after],
      };
    } else {
      if (!lhs.transposed && !rhs.transposed) continue; // a plain matmul stays as it is
      step = {
        kind: "gemm",
        a: lhs.v,
        b: rhs.v,
        transposeA: lhs.transposed,
        transposeB: rhs.transposed,
        out: product,
        m,
        k,
        n,
        dtype: product.aval.dtype,
        equations,
      };
    }
    // A product summed in the GEMV kernel's lanes eagerly (n = 1) or as the step (n = 1, untransposed)
    // stays a plain matmul: the other of the two would sum in k order, other bits.
    if (gemvLaneOrder(step.dtype, 1, m, k, n) || gemvLaneOrder(step.dtype, 1, step.m, step.k, step.n, step))
      continue;
    for (const x of [lhs.eqn, rhs.eqn, step.out === product ? null : after]) if (x) absorbed.add(x);
    replaced.set(e, step);
  }
  const out: (Step | GemmStep)[] = [];
  for (const s of steps) {
    if (s.kind === "eqn" && absorbed.has(s.equation)) continue;
    out.push(s.kind === "eqn" ? (replaced.get(s.equation) ?? s) : s);
  }
  return out;
}
