/**
 * Laws of the transforms and their compositions, on random float64 inputs: linearity of grad, the
 * chain rule, jvp of linear maps, stopGradient, customVjp and customJvp, the compositions grad∘grad,
 * jacfwd∘jacrev, vmap∘grad, grad∘vmap and jit∘grad, and Jacobians and Hessians of functions of random
 * pytrees, against finite differences or each other.
 */
import * as fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  customJvp,
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
  tree,
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

describe("customJvp", () => {
  /** sin with a deliberately different rule (tangent 3·t): every mode must use it, not autodiff. */
  const sinWithRule = customJvp((x: NdArray) => np.sin(x));
  sinWithRule.defjvp(([x], [t]) => [np.sin(x), t.mul(3)]);

  it("jvp, grad, jacfwd and jacrev use the user's rule, also under jit and vmap", () => {
    fc.assert(
      fc.property(batches, seedArb, (xs, seed) => {
        const row = xs.reshape([-1]);
        const t = randomLike(row, signedStream(seed));
        assertAllClose(jvp(sinWithRule, [row], [t])[1], t.mul(3), TIGHT);
        assertAllClose(
          jit((y: NdArray, u: NdArray) => jvp(sinWithRule, [y], [u])[1])(row, t),
          t.mul(3),
          TIGHT,
        );
        const loss = (y: NdArray) => np.sum(sinWithRule(y));
        const threes = np.fullLike(row, 3);
        assertAllClose(grad(loss)(row), threes, TIGHT);
        assertAllClose(jit(grad(loss))(row), threes, TIGHT);
        assertAllClose(grad(jit(loss))(row), threes, TIGHT);
        assertAllClose(vmap(grad(loss))(xs), np.fullLike(xs, 3), TIGHT);
        assertAllClose(grad((y: NdArray) => np.sum(vmap(sinWithRule)(y)))(xs), np.fullLike(xs, 3), TIGHT);
        const diagonal = np.diag(threes);
        assertAllClose(jacfwd(sinWithRule)(row), diagonal, TIGHT);
        assertAllClose(jacrev(sinWithRule)(row), diagonal, TIGHT);
        // The forward value is the function's own, eagerly, jitted and vmapped.
        assertAllClose(sinWithRule(row), np.sin(row), TIGHT);
        assertAllClose(jit(vmap(sinWithRule))(xs), np.sin(xs), TIGHT);
      }),
      runs,
    );
  });

  /** JAX's documentation example: log(1 + e^x), whose autodiff derivative is NaN at large x. */
  const log1pexp = customJvp((x: NdArray) => np.log(np.add(1, np.exp(x))));
  log1pexp.defjvp(([x], [t]) => [log1pexp(x), t.mul(np.subtract(1, np.divide(1, np.add(1, np.exp(x)))))]);

  it("log1pexp: the rule's derivative is finite at large x where autodiff gives NaN", () => {
    const x = np.array([0, 10, 100, 800], { dtype: "float64" });
    const sigmoid = np.array([0.5, 1 / (1 + Math.exp(-10)), 1, 1], { dtype: "float64" });
    const plain = (y: NdArray) => np.log(np.add(1, np.exp(y)));
    expect(Number.isNaN(grad((y: NdArray) => np.sum(plain(y)))(x).toTypedArray()[3])).toBe(true);
    assertAllClose(grad((y: NdArray) => np.sum(log1pexp(y)))(x), sigmoid, TIGHT);
    assertAllClose(jvp(log1pexp, [x], [np.onesLike(x)])[1], sigmoid, TIGHT);
    assertAllClose(jit(vmap(grad(log1pexp)))(x), sigmoid, TIGHT);
  });

  it("jvp and vjp through a correct rule match finite differences, to second order (checkGrads)", () => {
    fc.assert(
      fc.property(vectors, (x) => {
        const smooth = (y: NdArray) => log1pexp(np.sin(y)).mul(y);
        checkGrads(smooth, [x], { order: 2 });
        checkGrads(jit(smooth), [x]);
      }),
      runs,
    );
  });
});

// ---------------------------------------------------------------------------------------------------
// Jacobians and Hessians over pytrees

