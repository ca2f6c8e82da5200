/**
 * numpy 1.24 / JAX semantics of the elementwise arithmetic (issue 15, "Outside jit"): integer power,
 * floor division and mod as numpy's `//` and `%`, and bool operands by the one table (BOOL_OPERANDS).
 * Expected values come from numpy-reference.json, written by numpy_reference.py with numpy 1.24.
 */
import { afterEach, describe, expect, it } from "vitest";
import { BOOL_OPERANDS, type DType } from "../../src/core/dtype.js";
import { backend, grad, jit, type NdArray, np, setBackend } from "../../src/index.js";
import reference from "./numpy-reference.json";

type Encoded = number | string;
const decode = (v: Encoded): number =>
  v === "nan" ? NaN : v === "inf" ? Infinity : v === "-inf" ? -Infinity : v === "-0" ? -0 : (v as number);

/** Exact comparison, NaN equal to NaN and -0 distinct from 0 (Object.is), reporting every mismatch. */
function expectBitEqual(actual: ArrayLike<number>, expected: readonly number[], inputs: string[] = []): void {
  const bad: string[] = [];
  expected.forEach((e, i) => {
    if (!Object.is(actual[i], e)) bad.push(`${inputs[i] ?? i}: got ${actual[i]}, numpy ${e}`);
  });
  expect(bad).toEqual([]);
}

const int32 = (v: readonly number[]): NdArray => np.array([...v], { dtype: "int32" });
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const jitted = <F extends (...xs: NdArray[]) => NdArray>(f: F) => jit(f);

describe("power keeps integers integers (int32 wraparound, as numpy and JAX)", () => {
  const { x, y, int32: expected } = reference.power;
  const labels = x.map((b, i) => `${b} ** ${y[i]}`);

  it("int32 ** int32 arrays give numpy's int32 values", () => {
    const out = np.power(int32(x), int32(y));
    expect(out.dtype).toBe("int32");
    expectBitEqual(out.toTypedArray(), expected, labels);
    expect(np.power(int32([7, 3, 5]), int32([9, 15, 10])).toArray()).toEqual([40353607, 14348907, 9765625]);
  });

  it("jitted integer power equals eager", () => {
    const f = jitted((a, b) => np.power(a, b).add(1));
    expectBitEqual(f(int32(x), int32(y)).toTypedArray(), values(np.power(int32(x), int32(y)).add(1)));
  });

  it("int32 ** a JS integer stays int32 (JAX's weak typing), with wraparound", () => {
    const out = np.power(int32([7, 3, -5, 46341]), 2);
    expect(out.dtype).toBe("int32");
    expect(out.toArray()).toEqual([49, 9, 25, -2147479015]);
    expect(np.power(int32([2, 3]), 31).toArray()).toEqual([-2147483648, 1264544299]);
    expect(jitted((a) => np.power(a, 31))(int32([2, 3])).toArray()).toEqual(
      np.power(int32([2, 3]), 31).toArray(),
    );
    expect(np.power(int32([2]), 2.5).dtype).toBe("float32");
  });

  it("a JS number ** bool, and bool ** bool, give int32 (as JAX)", () => {
    const b = np.array([true, false]);
    const out = np.power(2, b);
    expect(out.dtype).toBe("int32");
    expect(out.toArray()).toEqual([2, 1]);
    expect(np.power(b, b).toArray()).toEqual([1, 1]);
    expect(np.power(b, b).dtype).toBe("int32");
    expect(np.power(b, 3).dtype).toBe("int32");
  });

  it("a negative integer exponent: a JS number throws, array elements give the truncated reciprocal", () => {
    expect(() => np.power(int32([2]), -1)).toThrow(TypeError);
    expect(() => np.power(int32([2]), -1)).toThrow(/power: .*negative integer power -1/);
    const out = np.power(int32([2, 1, -1, -1, 0, -3]), int32([-1, -5, -3, -2, -1, -2]));
    expect(out.toArray()).toEqual([0, 1, -1, 1, 0, 0]);
  });

  it("float power follows C's pow as numpy (1 ** NaN = 1), and NaN/±Infinity exponents are not confused", () => {
    // numpy 1.24: np.power([2, 1, -1, nan, 0.5, -2, 0], e) for e = nan, inf, -inf.
    const base = np.array([2, 1, -1, NaN, 0.5, -2, 0], { dtype: "float64" });
    const expected: [number, number[]][] = [
      [NaN, [NaN, 1, NaN, NaN, NaN, NaN, NaN]],
      [Infinity, [Infinity, 1, 1, NaN, 0, Infinity, 0]],
      [-Infinity, [0, 1, 1, NaN, Infinity, 0, Infinity]],
    ];
    for (const [e, values] of expected) {
      expectBitEqual(base.pow(e).toTypedArray(), values);
      expectBitEqual(np.power(base, np.full([7], e, { dtype: "float64" })).toTypedArray(), values);
    }
    // Under jit, x ** NaN and x ** Infinity were one common subexpression (their params keyed alike).
    const both = jitted((x) => np.stack([x.pow(NaN), x.pow(Infinity), x.pow(-Infinity)]));
    expectBitEqual(
      both(base).toTypedArray(),
      expected.flatMap(([, v]) => v),
    );
  });

  it("float gradients are unchanged", () => {
    expect(grad((v: NdArray) => np.power(v, 3).sum())(np.array([2], { dtype: "float64" })).toArray()).toEqual(
      [12],
    );
    const dy = grad((e: NdArray) => np.power(np.array([2], { dtype: "float64" }), e).sum());
    expect(dy(np.array([3], { dtype: "float64" })).item()).toBeCloseTo(8 * Math.log(2), 12);
  });
});

