/**
 * Eager reverse mode on a tape (src/transforms/tape.ts): gradients equal those of linearize-then-transpose
 * (the path jit, vmap and nested transforms keep) and central differences, in float64, on random
 * compositions of ops, and through everything a function may contain: nested grad, vmap, jit, custom
 * rules, composite primitives, control flow and effects.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cond,
  customJvp,
  customVjp,
  debug,
  forLoop,
  grad,
  jit,
  type Array as NdArray,
  nn,
  np,
  scan,
  valueAndGrad,
  vjp,
  vmap,
  whileLoop,
} from "../../src/index.js";
import { withEagerTape } from "../../src/transforms/tape.js";
import { expectClose, numericGrad, seededArray } from "../helpers/numeric.js";

/** The gradient on the tape and on linearize-then-transpose (`withEagerTape(false)`). */
function bothPaths<T>(run: () => T): [T, T] {
  return [withEagerTape(true, run), withEagerTape(false, run)];
}

function expectTreesClose(a: unknown, b: unknown, rtol = 1e-12, atol = 1e-13): void {
  if (Array.isArray(a)) {
    expect(Array.isArray(b)).toBe(true);
    expect(a.length).toBe((b as unknown[]).length);
    a.forEach((x, i) => {
      expectTreesClose(x, (b as unknown[])[i], rtol, atol);
    });
    return;
  }
  const [x, y] = [a as NdArray, b as NdArray];
  expect(x.shape).toEqual(y.shape);
  expect(x.dtype).toBe(y.dtype);
  expectClose(x, y, rtol, atol);
}

// A random composition: each step applies one op of this menu to the running value (shape [3, 4]).
const W = seededArray([4, 4], 7).astype("float64");
const B = seededArray([4], 8).astype("float64");
const MENU: readonly [string, (h: NdArray, x: NdArray) => NdArray][] = [
  ["tanh", (h) => np.tanh(h)],
  ["sin*x", (h, x) => np.sin(h).mul(x)],
  ["exp", (h) => np.exp(h.mul(0.3))],
  ["relu", (h) => nn.relu(h)],
  ["square", (h) => h.mul(h)],
  ["affine", (h) => np.matmul(h, W).add(B)],
  [
    "x@W'",
    (h, x) =>
      np
        .matmul(h, np.swapaxes(x, 0, 1).mul(0.2))
        .sum({ axis: 1, keepdims: true })
        .add(h),
  ],
  ["div", (h) => h.div(np.add(h.mul(h), 1.5))],
  ["max", (h, x) => np.maximum(h, x.mul(0.5))],
  ["mean-center", (h) => h.sub(np.mean(h, { axis: 0, keepdims: true }))],
  ["softmax", (h) => nn.softmax(h, { axis: -1 })],
  ["transpose-reshape", (h) => np.reshape(np.swapaxes(h, 0, 1), [3, 4])],
  ["where", (h, x) => np.where(np.greater(x, 0), h, h.mul(-2))],
  ["log1p-abs", (h) => np.log1p(np.abs(h))],
  ["concat-slice", (h, x) => np.concatenate([h, x], { axis: 1 }).index(":", "2:6")],
];

function compose(ops: readonly number[]): (x: NdArray) => NdArray {
  return (x) => {
    let h = x;
    for (const k of ops) h = MENU[k]![1](h, x);
    return np.sum(h.mul(h));
  };
}

const compositions = fc.record({
  ops: fc.array(fc.integer({ min: 0, max: MENU.length - 1 }), { minLength: 1, maxLength: 6 }),
  seed: fc.integer({ min: 1, max: 1 << 30 }),
});

