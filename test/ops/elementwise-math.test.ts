/**
 * The elementwise functions of src/ops/elementwise-math.ts (sinh … rad2deg) against numpy 1.24, in float64
 * and float32, on edge cases (±0, ±Infinity, NaN, subnormals, domain edges, huge and tiny magnitudes)
 * and random sweeps; jit against eager bit for bit; gradients at the edges of their domains; dtypes and
 * broadcasting. The gradient laws (finite differences, second order, vmap, jit) run from the domains the
 * primitives declare (laws/gradients.test.ts).
 *
 * The reference data is elementwise-math-reference.json.gz, written by elementwise_math_reference.py
 * (numpy's values, and mpmath's correctly rounded float64 values where mpmath has the function).
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, np, vjp } from "../../src/index.js";
import { decode, type FloatDtype, type ReferenceCase, readReference } from "./elementwise-math-reference.js";

const reference = readReference();

/** The spacing of floats of `dtype` at `v` (the ulp), subnormals included. */
function ulpOf(v: number, dtype: FloatDtype): number {
  const a = Math.abs(v);
  const [mantissa, minExp, tiny] = dtype === "float64" ? [52, -1022, 2 ** -1074] : [23, -126, 2 ** -149];
  if (a === 0) return tiny;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e -= 1; // log2 rounding up at a power of two
  if (2 ** (e + 1) <= a) e += 1;
  return e < minExp ? tiny : 2 ** (e - mantissa);
}

/**
 * How far `got` is from `want`, in ulps of `want`: 0 for the same special value (NaN, ±Infinity, or a
 * zero of the same sign), Infinity for a different one.
 */
function ulpDistance(got: number, want: number, dtype: FloatDtype, scale = want): number {
  if (Number.isNaN(want) || Number.isNaN(got)) return Number.isNaN(want) && Number.isNaN(got) ? 0 : Infinity;
  if (!Number.isFinite(want) || !Number.isFinite(got)) return got === want ? 0 : Infinity;
  if (want === 0 && got === 0) return Object.is(want, got) ? 0 : Infinity;
  return Math.abs(got - want) / ulpOf(Number.isFinite(scale) ? scale : want, dtype);
}

interface OpSpec {
  readonly fn: (...xs: NdArray[]) => NdArray;
  /** Largest distance from numpy, in ulps, per dtype. */
  readonly ulps: Record<FloatDtype, number>;
  /** Why the tolerance is what it is. */
  readonly why: string;
  /** Elements not compared (with the reason in `why`). */
  readonly skip?: (args: readonly number[]) => boolean;
  /**
   * The magnitude whose ulp the distance is counted in (default: numpy's value). logaddexp's formula
   * max + log1p(...) cancels near a result of 0: its error is an ulp of the max operand, not of the result.
   */
  readonly scale?: (args: readonly number[], want: number) => number;
}

const h = (x: NdArray) => np.heaviside(x, 0.5);
const EXACT = { float64: 0, float32: 0 };

