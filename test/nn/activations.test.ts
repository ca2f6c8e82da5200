import { describe, expect, it } from "vitest";
import { grad, type NdArray, nn, np, vmap } from "../../src/index.js";
import { expectClose } from "../golden/golden.js";

const f64 = (data: number[] | number[][], shape?: number[]): NdArray =>
  np.array(data, { dtype: "float64", ...(shape ? { shape } : {}) });
const TIGHT = { atol: 1e-14, rtol: 1e-13 };
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
/** d/dx of sum(f(x)): the elementwise derivative for elementwise f. */
const derivative = (f: (x: NdArray) => NdArray, x: NdArray): NdArray =>
  grad((v: NdArray) => np.sum(f(v)))(x) as NdArray;

function centralDifference(f: (v: number) => number, v: number, h = 1e-6): number {
  return (f(v + h) - f(v - h)) / (2 * h);
}

describe("relu, leakyRelu, elu", () => {
  const x = f64([-2, -0.5, 0, 0.5, 2]);

  it("relu has PyTorch's derivative 0 at 0", () => {
    expect(values(nn.relu(x))).toEqual([0, 0, 0, 0.5, 2]);
    expect(values(derivative(nn.relu, x))).toEqual([0, 0, 0, 1, 1]);
    expect(values(nn.relu(f64([Number.NaN, -1])))).toEqual([Number.NaN, 0]);
  });

  it("relu keeps the dtype, including int32", () => {
    expect(nn.relu(np.array([-1, 2], { dtype: "int32" })).toArray()).toEqual([0, 2]);
    expect(nn.relu(np.array([-1, 2])).dtype).toBe("float32");
  });

  it("leakyRelu scales negatives (slope at 0, as PyTorch)", () => {
    expect(values(nn.leakyRelu(x))).toEqual([-0.02, -0.005, 0, 0.5, 2]);
    expect(values(nn.leakyRelu(x, { negativeSlope: 0.2 }))).toEqual([-0.4, -0.1, 0, 0.5, 2]);
    expect(values(derivative((v) => nn.leakyRelu(v, { negativeSlope: 0.2 }), x))).toEqual([
      0.2, 0.2, 0.2, 1, 1,
    ]);
  });

  it("elu is alpha * expm1(x) below 0, with a finite gradient for huge x", () => {
    const big = f64([-1, 0, 1, 1000]);
    expectClose(nn.elu(big, { alpha: 2 }), f64([2 * Math.expm1(-1), 0, 1, 1000]), TIGHT);
    const d = derivative((v) => nn.elu(v, { alpha: 2 }), big);
    expectClose(d, f64([2 * Math.exp(-1), 2, 1, 1]), TIGHT);
  });
});

describe("sigmoid, tanh, silu, gelu", () => {
  it("sigmoid is stable at +-1000", () => {
    expect(values(nn.sigmoid(f64([-1000, 0, 1000])))).toEqual([0, 0.5, 1]);
    expect(values(derivative(nn.sigmoid, f64([-1000, 0, 1000])))).toEqual([0, 0.25, 0]);
  });

  it("tanh is np.tanh", () => {
    expectClose(nn.tanh(f64([-1, 0, 2])), f64([Math.tanh(-1), 0, Math.tanh(2)]), TIGHT);
  });

  it("silu is x * sigmoid(x) with derivative s(1 + x(1 - s))", () => {
    const xs = [-3, -0.5, 0, 1.5];
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    expectClose(nn.silu(f64(xs)), f64(xs.map((v) => v * s(v))), TIGHT);
    expectClose(derivative(nn.silu, f64(xs)), f64(xs.map((v) => s(v) * (1 + v * (1 - s(v))))), TIGHT);
  });

  it("gelu matches PyTorch's exact and tanh forms", () => {
    // torch.nn.functional.gelu(torch.tensor([-1., 0., 1.], dtype=torch.float64)), and approximate='tanh'
    expectClose(nn.gelu(f64([-1, 0, 1])), f64([-0.15865525393145707, 0, 0.8413447460685429]), TIGHT);
    expectClose(
      nn.gelu(f64([-1, 0, 1]), { approximate: "tanh" }),
      f64([-0.15880800939172324, 0, 0.8411919906082768]),
      TIGHT,
    );
    expect(() => nn.gelu(f64([1]), { approximate: "fast" as "tanh" })).toThrow(/gelu/);
  });

  it("gelu's derivative is Phi(x) + x phi(x)", () => {
    const xs = [-2, -0.3, 0, 0.7, 3];
    const phi = (v: number) => Math.exp((-v * v) / 2) / Math.sqrt(2 * Math.PI);
    const Phi = (v: number) => 0.5 * (1 + values(np.erf(f64([v / Math.SQRT2])))[0]!);
    expectClose(derivative(nn.gelu, f64(xs)), f64(xs.map((v) => Phi(v) + v * phi(v))), {
      atol: 1e-12,
      rtol: 1e-10,
    });
  });
});

describe("softplus", () => {
  it("is log(1 + exp(beta x)) / beta, linear above the threshold", () => {
    const xs = [-30, -1, 0, 1, 10, 25];
    expectClose(nn.softplus(f64(xs)), f64(xs.map((v) => (v > 20 ? v : Math.log1p(Math.exp(v))))), TIGHT);
    expectClose(
      nn.softplus(f64(xs), { beta: 2, threshold: 5 }),
      f64(xs.map((v) => (2 * v > 5 ? v : Math.log1p(Math.exp(2 * v)) / 2))),
      TIGHT,
    );
  });

  it("never overflows, and its gradient is sigmoid(beta x) (1 past the threshold)", () => {
    const xs = f64([-1000, -5, 0, 5, 1000]);
    expectClose(
      nn.softplus(xs),
      f64([0, Math.log1p(Math.exp(-5)), Math.LN2, 5 + Math.log1p(Math.exp(-5)), 1000]),
      TIGHT,
    );
    const s = (v: number) => 1 / (1 + Math.exp(-v));
    expectClose(derivative(nn.softplus, xs), f64([0, s(-5), 0.5, s(5), 1]), TIGHT);
  });
});

