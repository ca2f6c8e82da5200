import { describe, expect, it } from "vitest";
import { grad, jit, makeProgram, type NdArray, np, random, vmap } from "../../src/index.js";
import { erfinvScalar } from "../../src/random/index.js";

/** uint32 values of int32-stored bits. */
const words = (x: NdArray): number[] => Array.from(x.toTypedArray(), (v) => v >>> 0);
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());

/** zlib.adler32, which JAX's tests use to seed their known-value cases. */
function adler32(text: string): number {
  let a = 1;
  let b = 0;
  for (const c of Buffer.from(text)) {
    a = (a + c) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** The key JAX's `RandomValuesCase` uses for a sampler. */
const caseKey = (name: string): NdArray => random.key(adler32(`${name}threefry2x32`));

function expectClose(got: readonly number[], want: readonly number[], atol: number): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => {
    expect(Math.abs(g - want[i]!)).toBeLessThanOrEqual(atol);
  });
}

describe("threefry2x32 known answers", () => {
  it("matches the Random123 threefry2x32_20 test vectors", () => {
    expect(random.threefry2x32([0x13198a2e, 0x03707344], [0x243f6a88, 0x85a308d3])).toEqual([
      0xc4923a9c, 0x483df7a0,
    ]);
    expect(random.threefry2x32([0, 0], [0, 0])).toEqual([0x6b200159, 0x99ba4efe]);
    expect(random.threefry2x32([0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])).toEqual([
      0x1cb996fc, 0xbb002be7,
    ]);
  });
});

// Expected values below are JAX's own (tests/random_test.py: testPRNGValues, testRngRandomBits,
// _RANDOM_VALUES_CASES, test_prng_seeds_and_keys), with jax_threefry_partitionable=False.
describe("JAX known values", () => {
  it("key(seed) is [0, seed mod 2^32], as PRNGKey in 32-bit mode", () => {
    expect(words(random.key(0))).toEqual([0, 0]);
    expect(words(random.key(42))).toEqual([0, 42]);
    expect(words(random.key(-1))).toEqual([0, 4294967295]);
    expect(words(random.key(-2))).toEqual([0, 4294967294]);
    expect(words(random.key(2 ** 31 - 1 + 100))).toEqual([0, 2147483747]);
    expect(words(random.key(-(2 ** 31) - 100))).toEqual([0, 2147483548]);
    expect(random.key(0).dtype).toBe("int32");
    expect(random.key(0).shape).toEqual([2]);
  });

  it("split", () => {
    expect(words(random.split(random.key(0)))).toEqual([4146024105, 967050713, 2718843009, 1272950319]);
    const four = random.split(random.key(0), 4);
    expect(four.shape).toEqual([4, 2]);
    expect(words(four)).toEqual([
      2285895361, 1501764800, 1518642379, 4090693311, 433833334, 4221794875, 839183663, 3740430601,
    ]);
    expect(random.split(random.key(0), [2, 3]).shape).toEqual([2, 3, 2]);
  });

  it("foldIn", () => {
    expect(words(random.foldIn(random.key(0), 4))).toEqual([2285895361, 433833334]);
    expect(words(random.foldIn(random.key(0), np.scalar(4, "int32")))).toEqual([2285895361, 433833334]);
  });

  it("bits (32-bit words and the 64-bit words float64 sampling uses)", () => {
    const key = random.key(1701);
    expect(words(random.bits(key, [3]))).toEqual([56197195, 4200222568, 961309823]);
    expect(words(random.bits(caseKey("bits"), [5]))).toEqual([
      1978747883, 4134381225, 3628107870, 689687174, 2788938207,
    ]);
    // JAX x64 bits(key, 64, [3]): high words first, then low words, of threefry over 6 counters.
    const w = words(random.bits(key, [2, 3]));
    const u64 = [0, 1, 2].map((i) => (BigInt(w[i]!) << 32n) | BigInt(w[3 + i]!));
    expect(u64).toEqual([3982329540505020460n, 16822122385914693683n, 7882654074788531506n]);
  });

  it("randint", () => {
    expect(random.randint(random.key(0), [3, 3], 0, 8).toArray()).toEqual([
      [2, 1, 3],
      [6, 1, 5],
      [6, 3, 4],
    ]);
    expect(values(random.randint(caseKey("randint"), [5], 0, 10))).toEqual([0, 5, 7, 7, 5]);
  });

  it("uniform is bit for bit", () => {
    expect(random.uniform(random.key(0)).item()).toBe(Math.fround(0.41845703125));
    expectClose(
      values(random.uniform(caseKey("uniform"), [5])),
      [0.298671, 0.073213, 0.873356, 0.260549, 0.412797],
      1e-6,
    );
  });

  it("bernoulli, exponential, gumbel", () => {
    expect(random.bernoulli(caseKey("bernoulli"), 0.5, [5]).toArray()).toEqual([
      false,
      true,
      true,
      true,
      false,
    ]);
    expectClose(
      values(random.exponential(caseKey("exponential"), [5])),
      [0.526067, 0.043046, 0.039932, 0.46427, 0.123886],
      1e-6,
    );
    expectClose(
      values(random.gumbel(caseKey("gumbel"), [5])),
      [2.06701, 0.911726, 0.145736, 0.185427, -0.00711],
      1e-6,
    );
  });

  it("normal and truncatedNormal agree to float32 precision (our erfinv is float64-accurate, XLA's is a float32 polynomial)", () => {
    expectClose(
      values(random.normal(caseKey("normal"), [5])),
      [-1.173234, -1.511662, 0.070593, -0.099764, 1.052845],
      2e-6,
    );
    expectClose(
      values(random.truncatedNormal(caseKey("truncated_normal"), 0, 2, [5])),
      [0.582807, 1.709771, 0.159513, 0.861376, 0.36148],
      2e-6,
    );
  });
});

