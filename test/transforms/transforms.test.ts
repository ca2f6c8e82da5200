import { describe, expect, it } from "vitest";
import {
  customVjp,
  grad,
  hessian,
  jacrev,
  jvp,
  linearize,
  makeProgram,
  type Array as NdArray,
  np,
  ShapeDtype,
  stopGradient,
  valueAndGrad,
  viz,
  vjp,
  vmap,
} from "../../src/index.js";
import { expectClose, numericGrad, seededArray } from "../helpers/numeric.js";

const smooth = (x: NdArray): NdArray =>
  np.sum(
    np
      .tanh(x)
      .mul(np.sin(x))
      .add(np.exp(x.mul(0.3))),
  );

describe("grad, vjp, jvp", () => {
  const x = seededArray([5], 1);

  it("grad agrees with central differences and jvp with vjp", () => {
    expectClose(grad(smooth)(x), numericGrad(smooth, x), 1e-7);
    const v = seededArray([5], 2);
    const [, jv] = jvp(smooth, [x], [v]);
    const g = grad(smooth)(x);
    expect(jv.item()).toBeCloseTo(np.sum(g.mul(v)).item(), 12);
  });

  it("grad of grad, jacfwd of jacrev, vmap of grad and grad of vmap", () => {
    const gg = grad((y: NdArray) => np.sum(grad(smooth)(y)));
    expectClose(
      gg(x),
      numericGrad((y) => np.sum(grad(smooth)(y)), x),
      1e-6,
    );
    const H = hessian(smooth)(x);
    expectClose(H, jacrev(grad(smooth))(x), 1e-10);
    expectClose(
      np.sum(H, { axis: 1 }),
      numericGrad((y) => np.sum(grad(smooth)(y)), x),
      1e-6,
    );
    const batch = seededArray([3, 5], 3);
    const perExample = vmap(grad(smooth))(batch);
    const stacked = np.stack(
      [0, 1, 2].map((i) => grad(smooth)(np.slice(batch, [{ start: i, stop: i + 1 }]).reshape([5]))),
    );
    expectClose(perExample, stacked, 1e-12);
    expectClose(grad((b: NdArray) => np.sum(vmap(smooth)(b)))(batch), perExample, 1e-12);
  });

  it("vjp returns one cotangent per primal, as a tuple", () => {
    const W = seededArray([2, 3], 4);
    const [out, back] = vjp((w: NdArray, v: NdArray) => np.matmul(w, v), W, seededArray([3], 5));
    expect(out.shape).toEqual([2]);
    const cts = back(np.array([1, -1], { dtype: "float64" }));
    expect(cts).toHaveLength(2);
    expect(cts[0].shape).toEqual([2, 3]);
    const [, backOne] = vjp(np.tanh, x);
    expect(backOne(np.onesLike(x))).toHaveLength(1);
  });

  it("linearize gives the jvp as a function", () => {
    const [y, f] = linearize(smooth, x);
    expect(y.item()).toBeCloseTo(smooth(x).item(), 12);
    const v = seededArray([5], 6);
    expect(f(v).item()).toBeCloseTo(jvp(smooth, [x], [v])[1].item(), 12);
  });

  it("argnums, hasAux and valueAndGrad", () => {
    const f = (a: NdArray, b: NdArray) => np.sum(a.mul(b).mul(b));
    const a = seededArray([3], 7);
    const b = seededArray([3], 8);
    expectClose(grad(f, { argnums: 1 })(a, b), a.mul(b).mul(2), 1e-12);
    const both = grad(f, { argnums: [0, 1] })(a, b) as NdArray[];
    expectClose(both[0]!, b.mul(b), 1e-12);
    const [[value, aux], g] = valueAndGrad((p: NdArray) => [np.sum(p.mul(p)), p.mul(2)] as const, {
      hasAux: true,
    })(a) as [[NdArray, NdArray], NdArray];
    expect(value.item()).toBeCloseTo(np.sum(a.mul(a)).item(), 12);
    expectClose(aux, a.mul(2), 0);
    expectClose(g, a.mul(2), 1e-12);
  });

  it("works on pytrees", () => {
    const params = { w: seededArray([2, 2], 9), layers: [{ b: seededArray([2], 10) }] };
    const loss = (p: typeof params) => np.sum(np.tanh(np.matmul(p.w, p.layers[0]!.b)));
    const g = grad(loss)(params);
    expect(Object.keys(g)).toEqual(["w", "layers"]);
    expect(g.layers[0]!.b.shape).toEqual([2]);
    expectClose(
      g.w,
      numericGrad((w) => loss({ ...params, w }), params.w),
      1e-7,
    );
  });

  it("follows PyTorch at kinks and ties", () => {
    const relu = (v: NdArray) => np.sum(np.where(v.greater(0), v, 0));
    expect(grad(relu)(np.array([0, 1], { dtype: "float64" })).toArray()).toEqual([0, 1]);
    expect(
      grad((v: NdArray) => np.sum(np.abs(v)))(np.array([0, -2], { dtype: "float64" })).toArray(),
    ).toEqual([0, -1]);
    expect(grad((v: NdArray) => np.max(v))(np.array([3, 1, 3], { dtype: "float64" })).toArray()).toEqual([
      0.5, 0, 0.5,
    ]);
    const [ga, gb] = grad((a: NdArray, b: NdArray) => np.sum(np.maximum(a, b)), { argnums: [0, 1] })(
      np.array([1, 2], { dtype: "float64" }),
      np.array([1, 3], { dtype: "float64" }),
    ) as NdArray[];
    expect(ga!.toArray()).toEqual([0.5, 0]);
    expect(gb!.toArray()).toEqual([0.5, 1]);
  });

  it("integer inputs get zero cotangents with allowInt, never a crash", () => {
    const f = (v: NdArray, idx: NdArray) => np.sum(v.mul(idx.astype("float64")));
    const [gv, gi] = grad(f, { argnums: [0, 1], allowInt: true })(
      np.array([1, 2], { dtype: "float64" }),
      np.array(new Int32Array([3, 4])),
    ) as NdArray[];
    expect(gv!.toArray()).toEqual([3, 4]);
    expect(gi!.toArray()).toEqual([0, 0]);
  });

  it("stopGradient and customVjp", () => {
    expect(
      grad((v: NdArray) => np.sum(stopGradient(v).mul(v)))(np.array([2], { dtype: "float64" })).toArray(),
    ).toEqual([2]);
    const scaled = customVjp(
      (v: NdArray) => np.sin(v),
      (v: NdArray) => [np.sin(v), v] as [NdArray, NdArray],
      (v: NdArray, ct: NdArray) => [ct.mul(np.cos(v)).mul(3)] as [NdArray],
    );
    const x = seededArray([4], 11);
    expectClose(grad((v: NdArray) => np.sum(scaled(v)))(x), np.cos(x).mul(3), 1e-12);
    expectClose(scaled(x), np.sin(x), 0);
    expect(() => jvp(scaled, [x], [x])).toThrow(/customVjp|custom_lin/);
  });

  it("clear errors: non-scalar grad, mismatched cotangents, mismatched trees", () => {
    expect(() => grad((v: NdArray) => v.mul(2))(np.ones([2, 3]))).toThrow(
      /grad: the function must return a scalar \(shape \[\]\).*float32\[2,3\]/,
    );
    const [, back] = vjp((v: NdArray) => v.mul(2), np.ones([2, 3]));
    expect(() => back(np.ones([3, 2]))).toThrow(
      /vjp: cotangent 0 has shape float32\[3,2\] but the output is float32\[2,3\]/,
    );
    expect(() =>
      jvp((a: { w: NdArray }) => a.w, [{ w: np.ones([2]) }], [{ v: np.ones([2]) } as never]),
    ).toThrow(/jvp: primals vs tangents: tree structures differ at 0: keys \{w\} vs \{v\}/);
    expect(() => vmap((a: NdArray, b: NdArray) => a.add(b))(np.ones([2, 3]), np.ones([3, 3]))).toThrow(
      /vmap got inconsistent sizes for array axes to be mapped/,
    );
  });

  it("makeProgram prints the forward and the backward program", () => {
    const f = (w: NdArray, v: NdArray) => np.sum(np.tanh(np.matmul(v, w)));
    const fwd = makeProgram(f)(new ShapeDtype([3, 4]), new ShapeDtype([2, 3])).toString();
    expect(fwd).toContain("matmul");
    expect(fwd).toMatch(/tanh/);
    const bwd = makeProgram(grad(f))(new ShapeDtype([3, 4]), new ShapeDtype([2, 3])).toString();
    expect(bwd).toMatch(/transpose\[permutation=\[1,0\]\]/);
    expect(bwd.split("\n").length).toBeGreaterThan(fwd.split("\n").length);
    const traced = makeProgram(grad(f))(new ShapeDtype([3, 4]), new ShapeDtype([2, 3]));
    const dot = viz.programToDot(traced, { title: "grad" });
    expect(dot).toMatch(/^digraph program \{/);
    expect(dot).toMatch(/matmul/);
  });
});
