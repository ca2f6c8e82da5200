/**
 * Laws of the pytree fp-ts instances (src/tree/fp.ts) and of flatten/unflatten, with fast-check trees:
 * Functor identity and composition; Foldable order and foldMap/reduce/reduceRight agreement;
 * Traversable identity, naturality and composition; the gradient Monoid's associativity and identity.
 */
import * as fc from "fast-check";
import { getApplicativeComposition } from "fp-ts/Applicative";
import * as E from "fp-ts/Either";
import * as Id from "fp-ts/Identity";
import { concatAll } from "fp-ts/Monoid";
import * as O from "fp-ts/Option";
import * as S from "fp-ts/string";
import { describe, expect, it } from "vitest";
import { type NdArray, np, tree } from "../src/index.js";
import { testing } from "../src/testing.js";
import { isPlainObject } from "../src/tree/treedef.js";
import { signedStream } from "./helpers.js";

const { arb, assertAllClose, propertyParameters } = testing;
const { Foldable, Functor, Traversable, getGradientMonoid, gradientSemigroup } = tree;
type Tree<A> = tree.Tree<A>;

/** Same structure (keys in order) and leaves equal by `same` (identity by default). */
function sameTree(a: unknown, b: unknown, same: (x: unknown, y: unknown) => boolean = Object.is): boolean {
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameTree(x, b[i], same));
  if (isPlainObject(a)) {
    if (!isPlainObject(b)) return false;
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.join("\0") === kb.join("\0") && ka.every((k) => sameTree(a[k], b[k], same));
  }
  if (a === null || a === undefined) return a === b;
  return same(a, b);
}

const numberTrees = arb.tree(fc.integer({ min: -100, max: 100 }));
const arrayLeaf = arb.array({ shape: arb.shape({ maxRank: 2, maxDim: 3 }) });
const arrayTrees = arb.tree(arrayLeaf);
/** Integer-valued float64 arrays: sums are exact, so associativity can be checked exactly. */
const integerLeaf = arb
  .array({ shape: arb.shape({ maxRank: 2, maxDim: 3 }), dtype: "int32", min: -50, max: 50 })
  .map((x) => x.astype("float64"));

const runs = propertyParameters();

describe("flatten / unflatten", () => {
  it("unflatten(flatten(t)) = t, leaves in order and untouched", () => {
    fc.assert(
      fc.property(arrayTrees, (t) => {
        const [leaves, def] = tree.flatten(t);
        const rebuilt = tree.unflatten(def, leaves);
        expect(sameTree(rebuilt, t)).toBe(true);
        expect(tree.leaves(rebuilt)).toHaveLength(leaves.length);
      }),
      runs,
    );
  });

  it("flatten(unflatten(def, leaves)) gives the same leaves and structure", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        const [leaves, def] = tree.flatten<number>(t);
        const replaced = leaves.map((v) => v * 2 + 1);
        const [again, def2] = tree.flatten<number>(tree.unflatten(def, replaced));
        expect(again).toEqual(replaced);
        expect(tree.treeDefEquals(def, def2)).toBe(true);
      }),
      runs,
    );
  });
});

describe("Functor", () => {
  it("identity: map(t, x => x) = t", () => {
    fc.assert(
      fc.property(arrayTrees, (t) => {
        expect(
          sameTree(
            Functor.map(t, (x) => x),
            t,
          ),
        ).toBe(true);
      }),
      runs,
    );
  });

  it("composition: map(map(t, f), g) = map(t, x => g(f(x)))", () => {
    const f = (x: NdArray) => x.mul(2).add(1);
    const g = (x: NdArray) => np.sin(x);
    fc.assert(
      fc.property(arrayTrees, (t) => {
        const twice = Functor.map(Functor.map(t, f), g);
        const once = Functor.map(t, (x) => g(f(x)));
        assertAllClose(twice, once, { atol: 0, rtol: 0 });
      }),
      runs,
    );
  });

  it("agrees with tree.map", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        expect(
          sameTree(
            Functor.map(t, (x: number) => x - 3),
            tree.map((x: number) => x - 3, t),
          ),
        ).toBe(true);
      }),
      runs,
    );
  });
});

describe("Foldable", () => {
  it("reduce visits the leaves in flatten order", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        const visited = Foldable.reduce(t, [] as number[], (acc, x) => [...acc, x]);
        expect(visited).toEqual(tree.leaves<number>(t));
      }),
      runs,
    );
  });

  it("foldMap(M)(t, f) = reduce(t, M.empty, (b, a) => M.concat(b, f(a))), in a non-commutative monoid", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        const f = (x: number) => `${x};`;
        expect(Foldable.foldMap(S.Monoid)(t, f)).toBe(
          Foldable.reduce(t, S.Monoid.empty, (b, a) => S.Monoid.concat(b, f(a))),
        );
      }),
      runs,
    );
  });

  it("reduceRight is reduce over the reversed leaves", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        const right = Foldable.reduceRight(t, "", (a, b) => `${b}${a},`);
        const reversed = [...tree.leaves<number>(t)].reverse().reduce((b, a) => `${b}${a},`, "");
        expect(right).toBe(reversed);
      }),
      runs,
    );
  });
});

