/**
 * Regression tests of issue 15's compiler items: jit computes what eager computes bit for bit, NaN, ±Inf
 * and -0 included, in float32 and float64, on both backends (items 1, 2, 6 and 7).
 */
import { afterEach, describe, expect, it } from "vitest";
import { fusedThresholds } from "../../src/compiler/fused-wasm.js";
import { backend, grad, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";

const initial = backend();
const restore = (): void =>
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads, relaxedSimd: true });
afterEach(restore);

/**
 * Runs `body` with plans compiled for each backend, the wasm one with fused loops even for tiny shapes and
 * plain SIMD (relaxed SIMD's fused multiply-add rounds GEMMs differently from the JS kernels).
 */
function onEachBackend(body: (name: "js" | "wasm") => void): void {
  for (const name of ["js", "wasm"] as const) {
    setBackend(name, name === "wasm" ? { relaxedSimd: false } : {});
    const saved = { ...fusedThresholds };
    fusedThresholds.resident = 0;
    fusedThresholds.staged = 0;
    try {
      body(name);
    } finally {
      Object.assign(fusedThresholds, saved);
      restore();
    }
  }
}

/** Element values with -0 and NaN kept apart from 0 and each other (toEqual would merge some). */
const bits = (x: NdArray): string[] =>
  Array.from(x.toTypedArray() as ArrayLike<number>, (v) => (Object.is(v, -0) ? "-0" : String(v)));

describe("item 1: the gradient of a matmul chain compiles", () => {
  it("jit(grad(sum(w @ w @ w))) equals eager: [[12, 12], [12, 12]]", () => {
    const f = (w: NdArray) => np.sum(np.matmul(np.matmul(w, w), w));
    onEachBackend(() => {
      const x = np.ones([2, 2]);
      expect(bits(grad(f)(x))).toEqual(["12", "12", "12", "12"]);
      expect(bits(jit(grad(f))(x))).toEqual(["12", "12", "12", "12"]);
    });
  });
});

describe("item 2: the simplifier keeps NaN, Inf and -0", () => {
  const loss = (w: NdArray, xb: NdArray) => np.mean(np.matmul(xb, w).square()).mul(0).add(w.sum());
  const w = np.ones([3], { dtype: "float64" });
  const xb = np.array([[Number.NaN, 1, 2]], { dtype: "float64" });

  it("a loss times zero stays NaN, and so does its gradient", () => {
    expect(loss(w, xb).item()).toBeNaN();
    expect(jit(loss)(w, xb).item()).toBeNaN();
    expect(bits(grad(loss)(w, xb))).toEqual(["NaN", "NaN", "NaN"]);
    expect(bits(jit(grad(loss))(w, xb))).toEqual(["NaN", "NaN", "NaN"]);
  });

  it("0 / x, x * 0, 0 * x, x + 0 and matmul(x, zeros) keep IEEE semantics", () => {
    const x = np.array([-1, Number.POSITIVE_INFINITY, Number.NaN, -0, 2], { dtype: "float64" });
    const zeros = np.zerosLike(x);
    const cases: [string, (a: NdArray) => NdArray, string[]][] = [
      ["0 / x", (a) => np.divide(np.zerosLike(a), a), ["-0", "0", "NaN", "NaN", "0"]],
      ["x * 0", (a) => a.mul(0), ["-0", "NaN", "NaN", "-0", "0"]],
      ["0 * x", (a) => np.zerosLike(a).mul(a), ["-0", "NaN", "NaN", "-0", "0"]],
      ["x + 0", (a) => a.add(0), ["-1", "Infinity", "NaN", "0", "2"]],
      ["0 + x", (a) => zeros.add(a), ["-1", "Infinity", "NaN", "0", "2"]],
      ["x - (-0)", (a) => a.sub(np.full([5], -0, { dtype: "float64" })), ["-1", "Infinity", "NaN", "0", "2"]],
      [
        "(x + -0) - (x + 0): a -0 literal is not merged with a 0 literal",
        (a) =>
          a.add(np.full([5], -0, { dtype: "float64" })).sub(a.add(np.full([5], 0, { dtype: "float64" }))),
        ["0", "NaN", "NaN", "-0", "0"],
      ],
      ["-(zeros)", (a) => np.negative(np.zerosLike(a)), ["-0", "-0", "-0", "-0", "-0"]],
      [
        "matmul(x, zeros)",
        (a) => np.matmul(a.reshape([5, 1]), np.zeros([1, 2], { dtype: "float64" })).reshape([10]),
        // Products are summed from +0 (as reductions are), so -1 * 0 contributes to a +0 result.
        ["0", "0", "NaN", "NaN", "NaN", "NaN", "0", "0", "0", "0"],
      ],
    ];
    for (const [name, f, want] of cases) {
      expect([name, bits(f(x))]).toEqual([name, want]);
      onEachBackend((b) => expect([name, b, bits(jit(f)(x))]).toEqual([name, b, want]));
    }
  });
});