/** Every op of the reference data, with the tolerance its comparison with numpy allows. */
const OPS: Record<string, OpSpec> = {
  sinh: {
    fn: np.sinh,
    ulps: { float64: 2, float32: 2 },
    why: "series below 1, else (e - 1/e) / 2 from exp (fdlibm's float64 exp; the float32 exp, in float64)",
  },
  cosh: { fn: np.cosh, ulps: { float64: 2, float32: 2 }, why: "as sinh" },
  asinh: {
    fn: np.asinh,
    ulps: { float64: 2, float32: 1 },
    why: "log1p(|x| + x² / (1 + sqrt(1 + x²))), log1p from log with Goldberg's correction",
  },
  acosh: {
    fn: np.acosh,
    ulps: { float64: 3, float32: 1 },
    why: "log1p((x - 1) + sqrt(x - 1)·sqrt(x + 1)), log1p as asinh's",
  },
  atanh: {
    fn: np.atanh,
    ulps: { float64: 2, float32: 1 },
    why: "log1p(2|x| / (1 - |x|)) / 2, log1p as asinh's",
  },
  asin: {
    fn: np.asin,
    ulps: { float64: 2, float32: 2 },
    why: "fdlibm vs libm; float32: Cephes' asinf polynomial evaluated in float64",
  },
  acos: { fn: np.acos, ulps: { float64: 1, float32: 1 }, why: "as asin" },
  cbrt: {
    fn: np.cbrt,
    ulps: { float64: 1, float32: 2 },
    why: "float32: exp(log|x| / 3) and a Newton step in float64",
  },
  log2: {
    fn: np.log2,
    ulps: { float64: 1, float32: 1 },
    why: "log(x)·log2(e), exact at powers of two",
  },
  log10: {
    fn: np.log10,
    ulps: { float64: 1, float32: 2 },
    why: "float32: the float32 log times log10(e) in float64",
  },
  exp2: {
    fn: np.exp2,
    ulps: { float64: 1, float32: 1 },
    why: "2^round(x) exactly, times exp(f·ln2) for the rest f",
  },
  trunc: { fn: np.trunc, ulps: EXACT, why: "exact" },
  isinf: { fn: np.isinf, ulps: EXACT, why: "exact" },
  isposinf: { fn: np.isposinf, ulps: EXACT, why: "exact" },
  isneginf: { fn: np.isneginf, ulps: EXACT, why: "exact" },
  sinc: {
    fn: np.sinc,
    ulps: { float64: 2, float32: 2 },
    why: "numpy's formula; sin of V8 vs libm. Near nonzero integers both are rounding noise: compared in absolute terms there",
  },
  deg2rad: { fn: np.deg2rad, ulps: EXACT, why: "the same product" },
  rad2deg: { fn: np.rad2deg, ulps: EXACT, why: "the same product" },
  heaviside: { fn: h, ulps: EXACT, why: "exact" },
  hypot: {
    fn: np.hypot,
    ulps: { float64: 1, float32: 1 },
    why: "sqrt(a² + b²) of operands scaled by a power of two (float32: in float64)",
  },
  logaddexp: {
    fn: np.logaddexp,
    ulps: { float64: 2, float32: 2 },
    why: "numpy's formula; counted in ulps of max(|result|, max(x, y)), the scale of its cancellation",
    scale: ([x, y], want) => Math.max(Math.abs(want), Math.abs(Math.max(x!, y!))),
  },
  logaddexp2: {
    fn: np.logaddexp2,
    ulps: { float64: 2, float32: 2 },
    why: "as logaddexp",
    scale: ([x, y], want) => Math.max(Math.abs(want), Math.abs(Math.max(x!, y!))),
  },
  copysign: {
    fn: np.copysign,
    ulps: EXACT,
    why: "exact; a NaN y's sign bit is not seen (JS engines do not keep it)",
    skip: ([, y]) => Number.isNaN(y!),
  },
  heaviside2: { fn: np.heaviside, ulps: EXACT, why: "exact" },
  xlogy: {
    fn: np.xlogy,
    ulps: { float64: 2, float32: 2 },
    why: "x·log(y), rounded twice as numpy's formula; fdlibm's log vs libm's",
  },
  xlog1py: {
    fn: np.xlog1py,
    ulps: { float64: 2, float32: 2 },
    why: "x·log1p(y), log1p from log with Goldberg's correction",
  },
};

function inputsOf(c: ReferenceCase, dtype: FloatDtype): { arrays: NdArray[]; values: Float64Array[] } {
  const raw = c.args.map((a) => decode(a, dtype) as Float64Array | Float32Array);
  return {
    arrays: raw.map((r) => np.array(r, { dtype })),
    values: raw.map((r) => Float64Array.from(r)),
  };
}

/** sinc near a nonzero integer: sin(π x) is rounding noise in numpy's formula and ours alike. */
const nearNonzeroInteger = (x: number): boolean =>
  x !== 0 && Math.abs(x - Math.round(x)) < 1e-3 && Math.abs(x) >= 0.5;

