import { describe, expect, it } from "vitest";
import {
  cond,
  grad,
  jit,
  jvp,
  makeProgram,
  type Array as NdArray,
  np,
  ShapeDtype,
  switchCase,
  vjp,
  vmap,
} from "../../src/index.js";
import { directional, expectClose, numericGrad, seededArray } from "../helpers/numeric.js";

const i32 = (v: number) => np.array(v, { dtype: "int32" });

// Three branches over two operands, each using them differently.
const branches = [
  (x: NdArray, y: NdArray) => np.sin(x).mul(y),
  (x: NdArray, y: NdArray) => np.exp(x.mul(0.5)).sub(y.square()),
  (x: NdArray, y: NdArray) => x.mul(y).add(np.cos(y)),
];
const sw = (i: NdArray, x: NdArray, y: NdArray) => switchCase(i, branches, x, y);
const x0 = seededArray([3], 1);
const y0 = seededArray([3], 2);

describe("switchCase", () => {
  it("takes branch index, clamped to [0, n - 1] as JAX does, eagerly, jitted and with a JS index", () => {
    const jitted = jit(sw);
    for (const [i, b] of [
      [-5, 0],
      [0, 0],
      [1, 1],
      [2, 2],
      [9, 2],
    ] as const) {
      const want = branches[b]!(x0, y0);
      expectClose(sw(i32(i), x0, y0), want, 0, 0);
      expectClose(jitted(i32(i), x0, y0), want, 0, 0);
      expectClose(switchCase(i, branches, x0, y0), want, 0, 0);
    }
    expect(jitted.cacheInfo().misses).toBe(1);
  });

  it("differentiates in forward and reverse mode (against central differences, float64)", () => {
    for (const i of [0, 1, 2]) {
      const f = (x: NdArray) => np.sum(sw(i32(i), x, y0).square());
      expectClose(grad(f)(x0), numericGrad(f, x0), 1e-7, 1e-9);
      const v = seededArray([3], 3);
      expect(jvp(f, [x0], [v])[1].item()).toBeCloseTo(directional(f, x0, v), 8);
      // vjp through the second operand, and inside jit (a traced index selects between branches).
      const g = (y: NdArray) => np.sum(sw(i32(i), x0, y));
      const [, pull] = vjp(g, y0);
      expectClose(pull(np.array(1, { dtype: "float64" }))[0], numericGrad(g, y0), 1e-7, 1e-9);
      const jg = jit((k: NdArray, y: NdArray) => grad((u: NdArray) => np.sum(sw(k, x0, u)))(y));
      expectClose(jg(i32(i), y0), numericGrad(g, y0), 1e-7, 1e-9);
    }
  });

  it("under vmap: a batched index selects per example, an unbatched one keeps one switch", () => {
    const xs = seededArray([4, 3], 4);
    const ys = seededArray([4, 3], 5);
    const idx = np.array([2, 0, 1, 7], { dtype: "int32" });
    const rowsX = [...xs];
    const rowsY = [...ys];
    const perExample = np.stack(rowsX.map((x, k) => branches[[2, 0, 1, 2][k]!]!(x, rowsY[k]!)));
    expectClose(vmap(sw)(idx, xs, ys), perExample, 0, 0);
    expectClose(jit(vmap(sw))(idx, xs, ys), perExample, 0, 0);
    const program = makeProgram(vmap(sw))(
      new ShapeDtype([4], "int32"),
      new ShapeDtype([4, 3], "float64"),
      new ShapeDtype([4, 3], "float64"),
    ).toString();
    expect(program).not.toMatch(/switch\[/);
    expect(program).toMatch(/select/);
    const fixed = vmap((x: NdArray, y: NdArray) => sw(i32(1), x, y))(xs, ys);
    expectClose(fixed, np.stack(rowsX.map((x, k) => branches[1]!(x, rowsY[k]!))), 0, 0);
    expect(
      makeProgram(vmap((k: NdArray, x: NdArray) => sw(k, x, y0), { inAxes: [null, 0] }))(
        new ShapeDtype([], "int32"),
        new ShapeDtype([4, 3], "float64"),
      ).toString(),
    ).toMatch(/switch\[branches=/);
    // vmap of grad with a batched index.
    const gs = vmap((k: NdArray, x: NdArray) => grad((u: NdArray) => np.sum(sw(k, u, y0)))(x))(idx, xs);
    const gRef = rowsX.map((x, k) => grad((u: NdArray) => np.sum(branches[[2, 0, 1, 2][k]!]!(u, y0)))(x));
    expectClose(gs, np.stack(gRef), 1e-15, 0);
  });

  it("compiles each branch once in the jit plan and shows them under the switch step", () => {
    const lowered = jit(sw).lower(i32(0), x0, y0);
    expect(lowered.executable.subPlans.map((s) => s.label)).toEqual(["branch 0", "branch 1", "branch 2"]);
    expect(lowered.toString()).toMatch(/\d+: switch -> float64\[3\]\n {6}branch 0: \d+ steps, compiled once/);
  });

  it("checks the index and the branches' outputs", () => {
    expect(() => switchCase(np.array(1.0), branches, x0, y0)).toThrow(
      /switchCase: the index must be an integer scalar, got float32\[\]/,
    );
    expect(() => switchCase(np.array([0, 1], { dtype: "int32" }), branches, x0, y0)).toThrow(
      /switchCase: the index must be an integer scalar, got int32\[2\]/,
    );
    expect(() => switchCase(0.5, branches, x0, y0)).toThrow(
      /switchCase: the index must be an integer, got 0.5/,
    );
    expect(() => switchCase(i32(0), [], x0)).toThrow(/switchCase: `branches` must be a non-empty array/);
    expect(() => switchCase(i32(0), [(x: NdArray) => x, (x: NdArray) => x.sum()], x0)).toThrow(
      /switchCase: the outputs of branch 1 differ from those of branch 0: got \(float64\[\]\), expected \(float64\[3\]\)/,
    );
    expect(() => switchCase(i32(0), [(x: NdArray) => x, (x: NdArray) => x.astype("float32")], x0)).toThrow(
      /got \(float32\[3\]\), expected \(float64\[3\]\)/,
    );
    expect(() => switchCase(i32(0), [(x: NdArray) => [x, x], (x: NdArray) => [x]], x0)).toThrow(
      /switchCase: the outputs of branch 1 vs branch 0: tree structures differ/,
    );
  });
});

describe("cond is a two-way switch", () => {
  it("binds switch with [false, true] branches and selects under a batched predicate", () => {
    const f = (p: NdArray, x: NdArray) => cond(p, np.sin, np.cos, x);
    expect(makeProgram(f)(new ShapeDtype([], "bool"), new ShapeDtype([3], "float64")).toString()).toMatch(
      /switch\[branches=\(1 eqns \| 1 eqns\)\]/,
    );
    expectClose(jit(f)(np.array(true), x0), np.sin(x0), 0, 0);
    expectClose(jit(f)(np.array(false), x0), np.cos(x0), 0, 0);
    const ps = np.array([true, false, true]);
    const xs = seededArray([3, 3], 6);
    const rows = [...xs];
    expectClose(vmap(f)(ps, xs), np.stack([np.sin(rows[0]!), np.cos(rows[1]!), np.sin(rows[2]!)]), 0, 0);
  });
});
