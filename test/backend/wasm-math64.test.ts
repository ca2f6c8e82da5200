/**
 * Float64 exp and log in the wasm fused loops (backend/wasm/math64.ts) against the JS kernels' fdlibm exp
 * and log (backend/js/fdlibm.ts): the same bits over the whole range, every branch of fdlibm's included.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exp, log } from "../../src/backend/js/fdlibm.js";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { fusedThresholds } from "../../src/compiler/fused-wasm.js";
import { backend, jit, type Array as NdArray, np, setBackend } from "../../src/index.js";
import { rng } from "../helpers/numeric.js";

const initial = backend();
const saved = { ...fusedThresholds };

/** Edges of fdlibm's branches and of the scaling by 2^k, and the specials. */
const EDGES = [
  0,
  -0,
  Number.NaN,
  Infinity,
  -Infinity,
  2 ** -28,
  -(2 ** -28),
  2 ** -29,
  0.34657359027997264,
  -0.34657359027997264,
  0.3465735902799727,
  1.0397207708399179,
  -1.0397207708399179,
  1.039720770839918,
  709.782712893384,
  709.7827128933841,
  709.4361393,
  709.5,
  -708.3964185322641,
  -708.4,
  -709.1,
  -745.1332191019411,
  -745.1332191019412,
  -744.5,
  1e-320,
  -1e-320,
  5e-324,
  1e300,
  -1e300,
  1,
  -1,
  0.5,
  -0.5,
  88.7,
  -103.9,
];

describe.runIf(simdSupported())("float64 exp in the wasm fused loop", () => {
  beforeAll(() => {
    fusedThresholds.resident = 0;
    fusedThresholds.staged = 0;
    setBackend("wasm");
  });
  afterAll(() => {
    Object.assign(fusedThresholds, saved);
    setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
  });

  it("runs in wasm and gives fdlibm's bits on 200k values across the range and on every branch edge", () => {
    const next = rng(17);
    const n = 200_000;
    const data = new Float64Array(n);
    data.set(EDGES);
    for (let i = EDGES.length; i < n; i++) {
      const u = (next() + 1) / 2;
      const v = next();
      // Spread over |x| < 1500 (both ends), the reduction's range, tiny values and the subnormal results.
      data[i] =
        u < 0.3
          ? v * 750
          : u < 0.5
            ? v * 2
            : u < 0.6
              ? v * 2 ** (-60 * Math.abs(next()))
              : u < 0.8
                ? -727 + v * 20
                : v * 100;
    }
    const x = np.array(data);
    const f = jit((v: NdArray) => np.exp(v));
    expect(f.lower(x).executable.kernelSources[0]).toMatch(/^wasm simd fused loop/);
    const got = f(x).toTypedArray();
    for (let i = 0; i < n; i++) {
      const want = exp(data[i]!);
      if (!Object.is(got[i], want)) throw new Error(`exp(${data[i]}): wasm ${got[i]}, fdlibm ${want}`);
    }
  });

  it("log runs in wasm and gives fdlibm's bits on 200k values: subnormals, near 1, huge, negative", () => {
    const next = rng(23);
    const n = 200_000;
    const edges = [
      0,
      -0,
      Number.NaN,
      Infinity,
      -Infinity,
      1,
      2,
      0.5,
      Math.SQRT2,
      Math.SQRT1_2,
      5e-324,
      -5e-324,
      2.2250738585072014e-308,
      2.225073858507201e-308,
      1.7976931348623157e308,
      1 + 2 ** -52,
      1 - 2 ** -53,
      1 + 2 ** -21,
      1 - 2 ** -21,
      -1,
      -1e-320,
    ];
    const data = new Float64Array(n);
    data.set(edges);
    for (let i = edges.length; i < n; i++) {
      const u = (next() + 1) / 2;
      const v = Math.abs(next());
      // Every binade, the interval around 1 where |f| < 2^-20, subnormals, [0.7, 1.45], negatives.
      data[i] =
        u < 0.3
          ? 2 ** (next() * 1050)
          : u < 0.5
            ? 1 + next() * 2 ** (-60 * v)
            : u < 0.6
              ? v * 1e-310
              : u < 0.9
                ? 0.7 + v * 0.75
                : -v;
    }
    const x = np.array(data);
    const f = jit((v: NdArray) => np.log(v));
    expect(f.lower(x).executable.kernelSources[0]).toMatch(/^wasm simd fused loop/);
    const got = f(x).toTypedArray();
    for (let i = 0; i < n; i++) {
      const want = log(data[i]!);
      if (!Object.is(got[i], want)) throw new Error(`log(${data[i]}): wasm ${got[i]}, fdlibm ${want}`);
    }
  });
});
