import { describe, expect, it } from "vitest";
import {
  forLoop,
  grad,
  jacfwd,
  jit,
  jvp,
  makeProgram,
  type Array as NdArray,
  np,
  ReverseModeError,
  ShapeDtype,
  vmap,
  whileLoop,
} from "../../src/index.js";
import { TreeStructureError } from "../../src/tree/treedef.js";
import { directional, expectClose, seededArray } from "../helpers/numeric.js";

const i32 = (v: number) => np.array(v, { dtype: "int32" });

/** A contraction applied `n` times (n traced): y <- sin(y) * w + y / 2. */
const iterate = (x: NdArray, w: NdArray, n: NdArray): NdArray =>
  whileLoop(
    ([i]: [NdArray, NdArray]) => i.less(n),
    ([i, y]: [NdArray, NdArray]): [NdArray, NdArray] => [i.add(1), np.sin(y).mul(w).add(y.mul(0.5))],
    [i32(0), x] as [NdArray, NdArray],
  )[1];

/** The same loop in JS. */
function iterateRef(x: NdArray, w: NdArray, n: number): NdArray {
  let y = x;
  for (let k = 0; k < n; k++) y = np.sin(y).mul(w).add(y.mul(0.5));
  return y;
}

const x0 = seededArray([3], 1);
const w0 = seededArray([3], 2);

