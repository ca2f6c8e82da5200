/**
 * Laws of the transforms and their compositions, on random float64 inputs: linearity of grad, the
 * chain rule, jvp of linear maps, stopGradient and customVjp, and the compositions grad∘grad,
 * jacfwd∘jacrev, vmap∘grad, grad∘vmap and jit∘grad against finite differences or each other.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  customVjp,
  grad,
  hessian,
  jacfwd,
  jacrev,
  jit,
  jvp,
  linearize,
  type NdArray,
  np,
  stopGradient,
  valueAndGrad,
  vjp,
  vmap,
} from "../src/index.js";
import { testing } from "../src/testing.js";
import { randomLike, seedArb, signedStream } from "./helpers.js";

const { arb, assertAllClose, checkGrads, propertyParameters } = testing;
const runs = propertyParameters();
const TIGHT = { atol: 1e-12, rtol: 1e-12 };

/** Scalar functions of a vector, smooth everywhere. */
const f = (x: NdArray): NdArray => np.sum(np.sin(x).mul(x));
const g = (x: NdArray): NdArray => np.sum(np.exp(np.tanh(x)));
/** A vector function of a vector. */
const h = (x: NdArray): NdArray => np.tanh(x).mul(2).add(x.square());

const vectors = arb.array({ shape: arb.shape({ minRank: 1, maxRank: 1, minDim: 1, maxDim: 4 }) });
const batches = fc
  .record({ b: fc.integer({ min: 1, max: 3 }), n: fc.integer({ min: 1, max: 4 }) })
  .chain(({ b, n }) => arb.array({ shape: [b, n] }));
const scalars = fc.double({ min: -3, max: 3, noNaN: true });

/** Central differences of a vector-valued function along each coordinate: a Jacobian [out, in]. */
function numericJacobian(fn: (x: NdArray) => NdArray, x: NdArray, eps = 1e-6): NdArray {
  const base = x.toTypedArray();
  const columns = Array.from({ length: x.size }, (_, j) => {
    const at = (delta: number) => {
      const p = Float64Array.from(base);
      p[j]! += delta;
      return fn(np.array(p, { shape: [...x.shape], dtype: "float64" })).toTypedArray();
    };
    const plus = at(eps);
    const minus = at(-eps);
    return Array.from(plus, (v, i) => (v - minus[i]!) / (2 * eps));
  });
  const m = columns[0]?.length ?? 0;
  const data = Array.from({ length: m * x.size }, (_, k) => columns[k % x.size]![Math.floor(k / x.size)]!);
  return np.array(data, { shape: [m, x.size], dtype: "float64" });
}

describe("linearity of grad", () => {
  it("grad(f + g) = grad f + grad g", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        assertAllClose(grad((y: NdArray) => f(y).add(g(y)))(x), np.add(grad(f)(x), grad(g)(x)), TIGHT);
      }),
      runs,
    );
  });

  it("grad(c·f) = c·grad f", () => {
    fc.assert(
      fc.property(vectors, scalars, (x, c) => {
        assertAllClose(grad((y: NdArray) => f(y).mul(c))(x), grad(f)(x).mul(c), TIGHT);
      }),
      runs,
    );
  });
});

describe("the chain rule", () => {
  it("grad(f ∘ h)(x) = vjp(h, x)(grad f(h(x)))", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const [hx, pullback] = vjp(h, x);
        assertAllClose(grad((y: NdArray) => f(h(y)))(x), pullback(grad(f)(hx))[0], TIGHT);
      }),
      runs,
    );
  });

  it("jvp(f ∘ h)(x, t) = jvp(f)(h(x), jvp(h)(x, t))", () => {
    fc.assert(
      fc.property(vectors, seedArb, (x, seed) => {
        const t = randomLike(x, signedStream(seed));
        const [hx, ht] = jvp(h, [x], [t]);
        assertAllClose(jvp((y: NdArray) => f(h(y)), [x], [t])[1], jvp(f, [hx], [ht])[1], TIGHT);
      }),
      runs,
    );
  });
});

describe("linear functions", () => {
  /** A linear map built from linear primitives: matmul, flip, cumsum, slice, pad, broadcast, sums. */
  const linearMap = (a: NdArray) => (x: NdArray) =>
    np
      .matmul(a, x)
      .add(np.flip(x).mul(3))
      .sub(np.cumsum(x))
      .add(np.pad(np.slice(x, [{ start: 1 }]), [[0, 1]]))
      .add(np.sum(x));

  it("jvp of a linear function equals the function, and so does linearize", () => {
    fc.assert(
      fc.property(vectors, seedArb, (x, seed) => {
        const next = signedStream(seed);
        const a = randomLike({ shape: [x.size, x.size], dtype: "float64" }, next);
        const t = randomLike(x, next);
        const L = linearMap(a);
        assertAllClose(jvp(L, [x], [t])[1], L(t), TIGHT);
        assertAllClose(linearize(L, x)[1](t), L(t), TIGHT);
      }),
      runs,
    );
  });
});

