/**
 * Transforms over pytrees (issue 19): jacfwd/jacrev/hessian with tree arguments and outputs, argnums
 * and hasAux; vmap's axisSize; evalShape; customJvp with defjvp, defjvps and nondiffArgnums.
 * Expected values are derived by hand in the comments (the laws check random trees against finite
 * differences).
 */
import { describe, expect, it } from "vitest";
import {
  ConcretizationError,
  customJvp,
  evalShape,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  jvp,
  makeProgram,
  type NdArray,
  np,
  ShapeDtype,
  ShapeError,
  testing,
  vjp,
  vmap,
} from "../../src/index.js";

const f64 = (values: number[] | number[][]) => np.array(values, { dtype: "float64" });
const { assertAllClose } = testing;
/** jacfwd and jacrev share a signature for the options used here. */
const jacobians = [jacfwd, jacrev as typeof jacfwd];

describe("jacfwd / jacrev over pytrees", () => {
  // y = w * b (elementwise), s = sum(w^2): dy/dw = diag(b), dy/db = diag(w), ds/dw = 2w, ds/db = 0.
  const f = (p: { w: NdArray; b: NdArray }) => ({ y: p.w.mul(p.b), s: p.w.square().sum() });
  const p = { w: f64([1, 2]), b: f64([3, 4]) };

  it.each([
    ["jacfwd", jacfwd],
    ["jacrev", jacrev as typeof jacfwd],
  ] as const)("%s nests the output tree outside the argument's tree, as JAX", (_, jac) => {
    const J = jac(f)(p);
    expect(Object.keys(J)).toEqual(["y", "s"]);
    expect(Object.keys(J.y)).toEqual(["w", "b"]);
    expect(J.y.w.toArray()).toEqual([
      [3, 0],
      [0, 4],
    ]);
    expect(J.y.b.toArray()).toEqual([
      [1, 0],
      [0, 2],
    ]);
    expect(J.s.w.toArray()).toEqual([2, 4]);
    expect(J.s.b.toArray()).toEqual([0, 0]);
  });

  it("a list of argnums gives a list per output leaf; a number gives the argument's tree", () => {
    // g(a, b) = a * b^2 elementwise: dg/da = diag(b^2), dg/db = diag(2ab).
    const g = (a: NdArray, b: NdArray) => a.mul(b.square());
    const a = f64([1, 2]);
    const b = f64([3, 5]);
    for (const jac of jacobians) {
      const [ja, jb] = jac(g, { argnums: [0, 1] })(a, b);
      expect(ja.toArray()).toEqual([
        [9, 0],
        [0, 25],
      ]);
      expect(jb.toArray()).toEqual([
        [6, 0],
        [0, 20],
      ]);
      expect(jac(g, { argnums: 1 })(a, b).toArray()).toEqual(jb.toArray());
      // A one-element list is still a list (JAX's tuple of one).
      const single = jac(g, { argnums: [1] })(a, b);
      expect(Array.isArray(single)).toBe(true);
      expect(single[0].toArray()).toEqual(jb.toArray());
    }
  });

  it("each block has shape out.shape + in.shape", () => {
    const h = (x: NdArray) => ({ m: np.matmul(x, x), t: x.sum({ axis: 0 }) });
    const x = np.ones([2, 3, 3], { dtype: "float64" });
    for (const jac of jacobians) {
      const J = jac(h)(x);
      expect(J.m.shape).toEqual([2, 3, 3, 2, 3, 3]);
      expect(J.t.shape).toEqual([3, 3, 2, 3, 3]);
    }
  });

  it("hessian of a function of a tree is a tree of trees (a list of argnums: a list of lists)", () => {
    // q(x, y) = sum(x^2 y): d2/dx2 = diag(2y), d2/dxdy = diag(2x), d2/dy2 = 0.
    const q = (x: NdArray, y: NdArray) => x.square().mul(y).sum();
    const x = f64([1, 2]);
    const y = f64([3, 4]);
    const H = hessian(q, { argnums: [0, 1] })(x, y);
    expect(H[0][0].toArray()).toEqual([
      [6, 0],
      [0, 8],
    ]);
    expect(H[0][1].toArray()).toEqual([
      [2, 0],
      [0, 4],
    ]);
    expect(H[1][0].toArray()).toEqual([
      [2, 0],
      [0, 4],
    ]);
    expect(H[1][1].toArray()).toEqual([
      [0, 0],
      [0, 0],
    ]);
    const Ht = hessian((t: { x: NdArray; y: NdArray }) => q(t.x, t.y))({ x, y });
    expect(Ht.x.y.toArray()).toEqual(H[0][1].toArray());
  });

  it("hasAux returns [jacobian, aux]", () => {
    const withAux = (x: NdArray) => [x.square(), { largest: x.max() }] as const;
    const x = f64([1, -3]);
    for (const jac of jacobians) {
      const [J, aux] = jac(withAux, { hasAux: true })(x);
      assertAllClose(
        J,
        f64([
          [2, 0],
          [0, -6],
        ]),
        { atol: 0, rtol: 0 },
      );
      expect(aux.largest.item()).toBe(1);
    }
    const [H, aux] = hessian((v: NdArray) => [v.square().sum(), v.sum()] as const, { hasAux: true })(x);
    expect(H.toArray()).toEqual([
      [2, 0],
      [0, 2],
    ]);
    expect(aux.item()).toBe(-2);
    expect(() => jacfwd((v: NdArray) => v, { hasAux: true })(x)).toThrow(
      /jacfwd: with hasAux the function must return \[output, aux\]/,
    );
  });

  it("empty arguments and outputs give empty blocks", () => {
    expect(jacfwd((x: NdArray) => x.sum())(np.zeros([0], { dtype: "float64" })).shape).toEqual([0]);
    expect(jacrev((x: NdArray) => x)(np.zeros([0, 2], { dtype: "float64" })).shape).toEqual([0, 2, 0, 2]);
    expect(jacfwd((_: { a: NdArray[] }) => f64([1, 2]).sum())({ a: [] })).toEqual({ a: [] });
  });

  it("works under jit and vmap", () => {
    const h = (t: { a: NdArray; b: NdArray }) => t.a.mul(np.sin(t.b));
    const t = { a: f64([1, 2]), b: f64([0.5, 1.5]) };
    const eager = jacrev(h)(t);
    const jitted = jit(jacrev(h))(t);
    expect(jitted.b.toArray()).toEqual(eager.b.toArray());
    const batched = vmap(jacfwd(h))({ a: f64([[1, 2]]), b: f64([[0.5, 1.5]]) });
    expect(batched.b.shape).toEqual([1, 2, 2]);
    assertAllClose(batched.b.reshape([2, 2]), eager.b, { atol: 1e-15, rtol: 0 });
  });

  it("errors name the transform: argnums out of range, unknown options", () => {
    const g = (a: NdArray) => a;
    expect(() => jacrev(g, { argnums: [0, 3] })(f64([1]))).toThrow(/jacrev: argnums \[0,3\] is out of range/);
    expect(() => jacfwd(g, { hasAux: true, bogus: 1 } as never)).toThrow(/jacfwd: unknown option 'bogus'/);
    expect(() => hessian(g, { allowInt: true } as never)).toThrow(/hessian: unknown option 'allowInt'/);
  });
});