/** Random trees of small float64 arrays (empty arrays and empty trees included). */
const trees = testing.arb.tree(arb.array({ shape: arb.shape({ maxRank: 2, maxDim: 3 }) }), {
  maxDepth: 2,
  maxChildren: 3,
});

/** A smooth function of a tree whose output is a tree: every leaf couples to every other through s. */
function treeFunction(t: unknown): { mapped: unknown; total: NdArray } {
  const leaves = tree.leaves(t);
  const s = leaves.reduce<NdArray>((acc, l) => acc.add(np.sum(np.sin(l))), np.scalar(0.5, "float64"));
  return {
    mapped: tree.map((x: NdArray) => np.tanh(x).mul(np.cos(s)).add(x.square()), t),
    total: s.square(),
  };
}

/** A smooth scalar function of a tree, coupling its leaves. */
function treeScalar(t: unknown): NdArray {
  const leaves = tree.leaves(t);
  const s = leaves.reduce<NdArray>((acc, l) => acc.add(np.sum(np.sin(l).mul(l))), np.scalar(0.3, "float64"));
  return np
    .tanh(s)
    .add(leaves.reduce<NdArray>((acc, l) => acc.add(np.sum(l.square().mul(l))), np.scalar(0, "float64")));
}

/**
 * Central differences of `fn` (a tree to a tree) with respect to every element of every input leaf:
 * the blocks in JAX's order (output leaf k outer, input leaf j inner), each [...out_k.shape, ...in_j.shape].
 */
function numericJacobianBlocks(fn: (t: unknown) => unknown, t: unknown, eps = 1e-6): NdArray[] {
  const [inLeaves, inDef] = tree.flatten<NdArray>(t);
  const outLeaves = tree.leaves(fn(t));
  const at = (j: number, e: number, delta: number): Float64Array[] => {
    const moved = inLeaves.map((l, i) => {
      if (i !== j) return l;
      const d = Float64Array.from(l.toTypedArray());
      d[e]! += delta;
      return np.array(d, { shape: [...l.shape], dtype: "float64" });
    });
    return tree.leaves(fn(tree.unflatten(inDef, moved))).map((o) => Float64Array.from(o.toTypedArray()));
  };
  const columns = inLeaves.map((l, j) =>
    Array.from({ length: l.size }, (_, e) => {
      const plus = at(j, e, eps);
      const minus = at(j, e, -eps);
      return plus.map((p, k) => p.map((v, i) => (v - minus[k]![i]!) / (2 * eps)));
    }),
  );
  return outLeaves.flatMap((o, k) =>
    inLeaves.map((l, j) => {
      const data = new Float64Array(o.size * l.size);
      for (let i = 0; i < o.size; i++)
        for (let e = 0; e < l.size; e++) data[i * l.size + e] = columns[j]![e]![k]![i]!;
      return np.array(data, { shape: [...o.shape, ...l.shape], dtype: "float64" });
    }),
  );
}

/** The structure JAX gives a Jacobian: the output tree with the input tree at every leaf. */
function jacobianStructure(out: unknown, input: unknown): string {
  const [outLeaves, outDef] = tree.flatten(out);
  return tree.treeDefToString(
    tree.structure(
      tree.unflatten(
        outDef,
        outLeaves.map(() => input),
      ),
    ),
  );
}

const LOOSE = { atol: 1e-7, rtol: 1e-6 };