describe("determinism and independence", () => {
  it("the same key gives the same bits; a different key different bits", () => {
    const a = random.normal(random.key(7), [100]);
    const b = random.normal(random.key(7), [100]);
    expect(values(a)).toEqual(values(b));
    const c = random.normal(random.key(8), [100]);
    expect(values(a)).not.toEqual(values(c));
  });

  it("subkeys from split give independent streams", () => {
    const keys = random.split(random.key(0), 3);
    const draws = [0, 1, 2].map((i) => values(random.uniform(np.take(keys, i, { axis: 0 }), [10000])));
    for (let i = 0; i < 3; i++) {
      for (let j = i + 1; j < 3; j++) {
        const x = draws[i]!;
        const y = draws[j]!;
        expect(x).not.toEqual(y);
        // Correlation of independent uniforms: ~N(0, 1/n); 5 sigma = 0.05.
        const mx = x.reduce((s, v) => s + v, 0) / x.length;
        const my = y.reduce((s, v) => s + v, 0) / y.length;
        let cov = 0;
        let vx = 0;
        let vy = 0;
        x.forEach((v, k) => {
          cov += (v - mx) * (y[k]! - my);
          vx += (v - mx) ** 2;
          vy += (y[k]! - my) ** 2;
        });
        expect(Math.abs(cov / Math.sqrt(vx * vy))).toBeLessThan(0.05);
      }
    }
  });

  it("foldIn with different data gives different keys", () => {
    const k = random.key(3);
    expect(words(random.foldIn(k, 1))).not.toEqual(words(random.foldIn(k, 2)));
  });

  it("does not depend on the sample shape beyond the element count (counter layout)", () => {
    const k = random.key(11);
    expect(values(random.bits(k, [2, 3]))).toEqual(values(random.bits(k, [6])));
  });
});

function meanAndStd(xs: readonly number[]): [number, number] {
  const mean = xs.reduce((s, v) => s + v, 0) / xs.length;
  const variance = xs.reduce((s, v) => s + (v - mean) ** 2, 0) / xs.length;
  return [mean, Math.sqrt(variance)];
}