describe("vmap with axisSize", () => {
  it("maps a function with no mapped input axisSize times (outputs broadcast)", () => {
    const out = vmap((x: NdArray) => x.mul(2), { inAxes: null, axisSize: 3 })(f64([1, 2]));
    expect(out.toArray()).toEqual([
      [2, 4],
      [2, 4],
      [2, 4],
    ]);
    expect(vmap(() => np.ones([2]), { axisSize: 4 })().shape).toEqual([4, 2]);
    // Agreeing with the mapped inputs is fine.
    expect(vmap((x: NdArray) => x.sum(), { axisSize: 2 })(f64([[1], [2]])).toArray()).toEqual([1, 2]);
  });

  it("errors: no mapped input and no axisSize, or an axisSize that disagrees", () => {
    expect(() => vmap((x: NdArray) => x, { inAxes: null })(f64([1]))).toThrow(
      /vmap must have at least one non-null value in inAxes, or be given axisSize/,
    );
    expect(() => vmap((x: NdArray) => x, { axisSize: 3 })(f64([1, 2]))).toThrow(ShapeError);
    expect(() => vmap((x: NdArray) => x, { axisSize: 3 })(f64([1, 2]))).toThrow(
      /vmap got axisSize 3 but the mapped axes have another size:\n {2}\* one axis had size 2: axis 0 of argument 0 of type float64\[2\]/,
    );
    expect(() => vmap((x: NdArray) => x, { axisSize: -1 })).toThrow(
      /axisSize must be a non-negative integer/,
    );
  });
});