describe("item 6: float32 fused loops round every op as eager does", () => {
  const f32 = (v: number[]) => np.array(v, { dtype: "float32" });
  const cases: [string, (a: NdArray, b: NdArray) => NdArray, number[], number[], number][] = [
    [
      "floor((1 + 0.285) * 1000)",
      (a, b) => np.floor(a.add(b).mul(1000)),
      [1, 1, 1, 1],
      [0.285, 0.285, 0.285, 0.285],
      1285,
    ],
    [
      "(a * 1e8 + b) - a * 1e8",
      (a, b) => a.mul(1e8).add(b).sub(a.mul(1e8)),
      [1, 1, 1, 1],
      [0.285, 0.285, 0.285, 0.285],
      0,
    ],
    [
      "mod(sqrt(1e30), 0.5)",
      (a, b) => np.mod(np.sqrt(a.mul(1e30)), b),
      [1, 1, 1, 1],
      [0.5, 0.5, 0.5, 0.5],
      0,
    ],
  ];
  it.each(cases)("%s: jit equals eager", (_name, f, a, b, want) => {
    const x = f32(a);
    const y = f32(b);
    expect(bits(f(x, y))).toEqual(Array(4).fill(String(want)));
    onEachBackend(() => expect(bits(jit(f)(x, y))).toEqual(bits(f(x, y))));
  });

  it("rsqrt in float32 rounds once (1 / sqrt in double), in wasm fused loops too", () => {
    const data: number[] = [];
    for (let i = 1; i <= 4096; i++) data.push(Math.fround(i * 0.37 + 1 / i));
    const x = f32(data);
    onEachBackend(() => expect(bits(jit(np.rsqrt)(x))).toEqual(bits(np.rsqrt(x))));
  });
});

describe("item 7: GEMM keeps NaN and Inf, and products agree bit for bit on both backends", () => {
  it("zero rows of A times NaN or Inf in B give NaN", () => {
    const a = np.zeros([2, 3]);
    const b = np.array([
      [Number.NaN, 1],
      [Number.POSITIVE_INFINITY, 1],
      [1, 1],
    ]);
    const want = ["NaN", "0", "NaN", "0"];
    onEachBackend(() => {
      expect(bits(np.matmul(a, b))).toEqual(want);
      expect(bits(jit(np.matmul)(a, b))).toEqual(want);
      expect(bits(np.dot(np.zeros([3]), np.array([Number.NaN, 1, 1])))).toEqual(["NaN"]);
    });
  });

  it.each(["float64", "float32"] as const)(
    "%s products are bit-identical on the wasm and JS kernels, GEMV shapes and k = 257 included",
    (dtype) => {
      let seed = 1;
      const next = () => {
        seed = (seed * 16807) % 2147483647;
        return seed / 2147483647 - 0.5;
      };
      const random = (shape: [number, number]) =>
        np.array(Array.from({ length: shape[0] * shape[1] }, next), { shape, dtype });
      for (const [m, k, n] of [
        [16, 257, 1],
        [257, 257, 1],
        [1, 257, 257],
        [64, 257, 64],
        [33, 1030, 1],
      ] as const) {
        const a = random([m, k]);
        const b = random([k, n]);
        // (Bᵀ Aᵀ)ᵀ separately: with n = 1 or m = 1 one of the two products sums in the GEMV kernel's lanes
        // and the other in k order, so the two formulas may differ in their last bits.
        const plain: string[][] = [];
        const transposed: string[][] = [];
        const viaTransposes = (x: NdArray, y: NdArray) => np.matmul(y.T, x.T).T;
        onEachBackend(() => {
          plain.push(bits(np.matmul(a, b)), bits(jit(np.matmul)(a, b)));
          transposed.push(bits(viaTransposes(a, b)), bits(jit(viaTransposes)(a, b)));
        });
        for (const results of [plain, transposed])
          for (const r of results) expect([m, k, n, r]).toEqual([m, k, n, results[0]]);
      }
    },
  );
});