describe("floorDivide and mod are numpy's // and % (npy_divmod)", () => {
  const xs = reference.float.x.map(decode);
  const ys = reference.float.y.map(decode);
  const labels = xs.map((a, i) => `${a} // ${ys[i]}`);

  for (const dtype of ["float32", "float64"] as const) {
    const expected = reference.float[dtype];
    const x = np.array(xs, { dtype });
    const y = np.array(ys, { dtype });

    it(`${dtype}: floorDivide matches numpy bit for bit (4 // 0.4 = 9, 3 // -inf = -1)`, () => {
      expectBitEqual(np.floorDivide(x, y).toTypedArray(), expected.floorDivide.map(decode), labels);
    });

    it(`${dtype}: mod matches numpy bit for bit`, () => {
      expectBitEqual(np.mod(x, y).toTypedArray(), expected.mod.map(decode), labels);
    });

    it(`${dtype}: jitted floorDivide and mod (inside fused loops) equal eager`, () => {
      const q = jitted((a, b) => np.floorDivide(a.neg(), b.neg()).neg());
      const r = jitted((a, b) => np.mod(a.neg(), b.neg()).neg());
      expectBitEqual(q(x, y).toTypedArray(), values(np.floorDivide(x.neg(), y.neg()).neg()), labels);
      expectBitEqual(r(x, y).toTypedArray(), values(np.mod(x.neg(), y.neg()).neg()), labels);
    });
  }

  it("300 random pairs (near-multiples included) match numpy in float32 and float64, and int32", () => {
    const { random, randomInt } = reference;
    for (const dtype of ["float32", "float64"] as const) {
      const x = np.array(random.x, { dtype });
      const y = np.array(random.y, { dtype });
      expectBitEqual(np.floorDivide(x, y).toTypedArray(), random[dtype].floorDivide.map(decode));
      expectBitEqual(np.mod(x, y).toTypedArray(), random[dtype].mod.map(decode));
    }
    const [a, b] = [int32(randomInt.x), int32(randomInt.y)];
    expectBitEqual(np.floorDivide(a, b).toTypedArray(), randomInt.floorDivide);
    expectBitEqual(np.mod(a, b).toTypedArray(), randomInt.mod);
    expectBitEqual(
      np.power(int32(randomInt.base), int32(randomInt.exponent)).toTypedArray(),
      randomInt.power,
    );
  });

  it("the issue's float32 cases", () => {
    expect(np.floorDivide(4, np.array([0.4])).toArray()).toEqual([9]);
    expect(np.floorDivide(np.array([-3]), -0.3).toArray()).toEqual([9]);
    expect(np.floorDivide(3, np.array([-Infinity])).toArray()).toEqual([-1]);
  });

  it("int32 floorDivide and mod match numpy (a zero divisor gives 0)", () => {
    const { x, y, floorDivide, mod } = reference.int;
    const q = np.floorDivide(int32(x), int32(y));
    const r = np.mod(int32(x), int32(y));
    expect([q.dtype, r.dtype]).toEqual(["int32", "int32"]);
    expectBitEqual(q.toTypedArray(), floorDivide);
    expectBitEqual(r.toTypedArray(), mod);
    const f = jitted((a, b) => np.floorDivide(a, b).add(np.mod(a, b)));
    expectBitEqual(f(int32(x), int32(y)).toTypedArray(), values(q.add(r)));
  });

  it("mod's gradient: 1 for x, -(x // y) for y", () => {
    const x = np.array([4, -7.5], { dtype: "float64" });
    const y = np.array([0.4, 2], { dtype: "float64" });
    const [gx, gy] = grad((a: NdArray, b: NdArray) => np.mod(a, b).sum(), { argnums: [0, 1] })(x, y);
    expect(gx!.toArray()).toEqual([1, 1]);
    expect(gy!.toArray()).toEqual([-9, 4]);
    expect(grad((a: NdArray) => np.floorDivide(a, 0.4).sum())(x).toArray()).toEqual([0, 0]);
  });
});

