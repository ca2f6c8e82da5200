/**
 * linalg_cholesky.json (issue 20): cholesky, solve_triangular, cholesky_solve and the GP example's
 * negative log marginal likelihood against PyTorch 1.13 in float64, values and vector-Jacobian products
 * with the stored cotangent, to 1e-9 relative (FLOAT64_TOLERANCE). Cases from gen_linalg_cholesky.py.
 */
import { describe, expect, it } from "vitest";
import { type GpParams, negLogMarginalLikelihood } from "../../docs/examples/gp-regression.js";
import { lax, type NdArray, np, scipy, vjp } from "../../src/index.js";
import { expectClose, FLOAT64_TOLERANCE, loadVjpCases, toArray, type VjpCase } from "./golden.js";

type Arrays = Record<string, NdArray>;

/** Each op of the file as our functions: the inputs by name (in the case's order) to the output. */
const OPS: Record<string, (inputs: Arrays, attrs: Record<string, unknown>) => NdArray> = {
  cholesky: ({ a }, attrs) => np.linalg.cholesky(a!, { upper: attrs["upper"] === true }),
  solve_triangular: ({ a, b }, attrs) =>
    lax.linalg.triangularSolve(a!, b!, {
      leftSide: attrs["left_side"] === true,
      lower: attrs["lower"] === true,
      transposeA: attrs["transpose_a"] === true,
      unitDiagonal: attrs["unit_diagonal"] === true,
    }),
  cholesky_solve: ({ l, b }) => scipy.linalg.choSolve([l!, true], b!),
  gp_nll: ({ x, y, log_params }) => negLogMarginalLikelihood(gpParams(log_params!), x!, y!),
};

/** [log l, log s, log σ] as the example's parameter tree. */
function gpParams(logParams: NdArray): GpParams {
  const at = (i: number) => np.take(logParams, i);
  return { logLengthscale: at(0), logSignal: at(1), logNoise: at(2) };
}

const CASES = loadVjpCases("linalg_cholesky.json");

/**
 * torch.cholesky_solve differentiates l as a dense matrix; ours reads its lower triangle (as JAX's
 * cho_solve), so only that triangle's gradient is comparable (the input l is lower triangular).
 */
const comparable = (c: VjpCase, name: string, g: NdArray): NdArray =>
  c.op === "cholesky_solve" && name === "l" ? np.tril(g) : g;

describe("golden linalg_cholesky.json (float64, torch.linalg)", () => {
  it("has every op of the file and the cases the issue asks for", () => {
    expect(CASES.filter((c) => OPS[c.op] === undefined).map((c) => c.op)).toEqual([]);
    const ops = new Set(CASES.map((c) => c.op));
    expect([...ops].sort()).toEqual(["cholesky", "cholesky_solve", "gp_nll", "solve_triangular"]);
    // Batched and unbatched, lower and upper, both sides, and the blocked kernels (n > 64).
    expect(CASES.some((c) => c.op === "cholesky" && c.inputs["a"]!.shape.length > 2)).toBe(true);
    expect(CASES.some((c) => c.op === "cholesky" && c.attrs["upper"] === true)).toBe(true);
    expect(CASES.some((c) => c.op === "solve_triangular" && c.attrs["left_side"] === false)).toBe(true);
    expect(CASES.filter((c) => c.inputs["a"]?.shape.at(-1) === 70)).toHaveLength(2);
  });

  for (const c of CASES) {
    it(`${c.name} [${c.op}] forward and vjp`, () => {
      const names = Object.keys(c.inputs);
      const inputs: Arrays = Object.fromEntries(names.map((n) => [n, toArray(c.inputs[n]!)]));
      const f = (...xs: NdArray[]) =>
        OPS[c.op]!(Object.fromEntries(names.map((n, i) => [n, xs[i]!])), c.attrs);
      const outName = Object.keys(c.outputs)[0]!;
      const [out, vjpFn] = vjp(f, ...names.map((n) => inputs[n]!));
      expectClose(out, c.outputs[outName]!, FLOAT64_TOLERANCE, `${c.name} ${outName}`);
      const grads = vjpFn(toArray(c.cotangent[outName]!));
      names.forEach((n, i) => {
        const ref = c.grads[n];
        if (ref === undefined) return;
        expectClose(
          comparable(c, n, grads[i]!),
          comparable(c, n, toArray(ref)),
          FLOAT64_TOLERANCE,
          `${c.name} d/d${n}`,
        );
      });
    });
  }
});
