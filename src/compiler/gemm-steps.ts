/**
 * Transposes absorbed into matrix products. The GEMM reads either operand stored transposed, and
 * (A·B)ᵀ = Bᵀ·Aᵀ, so a matrix transpose that only feeds a product, or only reads its result, need not
 * run: the product becomes one GEMM step on the untransposed arrays. `x @ W.T` (a linear layer with
 * PyTorch's [out, in] weights) and the transposes its gradient brings stop moving data. Which equations
 * are such products, and which are such transposes, the product's primitive says (`compiler.gemm`).
 */
import { gemvLaneOrder } from "../backend/index.js";
import type { DType } from "../core/dtype.js";
import { type Atom, type Equation, Var } from "../core/ir.js";
import type { FusedGroup, Step } from "./fusion.js";

/**
 * C = op(A) @ op(B) with op a transpose where flagged; A is [m, k] and B is [k, n] after op, `batch`
 * such products of consecutive matrices (a batched matmul's leading axes).
 */
export interface GemmStep {
  kind: "gemm";
  batch: number;
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

/** Replaces GEMM-able product steps (and the transposes that only they read or that only read them). */
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
    if (s.kind !== "eqn") continue;
    const e = s.equation;
    const gemm = e.primitive.compiler?.gemm;
    const dims = gemm?.dims(e);
    if (!gemm || !dims) continue;
    const operand = (x: Var): { v: Var; transposed: boolean; eqn: Equation | null } => {
      const t = producer.get(x);
      const source = t ? gemm.transposedMatrix(t) : null;
      // A transpose already absorbed (as the transposed result of an earlier GEMM) no longer runs: its
      // input is not computed, so x is read as it is, the output of that GEMM.
      if (t && source && onlyUse(x) && !absorbed.has(t)) return { v: source, transposed: true, eqn: t };
      return { v: x, transposed: false, eqn: null };
    };
    const lhs = operand(e.inputs[0] as Var);
    const rhs = operand(e.inputs[1] as Var);
    const product = e.outputs[0]!;
    const { batch, m, k, n } = dims;
    const equations = [e, ...[lhs.eqn, rhs.eqn].filter((x): x is Equation => x !== null)];
    const after = consumer.get(product);
    let step: GemmStep;
    if (after && gemm.transposedMatrix(after) && onlyUse(product) && !absorbed.has(after)) {
      // (op(A) op(B))ᵀ = op(B)ᵀ op(A)ᵀ: the operands swap and their flags flip.
      step = {
        kind: "gemm",
        a: rhs.v,
        b: lhs.v,
        transposeA: !rhs.transposed,
        transposeB: !lhs.transposed,
        out: after.outputs[0]!,
        batch,
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
        batch,
        m,
        k,
        n,
        dtype: product.aval.dtype,
        equations,
      };
    }
    // A product summed in the GEMV kernel's lanes eagerly (n = 1) or as the step (n = 1, untransposed)
    // stays a plain matmul: the other of the two would sum in k order, other bits.
    if (
      gemvLaneOrder(step.dtype, batch, m, k, n) ||
      gemvLaneOrder(step.dtype, batch, step.m, step.k, step.n, step)
    )
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