describe("evalShape", () => {
  it("returns the ShapeDtype of every output, for arrays, ShapeDtypes and { shape, dtype } arguments", () => {
    const out = evalShape(
      (x: NdArray, p: { w: NdArray }) => ({ y: np.matmul(x, p.w), n: x.sum().astype("int32") }),
      { shape: [8, 3], dtype: "float32" },
      { w: new ShapeDtype([3, 5], "float64") },
    );
    expect(out.y).toBeInstanceOf(ShapeDtype);
    expect(out.y).toEqual(new ShapeDtype([8, 5], "float64"));
    expect(out.n).toEqual(new ShapeDtype([], "int32"));
    expect(evalShape((x: NdArray) => [x, x.reshape([-1])], np.ones([2, 2]))).toEqual([
      new ShapeDtype([2, 2], "float32"),
      new ShapeDtype([4], "float32"),
    ]);
  });

  it("runs no kernel: shapes far too large to allocate are fine, values cannot be read", () => {
    const big = { shape: [100_000, 100_000], dtype: "float32" } as const;
    expect(evalShape((x: NdArray) => np.matmul(x, x).sum({ axis: 0 }), big)).toEqual(
      new ShapeDtype([100_000], "float32"),
    );
    expect(() => evalShape((x: NdArray) => x.mul(x.item()), f64([1]))).toThrow(ConcretizationError);
  });

  it("sees through other transforms", () => {
    const loss = (w: NdArray, x: NdArray) => np.tanh(np.matmul(x, w)).sum();
    expect(
      evalShape(grad(loss), { shape: [3, 2], dtype: "float64" }, { shape: [5, 3], dtype: "float64" }),
    ).toEqual(new ShapeDtype([3, 2], "float64"));
  });
});

