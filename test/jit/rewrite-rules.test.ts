/**
 * The compiler facts primitives declare (core/compiler-facts.ts): rewrite rules keyed by primitive, the
 * aliasing of reshape and the GEMM's transposes. A primitive declared in one file gets its rewrites under
 * jit with no compiler edit; each rule of the op files fires where it applies, leaves alone what is
 * exact only for finite values, and jit stays equal to eager bit for bit.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { optimize } from "../../src/compiler/passes.js";
import type { NdArray as CoreArray } from "../../src/core/array.js";
import { type Primitive, primitive, primitives } from "../../src/core/primitive.js";
import { grad, jit, makeProgram, type Array as NdArray, np, ShapeDtype } from "../../src/index.js";
import { convertPrim } from "../../src/ops/binary.js";
import { transposePrim } from "../../src/ops/layout.js";
import { cumsumPrim, reduceSumPrim } from "../../src/ops/reduce.js";
import { flipSign, flipSignPrim } from "./fixtures/flip-sign.js";

/** Element values with -0 and NaN kept apart from 0 and each other. */
const bits = (x: NdArray): string[] =>
  Array.from(x.toTypedArray() as ArrayLike<number>, (v) => (Object.is(v, -0) ? "-0" : String(v)));

/** The primitives of the optimized program of f on float64 arrays of these shapes. */
const optimizedNames = (f: (...xs: NdArray[]) => NdArray, ...shapes: number[][]): string[] =>
  optimize(makeProgram(f)(...shapes.map((s) => new ShapeDtype(s, "float64")))).program.equations.map(
    (e) => e.primitive.name,
  );

const SPECIAL = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0, 0, -2.5, 1e300];
const special = () => np.array(SPECIAL, { dtype: "float64" });

/** jit(f) on x gives eager's bits. */
function expectJitEqualsEager(f: (x: NdArray) => NdArray, x: NdArray): void {
  expect(bits(jit(f)(x))).toEqual(bits(f(x)));
}

describe("a primitive declared in one file with rewrite rules (test/jit/fixtures/flip-sign.ts)", () => {
  it("gets its own rules under jit: flip_sign(flip_sign(x)) -> x and flip_sign(c) -> -c", () => {
    const twice = (x: NdArray) => np.exp(flipSign(flipSign(x) as NdArray) as NdArray);
    expect(optimizedNames(twice, [7])).toEqual(["exp"]);
    expectJitEqualsEager(twice, special());
    expect(jit(twice).lower(special()).executable.program.toString()).not.toContain("test_flip_sign");

    const ofConstant = (x: NdArray) => np.add(x, flipSign(np.fullLike(x, 3)) as NdArray);
    expect(optimizedNames(ofConstant, [7])).toEqual(["broadcast_in_dim", "add"]);
    expectJitEqualsEager(ofConstant, special());
  });

  it("gets the rule it declares about another primitive: neg(flip_sign(x)) -> x", () => {
    const f = (x: NdArray) => np.exp(np.negative(flipSign(x) as NdArray));
    expect(optimizedNames(f, [7])).toEqual(["exp"]);
    expectJitEqualsEager(f, special());
  });

  it("a single flip_sign stays and runs its kernel", () => {
    const f = (x: NdArray) => flipSign(x) as NdArray;
    expect(optimizedNames(f, [7])).toEqual([flipSignPrim.name]);
    expectJitEqualsEager(f, special());
  });

  it("rules of a primitive declared after the compiler indexed the rules apply too", () => {
    const f = (x: NdArray) => np.exp(np.exp(x));
    jit(f)(special()); // the simplifier has indexed every rule declared so far
    type Params = Record<string, never>;
    const idPrim: Primitive<Params> = primitive<Params>({
      name: "test_late_identity",
      abstractEval: ([x]) => [x!],
      impl: ([x]) => [x!],
      jvp: ([x], [t]) => ({ primalsOut: [idPrim.bind1([x!], {})], tangentsOut: [t!] }),
      batch: ([x], [d]) => [[idPrim.bind1([x!], {})], [d!]],
      compiler: {
        rewrites: () => [
          { law: "id(x) -> x", rewrite: ({ inputs: [x] }) => ({ kind: "operand", atom: x! }) },
        ],
      },
    });
    const g = (x: NdArray) => np.exp(idPrim.bind1([x as CoreArray], {}) as NdArray);
    expect(optimizedNames(g, [7])).toEqual(["exp"]);
    expectJitEqualsEager(g, special());
  });
});