describe("agreement with numpy 1.24", () => {
  for (const [name, spec] of Object.entries(OPS)) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${name} ${dtype}: within ${spec.ulps[dtype]} ulp (${spec.why})`, () => {
        const c = reference.ops[name]![dtype];
        const { arrays, values } = inputsOf(c, dtype);
        const want = decode(c.out, c.out_dtype);
        const out = spec.fn(...arrays);
        expect(out.dtype).toBe(c.out_dtype);
        const got = out.toTypedArray();
        let worst = { d: -1, at: "" };
        for (let i = 0; i < want.length; i++) {
          const args = values.map((v) => v[i]!);
          if (spec.skip?.(args)) continue;
          const w = want[i]!;
          const g = got[i]!;
          let d: number;
          if (c.out_dtype === "bool") d = Number(g) === w ? 0 : Infinity;
          else if (name === "sinc" && nearNonzeroInteger(args[0]!) && Number.isFinite(w))
            d = Math.abs(g - w) <= (dtype === "float64" ? 1e-15 : 2e-6) ? 0 : Infinity;
          else d = ulpDistance(g, w, dtype, spec.scale?.(args, w));
          if (d > worst.d) worst = { d, at: `${name}(${args.join(", ")}) = ${g}, numpy ${w}` };
        }
        expect(worst.d, worst.at).toBeLessThanOrEqual(spec.ulps[dtype]);
      });
    }
  }
});

describe("jit computes eager's bits", () => {
  for (const [name, spec] of Object.entries(OPS)) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${name} ${dtype}`, () => {
        const { arrays } = inputsOf(reference.ops[name]![dtype], dtype);
        // A chain, so the op sits inside a fused group with other work.
        const chain = (...xs: NdArray[]) => {
          const y = spec.fn(...xs);
          return y.dtype === "bool" ? np.logicalNot(y) : np.negative(y);
        };
        const eager = chain(...arrays).toTypedArray();
        const jitted = jit(chain)(...arrays).toTypedArray();
        const differ: string[] = [];
        eager.forEach((v, i) => {
          if (!Object.is(v, jitted[i]) && !(Number.isNaN(v) && Number.isNaN(jitted[i]!)))
            differ.push(`element ${i}: eager ${v}, jit ${jitted[i]}`);
        });
        expect(differ.slice(0, 5)).toEqual([]);
      });
    }
  }
});

const f64 = (v: number | number[]) => np.array(v, { dtype: "float64" });
const grad2 = (f: (x: NdArray, y: NdArray) => NdArray, x: number, y: number): [number, number] => {
  const [, pullback] = vjp(f, f64(x), f64(y));
  const [gx, gy] = pullback(f64(1));
  return [gx!.item(), gy!.item()];
};