describe("eager grad on the tape", () => {
  it("equals linearize-then-transpose and central differences on random compositions (float64)", () => {
    fc.assert(
      fc.property(compositions, ({ ops, seed }) => {
        const f = compose(ops);
        const x = seededArray([3, 4], seed).astype("float64");
        const [tape, old] = bothPaths(() => valueAndGrad(f)(x));
        expectTreesClose(tape[0], old[0]);
        expectTreesClose(tape[1], old[1]);
        // relu, abs and maximum are smooth away from their kinks, which random inputs miss.
        expectClose(tape[1], numericGrad(f, x), 1e-5, 1e-6);
      }),
      { numRuns: 60 },
    );
  });

  it("has the bits of linearize-then-transpose and of jit(grad f) on random compositions (float32)", () => {
    // Values used several times get cotangents from several steps; the tape adds them in the order of
    // linearize's program, so no float32 rounding differs.
    const bits = (a: NdArray): number[] =>
      Array.from(a.toTypedArray(), (v) => (Number.isNaN(v) ? Number.NaN : v));
    fc.assert(
      fc.property(compositions, ({ ops, seed }) => {
        const f = compose([...ops, ...ops]);
        const x = seededArray([3, 4], seed);
        const [tape, old] = bothPaths(() => grad(f)(x));
        const jitted = jit(grad(f))(x);
        expect(bits(tape)).toEqual(bits(old));
        expect(bits(tape)).toEqual(bits(jitted));
      }),
      { numRuns: 60 },
    );
  });

  it("grad of grad: the outer on the tape differentiates the inner's linearize and transpose", () => {
    const f = (x: NdArray) => np.sum(np.sin(x).mul(x).mul(x));
    const x = seededArray([5], 3).astype("float64");
    const [tape, old] = bothPaths(() => grad((y: NdArray) => np.sum(grad(f)(y).mul(np.cos(y))))(x));
    expectTreesClose(tape, old);
    const d1 = (y: NdArray) => np.sum(grad(f)(y).mul(np.cos(y)));
    expectClose(tape, numericGrad(d1, x), 1e-6, 1e-8);
    // Third order: grad(grad(grad)) of a scalar function, against d³/dx³ (x³ sin x)'''.
    const g = (s: NdArray) => s.mul(s).mul(s).mul(np.sin(s));
    const s = np.array(0.7, { dtype: "float64" });
    const third = grad(grad(grad(g)))(s).item();
    const v = 0.7;
    const want = 6 * Math.sin(v) + 18 * v * Math.cos(v) - 9 * v * v * Math.sin(v) - v * v * v * Math.cos(v);
    expect(third).toBeCloseTo(want, 10);
  });

  it("grad of vmap, vmap of grad, jit inside grad and grad inside jit", () => {
    const x = seededArray([4, 3], 11).astype("float64");
    const row = (r: NdArray) => np.sum(np.tanh(r).mul(r));
    const cases: [string, () => unknown][] = [
      ["grad of vmap", () => grad((y: NdArray) => np.sum(vmap(row)(y)))(x)],
      ["vmap of grad", () => vmap(grad(row))(x)],
      ["jit inside grad", () => grad((y: NdArray) => jit((z: NdArray) => np.sum(np.exp(z.mul(0.5))))(y))(x)],
      ["grad inside jit", () => jit(grad((y: NdArray) => np.sum(np.sin(y).mul(y))))(x)],
    ];
    for (const [, run] of cases) {
      const [tape, old] = bothPaths(run);
      expectTreesClose(tape, old);
    }
    const [viaVmap] = bothPaths(() => grad((y: NdArray) => np.sum(vmap(row)(y)))(x));
    expectClose(
      viaVmap as NdArray,
      numericGrad((y) => np.sum(vmap(row)(y)), x),
      1e-6,
      1e-8,
    );
  });

  it("custom rules, composite primitives and control flow", () => {
    const x = seededArray([3, 3], 5).astype("float64");
    const softplus = customJvp((v: NdArray) => np.log1p(np.exp(v)));
    softplus.defjvp(([v], [t]) => [softplus(v), t.mul(nn.sigmoid(v))]);
    const clipped = customVjp(
      (v: NdArray) => np.sin(v),
      (v: NdArray) => [np.sin(v), np.cos(v)] as const,
      (c: NdArray, ct: NdArray) => [ct.mul(c).mul(2)],
    );
    // A jvp rule whose tangent goes through cond: the tape linearizes that primitive on its own.
    const condRule = customJvp((v: NdArray) => v.mul(v));
    condRule.defjvp(([v], [t]) => [
      v.mul(v),
      cond(
        np.greater(np.sum(v), 0),
        (u: NdArray) => u.mul(v).mul(2),
        (u: NdArray) => u.mul(v).mul(2),
        t,
      ),
    ]);
    const cases: [string, (y: NdArray) => NdArray][] = [
      ["customJvp", (y) => np.sum(softplus(y).mul(y))],
      ["customVjp", (y) => np.sum(clipped(y).mul(y))],
      ["customJvp with cond on tangents", (y) => np.sum(condRule(y).mul(np.sin(y)))],
      ["det (composite)", (y) => np.linalg.det(y.add(np.eye(3, 3, { dtype: "float64" }).mul(3)))],
      ["cond", (y) => cond(np.greater(np.sum(y), -100), (u: NdArray) => np.sum(np.sin(u)), np.sum, y)],
      [
        "scan",
        (y) => {
          const [c] = scan(
            (carry: NdArray, r: NdArray) => [np.tanh(carry.add(r)), carry],
            np.zeros([3], { dtype: "float64" }),
            y,
          );
          return np.sum(c.mul(c));
        },
      ],
      ["forLoop", (y) => np.sum(forLoop(3, (_i, c: NdArray) => np.sin(c).add(y), y))],
      [
        "whileLoop (forward-mode only: grad of a while is an error on both paths)",
        (y) =>
          np.sum(
            whileLoop(
              (c: NdArray[]) => np.less(c[1]!, 2),
              (c: NdArray[]) => [np.sin(c[0]!), c[1]!.add(1)],
              [y, np.array(0)],
            )[0]!,
          ),
      ],
    ];
    for (const [name, f] of cases) {
      let tape: unknown;
      let old: unknown;
      let tapeError: unknown;
      let oldError: unknown;
      try {
        tape = withEagerTape(true, () => grad(f)(x));
      } catch (e) {
        tapeError = e;
      }
      try {
        old = withEagerTape(false, () => grad(f)(x));
      } catch (e) {
        oldError = e;
      }
      expect(String(tapeError), name).toBe(String(oldError));
      if (tapeError !== undefined) continue;
      expectTreesClose(tape, old);
      if (name !== "customVjp") expectClose(tape as NdArray, numericGrad(f, x), 1e-6, 1e-8);
    }
    // customVjp's bwd is what counts: 2 cos(x) (sin x + x cos x)... as the rule says, 2·cos·ct.
    const g = grad((y: NdArray) => np.sum(clipped(y)))(x);
    expectClose(g, np.cos(x).mul(2));
  });

  it("vjp: several outputs, cotangents of each, the function called again and under vmap", () => {
    const x = seededArray([4], 2).astype("float64");
    const y = seededArray([4], 9).astype("float64");
    const f = (a: NdArray, b: NdArray) => [np.sin(a).mul(b), np.sum(a.mul(b)), np.exp(b)] as const;
    const [tape, old] = bothPaths(() => {
      const [out, back] = vjp(f, x, y);
      const ct = [np.ones([4], { dtype: "float64" }), np.array(2, { dtype: "float64" }), x] as const;
      const first = back(ct as never);
      const again = back(ct as never);
      const batched = vmap((c: NdArray) => back([c, np.array(0, { dtype: "float64" }), c] as never)[0])(
        np.eye(4, 4, { dtype: "float64" }),
      );
      return [out, first, again, batched];
    });
    expectTreesClose(tape, old);
  });

  it("hasAux, argnums, integer inputs with allowInt, and a value-dependent branch in JS", () => {
    const x = seededArray([3], 4).astype("float64");
    const n = np.array([1, 2, 3], { dtype: "int32" });
    const f = (a: NdArray, k: NdArray, b: NdArray) => {
      // JS control flow on a value works eagerly: the tape knows the primal.
      const scale = np.sum(a).item() > 0 ? 2 : -3;
      const v = np.sum(a.mul(b).mul(k.astype("float64")).mul(scale));
      return [v, { doubled: a.mul(2) }] as const;
    };
    const [tape, old] = bothPaths(() =>
      valueAndGrad(f, { argnums: [0, 1, 2], hasAux: true, allowInt: true })(x, n, x.add(1)),
    );
    expectTreesClose(tape[0][0], old[0][0]);
    expectTreesClose(tape[0][1].doubled, old[0][1].doubled);
    expectTreesClose(tape[1], old[1]);
    expect(tape[1][1].dtype).toBe("int32");
    expect(tape[0][1].doubled.toArray()).toEqual(x.mul(2).toArray());
  });

  it("effects run once, in the forward pass, with primal values, as before", () => {
    const seen: [string, number][] = [];
    const f = (y: NdArray) => {
      const h = np.sin(y);
      debug.callback((v: NdArray) => {
        seen.push(["cb", v.item()]);
      }, np.sum(h));
      return np.sum(h.mul(h));
    };
    const x = seededArray([3], 6).astype("float64");
    const [tape, old] = bothPaths(() => {
      seen.length = 0;
      const g = grad(f)(x);
      return [g, [...seen]] as const;
    });
    expectTreesClose(tape[0], old[0]);
    expect(tape[1]).toEqual(old[1]);
    expect(tape[1]).toHaveLength(1);
  });

  it("the loss of a LeNet-sized conv net and its gradients match the other path (float32)", () => {
    const conv = seededArray([4, 1, 3, 3], 1);
    const dense = seededArray([4 * 3 * 3, 5], 2);
    const imgs = seededArray([2, 1, 8, 8], 3);
    const loss = (p: { conv: NdArray; dense: NdArray }) => {
      let h = nn.relu(nn.conv2d(imgs, p.conv));
      h = nn.maxPool2d(h, 2).reshape([2, -1]);
      return np.mean(np.square(np.matmul(h, p.dense)));
    };
    const [tape, old] = bothPaths(() => valueAndGrad(loss)({ conv, dense }));
    expectTreesClose(tape[0], old[0], 1e-6, 1e-7);
    expectTreesClose(tape[1].conv, old[1].conv, 1e-5, 1e-6);
    expectTreesClose(tape[1].dense, old[1].dense, 1e-5, 1e-6);
  });
});
