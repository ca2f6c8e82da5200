/**
 * linalg_lu.json (test/golden/gen_linalg_lu.py): the LU family against torch.linalg in float64 —
 * lu_factor, lu, lu_solve, solve, inv, det, slogdet, matrix_power, cross, multi_dot and the last-two-axes
 * trace/diagonal — values (integer pivots and permutations exactly) and vector-Jacobian products with the
 * stored cotangents, to the golden README's float64 tolerance (1e-9 relative).
 */
import { describe, expect, it } from "vitest";
import { lax, type NdArray, np, scipy, vjp } from "../../src/index.js";
import { unpackLu } from "../../src/ops/linalg-lu.js";
import { expectClose, FLOAT64_TOLERANCE, loadVjpCases, toArray, type VjpCase } from "./golden.js";

type Arrays = Record<string, NdArray>;

/** The inputs a case's function differentiates, in order, and what it computes from them. */
interface Op {
  readonly differentiate: readonly string[];
  readonly run: (inputs: Arrays, attrs: Record<string, unknown>) => Arrays;
}

const a = (inputs: Arrays): NdArray => inputs["a"]!;
const numbered = (inputs: Arrays): NdArray[] =>
  Object.keys(inputs)
    .sort((p, q) => Number(p.slice(1)) - Number(q.slice(1)))
    .map((k) => inputs[k]!);

const OPS: Record<string, Op> = {
  lu_factor: {
    differentiate: ["a"],
    run: (inputs) => {
      const [lu, pivots] = scipy.linalg.luFactor(a(inputs));
      return { lu, pivots };
    },
  },
  lu: {
    differentiate: ["a"],
    run: (inputs) => {
      const x = a(inputs);
      const [m, n] = x.shape.slice(-2) as [number, number];
      const k = Math.min(m, n);
      const [lu, , permutation] = lax.linalg.lu(x);
      const [l, u] = unpackLu(lu);
      const all = x.shape.slice(0, -2).map(() => ({}));
      // torch's L is [m, k] and U [k, n].
      return {
        l: np.slice(l, [...all, {}, { stop: k }]),
        u: np.slice(u, [...all, { stop: k }]),
        permutation,
      };
    },
  },
  lu_solve: {
    differentiate: ["lu", "b"],
    run: (inputs, attrs) => ({
      out: scipy.linalg.luSolve([inputs["lu"]!, inputs["piv"]!], inputs["b"]!, {
        trans: attrs["trans"] as 0 | 1,
      }),
    }),
  },
  solve: { differentiate: ["a", "b"], run: (inputs) => ({ out: np.linalg.solve(a(inputs), inputs["b"]!) }) },
  inv: { differentiate: ["a"], run: (inputs) => ({ out: np.linalg.inv(a(inputs)) }) },
  det: { differentiate: ["a"], run: (inputs) => ({ out: np.linalg.det(a(inputs)) }) },
  slogdet: {
    differentiate: ["a"],
    run: (inputs) => {
      const [sign, logabsdet] = np.linalg.slogdet(a(inputs));
      return { sign, logabsdet };
    },
  },
  matrix_power: {
    differentiate: ["a"],
    run: (inputs, attrs) => ({ out: np.linalg.matrixPower(a(inputs), attrs["n"] as number) }),
  },
  linalg_diagonal: {
    differentiate: ["x"],
    run: (inputs, attrs) => ({
      out: np.linalg.diagonal(inputs["x"]!, { offset: attrs["offset"] as number }),
    }),
  },
  linalg_trace: {
    differentiate: ["x"],
    run: (inputs, attrs) => ({ out: np.linalg.trace(inputs["x"]!, { offset: attrs["offset"] as number }) }),
  },
  cross: {
    differentiate: ["x1", "x2"],
    run: (inputs, attrs) => ({
      out: np.linalg.cross(inputs["x1"]!, inputs["x2"]!, { axis: attrs["axis"] as number }),
    }),
  },
  multi_dot: {
    differentiate: [],
    run: (inputs) => ({ out: np.linalg.multiDot(numbered(inputs)) }),
  },
};

function inputsOf(c: VjpCase): Arrays {
  return Object.fromEntries(Object.entries(c.inputs).map(([k, g]) => [k, toArray(g)]));
}

function check(c: VjpCase): void {
  const op = OPS[c.op];
  if (op === undefined) throw new Error(`${c.name}: no implementation for op ${c.op}`);
  const inputs = inputsOf(c);
  const outs = op.run(inputs, c.attrs);
  for (const [name, ref] of Object.entries({ ...c.outputs, ...(c.intermediates ?? {}) })) {
    const got = outs[name];
    expect(got, `${c.name}: output ${name}`).toBeDefined();
    if (ref.dtype === "int64") {
      expect(got!.dtype).toBe("int32");
      expectClose(got!, ref, { atol: 0, rtol: 0 }, `${c.name}: output ${name}`);
    } else expectClose(got!, ref, FLOAT64_TOLERANCE, `${c.name}: output ${name}`);
  }
  // The vjp of the float outputs that have a cotangent, with respect to the float inputs.
  const names = op.differentiate.length > 0 ? op.differentiate : Object.keys(c.inputs);
  const withCotangent = Object.keys(c.cotangent);
  const f = (...xs: NdArray[]): NdArray[] => {
    const all = { ...inputs, ...Object.fromEntries(names.map((n, i) => [n, xs[i]!])) };
    const result = op.run(all, c.attrs);
    return withCotangent.map((k) => result[k]!);
  };
  const [, vjpFn] = vjp(f, ...names.map((n) => inputs[n]!));
  const grads = vjpFn(withCotangent.map((k) => toArray(c.cotangent[k]!)));
  expect(Object.keys(c.grads).sort()).toEqual([...names].sort());
  names.forEach((name, i) =>
    expectClose(grads[i]!, c.grads[name]!, FLOAT64_TOLERANCE, `${c.name}: grad ${name}`),
  );
}

describe("golden linalg_lu.json (torch.linalg, float64)", () => {
  const cases = loadVjpCases("linalg_lu.json");
  it("has a case for every function of the LU family", () => {
    expect(new Set(cases.map((c) => c.op))).toEqual(new Set(Object.keys(OPS)));
  });
  for (const c of cases) it(`${c.name}: ${c.torch}`, () => check(c));
});
