/**
 * Sampling for language models: `random.categorical` with a temperature, and the top-k / top-p logits
 * filters. Distribution tests are chi-square goodness-of-fit tests of N = 20000 draws from a fixed key
 * against softmax(logits / temperature): the statistic must stay below the chi-square quantile at
 * significance 1e-3 for its degrees of freedom (Wilson-Hilferty), and, so that the test can fail, the
 * same draws must be rejected against the distribution at temperature 1. The filters' keep masks are
 * checked exactly against transformers' warpers in test/golden/seq-optim.test.ts; here their documented
 * edge cases (ties, k >= n, p = 1), jit, vmap and errors.
 */
import { describe, expect, it } from "vitest";
import { jit, type NdArray, np, random, vmap } from "../../src/index.js";

const N = 20000;

/** softmax of JS numbers. */
function softmax(logits: readonly number[]): number[] {
  const top = Math.max(...logits);
  const w = logits.map((l) => Math.exp(l - top));
  const total = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / total);
}

/** Counts of each category 0..k-1 in `draws`. */
function counts(draws: ArrayLike<number>, k: number): number[] {
  const out = new Array<number>(k).fill(0);
  for (let i = 0; i < draws.length; i++) out[draws[i]!] = out[draws[i]!]! + 1;
  return out;
}

/** Pearson's chi-square statistic of observed counts against probabilities (categories with p > 0). */
function chiSquare(observed: readonly number[], probs: readonly number[]): number {
  const n = observed.reduce((a, b) => a + b, 0);
  return probs.reduce((stat, p, i) => {
    if (p === 0) return stat;
    const expected = n * p;
    return stat + (observed[i]! - expected) ** 2 / expected;
  }, 0);
}

/** The chi-square quantile at 1 - 1e-3 for `df` degrees of freedom (Wilson-Hilferty; z = 3.0902). */
function critical(df: number): number {
  const a = 2 / (9 * df);
  return df * (1 - a + 3.0902 * Math.sqrt(a)) ** 3;
}

const logits = [1, 0, -1, 2, 0.5];

describe("random.categorical with temperature", () => {
  for (const temperature of [0.5, 1, 2]) {
    it(`temperature ${temperature}: ${N} draws fit softmax(logits / ${temperature}) (chi-square, 4 df, p = 1e-3)`, () => {
      const draws = random.categorical(random.key(7), np.array(logits, { dtype: "float64" }), {
        shape: [N],
        temperature,
      });
      expect(draws.dtype).toBe("int32");
      const observed = counts(draws.toTypedArray(), logits.length);
      const expected = softmax(logits.map((l) => l / temperature));
      expect(chiSquare(observed, expected)).toBeLessThan(critical(4));
      if (temperature !== 1) {
        // The same draws against temperature 1: rejected, so the fit above says something.
        expect(chiSquare(observed, softmax(logits))).toBeGreaterThan(critical(4) * 10);
      }
    });
  }

  it("batched logits along axis 0, with a sample prefix: each column fits its own distribution", () => {
    const table = [
      [0, 3],
      [1, 0],
      [2, -3],
    ];
    const draws = random.categorical(random.key(3), np.array(table, { dtype: "float32" }), {
      axis: 0,
      shape: [N, 2],
      temperature: 1.5,
    });
    expect(draws.shape).toEqual([N, 2]);
    const data = draws.toTypedArray();
    for (let column = 0; column < 2; column++) {
      const picks = Array.from({ length: N }, (_, i) => data[2 * i + column]!);
      const probs = softmax(table.map((row) => row[column]! / 1.5));
      expect(chiSquare(counts(picks, 3), probs)).toBeLessThan(critical(2));
    }
  });

  it("temperature 0 is the argmax for every sample (first on ties), whatever the key", () => {
    const x = np.array(
      [
        [0, 2, 2, 1],
        [5, -1, 0, 4],
      ],
      { dtype: "float64" },
    );
    for (const seed of [0, 1]) {
      const draws = random.categorical(random.key(seed), x, { shape: [3, 2], temperature: 0 });
      expect(Array.from(draws.toTypedArray())).toEqual([1, 0, 1, 0, 1, 0]);
    }
  });

  it("temperature 1 gives the same draws as no temperature; jitted equals eager", () => {
    const x = np.array(logits, { dtype: "float32" });
    const key = random.key(11);
    const plain = random.categorical(key, x, { shape: [50] });
    expect(Array.from(random.categorical(key, x, { shape: [50], temperature: 1 }).toTypedArray())).toEqual(
      Array.from(plain.toTypedArray()),
    );
    const sample = (k: NdArray, l: NdArray) => random.categorical(k, l, { shape: [50], temperature: 0.7 });
    expect(Array.from(jit(sample)(key, x).toTypedArray())).toEqual(Array.from(sample(key, x).toTypedArray()));
  });

  it("rejects a negative, infinite or non-number temperature", () => {
    const x = np.array(logits);
    for (const temperature of [-1, Number.POSITIVE_INFINITY, Number.NaN, "1" as unknown as number]) {
      expect(() => random.categorical(random.key(0), x, { temperature })).toThrow(
        /random.categorical: temperature must be a finite number >= 0/,
      );
    }
  });
});