describe("stopGradient", () => {
  it("kills the gradient through it: d/dx sum(sg(x)·x) = x, d/dx sum(sg(sin x)) = 0", () => {
    fc.assert(
      fc.property(vectors, seedArb, (x, seed) => {
        assertAllClose(grad((y: NdArray) => np.sum(stopGradient(y).mul(y)))(x), x, TIGHT);
        assertAllClose(grad((y: NdArray) => np.sum(stopGradient(np.sin(y))))(x), np.zerosLike(x), TIGHT);
        const t = randomLike(x, signedStream(seed));
        assertAllClose(jvp(stopGradient, [x], [t])[1], np.zerosLike(x), TIGHT);
      }),
      runs,
    );
  });
});

describe("customVjp", () => {
  /** sin with a deliberately different backward rule (3·ct): grad must use it, not autodiff. */
  const sinWithRule = customVjp(
    (x: NdArray) => np.sin(x),
    (x: NdArray): [NdArray, null] => [np.sin(x), null],
    (_: null, ct: NdArray) => [ct.mul(3)],
  );

  it("grad uses the user's backward rule, also under jit and vmap", () => {
    fc.assert(
      fc.property(batches, (xs) => {
        const row = xs.reshape([-1]);
        const loss = (y: NdArray) => np.sum(sinWithRule(y));
        const threes = np.fullLike(row, 3);
        assertAllClose(grad(loss)(row), threes, TIGHT);
        assertAllClose(jit(grad(loss))(row), threes, TIGHT);
        assertAllClose(vmap(grad(loss))(xs), np.fullLike(xs, 3), TIGHT);
        // The forward value is the function's own.
        assertAllClose(sinWithRule(row), np.sin(row), TIGHT);
      }),
      runs,
    );
  });
});

describe("compositions against finite differences", () => {
  it("grad(grad f) of a scalar function", () => {
    const s = (x: NdArray) =>
      np
        .sin(x)
        .mul(x.square())
        .add(np.exp(x.mul(0.3)));
    fc.assert(
      fc.property(arb.array({ shape: [] }), (x) => {
        const second = grad(grad(s))(x);
        const numeric = numericJacobian(grad(s), x).reshape([]);
        assertAllClose(second, numeric, { atol: 1e-7, rtol: 1e-6 });
        checkGrads(grad(s), [x]);
      }),
      runs,
    );
  });

  it("jacfwd(jacrev f) is the Hessian: finite differences of grad f, symmetric, equal to hessian(f)", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const hess = jacfwd(jacrev(f))(x);
        assertAllClose(hess, numericJacobian(grad(f), x), { atol: 1e-7, rtol: 1e-6 });
        assertAllClose(hess, np.transpose(hess), TIGHT);
        assertAllClose(hessian(f)(x), hess, TIGHT);
      }),
      runs,
    );
  });

  it("jacfwd h = jacrev h = finite differences", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const forward = jacfwd(h)(x);
        assertAllClose(jacrev(h)(x), forward, TIGHT);
        assertAllClose(forward, numericJacobian(h, x), { atol: 1e-7, rtol: 1e-6 });
      }),
      runs,
    );
  });

  it("vmap(grad f) stacks grad f over the batch, and matches finite differences", () => {
    fc.assert(
      fc.property(batches, (xs) => {
        const rows = Array.from({ length: xs.shape[0]! }, (_, i) => np.take(xs, i, { axis: 0 }));
        const batched = vmap(grad(f))(xs);
        assertAllClose(batched, np.stack(rows.map((r) => grad(f)(r))), TIGHT);
        rows.forEach((r, i) =>
          assertAllClose(np.take(batched, i, { axis: 0 }), numericJacobian(f, r).reshape([-1]), {
            atol: 1e-7,
            rtol: 1e-6,
          }),
        );
      }),
      runs,
    );
  });

  it("grad(vmap f) = the per-row gradients, and matches finite differences", () => {
    fc.assert(
      fc.property(batches, (xs) => {
        const total = (ys: NdArray) => np.sum(vmap(f)(ys));
        const rows = Array.from({ length: xs.shape[0]! }, (_, i) => np.take(xs, i, { axis: 0 }));
        assertAllClose(grad(total)(xs), np.stack(rows.map((r) => grad(f)(r))), TIGHT);
        checkGrads(total, [xs]);
      }),
      runs,
    );
  });
});

describe("jit", () => {
  it("jit(grad f) = grad f = grad(jit f)", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const eager = grad(f)(x);
        assertAllClose(jit(grad(f))(x), eager, TIGHT);
        assertAllClose(grad(jit(f))(x), eager, TIGHT);
      }),
      runs,
    );
  });

  it("valueAndGrad agrees with f and grad f, jitted or not", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const [value, gradient] = valueAndGrad(g)(x);
        assertAllClose(value as NdArray, g(x), TIGHT);
        assertAllClose(gradient, grad(g)(x), TIGHT);
        const [jValue, jGradient] = jit(valueAndGrad(g))(x);
        assertAllClose(jValue as NdArray, g(x), TIGHT);
        assertAllClose(jGradient, grad(g)(x), TIGHT);
      }),
      runs,
    );
  });

  it("the jitted gradient is traced once per shape", () => {
    const jg = jit(grad(g));
    const x = np.array([0.1, 0.2, 0.3], { dtype: "float64" });
    jg(x);
    jg(x.mul(2));
    expect(jg.cacheInfo()).toMatchObject({ misses: 1, hits: 1 });
  });
});