describe("gradients at the edges (JAX's conventions, or the limit where JAX has NaN)", () => {
  it("sinc: 0 at 0, second derivative -π²/3 there, continuous across the series switch at 0.1", () => {
    const d = grad(np.sinc);
    expect(d(f64(0)).item() === 0).toBe(true);
    expect(grad(grad(np.sinc))(f64(0)).item()).toBeCloseTo(-(Math.PI ** 2) / 3, 12);
    // sinc'(x) = (cos πx - sinc x) / x, evaluated exactly enough in float64 away from the switch
    const exact = (x: number) => (Math.cos(Math.PI * x) - Math.sin(Math.PI * x) / (Math.PI * x)) / x;
    for (const x of [0.05, 0.0999999, 0.1, 0.1000001, -0.3, 2.5]) {
      expect(d(f64(x)).item()).toBeCloseTo(exact(x), 12);
    }
    expect(d(f64(1e-8)).item()).toBeCloseTo((-(Math.PI ** 2) / 3) * 1e-8, 20);
  });

  it("xlogy: d/dy is 0 where x = 0 (y = 0 too), d/dx is log y", () => {
    expect(grad2(np.xlogy, 0, 0)).toEqual([-Infinity, 0]);
    expect(grad2(np.xlogy, 0, 2)).toEqual([Math.log(2), 0]);
    const [gx, gy] = grad2(np.xlogy, 3, 2);
    expect(gx).toBeCloseTo(Math.log(2), 15);
    expect(gy).toBeCloseTo(1.5, 15);
    expect(np.xlogy(f64([0, 0, 0, 1]), f64([0, Infinity, NaN, 0])).toArray()).toEqual([0, 0, NaN, -Infinity]);
  });

  it("xlog1py: d/dy is 0 where x = 0 (y = -1 too)", () => {
    expect(grad2(np.xlog1py, 0, -1)).toEqual([-Infinity, 0]);
    expect(grad2(np.xlog1py, 2, 1)[1]).toBeCloseTo(1, 15);
  });

  it("hypot: 0 at the origin, x/h and y/h elsewhere, finite for huge and tiny operands", () => {
    expect(grad2(np.hypot, 0, 0)).toEqual([0, 0]);
    expect(grad2(np.hypot, 3, -4)).toEqual([0.6, -0.8]);
    for (const v of [1e300, 1e-300]) {
      const [gx, gy] = grad2(np.hypot, v, v);
      expect(gx).toBeCloseTo(Math.SQRT1_2, 15);
      expect(gy).toBeCloseTo(Math.SQRT1_2, 15);
    }
  });

  it("logaddexp and logaddexp2: softmax weights, ½ each for equal operands (both -Infinity too)", () => {
    for (const f of [np.logaddexp, np.logaddexp2]) {
      expect(grad2(f, -Infinity, -Infinity)).toEqual([0.5, 0.5]);
      expect(grad2(f, Infinity, Infinity)).toEqual([0.5, 0.5]);
      expect(grad2(f, Infinity, 1)).toEqual([1, 0]);
      expect(grad2(f, -Infinity, 1)).toEqual([0, 1]);
      expect(grad2(f, 2, 2)).toEqual([0.5, 0.5]);
    }
    const [gx, gy] = grad2(np.logaddexp, 1, 2);
    expect(gx).toBeCloseTo(1 / (1 + Math.E), 15);
    expect(gy).toBeCloseTo(1 / (1 + 1 / Math.E), 15);
    expect(np.logaddexp(f64(-Infinity), f64(-Infinity)).item()).toBe(-Infinity);
    expect(np.logaddexp2(f64(-Infinity), f64(-Infinity)).item()).toBe(-Infinity);
  });

  it("logaddexp and logaddexp2: the second derivative at equal finite operands is σ'(0)·scale", () => {
    // d²/dx² logaddexp(x, y) = σ(x - y)(1 - σ(x - y)) = ¼ at x = y; base 2 scales the argument by ln2.
    for (const [f, scale] of [
      [np.logaddexp, 1],
      [np.logaddexp2, Math.LN2],
    ] as const) {
      for (const at of [0, 2.5]) {
        const second = grad(grad((x: NdArray) => f(x, f64(at))))(f64(at)).item();
        expect(second).toBeCloseTo(scale / 4, 14);
      }
    }
  });

  it("copysign: ±1 in x (1 at x = 0 for a positive y, as JAX's abs'(0)), 0 in y", () => {
    expect(grad2(np.copysign, 2, -1)).toEqual([-1, 0]);
    expect(grad2(np.copysign, -2, -1)).toEqual([1, 0]);
    expect(grad2(np.copysign, -2, 3)).toEqual([-1, 0]);
    expect(grad2(np.copysign, 0, 1)).toEqual([1, 0]);
    expect(np.copysign(f64([1, 1, -1]), f64([-0, 0, Infinity])).toArray()).toEqual([-1, 1, 1]);
  });

  it("heaviside: 0 in x; 1 in h where x = 0, else 0", () => {
    expect(grad2(np.heaviside, 0, 0.3)).toEqual([0, 1]);
    expect(grad2(np.heaviside, -1, 0.3)).toEqual([0, 0]);
    expect(grad2(np.heaviside, 2, 0.3)).toEqual([0, 0]);
    expect(np.heaviside(f64([-1, 0, 2, NaN]), 0.25).toArray()).toEqual([0, 0.25, 1, NaN]);
  });

  it("poles: acosh at 1, atanh and asin at ±1, cbrt at 0 give infinite derivatives (as JAX)", () => {
    expect(grad(np.acosh)(f64(1)).item()).toBe(Infinity);
    expect(grad(np.atanh)(f64(1)).item()).toBe(Infinity);
    expect(grad(np.asin)(f64(-1)).item()).toBe(Infinity);
    expect(grad(np.acos)(f64(1)).item()).toBe(-Infinity);
    expect(grad(np.cbrt)(f64(0)).item()).toBe(Infinity);
  });

  it("the linear ones and the steps: deg2rad, rad2deg; trunc's derivative is 0", () => {
    expect(grad(np.deg2rad)(f64(3)).item()).toBe(Math.PI / 180);
    expect(grad(np.rad2deg)(f64(3)).item()).toBe(180 / Math.PI);
    expect(grad((x: NdArray) => np.trunc(x).mul(x))(f64(2.5)).item()).toBe(2);
  });

  it("asinh's derivative does not overflow for huge x", () => {
    expect(grad(np.asinh)(f64(1e200)).item()).toBeCloseTo(1e-200, 214);
  });
});