describe("the op files' rules", () => {
  const direct = {
    transpose: (x: NdArray, permutation: number[]) =>
      transposePrim.bind1([x as CoreArray], { permutation }) as NdArray,
    convert: (x: NdArray, dtype: "float32" | "float64") =>
      convertPrim.bind1([x as CoreArray], { dtype }) as NdArray,
    sum: (x: NdArray) => reduceSumPrim.bind1([x as CoreArray], { axes: [0] }) as NdArray,
    cumsum: (x: NdArray) => cumsumPrim.bind1([x as CoreArray], { axis: 0, reverse: false }) as NdArray,
  };
  // [what, function of a float64 [7] array, the primitives left after optimizing]
  const cases: [string, (x: NdArray) => NdArray, string[]][] = [
    ["identity transpose", (x) => np.exp(direct.transpose(x.reshape([7, 1]), [0, 1])), ["reshape", "exp"]],
    [
      "transpose of a unit axis is a reshape",
      (x) => np.exp(np.transpose(x.reshape([7, 1]))),
      ["reshape", "reshape", "exp"], // the rewritten equation is not simplified again in this pass
    ],
    ["convert to its own dtype", (x) => np.exp(direct.convert(x, "float64")), ["exp"]],
    [
      "convert of a constant",
      (x) => x.add(direct.convert(np.fullLike(x, 0.1), "float32").astype("float64")),
      ["broadcast_in_dim", "add"],
    ],
    [
      "sum of +0",
      (x) => x.add(direct.sum(np.zeros([3, 7], { dtype: "float64" }))),
      ["broadcast_in_dim", "add"],
    ],
    [
      "sum of -0 stays a sum",
      (x) => x.add(direct.sum(np.full([3, 7], -0, { dtype: "float64" }))),
      ["broadcast_in_dim", "reduce_sum", "add"],
    ],
    ["cumsum of +0", (x) => x.add(direct.cumsum(np.zerosLike(x))), ["broadcast_in_dim", "add"]],
    [
      "select between one constant",
      (x) => x.add(np.where(np.greater(x, 0), np.fullLike(x, 2), np.fullLike(x, 2))),
      ["broadcast_in_dim", "add"],
    ],
    [
      "select between +0 and -0 stays",
      (x) => x.add(np.where(np.greater(x, 0), np.zerosLike(x), np.fullLike(x, -0))),
      ["broadcast_in_dim", "gt", "broadcast_in_dim", "select", "add"],
    ],
    ["neg of a constant", (x) => x.mul(np.negative(np.fullLike(x, 0))), ["broadcast_in_dim", "mul"]],
    ["x + (-0)", (x) => np.exp(x.add(np.fullLike(x, -0))), ["exp"]],
    [
      "x + (+0) stays (-0 + 0 is +0)",
      (x) => np.exp(x.add(np.zerosLike(x))),
      ["broadcast_in_dim", "add", "exp"],
    ],
    ["x - (+0)", (x) => np.exp(x.sub(np.zerosLike(x))), ["exp"]],
    ["x - (-0) stays", (x) => np.exp(x.sub(np.fullLike(x, -0))), ["broadcast_in_dim", "sub", "exp"]],
    ["1 * x", (x) => np.exp(np.fullLike(x, 1).mul(x)), ["exp"]],
  ];
  for (const [what, f, names] of cases) {
    it(`${what}: ${names.join(", ")}; jit equals eager`, () => {
      expect(optimizedNames(f, [7])).toEqual(names);
      expectJitEqualsEager(f, special());
    });
  }
});