describe("distributions", () => {
  const n = 100_000;

  it("normal: mean 0 and std 1 within 4 standard errors", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const x = random.normal(random.key(0), [n], { dtype });
      expect(x.dtype).toBe(dtype);
      const [mean, std] = meanAndStd(values(x));
      expect(Math.abs(mean)).toBeLessThan(4 / Math.sqrt(n));
      // The standard error of the sample std of a normal is about 1/sqrt(2n).
      expect(Math.abs(std - 1)).toBeLessThan(4 / Math.sqrt(2 * n));
    }
  });

  it("uniform: range and moments", () => {
    for (const dtype of ["float32", "float64"] as const) {
      const xs = values(random.uniform(random.key(1), [n], { minval: -2, maxval: 3, dtype }));
      expect(Math.min(...xs)).toBeGreaterThanOrEqual(-2);
      expect(Math.max(...xs)).toBeLessThan(3);
      const [mean, std] = meanAndStd(xs);
      expect(Math.abs(mean - 0.5)).toBeLessThan((4 * 5) / Math.sqrt(12 * n));
      expect(Math.abs(std - 5 / Math.sqrt(12))).toBeLessThan(0.02);
    }
  });

  it("uniform: float64 samples use all 52 mantissa bits", () => {
    const xs = values(random.uniform(random.key(2), [1000], { dtype: "float64" }));
    // A float32-derived value would be a multiple of 2^-23.
    expect(xs.some((v) => (v * 2 ** 23) % 1 !== 0)).toBe(true);
  });

  it("uniform: array bounds broadcast", () => {
    const lo = np.array([0, 10, 100]);
    const x = random.uniform(random.key(3), [1000, 3], { minval: lo, maxval: np.add(lo, 1) });
    const rows = x.toArray() as number[][];
    for (const r of rows)
      r.forEach((v, j) => {
        expect(v >= [0, 10, 100][j]! && v < [1, 11, 101][j]!).toBe(true);
      });
  });

  it("bernoulli: frequency within 4 standard errors", () => {
    const p = 0.3;
    const xs = random.bernoulli(random.key(4), p, [n]);
    expect(xs.dtype).toBe("bool");
    const freq = values(xs).reduce((s, v) => s + v, 0) / n;
    expect(Math.abs(freq - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
  });

  it("randint: bounds, every value hit, roughly uniform", () => {
    const xs = values(random.randint(random.key(5), [n], -3, 4));
    const counts = new Map<number, number>();
    for (const v of xs) counts.set(v, (counts.get(v) ?? 0) + 1);
    expect([...counts.keys()].sort((a, b) => a - b)).toEqual([-3, -2, -1, 0, 1, 2, 3]);
    for (const c of counts.values())
      expect(Math.abs(c / n - 1 / 7)).toBeLessThan(4 * Math.sqrt(((1 / 7) * (6 / 7)) / n));
  });

  it("randint: wide and degenerate ranges", () => {
    const wide = values(random.randint(random.key(6), [1000], -(2 ** 31), 2 ** 31 - 1));
    expect(wide.every((v) => v >= -(2 ** 31) && v < 2 ** 31 - 1)).toBe(true);
    expect(new Set(wide).size).toBeGreaterThan(990);
    const full = values(random.randint(random.key(6), [1000], -(2 ** 31), 2 ** 31));
    expect(full.some((v) => v > 2 ** 30) && full.some((v) => v < -(2 ** 30))).toBe(true);
    expect(values(random.randint(random.key(6), [5], 4, 4))).toEqual([4, 4, 4, 4, 4]);
    expect(values(random.randint(random.key(6), [5], 4, 2))).toEqual([4, 4, 4, 4, 4]);
  });

  it("truncatedNormal stays strictly inside the bounds", () => {
    const xs = values(random.truncatedNormal(random.key(7), -0.3, 0.3, [10_000]));
    expect(Math.min(...xs)).toBeGreaterThan(-0.3);
    expect(Math.max(...xs)).toBeLessThan(0.3);
    const [mean] = meanAndStd(xs);
    expect(Math.abs(mean)).toBeLessThan(0.01);
    const arr = values(random.truncatedNormal(random.key(7), np.array([-1, 0]), np.array([0, 1]), [1000, 2]));
    arr.forEach((v, i) => {
      expect(i % 2 === 0 ? v > -1 && v < 0 : v > 0 && v < 1).toBe(true);
    });
  });

  it("categorical: frequencies follow softmax(logits)", () => {
    const probs = [0.1, 0.2, 0.7];
    const logits = np.log(np.array(probs));
    const xs = values(random.categorical(random.key(8), logits, { shape: [n] }));
    probs.forEach((p, k) => {
      const freq = xs.filter((v) => v === k).length / n;
      expect(Math.abs(freq - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    });
  });

  it("categorical: batch of logits along an axis", () => {
    const logits = np.array([
      [0, -1e9, -1e9],
      [-1e9, -1e9, 0],
    ]);
    expect(values(random.categorical(random.key(9), logits))).toEqual([0, 2]);
    expect(values(random.categorical(random.key(9), np.transpose(logits), { axis: 0 }))).toEqual([0, 2]);
    expect(random.categorical(random.key(9), logits, { shape: [4, 2] }).shape).toEqual([4, 2]);
  });

  it("permutation is a permutation", () => {
    for (const size of [1, 2, 10, 2000]) {
      const p = values(random.permutation(random.key(size), size));
      expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: size }, (_, i) => i));
    }
    const p = values(random.permutation(random.key(0), 100));
    expect(p).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });

  it("permutation of an array permutes whole rows, as the index permutation", () => {
    const x = np.reshape(np.arange(12), [4, 3]);
    const key = random.key(5);
    const order = values(random.permutation(key, 4));
    const rows = random.permutation(key, x).toArray() as number[][];
    expect(rows).toEqual(order.map((r) => [3 * r, 3 * r + 1, 3 * r + 2]));
    const cols = random
      .permutation(key, np.reshape(np.arange(12), [3, 4]), { axis: 1 })
      .toArray() as number[][];
    const colOrder = values(random.permutation(key, 4));
    expect(cols[0]).toEqual(colOrder);
    const vector = values(random.permutation(key, np.multiply(np.arange(4), 10)));
    expect(vector).toEqual(order.map((i) => 10 * i));
  });

  it("choice", () => {
    const withReplacement = values(random.choice(random.key(1), 5, { shape: [1000] }));
    expect(withReplacement.every((v) => v >= 0 && v < 5)).toBe(true);
    const without = values(random.choice(random.key(1), 5, { shape: [5], replace: false }));
    expect([...without].sort()).toEqual([0, 1, 2, 3, 4]);
    const weighted = values(random.choice(random.key(2), 3, { shape: [n], p: np.array([0.5, 0, 0.5]) }));
    expect(weighted.includes(1)).toBe(false);
    expect(Math.abs(weighted.filter((v) => v === 0).length / n - 0.5)).toBeLessThan(0.01);
    const fromArray = random.choice(random.key(3), np.array([10, 20, 30]), { shape: [2, 2] });
    expect(fromArray.shape).toEqual([2, 2]);
    expect(values(fromArray).every((v) => [10, 20, 30].includes(v))).toBe(true);
  });
});