describe("a JS integer next to int32 must fit int32 (as JAX)", () => {
  it("throws a RangeError naming the op and the number instead of wrapping", () => {
    const i = np.array([1, 2], { dtype: "int32" });
    expect(() => np.add(i, 2 ** 40)).toThrow(RangeError);
    expect(() => i.mul(2 ** 31)).toThrow(/multiply: the JS number 2147483648 does not fit int32/);
    expect(() => np.maximum(np.array([true]), -(2 ** 31) - 1)).toThrow(/maximum: the JS number -2147483649/);
    expect(np.add(i, 2 ** 31 - 1).toArray()).toEqual([-2147483648, -2147483647]);
    expect(np.add(i, 2 ** 40 + 0.5).dtype).toBe("float32");
  });
});

describe("bool operands follow one table (BOOL_OPERANDS, JAX's rules)", () => {
  const t = np.array([true, false, true, false]);
  const f = np.array([true, true, false, false]);
  const cases: [string, () => NdArray, DType, unknown][] = [
    ["add (OR)", () => np.add(t, f), "bool", [true, true, true, false]],
    ["multiply (AND)", () => np.multiply(t, f), "bool", [true, false, false, false]],
    ["maximum (OR)", () => np.maximum(t, f), "bool", [true, true, true, false]],
    ["minimum (AND)", () => np.minimum(t, f), "bool", [true, false, false, false]],
    ["abs", () => np.abs(t), "bool", [true, false, true, false]],
    ["clip with bool bounds", () => np.clip(t, false, true), "bool", [true, false, true, false]],
    ["clip with int bounds (weak int: int32)", () => np.clip(t, 0, 1), "int32", [1, 0, 1, 0]],
    ["floorDivide", () => np.floorDivide(t, f), "int32", [1, 0, 0, 0]],
    ["mod", () => np.mod(t, f), "int32", [0, 0, 0, 0]],
    ["square", () => np.square(t), "int32", [1, 0, 1, 0]],
    ["divide", () => np.divide(t, f), "float32", [1, 0, Infinity, NaN]],
    [
      "matmul (OR of ANDs)",
      () =>
        np.matmul(
          np.array([
            [true, false],
            [false, false],
          ]),
          np.array([
            [true, true],
            [false, true],
          ]),
        ),
      "bool",
      [
        [true, true],
        [false, false],
      ],
    ],
    ["dot", () => np.dot(t, f), "bool", true],
    ["dot of disjoint vectors", () => np.dot(t, np.logicalNot(t)), "bool", false],
    [
      "outer",
      () => np.outer(np.array([true, false]), np.array([true, false])),
      "bool",
      [
        [true, false],
        [false, false],
      ],
    ],
    ["einsum", () => np.einsum("i,i->", t, f), "bool", true],
    [
      "einsum of one operand",
      () =>
        np.einsum(
          "ij->j",
          np.array([
            [true, false],
            [false, false],
          ]),
        ),
      "bool",
      [true, false],
    ],
    ["tensordot", () => np.tensordot(t, f, 1), "bool", true],
    ["sum", () => np.sum(t), "int32", 2],
  ];
  for (const [name, run, dtype, expected] of cases) {
    it(`${name} gives ${dtype}`, () => {
      const out = run();
      expect(out.dtype).toBe(dtype);
      expect(out.toArray()).toEqual(expected);
    });
  }

  it("under jit too", () => {
    const f2 = jitted((a, b) => np.add(np.multiply(a, b), np.matmul(a, b)));
    const out = f2(t, f);
    expect(out.dtype).toBe("bool");
    expect(out.toArray()).toEqual([true, true, true, true]);
  });

  it("subtract, negative and sign refuse bool (as numpy and JAX), naming the op", () => {
    expect(() => np.subtract(t, f)).toThrow(/subtract: bool operands are not supported.*logicalXor/);
    expect(() => np.negative(t)).toThrow(/negative: bool operands .*logicalNot/);
    expect(() => np.sign(t)).toThrow(TypeError);
    expect(() => np.subtract(t, 1)).not.toThrow();
  });

  it("the table covers every op named in the issue", () => {
    for (const op of [
      "multiply",
      "maximum",
      "minimum",
      "abs",
      "clip",
      "matmul",
      "dot",
      "outer",
      "einsum",
      "tensordot",
    ])
      expect(BOOL_OPERANDS[op as keyof typeof BOOL_OPERANDS]).toBe("bool");
    expect(BOOL_OPERANDS.floorDivide).toBe("int32");
  });
});

