/**
 * Derivatives at degenerate points against test/golden/data/linalg_degenerate.json (made by
 * gen_linalg_degenerate.py, which documents each reference): det's gradient at singular matrices is the
 * exact cofactor matrix (PyTorch 1.13 gives zeros there), slogdet's vjp is PyTorch's (ct · a⁻ᵀ), pinv's
 * vjp where singular values repeat is PyTorch's, and at a rank-deficient matrix pinv's jvp along a
 * rank-keeping direction is the derivative computed through a full-rank factorization; lstsq's vjp where
 * singular values repeat is PyTorch's (pinv's rule). Each in eager mode, under jit and (batched cases)
 * under vmap.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, jvp, type NdArray, np, vjp, vmap } from "../../src/index.js";
import { checkLinalgCase, type LinalgGoldenCase } from "../helpers/linalg-golden.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArrays,
  loadGolden,
  type Tolerance,
  toArray,
} from "./golden.js";

interface DegenerateCase extends Omit<LinalgGoldenCase, "kind"> {
  kind: "vjp" | "jvp";
  note?: string;
  tangents?: GoldenArrays;
  tangents_out?: GoldenArrays;
  torch_grads?: GoldenArrays;
}

const cases = loadGolden("linalg_degenerate.json").cases as unknown as DegenerateCase[];
const of = (op: string, kind: DegenerateCase["kind"] = "vjp") => {
  const found = cases.filter((c) => c.op === op && c.kind === kind);
  if (found.length === 0) throw new Error(`linalg_degenerate.json has no ${kind} cases of ${op}`);
  return found;
};

/**
 * Cofactors are products of n - 1 entries: near a rank-deficient matrix their rounding error is of order
 * eps · max|a|^(n-1), however small the cofactor itself (rank n - 2: exactly 0).
 */
function cofactorTolerance(a: NdArray): Tolerance {
  const n = a.shape[a.ndim - 1]!;
  const scale = Math.max(1, np.max(np.abs(a)).item()) ** (n - 1);
  return { atol: 1e-13 * scale, rtol: 1e-9 };
}

describe("golden linalg_degenerate.json: det's gradient is the cofactor matrix, singular matrices included", () => {
  for (const c of of("det")) {
    it(`${c.name}: ${c.note}`, () => {
      const a = toArray(c.inputs["a"]!);
      const ct = toArray(c.cotangent!["out"]!);
      const tolerance = cofactorTolerance(a);
      expectClose(np.linalg.det(a), c.outputs["out"]!, tolerance, `${c.name} det`);
      const [, pullback] = vjp(np.linalg.det, a);
      const [eager] = pullback(ct);
      expectClose(eager!, c.grads!["a"]!, tolerance, `${c.name} vjp`);
      const gradOfSum = (x: NdArray) => grad((y: NdArray) => np.sum(np.multiply(np.linalg.det(y), ct)))(x);
      expectClose(jit(gradOfSum)(a), c.grads!["a"]!, tolerance, `${c.name} jit(grad)`);
      if (a.ndim === 3) {
        const perMatrix = vmap((x: NdArray, t: NdArray) => np.multiply(grad(np.linalg.det)(x), t));
        expectClose(perMatrix(a, ct), c.grads!["a"]!, tolerance, `${c.name} vmap(grad)`);
      }
    });
  }

  it("the stored PyTorch 1.13 gradients are zeros where its determinant is exactly 0 (why the reference is exact cofactors)", () => {
    const singular = of("det").filter((c) => c.outputs["out"]!.data.every((d) => d === 0));
    expect(singular.length).toBeGreaterThan(0);
    for (const c of singular) {
      expect(c.torch_grads!["a"]!.data.every((g) => g === 0)).toBe(true);
      // Not because every cofactor is 0: most of these matrices have rank n - 1.
    }
    expect(singular.some((c) => c.grads!["a"]!.data.some((g) => g !== 0))).toBe(true);
  });
});

describe("golden linalg_degenerate.json: slogdet's vjp (torch.linalg.slogdet, ct · a⁻ᵀ)", () => {
  for (const c of of("slogdet")) {
    it(c.name, () => {
      const fn = (a: NdArray) => {
        const [sign, logabsdet] = np.linalg.slogdet(a);
        return { sign, logabsdet };
      };
      checkLinalgCase(c as LinalgGoldenCase, fn);
      checkLinalgCase(c as LinalgGoldenCase, (a) => {
        const [sign, logabsdet] = jit((x: NdArray) => np.linalg.slogdet(x))(a);
        return { sign: sign!, logabsdet: logabsdet! };
      });
    });
  }
});

describe("golden linalg_degenerate.json: pinv where singular values repeat (torch.linalg.pinv's vjp)", () => {
  for (const c of of("pinv")) {
    it(`${c.name}: ${c.note}`, () => {
      checkLinalgCase(c as LinalgGoldenCase, (a) => ({ out: np.linalg.pinv(a) }));
      checkLinalgCase(c as LinalgGoldenCase, (a) => ({ out: jit((x: NdArray) => np.linalg.pinv(x))(a) }));
    });
  }
});

describe("golden linalg_degenerate.json: pinv at a rank-deficient matrix, along a rank-keeping direction", () => {
  for (const c of of("pinv", "jvp")) {
    it(`${c.name}: ${c.note}`, () => {
      const a = toArray(c.inputs["a"]!);
      const da = toArray(c.tangents!["a"]!);
      const [p, dp] = jvp((x: NdArray) => np.linalg.pinv(x), [a], [da]);
      expectClose(p, c.outputs["out"]!, FLOAT64_TOLERANCE, `${c.name} pinv`);
      expectClose(dp, c.tangents_out!["out"]!, FLOAT64_TOLERANCE, `${c.name} jvp`);
      const [, jitTangent] = jit((x: NdArray, t: NdArray) =>
        jvp((y: NdArray) => np.linalg.pinv(y), [x], [t]),
      )(a, da);
      expectClose(jitTangent!, c.tangents_out!["out"]!, FLOAT64_TOLERANCE, `${c.name} jit(jvp)`);
      // Reverse mode: PyTorch's vjp (the same formula, Golub and Pereyra's) element by element.
      const [, pullback] = vjp((x: NdArray) => np.linalg.pinv(x), a);
      const [ours] = pullback(toArray(c.cotangent!["out"]!));
      expectClose(ours!, c.grads!["a"]!, FLOAT64_TOLERANCE, `${c.name} vjp`);
    });
  }
});

describe("golden linalg_degenerate.json: lstsq's solution where singular values repeat (torch.linalg.lstsq's vjp, pinv's)", () => {
  for (const c of of("lstsq")) {
    it(`${c.name}: ${c.note}`, () => {
      checkLinalgCase(c as LinalgGoldenCase, (a, b) => ({ out: np.linalg.lstsq(a, b)[0] }));
      const solution = jit((a: NdArray, b: NdArray) => np.linalg.lstsq(a, b, { residuals: "always" })[0]);
      checkLinalgCase(c as LinalgGoldenCase, (a, b) => ({ out: solution(a, b) }));
    });
  }
});
