/**
 * jit's cache keys for static arguments: functions and objects by identity, numbers by exact value,
 * plain arrays and objects structurally, and a user-given `staticKey` in place of a value.
 */
import { describe, expect, it } from "vitest";
import { jit, type Array as NdArray, np } from "../../src/index.js";

describe("jit static arguments", () => {
  it("keys closures by identity: two closures of one factory get their own plans", () => {
    const s = (k: number) => (x: NdArray) => x.mul(k);
    const f = jit((x: NdArray, act: (x: NdArray) => NdArray) => act(x), { staticArgnums: 1 });
    expect(f(np.ones([2]), s(2)).toArray()).toEqual([2, 2]);
    expect(f(np.ones([2]), s(3)).toArray()).toEqual([3, 3]);
    const double = s(2);
    f(np.ones([2]), double);
    expect(f(np.ones([2]), double).toArray()).toEqual([2, 2]);
    expect(f.cacheInfo()).toEqual({ hits: 1, misses: 3, size: 3 });
  });

  it("keys numbers by exact value: NaN, Infinity, -Infinity, -0 and 0 are five keys, NaN hits NaN", () => {
    // Branching on the static value shows which trace answered.
    const values = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0];
    const which = jit((x: NdArray, c: number) => x.add(values.findIndex((v) => Object.is(v, c))), {
      staticArgnums: 1,
    });
    const zero = np.zeros([1]);
    for (const [k, c] of values.entries()) expect(which(zero, c).toArray()).toEqual([k]);
    expect(which(zero, Number.NaN).toArray()).toEqual([0]);
    expect(which.cacheInfo()).toEqual({ hits: 1, misses: 5, size: 5 });
  });

  it("keys Sets, Maps and class instances by identity, plain objects and arrays structurally", () => {
    const f = jit((x: NdArray, s: unknown) => (hasOne(s) ? x.neg() : x), { staticArgnums: 1 });
    const x = np.array([1, 2]);
    expect(f(x, new Set([1])).toArray()).toEqual([-1, -2]);
    expect(f(x, new Set([2])).toArray()).toEqual([1, 2]);
    expect(f(x, new Map([[1, 1]])).toArray()).toEqual([-1, -2]);
    expect(f(x, new Map([[2, 2]])).toArray()).toEqual([1, 2]);
    expect(f.cacheInfo().misses).toBe(4);

    const g = jit((x: NdArray, config: { a: number; b: number[] }) => x.mul(config.a).add(config.b[0]!), {
      staticArgnums: 1,
    });
    expect(g(x, { a: 2, b: [1] }).toArray()).toEqual([3, 5]);
    expect(g(x, { b: [1], a: 2 }).toArray()).toEqual([3, 5]);
    expect(g(x, { a: 2, b: [2] }).toArray()).toEqual([4, 6]);
    expect(g.cacheInfo()).toEqual({ hits: 1, misses: 2, size: 2 });
  });

  it("tells strings from numbers and nested values apart", () => {
    const f = jit((x: NdArray, v: unknown) => x.add(JSON.stringify(v)?.length ?? 0), { staticArgnums: 1 });
    const x = np.zeros([1]);
    for (const v of [
      1,
      "1",
      [1],
      ["1"],
      { a: "1" },
      { a: 1 },
      null,
      undefined,
      true,
      "true",
      [1, [2]],
      [[1], 2],
    ])
      f(x, v);
    expect(f.cacheInfo()).toEqual({ hits: 0, misses: 12, size: 12 });
  });

  it("uses a staticKey option in place of the value, so equal configurations share a plan", () => {
    class Config {
      constructor(readonly scale: number) {}
    }
    const options = { staticArgnums: 1, staticKey: (c: unknown) => (c as Config).scale };
    const f = jit((x: NdArray, c: Config) => x.mul(c.scale), options);
    expect(f(np.ones([1]), new Config(2)).toArray()).toEqual([2]);
    expect(f(np.ones([1]), new Config(2)).toArray()).toEqual([2]);
    expect(f(np.ones([1]), new Config(5)).toArray()).toEqual([5]);
    expect(f.cacheInfo()).toEqual({ hits: 1, misses: 2, size: 2 });
    // Without it a class instance is keyed by identity: equal contents trace again.
    const byIdentity = jit((x: NdArray, c: Config) => x.mul(c.scale), { staticArgnums: 1 });
    byIdentity(np.ones([1]), new Config(2));
    byIdentity(np.ones([1]), new Config(2));
    expect(byIdentity.cacheInfo().misses).toBe(2);
  });

  it("rejects a plain static value that contains itself, naming jit and the way out", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    const f = jit((x: NdArray, _c: unknown) => x, { staticArgnums: 1 });
    expect(() => f(np.ones([1]), cyclic)).toThrow(/jit\(.*\): a static argument contains itself.*staticKey/);
  });
});

function hasOne(s: unknown): boolean {
  return s instanceof Set ? s.has(1) : s instanceof Map ? s.has(1) : false;
}