describe("erfinv", () => {
  it("known values to float64 precision", () => {
    expect(erfinvScalar(0.5)).toBeCloseTo(0.4769362762044699, 15);
    expect(erfinvScalar(0.9)).toBeCloseTo(1.163087153676674, 15);
    expect(erfinvScalar(-0.999)).toBeCloseTo(-2.326753765513525, 14);
    expect(erfinvScalar(1 - 2 ** -53)).toBeCloseTo(5.863584748755168, 13);
    expect(erfinvScalar(0)).toBe(0);
    expect(erfinvScalar(1)).toBe(Number.POSITIVE_INFINITY);
    expect(Number.isNaN(erfinvScalar(1.5))).toBe(true);
  });

  it("round-trips through erf", () => {
    const ys = values(random.uniform(random.key(0), [200], { minval: -1, maxval: 1, dtype: "float64" }));
    const xs = np.array(ys.map(erfinvScalar), { dtype: "float64" });
    const back = values(np.erf(xs));
    // Limited by np.erf, itself accurate to a few ulp.
    back.forEach((b, i) => {
      expect(Math.abs(b - ys[i]!)).toBeLessThan(4e-15);
    });
  });

  it("has the derivative sqrt(pi)/2 exp(erfinv(x)^2)", () => {
    const x = 0.3;
    const g = grad((v: NdArray) => np.sum(random.erfInv(v)))(np.array([x], { dtype: "float64" }));
    expect(values(g)[0]).toBeCloseTo((Math.sqrt(Math.PI) / 2) * Math.exp(erfinvScalar(x) ** 2), 12);
  });
});