describe("Traversable", () => {
  it("identity: traverse(Identity)(t, x => x) = t, and traverse(Identity)(t, f) = map(t, f)", () => {
    fc.assert(
      fc.property(numberTrees, (t) => {
        expect(
          sameTree(
            Traversable.traverse(Id.Applicative)(t, (x: number) => x),
            t,
          ),
        ).toBe(true);
        const f = (x: number) => x * 3;
        expect(sameTree(Traversable.traverse(Id.Applicative)(t, f), Functor.map(t, f))).toBe(true);
      }),
      runs,
    );
  });

  it("naturality: fromEither ∘ traverse(Either)(t, f) = traverse(Option)(t, fromEither ∘ f)", () => {
    fc.assert(
      fc.property(numberTrees, fc.integer({ min: -100, max: 100 }), (t, threshold) => {
        const f = (x: number): E.Either<string, number> =>
          x < threshold ? E.left(`too small: ${x}`) : E.right(x + 1);
        const lhs = O.fromEither(Traversable.traverse(E.Applicative)(t, f));
        const rhs = Traversable.traverse(O.Applicative)(t, (x: number) => O.fromEither(f(x)));
        expect(O.isSome(lhs)).toBe(O.isSome(rhs));
        if (O.isSome(lhs) && O.isSome(rhs)) expect(sameTree(lhs.value, rhs.value)).toBe(true);
      }),
      runs,
    );
  });

  it("composition: traverse(F∘G)(t, a => F.map(f(a), g)) = F.map(traverse(F)(t, f), u => traverse(G)(u, g))", () => {
    const OE = getApplicativeComposition(O.Applicative, E.Applicative);
    // The instance's traverse works with any applicative; fp-ts's Traverse1 overloads only list the
    // applicatives of a single URI, so the composed one goes through a cast.
    const traverseOE = Traversable.traverse(OE as never) as unknown as <A, B>(
      t: Tree<A>,
      f: (a: A) => O.Option<E.Either<string, B>>,
    ) => O.Option<E.Either<string, Tree<B>>>;
    fc.assert(
      fc.property(
        numberTrees,
        fc.integer({ min: -100, max: 100 }),
        fc.integer({ min: -100, max: 100 }),
        (t, lo, hi) => {
          const f = (x: number): O.Option<number> => (x < lo ? O.none : O.some(x * 2));
          const g = (y: number): E.Either<string, number> =>
            y > 2 * hi ? E.left(`too big: ${y}`) : E.right(y - 1);
          const lhs = traverseOE(t, (a: number) => O.map(g)(f(a)));
          const rhs = O.map((u: Tree<number>) => Traversable.traverse(E.Applicative)(u, g))(
            Traversable.traverse(O.Applicative)(t, f),
          );
          expect(JSON.stringify(lhs)).toBe(JSON.stringify(rhs));
        },
      ),
      runs,
    );
  });

  it("sequence runs the effects of the leaves in flatten order (fp-ts values are leaves)", () => {
    fc.assert(
      fc.property(numberTrees, fc.integer({ min: -100, max: 100 }), (t, threshold) => {
        const effects = Functor.map(t, (x: number) => (x < threshold ? E.left(x) : E.right(x)));
        const result = Traversable.sequence(E.Applicative)(effects);
        const firstFailing = tree.leaves<number>(t).find((x) => x < threshold);
        if (firstFailing === undefined) {
          expect(E.isRight(result)).toBe(true);
          if (E.isRight(result)) expect(sameTree(result.right, t)).toBe(true);
        } else expect(result).toEqual(E.left(firstFailing));
      }),
      runs,
    );
  });
});

describe("gradient Monoid", () => {
  /** Three trees of one structure with integer-valued leaves (exact sums). */
  const triples = fc
    .tuple(arb.tree(integerLeaf), fc.integer({ min: 0, max: 0x7fffffff }))
    .map(([a, seed]) => {
      const next = signedStream(seed);
      const other = () =>
        Functor.map(a, (x: NdArray) =>
          np.array(
            Array.from({ length: x.size }, () => Math.round(next() * 50)),
            { shape: [...x.shape], dtype: "float64" },
          ),
        );
      return [a, other(), other()] as const;
    });

  it("associativity: (a + b) + c = a + (b + c)", () => {
    fc.assert(
      fc.property(triples, ([a, b, c]) => {
        const M = getGradientMonoid(tree.zerosLike(a));
        assertAllClose(M.concat(M.concat(a, b), c), M.concat(a, M.concat(b, c)), { atol: 0, rtol: 0 });
      }),
      runs,
    );
  });

  it("associativity in general floats, to rounding", () => {
    fc.assert(
      fc.property(arrayTrees, (a) => {
        const b = Functor.map(a, (x: NdArray) => np.sin(x.mul(3)));
        const c = Functor.map(a, (x: NdArray) => np.exp(x));
        const M = getGradientMonoid(tree.zerosLike(a));
        assertAllClose(M.concat(M.concat(a, b), c), M.concat(a, M.concat(b, c)), {
          atol: 1e-14,
          rtol: 1e-14,
        });
      }),
      runs,
    );
  });

  it("identity: zeros + a = a = a + zeros", () => {
    fc.assert(
      fc.property(arrayTrees, (a) => {
        const M = getGradientMonoid(tree.zerosLike(a));
        assertAllClose(M.concat(M.empty, a), a, { atol: 0, rtol: 0 });
        assertAllClose(M.concat(a, M.empty), a, { atol: 0, rtol: 0 });
      }),
      runs,
    );
  });

  it("concatAll sums gradient trees leafwise (accumulating micro-batches)", () => {
    fc.assert(
      fc.property(triples, ([a, b, c]) => {
        const M = getGradientMonoid(tree.zerosLike(a));
        const summed = concatAll(M)([a, b, c]);
        assertAllClose(summed, tree.add(tree.add(a, b), c), { atol: 0, rtol: 0 });
        expect(tree.treeDefEquals(tree.structure(summed), tree.structure(a))).toBe(true);
      }),
      runs,
    );
  });

  it("refuses trees of different structures", () => {
    expect(() => gradientSemigroup.concat({ w: np.zeros([2]) }, { b: np.zeros([2]) })).toThrow(
      tree.TreeStructureError,
    );
  });
});