describe("whileLoop", () => {
  it("equals the JS loop, eagerly and jitted (bit for bit), for 0 to 5 iterations", () => {
    const jitted = jit(iterate);
    for (const n of [0, 1, 2, 5]) {
      expectClose(iterate(x0, w0, i32(n)), iterateRef(x0, w0, n), 0, 0);
      expectClose(jitted(x0, w0, i32(n)), iterateRef(x0, w0, n), 0, 0);
    }
    expect(jitted.cacheInfo().misses).toBe(1);
  });

  it("stops on a data-dependent condition (Newton's iteration for sqrt(2)) with a pytree carry", () => {
    const newton = (a: NdArray) =>
      whileLoop(
        (s: { x: NdArray; step: NdArray; count: NdArray }) => np.abs(s.step).greater(1e-14),
        (s) => {
          const next = s.x.sub(s.x.mul(s.x).sub(a).div(s.x.mul(2)));
          return { x: next, step: next.sub(s.x), count: s.count.add(1) };
        },
        { x: np.onesLike(a), step: np.onesLike(a), count: i32(0) },
      );
    const a = np.array(2, { dtype: "float64" });
    const out = newton(a);
    expect(Math.abs(out.x.item() - Math.SQRT2)).toBeLessThan(1e-15);
    expect(out.count.item()).toBeGreaterThan(3);
    const jitted = jit(newton)(a);
    expect(jitted.x.item()).toBe(out.x.item());
    expect(jitted.count.item()).toBe(out.count.item());
  });

  it("is forward-mode differentiable (jvp and jacfwd against central differences, float64)", () => {
    const n = i32(4);
    const v = seededArray([3], 3);
    const f = (x: NdArray) => np.sum(iterate(x, w0, n).mul(iterate(x, w0, n)));
    const [, t] = jvp(f, [x0], [v]);
    expect(t.item()).toBeCloseTo(directional(f, x0, v), 8);
    // Through the body's constants too (w), and jitted.
    const g = (w: NdArray) => np.sum(iterate(x0, w, n));
    const [, tw] = jit((w: NdArray, u: NdArray) => jvp(g, [w], [u]))(w0, v);
    expect(tw.item()).toBeCloseTo(directional(g, w0, v), 8);
    const J = jacfwd((x: NdArray) => iterate(x, w0, n))(x0);
    for (let j = 0; j < 3; j++) {
      const e = np.array(
        [0, 1, 2].map((k) => (k === j ? 1 : 0)),
        { dtype: "float64" },
      );
      const col = np.array(
        [0, 1, 2].map((k) => directional((x) => np.take(iterate(x, w0, n), k), x0, e)),
        { dtype: "float64" },
      );
      expectClose(np.take(J, j, { axis: 1 }), col, 1e-7, 1e-9);
    }
  });

  it("refuses reverse mode with JAX's explanation, naming scan and forLoop", () => {
    const f = (x: NdArray) => np.sum(iterate(x, w0, i32(3)));
    expect(() => grad(f)(x0)).toThrow(ReverseModeError);
    expect(() => grad(f)(x0)).toThrow(/Reverse-mode differentiation does not work for whileLoop/);
    expect(() => grad(f)(x0)).toThrow(/Try using scan, or forLoop with a constant trip count/);
    expect(() => jit(grad(f))(x0)).toThrow(ReverseModeError);
    // A loop that does not depend on the differentiated value is fine (its tangent is zero).
    const g = (x: NdArray) => np.sum(x.mul(iterate(w0, w0, i32(3))));
    expectClose(grad(g)(x0), iterateRef(w0, w0, 3), 0, 0);
  });

  it("batches a predicate that is not batched as one loop, and a batched one per example", () => {
    const xs = seededArray([4, 3], 4);
    // Unbatched trip count: the vmapped program keeps a scalar predicate.
    const fixed = vmap((x: NdArray) => iterate(x, w0, i32(3)))(xs);
    expectClose(fixed, np.stack([...xs].map((x) => iterateRef(x, w0, 3))), 0, 0);
    // A batched trip count: each example stops after its own number of steps.
    const ns = np.array([0, 3, 1, 5], { dtype: "int32" });
    const perExample = np.stack([...xs].map((x, k) => iterateRef(x, w0, [0, 3, 1, 5][k]!)));
    expectClose(vmap((x: NdArray, n: NdArray) => iterate(x, w0, n))(xs, ns), perExample, 0, 0);
    expectClose(jit(vmap((x: NdArray, n: NdArray) => iterate(x, w0, n)))(xs, ns), perExample, 0, 0);
    // Batched only through the body's constants (the carry becomes batched in the body).
    const ws = seededArray([4, 3], 5);
    expectClose(
      vmap((w: NdArray) => iterate(x0, w, i32(2)))(ws),
      np.stack([...ws].map((w) => iterateRef(x0, w, 2))),
      0,
      0,
    );
    // Batched predicate on a data-dependent condition: halve until below a per-example threshold.
    const halve = (t: NdArray) =>
      whileLoop(
        (y: NdArray) => y.greater(t),
        (y: NdArray) => y.mul(0.5),
        np.array(100, { dtype: "float64" }),
      );
    const ts = np.array([60, 7, 0.5, 200], { dtype: "float64" });
    expectClose(vmap(halve)(ts), np.array([50, 6.25, 0.390625, 100], { dtype: "float64" }), 0, 0);
    // jvp of the vmapped loop, against the per-example jvp.
    const v = seededArray([4, 3], 6);
    const [, tb] = jvp((x: NdArray) => vmap((y: NdArray, n: NdArray) => iterate(y, w0, n))(x, ns), [xs], [v]);
    const vs = [...v];
    const tRef = [...xs].map(
      (x, k) => jvp((y: NdArray) => iterate(y, w0, i32([0, 3, 1, 5][k]!)), [x], [vs[k]!])[1],
    );
    expectClose(tb, np.stack(tRef), 1e-15, 0);
  });

  it("runs as one loop step in the jit plan, its body compiled once, whatever the trip count", () => {
    const lowered = jit(iterate).lower(x0, w0, i32(10000));
    const text = lowered.toString();
    expect(text).toMatch(/= while\[cond=\(1 eqns\) body=\(\d+ eqns\)\]/);
    expect(text).toMatch(/\n {2}0: while -> int32\[\], float64\[3\]\n {6}cond: 1 steps, compiled once\n/);
    expect(text).toMatch(/\n {6}body, then cond: \d+ steps, compiled once\n/);
    expect(lowered.executable.steps).toHaveLength(1);
    expect(lowered.executable.subPlans.map((s) => s.label)).toEqual(["cond", "body, then cond"]);
    expectClose(jit(iterate)(x0, w0, i32(2000)), iterateRef(x0, w0, 2000), 0, 0);
    // A trip count fixed in the program: the plan (what compiling does) is the same for 10 and 10,000.
    const planFor = (n: number) =>
      jit((x: NdArray) => iterate(x, w0, i32(n)))
        .lower(x0)
        .toString();
    expect(planFor(10_000)).toBe(planFor(10));
  });

  it("nests: a while loop in a while loop body, jitted and vmapped", () => {
    // Sum over k < n of (k inner steps of doubling 1): 2^0 + 2^1 + ... + 2^(n-1).
    const nested = (n: NdArray) =>
      whileLoop(
        ([k]: NdArray[]) => k!.less(n),
        ([k, acc]: NdArray[]) => {
          const [, p] = whileLoop(
            ([j]: NdArray[]) => j!.less(k!),
            ([j, q]: NdArray[]) => [j!.add(1), q!.mul(2)],
            [i32(0), np.array(1, { dtype: "float64" })],
          );
          return [k!.add(1), acc!.add(p!)];
        },
        [i32(0), np.array(0, { dtype: "float64" })],
      )[1]!;
    expect(nested(i32(5)).item()).toBe(31);
    expect(jit(nested)(i32(6)).item()).toBe(63);
    const text = jit(nested).lower(i32(3)).toString();
    expect(text).toMatch(
      /body, then cond: \d+ steps, compiled once\n(.*\n)*? {12}body, then cond: \d+ steps, compiled once/,
    );
    expectClose(jit(vmap(nested))(np.array([0, 1, 4], { dtype: "int32" })), [0, 1, 15], 0, 0);
  });

  it("checks the carry and the condition, naming the op and the leaf", () => {
    const x = np.ones([2]);
    expect(() =>
      whileLoop(
        (c: NdArray) => c.sum().less(3),
        (c: NdArray) => c.reshape([2, 1]),
        x,
      ),
    ).toThrow(
      /whileLoop: bodyFn must return the carry with the shapes and dtypes of init: leaf 0 is float32\[2,1\], init has float32\[2\]/,
    );
    expect(() =>
      whileLoop(
        (c: { a: NdArray }) => c.a.sum().less(3),
        (c: { a: NdArray }) => ({ a: c.a.astype("float64") }),
        { a: x },
      ),
    ).toThrow(/leaf 0 \(a\) is float64\[2\], init has float32\[2\]/);
    expect(() =>
      whileLoop(
        (c: NdArray[]) => c[0]!.sum().less(3),
        (c: NdArray[]) => [c[0]!],
        [x, x],
      ),
    ).toThrow(TreeStructureError);
    expect(() =>
      whileLoop(
        (c: NdArray) => c.less(3),
        (c: NdArray) => c.add(1),
        x,
      ),
    ).toThrow(/whileLoop: condFn must return a bool scalar, got bool\[2\]/);
    expect(() =>
      whileLoop(
        (c: NdArray) => c.sum(),
        (c: NdArray) => c.add(1),
        x,
      ),
    ).toThrow(/whileLoop: condFn must return a bool scalar, got float32\[\]/);
  });
});