describe("transforms", () => {
  it("sampling traces: the program contains random_bits and no concrete values are read", () => {
    const program = makeProgram((key: NdArray) => random.normal(key, [3]))(random.key(0));
    const text = program.toString();
    expect(text).toContain("random_bits");
    expect(text).toContain("erf_inv");
  });

  it("jit of the samplers gives the eager values bit for bit", () => {
    const sample = (k: NdArray): NdArray[] => {
      const [a, b, c, d] = [0, 1, 2, 3].map((i) => np.take(random.split(k, 4), i, { axis: 0 }));
      return [
        random.normal(a!, [5]),
        random.uniform(b!, [5], { dtype: "float64" }),
        random.randint(c!, [5], -10, 10),
        random.permutation(d!, 7),
        random.categorical(k, np.array([0.5, 1, 2])),
      ];
    };
    const jitted = jit(sample);
    for (const seed of [0, 1]) {
      const want = sample(random.key(seed)).map(values);
      expect(jitted(random.key(seed)).map(values)).toEqual(want);
    }
  });

  it("vmap over keys equals sampling with each key", () => {
    const keys = random.split(random.key(0), 4);
    const batched = vmap((k: NdArray) => random.normal(k, [3]))(keys);
    expect(batched.shape).toEqual([4, 3]);
    const rows = batched.toArray() as number[][];
    for (let i = 0; i < 4; i++)
      expect(rows[i]).toEqual(values(random.normal(np.take(keys, i, { axis: 0 }), [3])));
  });

  it("vmap of split, foldIn, randint and permutation over keys", () => {
    const keys = random.split(random.key(1), 3);
    const one = (i: number): NdArray => np.take(keys, i, { axis: 0 });
    const splits = vmap((k: NdArray) => random.split(k, 2))(keys);
    expect(splits.shape).toEqual([3, 2, 2]);
    const folded = vmap((k: NdArray) => random.foldIn(k, 9))(keys);
    const ints = vmap((k: NdArray) => random.randint(k, [4], 0, 100))(keys);
    const perms = vmap((k: NdArray) => random.permutation(k, 6))(keys);
    for (let i = 0; i < 3; i++) {
      expect((splits.toArray() as number[][][])[i]).toEqual(random.split(one(i)).toArray());
      expect((folded.toArray() as number[][])[i]).toEqual(random.foldIn(one(i), 9).toArray());
      expect((ints.toArray() as number[][])[i]).toEqual(random.randint(one(i), [4], 0, 100).toArray());
      expect((perms.toArray() as number[][])[i]).toEqual(random.permutation(one(i), 6).toArray());
    }
  });

  it("vmap over foldIn data gives the keys of each datum", () => {
    const key = random.key(2);
    const data = np.array([0, 1, 2], { dtype: "int32" });
    const keys = vmap((d: NdArray) => random.foldIn(key, d))(data);
    expect(keys.toArray()).toEqual([0, 1, 2].map((d) => random.foldIn(key, d).toArray()));
  });

  it("grad flows through a reparameterized sample and through permutation", () => {
    const noise = random.normal(random.key(0), [5], { dtype: "float64" });
    const g = grad((scale: NdArray) => np.sum(np.multiply(scale, noise)))(np.scalar(2, "float64"));
    expect(g.item()).toBeCloseTo(
      values(noise).reduce((s, v) => s + v, 0),
      12,
    );
    const x = np.array([1, 2, 3, 4], { dtype: "float64" });
    const weights = np.array([1, 10, 100, 1000], { dtype: "float64" });
    const key = random.key(4);
    const gx = grad((v: NdArray) => np.sum(np.multiply(random.permutation(key, v), weights)))(x);
    // d/dx_i sum_j w_j x_{perm[j]} = w at the position where i landed.
    const perm = values(random.permutation(key, 4));
    const expected = [0, 0, 0, 0];
    perm.forEach((src, j) => {
      expected[src] = values(weights)[j]!;
    });
    expect(values(gx)).toEqual(expected);
  });
});

describe("errors", () => {
  it("rejects bad seeds", () => {
    expect(() => random.key(1.5)).toThrow(/random\.key: seed must be an integer/);
    expect(() => random.key(Number.NaN)).toThrow(/random\.key/);
    expect(() => random.key(2 ** 60)).toThrow(/random\.key/);
  });

  it("rejects keys of the wrong shape or dtype, naming the function", () => {
    expect(() => random.normal(np.array([1, 2, 3], { dtype: "int32" }), [2])).toThrow(
      /random\.normal: expected a key of shape \[2\] and dtype int32.*got int32\[3\]/,
    );
    expect(() => random.uniform(np.array([0, 0]), [2])).toThrow(/random\.uniform: .*got float32\[2\]/);
    expect(() => random.split(random.split(random.key(0)))).toThrow(/random\.split: .*use vmap/);
    expect(() => random.randint([0, 0] as unknown as NdArray, [2], 0, 1)).toThrow(
      /random\.randint: expected a key/,
    );
  });

  it("rejects bad shapes, dtypes and parameters", () => {
    const k = random.key(0);
    expect(() => random.normal(k, [-1])).toThrow(/random\.normal: shape must be/);
    expect(() => random.normal(k, [2], { dtype: "int32" })).toThrow(
      /random\.normal: dtype must be float32 or float64/,
    );
    expect(() => random.uniform(k, [2], { minval: np.zeros([3]) })).toThrow(
      /random\.uniform: parameter shapes/,
    );
    expect(() => random.randint(k, [2], 0.5, 3)).toThrow(/random\.randint: minval must be an integer/);
    expect(() => random.permutation(k, -1)).toThrow(/random\.permutation/);
    expect(() => random.categorical(k, np.array([1, 2]), { axis: 1 })).toThrow(/random\.categorical: axis 1/);
    expect(() => random.split(k, 1.5)).toThrow(/random\.split: num must be/);
    expect(() => random.choice(k, 3, { shape: [4], replace: false })).toThrow(
      /random\.choice: cannot take a larger sample/,
    );
  });
});
