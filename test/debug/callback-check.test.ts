/**
 * debug.callback gets concrete values (copies it may keep) in program order under every transform;
 * debug.check throws a CheckError when the function runs, eagerly and from a jitted plan, naming the
 * formatted message and the failing element, and passes silently otherwise.
 */
import { describe, expect, it } from "vitest";
import { ConcreteArray, debug, grad, jit, type NdArray, np, vmap } from "../../src/index.js";

describe("debug.callback", () => {
  it("gets concrete arrays and the pytree structure, in program order, eager and jitted", () => {
    const seen: unknown[] = [];
    const f = (x: NdArray) => {
      debug.callback(
        (tree: { a: NdArray; b: [NdArray, number] }) => {
          seen.push(["tree", tree.a.toArray(), tree.b[0].toArray(), tree.b[1]]);
        },
        { a: x, b: [x.mul(2), 7] },
      );
      const y = x.add(1);
      debug.callback((v: NdArray) => seen.push(["y", v instanceof ConcreteArray, v.toArray()]), y);
      return y;
    };
    f(np.array([1, 2]));
    const eager = [...seen];
    seen.length = 0;
    jit(f)(np.array([1, 2]));
    expect(seen).toEqual(eager);
    expect(eager).toEqual([
      ["tree", [1, 2], [2, 4], 7],
      ["y", true, [2, 3]],
    ]);
  });

  it("arrays it keeps stay valid after the plan reuses its buffers", () => {
    const kept: NdArray[] = [];
    const f = jit((x: NdArray) => {
      const y = x.mul(3);
      debug.callback((v: NdArray) => kept.push(v), y);
      return y.add(1).mul(2);
    });
    f(np.array([1, 2]));
    f(np.array([10, 20]));
    expect(kept.map((k) => k.toArray())).toEqual([
      [3, 6],
      [30, 60],
    ]);
  });

  it("under grad sees primals once; under vmap once per example; jit(vmap(grad)) composes", () => {
    const seen: number[] = [];
    const f = (x: NdArray) => {
      debug.callback((v: NdArray) => seen.push(v.item()), x);
      return np.square(x);
    };
    expect(grad(f)(np.array(3, { dtype: "float64" })).item()).toBe(6);
    expect(seen).toEqual([3]);
    seen.length = 0;
    vmap(f)(np.array([1, 2, 3], { dtype: "float64" }));
    expect(seen).toEqual([1, 2, 3]);
    seen.length = 0;
    const g = jit(vmap(grad(f)))(np.array([4, 5], { dtype: "float64" }));
    expect(g.toArray()).toEqual([8, 10]);
    expect(seen).toEqual([4, 5]);
  });

  it("what the callback throws propagates out of the jitted call", () => {
    const f = jit((x: NdArray) => {
      debug.callback((_: NdArray) => {
        throw new RangeError("from the callback");
      }, x);
      return x;
    });
    expect(() => f(np.array(1))).toThrow(RangeError);
  });

  it("a non-function is a TypeError", () => {
    expect(() => (debug.callback as (fn: unknown, ...values: unknown[]) => void)(42, np.array(1))).toThrow(
      /debug\.callback: the first argument must be a function/,
    );
  });
});

describe("debug.check", () => {
  const positive = (x: NdArray) => {
    debug.check(x.greater(0), "x must be positive, got {}", x);
    return np.log(x);
  };

  it("passes silently when every element holds", () => {
    expect(positive(np.array([1, 2])).toArray()).toEqual([0, Math.fround(Math.log(2))]);
    expect(jit(positive)(np.array([1, 2])).toArray()).toEqual([0, Math.fround(Math.log(2))]);
  });

  it("throws a CheckError eagerly with the formatted message, the false element and the call site", () => {
    let error: unknown;
    try {
      positive(np.array([1, -2]));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(debug.CheckError);
    const message = (error as Error).message;
    expect(message).toMatch(/^x must be positive, got \[1\., -2\.\] \(element 1 of bool\[2\] is false\)/);
    expect(message).toMatch(/debug\.check at .*callback-check\.test\.ts:\d+:\d+/);
  });

  it("throws at run time from a jitted function (the predicate is only known then)", () => {
    const f = jit(positive);
    f.lower(np.array([1, -2])); // tracing and compiling do not check
    expect(() => f(np.array([1, -2]))).toThrow(debug.CheckError);
    expect(() => f(np.array([1, -2]))).toThrow("x must be positive, got [1., -2.]");
    expect(f(np.array([3, 4])).shape).toEqual([2]);
  });

  it("checks each example under vmap, and the primal under grad", () => {
    const scalar = (x: NdArray) => {
      debug.check(x.less(10), "x={} is not below 10", x);
      return np.square(x);
    };
    expect(() => vmap(scalar)(np.array([1, 12, 3]))).toThrow("x=12. is not below 10");
    expect(() => jit(vmap(scalar))(np.array([1, 12, 3]))).toThrow(debug.CheckError);
    expect(() => jit(grad(scalar))(np.array(11))).toThrow("x=11. is not below 10");
    expect(grad(scalar)(np.array(3)).item()).toBe(6);
  });

  it("the compiler does not drop a check whose predicate nothing else reads", () => {
    const f = jit((x: NdArray) => {
      debug.check(np.all(x.notEqual(0)), "zeros in x");
      return x;
    });
    expect(() => f(np.array([1, 0]))).toThrow("zeros in x");
  });

  it("a predicate that is not a bool array is a TypeError at trace time", () => {
    expect(() => debug.check(np.array([1, 2]), "m")).toThrow(
      /debug\.check: the predicate must be a bool array, got float32\[2\]/,
    );
    expect(() =>
      jit((x: NdArray) => {
        debug.check(x, "m");
        return x;
      })(np.array(1)),
    ).toThrow(TypeError);
    expect(() => debug.check(true as never, "m")).toThrow(TypeError);
  });
});
