/**
 * Runs the cases of test/golden/data/linalg_svd.json (made by test/golden/gen_linalg_svd.py from
 * torch.linalg in float64): each case's outputs against ours within 1e-9 relative, and for "vjp" cases
 * the vector-Jacobian product with the stored cotangents. Used by test/ops/linalg-svd.test.ts and
 * test/ops/linalg-norm.test.ts, each for its own ops.
 */
import { expect } from "vitest";
import { type NdArray, vjp } from "../../src/index.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArray,
  type GoldenArrays,
  loadGolden,
  toArray,
} from "../golden/golden.js";

export interface LinalgGoldenCase {
  name: string;
  kind: "vjp" | "values";
  op: string;
  torch: string;
  attrs: Record<string, unknown>;
  inputs: GoldenArrays;
  outputs: GoldenArrays;
  cotangent?: GoldenArrays;
  grads?: GoldenArrays;
}

export function loadLinalgSvdCases(ops: readonly string[]): LinalgGoldenCase[] {
  const all = loadGolden("linalg_svd.json").cases as unknown as LinalgGoldenCase[];
  const cases = all.filter((c) => ops.includes(c.op));
  if (cases.length === 0) throw new Error(`linalg_svd.json has no cases of ${ops.join(", ")}`);
  return cases;
}

/** A stored order ("inf", "-inf", a number, "fro", "nuc", null) as the one np.linalg takes. */
export function goldenOrd(p: unknown): number | "fro" | "nuc" | null {
  if (p === "inf") return Number.POSITIVE_INFINITY;
  if (p === "-inf") return Number.NEGATIVE_INFINITY;
  if (p === null || typeof p === "number" || p === "fro" || p === "nuc") return p;
  throw new Error(`unknown order ${JSON.stringify(p)}`);
}

/**
 * Checks a case: `fn` maps the inputs (in the stored order) to outputs named as the stored ones.
 * `compare` may replace the plain comparison of an output (the arbitrary extra columns of a full U).
 */
export function checkLinalgCase(
  c: LinalgGoldenCase,
  fn: (...xs: NdArray[]) => Record<string, NdArray>,
  compare: (name: string, got: NdArray, ref: GoldenArray) => void = (name, got, ref) =>
    expectClose(got, ref, FLOAT64_TOLERANCE, `${c.name} ${name}`),
): void {
  const names = Object.keys(c.inputs);
  const inputs = names.map((k) => toArray(c.inputs[k]!));
  const outs = fn(...inputs);
  expect(Object.keys(outs).sort()).toEqual(Object.keys(c.outputs).sort());
  for (const [name, ref] of Object.entries(c.outputs)) {
    const got = outs[name]!;
    if (ref.dtype === "int64") expect(Array.from(got.toTypedArray()), `${c.name} ${name}`).toEqual(ref.data);
    else compare(name, got, ref);
  }
  if (c.kind !== "vjp") return;
  const floatNames = Object.keys(c.cotangent!);
  const [, pullback] = vjp(
    (...xs: NdArray[]) => {
      const o = fn(...xs);
      return floatNames.map((k) => o[k]!);
    },
    ...inputs,
  );
  const grads = pullback(floatNames.map((k) => toArray(c.cotangent![k]!)));
  for (const [i, name] of names.entries()) {
    expectClose(grads[i]!, c.grads![name]!, FLOAT64_TOLERANCE, `${c.name} grad ${name}`);
  }
}