describe("logsumexp", () => {
  const x = f64([1, 2, 3, 4, 5, 6], [2, 3]);
  const naive = (row: number[]) => Math.log(row.reduce((s, v) => s + Math.exp(v), 0));

  it("reduces all axes by default, or the given axes, with keepdims", () => {
    expectClose(nn.logsumexp(x), f64([naive([1, 2, 3, 4, 5, 6])], []), TIGHT);
    expectClose(nn.logsumexp(x, { axis: 1 }), f64([naive([1, 2, 3]), naive([4, 5, 6])]), TIGHT);
    expect(nn.logsumexp(x, { axis: -1, keepdims: true }).shape).toEqual([2, 1]);
    expect(nn.logsumexp(x, { axis: [0, 1], keepdims: true }).shape).toEqual([1, 1]);
    expectClose(nn.logsumexp(x, { axis: 0 }), f64([naive([1, 4]), naive([2, 5]), naive([3, 6])]), TIGHT);
  });

  it("is stable at +-1000 and gives -inf for an all -inf row (as JAX)", () => {
    const big = f64([1000, 1000, -Infinity, -Infinity, -1000, -1001], [3, 2]);
    const out = values(nn.logsumexp(big, { axis: 1 }));
    expect(out[0]).toBeCloseTo(1000 + Math.LN2, 10);
    expect(out[1]).toBe(Number.NEGATIVE_INFINITY);
    expect(out[2]).toBeCloseTo(-1000 + Math.log1p(Math.exp(-1)), 10);
    expect(values(nn.logsumexp(f64([Infinity, 0])))).toEqual([Infinity]);
  });

  it("has softmax as its gradient, the max taking no part", () => {
    const big = f64([1000, 999, 0, -1000, 0, 0], [2, 3]);
    const g = grad((v: NdArray) => np.sum(nn.logsumexp(v, { axis: 1 })))(big) as NdArray;
    expectClose(g, nn.softmax(big), TIGHT);
  });
});

describe("softmax and logSoftmax", () => {
  const logits = f64([1000, 999, -1000, 0, -1000, -1001, 1, 2, 3], [3, 3]);

  it("softmax rows sum to 1 without overflow at +-1000", () => {
    const p = nn.softmax(logits);
    expect(values(p).every(Number.isFinite)).toBe(true);
    expectClose(np.sum(p, { axis: -1 }), f64([1, 1, 1]), TIGHT);
    const rows = [
      [1000, 999, -1000],
      [0, -1000, -1001],
      [1, 2, 3],
    ];
    const stableSoftmax = (row: number[]) => {
      const m = Math.max(...row);
      const e = row.map((v) => Math.exp(v - m));
      const total = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / total);
    };
    expectClose(p, f64(rows.map(stableSoftmax)), TIGHT);
  });

  it("logSoftmax is x - logsumexp(x), exact for huge logits", () => {
    const ls = nn.logSoftmax(f64([1000, 0, -1000, -999], [2, 2]));
    expectClose(
      ls,
      f64([0, -1000, -1 - Math.log1p(Math.exp(-1)) + 0, -Math.log1p(Math.exp(-1))], [2, 2]),
      TIGHT,
    );
    expectClose(np.exp(nn.logSoftmax(logits)), nn.softmax(logits), TIGHT);
  });

  it("takes an axis (the last by default) and keeps float32", () => {
    const x = np.array([
      [1, 2],
      [3, 5],
    ]);
    const p0 = nn.softmax(x, { axis: 0 });
    expect(p0.dtype).toBe("float32");
    expectClose(np.sum(p0, { axis: 0 }), np.array([1, 1]), { atol: 1e-6, rtol: 0 });
    expectClose(nn.logSoftmax(x, { axis: 0 }), np.log(p0), { atol: 1e-6, rtol: 1e-6 });
  });

  it("gradients are finite for huge logits and match the closed form", () => {
    const c = f64([0.5, -1, 2, 1, 0, -2, 3, 1, 1], [3, 3]);
    const gSoft = grad((v: NdArray) => np.sum(np.multiply(nn.softmax(v), c)))(logits) as NdArray;
    const p = nn.softmax(logits);
    // d/dx sum(c * p) = p * (c - sum(c * p))
    const expected = np.multiply(p, np.subtract(c, np.sum(np.multiply(c, p), { axis: -1, keepdims: true })));
    expectClose(gSoft, expected, TIGHT);
    const gLog = grad((v: NdArray) => np.sum(np.multiply(nn.logSoftmax(v), c)))(logits) as NdArray;
    // d/dx sum(c * logp) = c - p * sum(c)
    expectClose(gLog, np.subtract(c, np.multiply(p, np.sum(c, { axis: -1, keepdims: true }))), TIGHT);
  });

  it("works under vmap", () => {
    const batched = vmap((row: NdArray) => nn.softmax(row))(logits);
    expectClose(batched, nn.softmax(logits), TIGHT);
  });

  it("gelu's derivative agrees with a central difference", () => {
    for (const v of [-1.3, 0.2, 2.2]) {
      const numeric = centralDifference((u) => values(nn.gelu(f64([u])))[0]!, v);
      expect(values(derivative(nn.gelu, f64([v])))[0]).toBeCloseTo(numeric, 7);
    }
  });
});
