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

  it("batched products (attention's Q Kᵀ and its gradients) absorb transposes of every matrix", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.constantFrom([1], [3], [2, 3]),
          m: fc.integer({ min: 1, max: 20 }),
          k: fc.integer({ min: 1, max: 20 }),
          n: fc.integer({ min: 1, max: 20 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          tc: fc.boolean(),
          f32: fc.boolean(),
          seed: fc.nat(1000),
        }),
        ({ batch, m, k, n, ta, tb, tc, f32, seed }) => {
          const dtype = f32 ? "float32" : "float64";
          const a = seededArray([...batch, ...(ta ? [k, m] : [m, k])], seed).astype(dtype);
          const b = seededArray([...batch, ...(tb ? [n, k] : [k, n])], seed + 1).astype(dtype);
          const swap = (x: NdArray) => np.swapaxes(x, -1, -2);
          const f = (p: NdArray, q: NdArray) => {
            const c = np.matmul(ta ? swap(p) : p, tb ? swap(q) : q);
            return (tc ? swap(c) : c).mul(2);
          };
          if (ta || tb || tc) {
            const { executable } = jit(f).lower(a, b);
            const names = executable.steps.map((s) =>
              s.kind === "eqn" ? s.equation.primitive.name : s.kind,
            );
            // (A transpose that only moves unit axes is a reshape, and a product without one a matmul.)
            expect(names).not.toContain("transpose");
          }
          const tol = f32 ? 1e-5 : 1e-12;
          expectClose(jit(f)(a, b), f(a, b), tol, tol);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a transpose of a transposed value that is read elsewhere stays a matrix transpose the GEMM absorbs", () => {
    // v's heads are read by one product as they are and by another transposed: composing the two
    // transposes into one would leave a transpose that no GEMM can read.
    const f = (v: NdArray, q: NdArray) => {
      const heads = np.transpose(v, [1, 0, 2]); // [heads, t, d]
      return [np.matmul(q, np.swapaxes(heads, -1, -2)), heads.mul(2)];
    };
    const v = seededArray([5, 3, 4], 1);
    const q = seededArray([3, 6, 4], 2);
    const { executable } = jit(f).lower(v, q);
    const names = executable.steps.map((s) => (s.kind === "eqn" ? s.equation.primitive.name : s.kind));
    expect(names.filter((x) => x === "transpose")).toHaveLength(1);
    expect(executable.toString()).toContain("gemm[A Bᵀ]");
    const [got, gotHeads] = jit(f)(v, q) as NdArray[];
    const [want, wantHeads] = f(v, q) as NdArray[];
    expectClose(got!, want!, 1e-12, 1e-13);
    expectClose(gotHeads!, wantHeads!, 1e-12, 1e-13);
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