describe("Jacobians and Hessians of functions of random pytrees", () => {
  it("jacfwd and jacrev nest the output tree outside the input tree and match finite differences", () => {
    fc.assert(
      fc.property(trees, (t) => {
        const forward = jacfwd(treeFunction)(t);
        const reverse = jacrev(treeFunction)(t);
        const expected = jacobianStructure(treeFunction(t), t);
        expect(tree.treeDefToString(tree.structure(forward))).toBe(expected);
        expect(tree.treeDefToString(tree.structure(reverse))).toBe(expected);
        const numeric = numericJacobianBlocks(treeFunction, t);
        const fwdBlocks = tree.leaves(forward);
        const revBlocks = tree.leaves(reverse);
        expect(fwdBlocks.length).toBe(numeric.length);
        numeric.forEach((n, i) => {
          assertAllClose(fwdBlocks[i]!, n, { ...LOOSE, name: `jacfwd block ${i}` });
          assertAllClose(revBlocks[i]!, fwdBlocks[i]!, { ...TIGHT, name: `jacrev block ${i}` });
        });
      }),
      propertyParameters({ scale: 0.5 }),
    );
  });

  it("hessian = jacfwd(jacrev f) = jacrev(jacrev f) = finite differences of grad f", () => {
    fc.assert(
      fc.property(trees, (t) => {
        const h = hessian(treeScalar)(t);
        expect(tree.treeDefToString(tree.structure(h))).toBe(jacobianStructure(t, t));
        const numeric = numericJacobianBlocks(grad(treeScalar) as (u: unknown) => unknown, t);
        const blocks = tree.leaves(h);
        const revRev = tree.leaves(jacrev(jacrev(treeScalar))(t));
        expect(blocks.length).toBe(numeric.length);
        numeric.forEach((n, i) => {
          assertAllClose(blocks[i]!, n, { ...LOOSE, name: `hessian block ${i}` });
          assertAllClose(revRev[i]!, blocks[i]!, { ...TIGHT, name: `jacrev(jacrev) block ${i}` });
        });
      }),
      propertyParameters({ scale: 0.5 }),
    );
  });

  it("a tuple of argnums gives, per output leaf, one Jacobian per listed argument", () => {
    fc.assert(
      fc.property(trees, vectors, trees, (a, b, c) => {
        const f = (x: unknown, y: NdArray, z: unknown) => treeFunction([x, z, y.mul(np.sum(np.cos(y)))]);
        for (const jac of [jacfwd, jacrev]) {
          const both = jac(f, { argnums: [0, 2] })(a, b, c);
          const first = jac(f, { argnums: 0 })(a, b, c);
          const last = jac(f, { argnums: -1 })(a, b, c);
          const [outLeaves, outDef] = tree.flatten(f(a, b, c));
          expect(tree.treeDefToString(tree.structure(both))).toBe(
            tree.treeDefToString(
              tree.structure(
                tree.unflatten(
                  outDef,
                  outLeaves.map(() => [a, c]),
                ),
              ),
            ),
          );
          const bothBlocks = tree.leaves(both);
          // Per output leaf: the blocks of argument 0 then those of argument 2.
          const firstBlocks = tree.leaves(first);
          const lastBlocks = tree.leaves(last);
          const nA = tree.leaves(a).length;
          const nC = tree.leaves(c).length;
          outLeaves.forEach((_, k) => {
            for (let j = 0; j < nA; j++)
              assertAllClose(bothBlocks[k * (nA + nC) + j]!, firstBlocks[k * nA + j]!, TIGHT);
            for (let j = 0; j < nC; j++)
              assertAllClose(bothBlocks[k * (nA + nC) + nA + j]!, lastBlocks[k * nC + j]!, TIGHT);
          });
        }
      }),
      propertyParameters({ scale: 0.25 }),
    );
  });

  it("hasAux returns [jacobian, aux] with aux undifferentiated, in jacfwd, jacrev and hessian", () => {
    fc.assert(
      fc.property(trees, (t) => {
        const withAux = (u: unknown) =>
          [treeFunction(u), { count: np.scalar(tree.leaves(u).length), t: u }] as const;
        for (const jac of [jacfwd, jacrev]) {
          const [j, aux] = jac(withAux, { hasAux: true })(t);
          tree.leaves(jac(treeFunction)(t)).forEach((b, i) => assertAllClose(tree.leaves(j)[i]!, b, TIGHT));
          expect(aux.count.item()).toBe(tree.leaves(t).length);
          tree.leaves(t).forEach((l, i) => assertAllClose(tree.leaves(aux.t)[i]!, l, TIGHT));
        }
        const [h, aux] = hessian((u: unknown) => [treeScalar(u), treeScalar(u).mul(2)] as const, {
          hasAux: true,
        })(t);
        tree.leaves(hessian(treeScalar)(t)).forEach((b, i) => assertAllClose(tree.leaves(h)[i]!, b, TIGHT));
        assertAllClose(aux, treeScalar(t).mul(2), TIGHT);
      }),
      propertyParameters({ scale: 0.25 }),
    );
  });
});