describe("forLoop with traced bounds", () => {
  const body = (i: NdArray, c: NdArray) => np.sin(c).add(i.astype("float64").mul(0.25));
  const ref = (lo: number, hi: number, x: NdArray) => {
    let c = x;
    for (let i = lo; i < hi; i++) c = np.sin(c).add(i * 0.25);
    return c;
  };
  const traced = (lo: NdArray, hi: NdArray, x: NdArray) => forLoop(lo, hi, body, x);

  it("is a while loop under jit and a scan with static bounds, both equal to the JS loop", () => {
    expect(
      makeProgram(traced)(new ShapeDtype([], "int32"), new ShapeDtype([], "int32"), x0).toString(),
    ).toMatch(/= while\[/);
    expect(makeProgram((x: NdArray) => forLoop(2, 5, body, x))(x0).toString()).toMatch(/= scan\[length=3/);
    const jitted = jit(traced);
    for (const [lo, hi] of [
      [0, 3],
      [2, 6],
      [4, 1],
    ] as const) {
      expectClose(jitted(i32(lo), i32(hi), x0), ref(lo, hi, x0), 0, 0);
      expectClose(forLoop(lo, hi, body, x0), ref(lo, hi, x0), 0, 0);
    }
    // Concrete array bounds outside jit are static: a scan, so reverse mode works.
    expectClose(traced(i32(1), i32(4), x0), ref(1, 4, x0), 0, 0);
    expect(
      forLoop(3, (i, c: NdArray) => c.add(i.astype("float64")), np.zeros([], { dtype: "float64" })).item(),
    ).toBe(3);
  });

  it("differentiates forwards under jit (vs central differences); reverse mode is refused", () => {
    const v = seededArray([3], 7);
    const f = (x: NdArray, hi: NdArray) => np.sum(traced(i32(1), hi, x));
    const [, t] = jit((x: NdArray, u: NdArray, hi: NdArray) => jvp((y: NdArray) => f(y, hi), [x], [u]))(
      x0,
      v,
      i32(5),
    );
    expect(t.item()).toBeCloseTo(
      directional((y) => np.sum(ref(1, 5, y)), x0, v),
      8,
    );
    expect(() => jit((x: NdArray, hi: NdArray) => grad((y: NdArray) => f(y, hi))(x))(x0, i32(5))).toThrow(
      /Reverse-mode differentiation does not work for whileLoop \(lax.while_loop\) or forLoop with traced bounds/,
    );
    // Static bounds keep reverse mode, jitted or not.
    const s = (x: NdArray) => np.sum(forLoop(1, 5, body, x));
    expectClose(jit(grad(s))(x0), grad(s)(x0), 1e-15, 0);
  });

  it("batches traced bounds per example", () => {
    const his = np.array([0, 2, 5], { dtype: "int32" });
    const xs = seededArray([3, 3], 8);
    const out = jit(vmap((x: NdArray, hi: NdArray) => traced(i32(0), hi, x)))(xs, his);
    const rows = [...xs];
    expectClose(out, np.stack([ref(0, 0, rows[0]!), ref(0, 2, rows[1]!), ref(0, 5, rows[2]!)]), 0, 0);
  });

  it("rejects bad bounds and arities", () => {
    expect(() => forLoop(1.5, 3, body, x0)).toThrow(/forLoop: the lower bound must be an integer, got 1.5/);
    expect(() => forLoop(np.array(1.0), 3, body, x0)).toThrow(
      /forLoop: the lower bound must be an integer scalar, got float32\[\]/,
    );
    expect(() => forLoop(-1, body, x0)).toThrow(
      /forLoop: the trip count must be a non-negative integer, got -1/,
    );
    expect(() => (forLoop as (...a: unknown[]) => unknown)(1, 2)).toThrow(
      /forLoop: expected \(n, body, init\) or \(lower, upper, body, init\), got 2 arguments/,
    );
  });
});