describe("customJvp", () => {
  it("a pytree function with defjvp: jvp uses the rule, vjp transposes it", () => {
    // f({a, b}) = [a·b, sum(a)] with the rule's tangents written out.
    const f = customJvp((p: { a: NdArray; b: NdArray }) => [p.a.mul(p.b), p.a.sum()] as [NdArray, NdArray]);
    f.defjvp(([p], [t]) => [f(p), [t.a.mul(p.b).add(p.a.mul(t.b)), t.a.sum()]]);
    const p = { a: f64([1, 2]), b: f64([3, 4]) };
    const t = { a: f64([1, 0]), b: f64([0, 1]) };
    const [out, tout] = jvp(f, [p], [t]);
    expect(out[0].toArray()).toEqual([3, 8]);
    expect(tout[0].toArray()).toEqual([3, 2]); // t.a·b + a·t.b = [3, 0] + [0, 2]
    expect(tout[1].item()).toBe(1);
    const [, pullback] = vjp(f, p);
    const [ct] = pullback([f64([1, 1]), np.scalar(1, "float64")]);
    // d/da (sum(a·b) + sum(a)) = b + 1; d/db = a.
    expect(ct.a.toArray()).toEqual([4, 5]);
    expect(ct.b.toArray()).toEqual([1, 2]);
  });

  it("defjvps sums one term per argument (null: no contribution)", () => {
    const f = customJvp((x: NdArray, y: NdArray) => x.mul(y));
    f.defjvps((tx, _ans, _x, y) => tx.mul(y), null);
    const [dx, dy] = grad((x: NdArray, y: NdArray) => f(x, y).sum(), { argnums: [0, 1] })(f64([2]), f64([5]));
    expect(dx.toArray()).toEqual([5]);
    expect(dy.toArray()).toEqual([0]); // the rule says y does not matter
    expect(() => {
      const g = customJvp((x: NdArray, y: NdArray) => x.mul(y));
      (g.defjvps as (...terms: unknown[]) => void)((tx: NdArray) => tx);
      jvp(g, [f64([1]), f64([1])], [f64([1]), f64([1])]);
    }).toThrow(/defjvps got 1 terms for 2 argument\(s\)/);
  });

  it("nondiffArgnums: passed to the rule first, with no tangent", () => {
    const apply = customJvp((fn: (x: NdArray) => NdArray, x: NdArray) => fn(x), { nondiffArgnums: [0] });
    apply.defjvp((fn, [x], [t]) => [fn(x), t.mul(np.cos(x))]);
    expect(grad((x: NdArray) => apply(np.sin, x).sum())(f64([0, 1])).toArray()).toEqual([1, Math.cos(1)]);
    // An array argument in nondiffArgnums is a constant: no gradient flows to it.
    const scaled = customJvp((s: NdArray, x: NdArray) => x.mul(s), { nondiffArgnums: [0] });
    scaled.defjvp((s, [x], [t]) => [x.mul(s), t.mul(s)]);
    const [ds, dx] = grad((s: NdArray, x: NdArray) => scaled(s, x).sum(), { argnums: [0, 1] })(
      f64([3]),
      f64([2]),
    );
    expect(ds.toArray()).toEqual([0]);
    expect(dx.toArray()).toEqual([3]);
    expect(vmap((s: NdArray, x: NdArray) => scaled(s, x))(f64([1, 2]), f64([5, 6])).toArray()).toEqual([
      5, 12,
    ]);
    expect(() => customJvp((x: NdArray) => x, { nondiffArgnums: [0] }).defjvps(null)).toThrow(
      /defjvps cannot be used with nondiffArgnums/,
    );
  });

  it("is one primitive in traced programs; jit inlines the function itself", () => {
    const f = customJvp((x: NdArray) => np.exp(x).add(1));
    f.defjvp(([x], [t]) => [f(x), t.mul(np.exp(x))]);
    expect(makeProgram(f)(f64([1])).toString()).toMatch(/custom_jvp_call\[name=/);
    expect(
      jit(f)
        .lower(f64([1]))
        .toString(),
    ).not.toMatch(/custom_jvp_call/);
    expect(jit(f)(f64([0])).toArray()).toEqual([2]);
  });

  it("errors: no rule, a rule with the wrong structure or shapes, a traced value closed over", () => {
    const noRule = customJvp(function square(x: NdArray) {
      return x.square();
    });
    expect(() => noRule(f64([1]))).toThrow(/customJvp\(square\): no JVP rule defined; call .defjvp/);
    const wrong = customJvp(function square(x: NdArray) {
      return x.square();
    });
    wrong.defjvp(([x], [t]) => [x.square(), t.mul(2).sum()]);
    expect(() => jvp(wrong, [f64([1, 2])], [f64([1, 1])])).toThrow(
      /customJvp\(square\): the JVP rule's tangent output 0 is float64\[\] but the primal output is float64\[2\]/,
    );
    const wrongTree = customJvp((x: NdArray) => x);
    wrongTree.defjvp(([x], [t]) => [x, [t, t]] as never);
    expect(() => jvp(wrongTree, [f64([1])], [f64([1])])).toThrow(/tangent output has structure/);
    expect(() =>
      grad((y: NdArray) => {
        const c = customJvp((x: NdArray) => x.mul(y));
        c.defjvp(([x], [t]) => [c(x), t.mul(y)]);
        return c(y).sum();
      })(f64([1, 2])),
    ).toThrow(/closes over a traced value float64\[2\].*pass it as an argument/);
    expect(() => customJvp((x: NdArray) => x, { nondiffArgnum: [0] } as never)).toThrow(
      /customJvp: unknown option 'nondiffArgnum'/,
    );
  });
});