describe("dtypes and broadcasting", () => {
  it("integer input gives float32 (as the other float functions); trunc keeps integers; isinf of ints is false", () => {
    const i = np.array([1, -2, 3], { dtype: "int32" });
    for (const f of [np.sinh, np.log2, np.exp2, np.cbrt, np.deg2rad, np.sinc])
      expect(f(i).dtype).toBe("float32");
    expect(np.trunc(i).dtype).toBe("int32");
    expect(np.isinf(i).toArray()).toEqual([false, false, false]);
    expect(np.isposinf(np.array([true]))).toBeDefined();
    expect(np.hypot(i, 2).dtype).toBe("float32");
    expect(np.xlogy(np.array([1], { dtype: "float32" }), f64([2])).dtype).toBe("float64");
  });

  it("binary ops broadcast as numpy", () => {
    const out = np.hypot(f64([3, 6]), np.array([[4], [8]], { dtype: "float64" }));
    expect(out.shape).toEqual([2, 2]);
    expect(out.toArray()).toEqual([
      [5, Math.sqrt(52)], // correctly rounded (V8's Math.hypot(6, 4) is 1 ulp above)
      [Math.sqrt(73), 10],
    ]);
    expect(() => np.logaddexp(f64([1, 2]), f64([1, 2, 3]))).toThrow(/logaddexp/);
  });

  it("exact values numpy users rely on", () => {
    expect(np.log2(f64([1, 2, 8, 1024, 0.5])).toArray()).toEqual([0, 1, 3, 10, -1]);
    expect(np.log2(np.array([1, 2, 8, 1024, 0.5], { dtype: "float32" })).toArray()).toEqual([
      0, 1, 3, 10, -1,
    ]);
    expect(np.exp2(f64([0, 1, 10, -3])).toArray()).toEqual([1, 2, 1024, 0.125]);
    expect(np.exp2(np.array([0, 1, 10, -3, -149], { dtype: "float32" })).toArray()).toEqual([
      1,
      2,
      1024,
      0.125,
      2 ** -149,
    ]);
    expect(np.log10(f64([1, 10, 1000])).toArray()).toEqual([0, 1, 3]);
    expect(np.cbrt(f64([27, -8, 0])).toArray()).toEqual([3, -2, 0]);
    expect(np.cbrt(np.array([27, -8, 0], { dtype: "float32" })).toArray()).toEqual([3, -2, 0]);
    expect(np.sinc(f64([0])).item()).toBe(1);
    expect(np.hypot(f64([Infinity, NaN]), f64([NaN, -Infinity])).toArray()).toEqual([Infinity, Infinity]);
  });
});
