import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { grad, jit, type Array as NdArray, np } from "../../src/index.js";
import { expectClose, seededArray } from "../helpers/numeric.js";

// Transposes that only feed a matmul, or only read its result, become operand flags of one GEMM step.
describe("transposes absorbed into GEMM steps", () => {
  it("x @ W.T and its gradients run with no transpose step, and equal eager", () => {
    const loss = (w: NdArray, x: NdArray) => np.sum(np.tanh(np.matmul(x, w.T)));
    const w = seededArray([24, 40], 1);
    const x = seededArray([32, 40], 2);
    const { executable } = jit(grad(loss, { argnums: [0, 1] })).lower(w, x);
    const names = executable.steps.map((s) => (s.kind === "eqn" ? s.equation.primitive.name : s.kind));
    expect(names).not.toContain("transpose");
    expect(names).toContain("gemm");
    const [gw, gx] = jit(grad(loss, { argnums: [0, 1] }))(w, x) as NdArray[];
    const [ew, ex] = grad(loss, { argnums: [0, 1] })(w, x) as NdArray[];
    expectClose(gw!, ew!, 1e-12, 1e-13);
    expectClose(gx!, ex!, 1e-12, 1e-13);
  });

  it("every combination of transposed operands and result equals eager, float64 and float32", () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 40 }),
          k: fc.integer({ min: 1, max: 40 }),
          n: fc.integer({ min: 1, max: 40 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          tc: fc.boolean(),
          f32: fc.boolean(),
          seed: fc.nat(1000),
        }),
        ({ m, k, n, ta, tb, tc, f32, seed }) => {
          const dtype = f32 ? "float32" : "float64";
          const a = seededArray(ta ? [k, m] : [m, k], seed).astype(dtype);
          const b = seededArray(tb ? [n, k] : [k, n], seed + 1).astype(dtype);
          const f = (p: NdArray, q: NdArray) => {
            const c = np.matmul(ta ? p.T : p, tb ? q.T : q);
            return (tc ? c.T : c).mul(2);
          };
          const tol = f32 ? 1e-5 : 1e-12;
          expectClose(jit(f)(a, b), f(a, b), tol, tol);
        },
      ),
      { numRuns: 80 },
    );
  });

  it("a transpose read by something else as well still runs", () => {
    const f = (a: NdArray, b: NdArray) => {
      const t = a.T;
      return np.matmul(t, b).sum().add(t.sum());
    };
    const a = seededArray([5, 3], 3);
    const b = seededArray([5, 4], 4);
    const { executable } = jit(f).lower(a, b);
    expect(executable.steps.some((s) => s.kind === "eqn" && s.equation.primitive.name === "transpose")).toBe(
      true,
    );
    expectClose(jit(f)(a, b), f(a, b), 1e-12);
  });
});