describe("sampling from filtered logits", () => {
  it("top-k: never draws a filtered category; the kept ones fit the renormalized softmax", () => {
    const x = np.array(logits, { dtype: "float64" });
    const filtered = random.topKFilter(x, 3); // keeps 2, 1, 0.5 (categories 3, 0, 4)
    const observed = counts(random.categorical(random.key(5), filtered, { shape: [N] }).toTypedArray(), 5);
    expect([observed[1], observed[2]]).toEqual([0, 0]);
    const kept = logits.map((l, i) => ([0, 3, 4].includes(i) ? l : Number.NEGATIVE_INFINITY));
    expect(chiSquare(observed, softmax(kept))).toBeLessThan(critical(2));
  });

  it("top-p 0.9 at temperature 0.5: keeps categories 3 and 0, fits their renormalized softmax", () => {
    const scaled = logits.map((l) => l / 0.5);
    // softmax(scaled) = [0.1122, 0.0152, 0.0021, 0.8292, 0.0413]: the mass before 0 is 0.8292 < 0.9, before 4
    // it is 0.9414.
    const filtered = random.topPFilter(np.array(scaled, { dtype: "float64" }), 0.9);
    expect(Array.from(np.isfinite(filtered).toTypedArray()).map(Number)).toEqual([1, 0, 0, 1, 0]);
    const observed = counts(random.categorical(random.key(9), filtered, { shape: [N] }).toTypedArray(), 5);
    const kept = scaled.map((l, i) => ([0, 3].includes(i) ? l : Number.NEGATIVE_INFINITY));
    expect(chiSquare(observed, softmax(kept))).toBeLessThan(critical(1));
  });
});

describe("random.topKFilter and random.topPFilter", () => {
  const keepOf = (x: NdArray) => Array.from(np.isfinite(x).toTypedArray()).map(Number);

  it("top-k keeps values tied with the k-th largest and leaves kept logits unchanged", () => {
    const x = np.array([1, 3, 2, 3, 2, 0], { dtype: "float32" });
    expect(keepOf(random.topKFilter(x, 3))).toEqual([0, 1, 1, 1, 1, 0]);
    expect(keepOf(random.topKFilter(x, 1))).toEqual([0, 1, 0, 1, 0, 0]);
    const out = random.topKFilter(x, 3);
    expect(out.dtype).toBe("float32");
    expect(Array.from(out.toTypedArray())).toEqual([
      Number.NEGATIVE_INFINITY,
      3,
      2,
      3,
      2,
      Number.NEGATIVE_INFINITY,
    ]);
  });

  it("top-k with k >= n and top-p with p = 1 keep everything", () => {
    const x = np.array([[0.5, -1, 2]], { dtype: "float64" });
    expect(keepOf(random.topKFilter(x, 3))).toEqual([1, 1, 1]);
    expect(keepOf(random.topKFilter(x, 10))).toEqual([1, 1, 1]);
    expect(keepOf(random.topPFilter(x, 1))).toEqual([1, 1, 1]);
  });

  it("top-p keeps the category that crosses p and always at least one", () => {
    // probabilities 0.5, 0.3, 0.2 (logits log p): p = 0.5 keeps the first only (0.5 is not below 0.5),
    // p = 0.51 the first two, a tiny p the most likely one.
    const x = np.log(np.array([0.3, 0.5, 0.2], { dtype: "float64" }));
    expect(keepOf(random.topPFilter(x, 0.51))).toEqual([1, 1, 0]);
    expect(keepOf(random.topPFilter(x, 0.79))).toEqual([1, 1, 0]);
    expect(keepOf(random.topPFilter(x, 0.81))).toEqual([1, 1, 1]);
    expect(keepOf(random.topPFilter(x, 1e-9))).toEqual([0, 1, 0]);
  });

  it("already filtered (-inf) logits stay filtered", () => {
    const x = np.array([Number.NEGATIVE_INFINITY, 1, 0, Number.NEGATIVE_INFINITY], { dtype: "float64" });
    expect(keepOf(random.topPFilter(x, 0.9))).toEqual([0, 1, 1, 0]);
    expect(keepOf(random.topKFilter(x, 1))).toEqual([0, 1, 0, 0]);
  });

  it("batched over leading axes: vmap and jit agree with the direct call", () => {
    const x = random.normal(random.key(2), [3, 4, 6], { dtype: "float64" });
    for (const f of [(l: NdArray) => random.topKFilter(l, 2), (l: NdArray) => random.topPFilter(l, 0.7)]) {
      const direct = keepOf(f(x));
      expect(keepOf(vmap(f)(x))).toEqual(direct);
      expect(keepOf(jit(f)(x))).toEqual(direct);
      // Row by row, the same as the 1-D call.
      const row = np.reshape(
        np.slice(x, [
          { start: 1, stop: 2 },
          { start: 2, stop: 3 },
        ]),
        [6],
      );
      expect(keepOf(f(row))).toEqual(direct.slice((1 * 4 + 2) * 6, (1 * 4 + 2) * 6 + 6));
    }
  });

  it("rejects bad k, p and logits", () => {
    const x = np.array([1, 2, 3]);
    expect(() => random.topKFilter(x, 0)).toThrow(/random.topKFilter: k must be a positive integer, got 0/);
    expect(() => random.topKFilter(x, 1.5)).toThrow(/random.topKFilter: k must be a positive integer/);
    expect(() => random.topPFilter(x, 0)).toThrow(/random.topPFilter: p must be a number in \(0, 1\], got 0/);
    expect(() => random.topPFilter(x, 1.5)).toThrow(/random.topPFilter: p must be a number in \(0, 1\]/);
    expect(() => random.topKFilter(np.array([1, 2], { dtype: "int32" }), 1)).toThrow(
      /random.topKFilter: logits must be a float array of rank >= 1/,
    );
    expect(() => random.topPFilter(np.scalar(1, "float32"), 0.5)).toThrow(
      /random.topPFilter: logits must be a float array/,
    );
  });
});
