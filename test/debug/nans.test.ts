/**
 * setDebugNans: the first primitive that produces a NaN throws a FloatingPointError naming it, its shapes
 * and the user's line, eagerly and in jitted plans (inside a fused loop too); nothing is checked when the
 * flag is off, and NaNs then flow through as usual.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { FloatingPointError, grad, jit, type NdArray, np, setDebugNans, vmap } from "../../src/index.js";

afterEach(() => {
  setDebugNans(false);
});

function caught(run: () => unknown): FloatingPointError {
  try {
    run();
  } catch (e) {
    if (e instanceof FloatingPointError) return e;
    throw e;
  }
  throw new Error("expected a FloatingPointError");
}

// log(x - 1) is NaN where x < 1; the product after it would propagate the NaN, but log made it.
const f = (x: NdArray) => np.log(x.sub(1)).mul(2).sum();
const lineOfF =
  readFileSync(__filename, "utf8")
    .split("\n")
    .findIndex((l) => l.startsWith("const f = ")) + 1;
const LINE_OF_F = new RegExp(`called at f \\(.*nans\\.test\\.ts:${lineOfF}:\\d+\\)`);
const input = () => np.array([2, 0.5, 3]);

describe("setDebugNans(true)", () => {
  it("eagerly: names the primitive, the output and input shapes, the first NaN and the user's line", () => {
    setDebugNans(true);
    const e = caught(() => f(input()));
    expect(e.primitive).toBe("log");
    expect(e.message).toMatch(
      /^invalid value \(nan\) encountered in log: output 0 float32\[3\] has 1 NaN of 3 \(first at index \[1\]\); inputs float32\[3\]/,
    );
    expect(e.message).toMatch(LINE_OF_F);
  });

  it("in a jitted plan: the primitive inside the fused loop that made the NaN, with the traced line", () => {
    setDebugNans(true);
    const e = caught(() => jit(f)(input()));
    expect(e.primitive).toBe("log");
    expect(e.message).toMatch(/encountered in log \(jitted plan step 0: fused\[.*log.*\]/);
    expect(e.message).toMatch(LINE_OF_F);
  });

  it("in a plan compiled before the flag was set (the check is in the run loop, not the plan)", () => {
    const jf = jit(f);
    expect(Number.isNaN(jf(input()).item())).toBe(true);
    setDebugNans(true);
    const e = caught(() => jf(input()));
    expect(e.primitive).toBe("log");
    expect(e.message).not.toMatch(/called at/); // traced while off: no call sites were recorded
  });

  it("a NaN from a matrix product step (GEMM with an absorbed transpose) and from a non-fused step", () => {
    setDebugNans(true);
    const inf = np.array([[Infinity, 0]]);
    const zero = np.array([[0, 1]]);
    // inf * 0 inside the product: the GEMM step's output holds the NaN.
    const e = caught(() => jit((a: NdArray, b: NdArray) => np.matmul(a, b.T))(inf, zero));
    expect(e.primitive).toMatch(/matmul|dot/);
    const m = caught(() => jit((x: NdArray) => np.max(np.sqrt(x), { axis: 0 }))(np.array([-1, 4])));
    expect(m.primitive).toBe("sqrt");
  });

  it("under grad and vmap (eager): the primitive that made it", () => {
    setDebugNans(true);
    expect(caught(() => grad(f)(input())).primitive).toBe("log");
    expect(caught(() => vmap((x: NdArray) => np.sqrt(x))(np.array([1, -1]))).primitive).toBe("sqrt");
    // A NaN only in the backward pass: sqrt's derivative at 0 divides the (zero) cotangent by 2·sqrt(0).
    const g = caught(() => grad((x: NdArray) => np.sqrt(x).mul(0).sum())(np.array([0, 1])));
    expect(g.primitive).toBe("div");
    expect(g.message).toMatch(/output 0 float32\[2\] has 1 NaN of 2 \(first at index \[0\]\)/);
  });

  it("finite values pass, and ints and bools are never checked", () => {
    setDebugNans(true);
    expect(f(np.array([2, 3])).item()).toBeCloseTo(2 * Math.log(2), 6);
    expect(jit(f)(np.array([2, 3])).item()).toBeCloseTo(2 * Math.log(2), 6);
    expect(np.array([1, 2], { dtype: "int32" }).add(1).toArray()).toEqual([2, 3]);
  });

  it("float16 and bfloat16 (stored as bits): a NaN is found, eagerly and in a jitted plan", () => {
    setDebugNans(true);
    for (const dtype of ["float16", "bfloat16"] as const) {
      const x = np.array([2, 0.5, 3], { dtype });
      const eager = caught(() => f(x));
      expect(eager.primitive).toBe("log");
      expect(eager.message).toContain(`output 0 ${dtype}[3] has 1 NaN of 3 (first at index [1])`);
      expect(caught(() => jit(f)(x)).message).toContain("log");
      expect(f(np.array([2, 3], { dtype })).item()).toBeCloseTo(2 * Math.log(2), 2);
    }
  });

  it("setDebugNans returns the previous setting and rejects non-booleans", () => {
    expect(setDebugNans(true)).toBe(false);
    expect(setDebugNans(false)).toBe(true);
    expect(() => setDebugNans("yes" as never)).toThrow(TypeError);
  });
});

describe("setDebugNans(false) (the default)", () => {
  it("checks nothing: NaNs flow through eager and jitted code", () => {
    expect(Number.isNaN(f(input()).item())).toBe(true);
    expect(Number.isNaN(jit(f)(input()).item())).toBe(true);
  });
});