describe("sums of zero-padded pieces (the cotangent of a split) become one concatenation", () => {
  /** x [2, 16] cut into four [2, 4] gates, each through its own function; the sum's gradient w.r.t. x. */
  const gatesGradient =
    (...gates: (((g: NdArray) => NdArray) | null)[]) =>
    (x: NdArray): NdArray =>
      grad((y: NdArray) => {
        const pieces = np.split(y, 4, { axis: -1 });
        return gates.reduce<NdArray>(
          (total, gate, k) => (gate === null ? total : total.add(np.sum(gate(pieces[k]!)))),
          np.zeros([], { dtype: "float64" }),
        );
      })(x);
  // Every special value (and -0 in its gradient) in every gate: x * -0 has gradient -0, which the sum of
  // pads turns into +0 (-0 + 0), and so must the concatenation.
  const x = np.reshape(
    np.concatenate([special(), special(), special(), special(), np.array([1, 2, 3, 4])]),
    [2, 16],
  );
  const primitivesOf = (f: (x: NdArray) => NdArray) =>
    jit(f)
      .lower(x)
      .executable.steps.flatMap((s) => ("equations" in s ? s.equations : [s.equation]))
      .map((e) => e.primitive.name);

  it("four gates in any order: one concatenation, no pads or sums; jit equals eager (-0 included)", () => {
    const f = gatesGradient(
      (g) => g.mul(-0),
      (g) => np.tanh(g),
      (g) => g.mul(g),
      (g) => np.sin(g).mul(-0),
    );
    const names = primitivesOf(f);
    expect(names).toContain("concatenate");
    expect(names).not.toContain("pad");
    expectJitEqualsEager(f, x);
  });

  it("gates without a gradient are +0 fills or the edges of one pad; jit equals eager", () => {
    for (const f of [
      gatesGradient(
        (g) => g.mul(-0),
        null,
        (g) => g.mul(g),
        null,
      ),
      gatesGradient(
        null,
        (g) => g.mul(-0),
        (g) => np.tanh(g),
        null,
      ),
      gatesGradient(null, null, null, (g) => g.mul(-0)),
    ]) {
      expect(primitivesOf(f).filter((n) => n === "pad").length).toBeLessThanOrEqual(1);
      expectJitEqualsEager(f, x);
    }
  });

  it("overlapping pieces are summed as before", () => {
    const f = (x: NdArray) =>
      grad((y: NdArray) =>
        np
          .sum(np.tanh(np.slice(y, [{}, { start: 0, stop: 8 }])))
          .add(np.sum(np.slice(y, [{}, { start: 4, stop: 12 }]).mul(-0))),
      )(x);
    expect(primitivesOf(f)).toContain("pad");
    expectJitEqualsEager(f, x);
  });
});

describe("aliasing and GEMM transposes are read from the primitives", () => {
  it("a reshape in a plan is a view of its input (no buffer of its own)", () => {
    const f = (x: NdArray) => np.exp(np.exp(x).reshape([2, 4]));
    const plan = jit(f).lower(np.ones([8], { dtype: "float64" })).executable;
    // Two exp loops of 8 float64 each; the reshape between them takes no slot of its own.
    expect(plan.steps.map((s) => (s.kind === "eqn" ? s.equation.primitive.name : s.kind))).toContain(
      "reshape",
    );
    expect(plan.memory.intermediateBytes).toBe(64);
  });

  it("x @ W.T is one GEMM reading W transposed", () => {
    const f = (x: NdArray, w: NdArray) => np.matmul(x, np.transpose(w));
    const x = np.ones([64, 9], { dtype: "float64" });
    const w = np.ones([6, 9], { dtype: "float64" });
    const plan = jit(f).lower(x, w).executable;
    expect(plan.steps).toHaveLength(1);
    expect(plan.toString()).toContain("gemm[A Bᵀ]");
  });
});

describe("the compiler's passes name no op", () => {
  // Op knowledge lives on the primitives; these passes read it from there.
  for (const file of ["passes.ts", "gemm-steps.ts", "liveness.ts"]) {
    it(`src/compiler/${file} holds no primitive's name as a string`, () => {
      const source = readFileSync(new URL(`../../src/compiler/${file}`, import.meta.url), "utf8");
      const named = [...primitives().keys()].filter(
        (name) => source.includes(`"${name}"`) || source.includes(`'${name}'`),
      );
      expect(named).toEqual([]);
    });
  }

  // Files whose strings include expression-node names (max, exp, ...) that some primitives share: none of
  // them decides anything by a primitive's name (a comparison, a table look-up or `in`).
  const compilerFiles = readdirSync(new URL("../../src/compiler/", import.meta.url)).filter((f) =>
    f.endsWith(".ts"),
  );
  for (const file of compilerFiles) {
    it(`src/compiler/${file} decides nothing by a primitive's name`, () => {
      const source = readFileSync(new URL(`../../src/compiler/${file}`, import.meta.url), "utf8");
      const byName = source.match(
        /name\s*(===|!==)\s*["'`]|\[\s*[\w.]*primitive\.name\s*\]|primitive\.name\s+in\b/g,
      );
      expect(byName ?? []).toEqual([]);
    });
  }
});
