import { describe, expect, it } from "vitest";
import * as ex from "../../src/core/expr.js";
import { ExprError } from "../../src/core/expr.js";
import { elementwiseLoop, evaluateExpr, renderJs } from "../../src/ops/expr-js.js";

const f32 = (i: number) => ex.input(i, "float32");
const f64 = (i: number) => ex.input(i, "float64");
const i32 = (i: number) => ex.input(i, "int32");

describe("the scalar-expression IR", () => {
  it("types every node: comparisons give bool, casts their dtype, constants take the other operand's", () => {
    const x = f32(0);
    expect(ex.add(x, 1).dtype).toBe("float32");
    expect(ex.lt(x, 0).dtype).toBe("bool");
    expect(ex.cast(x, "int32").dtype).toBe("int32");
    expect(ex.select(ex.gt(x, 0), x, 0).dtype).toBe("float32");
    // A float32 constant holds its float32 value.
    const c = ex.mul(x, 0.1);
    expect(c.op === "mul" && c.y.op === "const" && c.y.value).toBe(Math.fround(0.1));
  });

  it("refuses ill-typed trees with a typed error naming the node", () => {
    expect(() => ex.add(f32(0), f64(1))).toThrow(/add: operand dtypes differ \(float32 vs float64\)/);
    expect(() => ex.div(i32(0), i32(1))).toThrow(ExprError);
    expect(() => ex.exp(i32(0))).toThrow(/exp: not defined for int32/);
    expect(() => ex.select(f32(0), f32(1), f32(2))).toThrow(/condition must be bool/);
    expect(() => ex.and(f32(0), f32(1))).toThrow(/expected bool operands/);
    expect(() => ex.constant(1.5, "int32")).toThrow(/not an int32 value/);
  });

  it("rounds every float32 node, as a float32 machine does", () => {
    // (a * b) + c with every step rounded differs from the double computation rounded once.
    const [a, b, c] = [1 + 2 ** -12, 1 + 2 ** -12, -1];
    const tree = ex.add(ex.mul(f32(0), f32(1)), f32(2));
    const once = Math.fround(a * b + c);
    const each = Math.fround(Math.fround(a * b) + c);
    expect(once).not.toBe(each);
    expect(evaluateExpr(tree, [a, b, c])).toBe(each);
    // Computing in float64 and rounding once is spelled with casts.
    const wide = ex.cast(
      ex.add(ex.mul(ex.cast(f32(0), "float64"), ex.cast(f32(1), "float64")), ex.cast(f32(2), "float64")),
      "float32",
    );
    expect(evaluateExpr(wide, [a, b, c])).toBe(once);
  });

  it("wraps int32 arithmetic and keeps numpy's integer semantics", () => {
    expect(evaluateExpr(ex.add(i32(0), i32(1)), [2 ** 31 - 1, 1])).toBe(-(2 ** 31));
    expect(evaluateExpr(ex.mul(i32(0), i32(1)), [65536, 65536])).toBe(0);
    expect(evaluateExpr(ex.neg(i32(0)), [-(2 ** 31)])).toBe(-(2 ** 31));
    expect(evaluateExpr(ex.rem(i32(0), i32(1)), [7, 0])).toBe(0);
    // -4 % 2 is -0 in JS: an int32 node holds +0, so a cast to float64 gives +0.
    expect(Object.is(evaluateExpr(ex.cast(ex.rem(i32(0), i32(1)), "float64"), [-4, 2]), 0)).toBe(true);
    expect(evaluateExpr(ex.pow(i32(0), i32(1)), [3, 21])).toBe(Math.imul(3 ** 10, 3 ** 11));
  });

  it("keeps IEEE values: -0 constants, NaN-propagating max, IEEE pow, casts to bool and int32", () => {
    expect(Object.is(evaluateExpr(ex.add(f64(0), ex.constant(-0, "float64")), [-0]), -0)).toBe(true);
    expect(evaluateExpr(ex.max(f64(0), f64(1)), [Number.NaN, 1])).toBeNaN();
    expect(evaluateExpr(ex.max(f64(0), f64(1)), [1, Number.NaN])).toBeNaN();
    expect(evaluateExpr(ex.pow(f64(0), f64(1)), [1, Number.NaN])).toBe(1);
    expect(evaluateExpr(ex.pow(f64(0), f64(1)), [-1, Infinity])).toBe(1);
    expect(evaluateExpr(ex.cast(f64(0), "bool"), [Number.NaN])).toBe(1);
    expect(evaluateExpr(ex.cast(f64(0), "int32"), [-2.7])).toBe(-2);
    expect(evaluateExpr(ex.round(f64(0)), [2.5])).toBe(2);
  });

  it("computes a shared node once in the JS it renders", () => {
    const e = ex.exp(f64(0));
    const { statements, value } = renderJs(ex.div(e, ex.add(e, 1)), ["x"]);
    expect(statements).toEqual(["const e0 = lib.exp(x);"]);
    expect(value).toBe("(e0 / (e0 + 1))");
  });

  it("gives the eager kernel of a tree: a loop over the elements", () => {
    const loop = elementwiseLoop(ex.select(ex.gt(f64(0), 0), f64(0), ex.mul(f64(0), 0.5)), 1);
    const out = new Float64Array(3);
    loop([new Float64Array([2, -2, Number.NaN])], out, 3);
    expect(Array.from(out)).toEqual([2, -1, Number.NaN]);
  });
});