describe("axis null means all axes everywhere axis is accepted", () => {
  const x = np.array([
    [1, 5, 2],
    [7, 0, 3],
  ]);
  it("argmax, argmin and cumsum flatten for axis null, as for an omitted axis", () => {
    expect(np.argmax(x, { axis: null }).toArray()).toBe(3);
    expect(np.argmin(x, { axis: null }).toArray()).toBe(4);
    expect(x.argmax({ axis: null, keepdims: true }).shape).toEqual([1, 1]);
    expect(np.cumsum(x, { axis: null }).toArray()).toEqual([1, 6, 8, 15, 15, 18]);
    expect(np.sum(x, { axis: null }).toArray()).toBe(18);
  });

  it("take and repeat flatten for axis null (repeat used to repeat rows silently)", () => {
    expect(np.take(x, [3, 0], { axis: null }).toArray()).toEqual([7, 1]);
    expect(np.repeat(x, 2, { axis: null }).toArray()).toEqual([1, 1, 5, 5, 2, 2, 7, 7, 0, 0, 3, 3]);
  });
});

describe("jitted on the JS backend too, the new kernels equal eager bit for bit", () => {
  const initial = backend();
  afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

  it("power, floorDivide and mod, int32, float32 and float64", () => {
    setBackend("js");
    const xs = reference.float.x.map(decode);
    const ys = reference.float.y.map(decode);
    const f = jitted((a, b) => np.stack([np.floorDivide(a, b), np.mod(a, b), np.power(a, b)]).neg());
    const eager = (a: NdArray, b: NdArray) =>
      np.stack([np.floorDivide(a, b), np.mod(a, b), np.power(a, b)]).neg();
    for (const dtype of ["float32", "float64"] as const) {
      const [x, y] = [np.array(xs, { dtype }), np.array(ys, { dtype })];
      expectBitEqual(f(x, y).toTypedArray(), values(eager(x, y)));
    }
    const [x, y] = [int32(reference.power.x), int32(reference.power.y)];
    expectBitEqual(f(x, y).toTypedArray(), values(eager(x, y)));
  });
});
