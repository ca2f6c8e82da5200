/**
 * The jit path of every registered elementwise primitive, per input dtype: its fused loop runs in wasm
 * when every node of its kernel's tree has a SIMD rendering, else in JS, naming the node. Each test's
 * name is one line of that list. Every claimed wasm path is run: under jit on the wasm backend it must
 * be a wasm loop and give eager's bits on special values.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { wasmBlocker } from "../../src/compiler/expr-wasm.js";
import { fusedThresholds } from "../../src/compiler/fused-wasm.js";
import { ConcreteArray } from "../../src/core/array.js";
import { castScalar, DTYPES, type DType, isHalf, isInteger, storageFor } from "../../src/core/dtype.js";
import { describeNode } from "../../src/core/expr.js";
import { primitives } from "../../src/core/primitive.js";
import { backend, jit, type Array as NdArray, setBackend } from "../../src/index.js";
import { type ElementwisePrimitive, isElementwise } from "../../src/ops/elementwise-kit.js";

/** Params to list the primitives that have some (others take none). */
const PARAMS: Record<string, readonly unknown[]> = {
  convert: DTYPES.map((dtype) => ({ dtype })),
  pow_scalar: [{ exponent: 2 }, { exponent: 3 }, { exponent: 0.5 }],
};

/**
 * Paths that must be wasm: those that were before the expression IR, and what it added (int32
 * arithmetic, float64 exp, log and logistic, float32 rsqrt).
 */
const MUST_BE_WASM: readonly string[] = [
  ...["add", "sub", "mul", "neg", "abs", "max", "min", "sign", "eq", "lt"].map((p) => `${p} int32`),
  "exp float64",
  "log float64",
  "logistic float64",
  "rsqrt float32",
  ...[
    "add",
    "sub",
    "mul",
    "div",
    "neg",
    "abs",
    "sqrt",
    "floor",
    "ceil",
    "round",
    "max",
    "min",
    "sign",
  ].flatMap((p) => [`${p} float32`, `${p} float64`]),
  ...["is_nan", "is_finite"].flatMap((p) => [`${p} float32`, `${p} float64`]),
  ...["eq", "ne", "lt", "le", "gt", "ge"].flatMap((p) => [`${p} float32`, `${p} float64`]),
  "eq bool",
  "ne bool",
  "and bool",
  "or bool",
  "xor bool",
  "not bool",
  ...["float32", "float64", "bool"].flatMap((d) => [`select ${d}`, `stop_gradient ${d}`]),
  ...["exp", "log", "tanh", "logistic"].map((p) => `${p} float32`),
  "rsqrt float64",
  'pow_scalar float32 {"exponent":2}',
  'pow_scalar float64 {"exponent":2}',
  ...["float32", "float64", "bool"].flatMap((from) =>
    ["float32", "float64", "bool"]
      .filter((to) => to !== from)
      .map((to) => `convert ${from} {"dtype":"${to}"}`),
  ),
  // uint8 images into float math; other narrow dtypes are JS loops (listed below with their blocker).
  ...["float32", "float64", "bool"].map((to) => `convert uint8 {"dtype":"${to}"}`),
  // float16 loads as bits to float32 and stores rounded bits (the kit computes half ops in float32).
  ...["add", "mul", "div", "neg", "exp", "tanh", "sqrt", "lt"].map((p) => `${p} float16`),
  'convert float16 {"dtype":"float32"}',
  'convert float32 {"dtype":"float16"}',
];

interface Entry {
  readonly label: string;
  readonly prim: ElementwisePrimitive<never>;
  readonly dtypes: readonly DType[];
  readonly params: unknown;
  /** null: wasm; else the node without a SIMD rendering. */
  readonly blocker: string | null;
}

function entries(): Entry[] {
  const out: Entry[] = [];
  for (const [name, p] of primitives()) {
    if (!isElementwise(p)) continue;
    const spec = p.elementwise;
    for (const d of DTYPES) {
      // Halves compute in float32, narrow integers as int32 does.
      const computed = isHalf(d) ? "float32" : isInteger(d) ? "int32" : d;
      if (spec.accepts && !spec.accepts.includes(computed)) continue;
      const dtypes = spec.mixedDtypes
        ? (["bool", ...Array(spec.arity - 1).fill(d)] as DType[])
        : (Array(spec.arity).fill(d) as DType[]);
      for (const params of PARAMS[name] ?? [{}]) {
        // A conversion to the same dtype is no equation at all under jit (simplify drops it).
        if (name === "convert" && (params as { dtype: DType }).dtype === d) continue;
        let tree: ReturnType<typeof spec.tree>;
        try {
          tree = spec.tree(dtypes, params as never);
        } catch {
          continue; // not defined for these dtypes (add of bools: the user function makes it or)
        }
        const b = wasmBlocker(tree);
        const suffix = PARAMS[name] ? ` ${JSON.stringify(params)}` : "";
        out.push({
          label: `${name} ${d}${suffix}`,
          prim: p,
          dtypes,
          params,
          blocker: b ? describeNode(b) : null,
        });
      }
    }
  }
  return out;
}

const SPECIAL: Record<DType, readonly number[]> = {
  float32: [
    Number.NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1,
    -1,
    3,
    1e-40,
    3.4e38,
    0.1,
    88.7,
    -103,
  ],
  float64: [
    Number.NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1,
    -1,
    3,
    1e-310,
    1e308,
    0.1,
    709.7,
    -745,
  ],
  int32: [0, 1, -1, 2, -2, 2 ** 31 - 1, -(2 ** 31), 65536, 46341, 7, -7, 3, 100, -100, 12345, -9, 31, 5],
  bool: [0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0, 1, 0, 1, 1, 0, 1],
  uint8: [0, 1, 2, 255, 254, 128, 127, 100, 200, 16, 15, 3, 7, 9, 31, 64, 250, 5],
  int8: [0, 1, -1, 127, -128, 100, -100, 64, -64, 2, -2, 3, 7, -9, 31, 16, -17, 5],
  uint16: [0, 1, 2, 65535, 65534, 32768, 256, 255, 1000, 60000, 15, 3, 7, 9, 31, 300, 40000, 5],
  int16: [0, 1, -1, 32767, -32768, 256, -256, 181, -182, 1000, -1000, 3, 7, -9, 31, 300, -300, 5],
  uint32: [
    0,
    1,
    2,
    2 ** 32 - 1,
    2 ** 31,
    2 ** 31 - 1,
    65536,
    65537,
    1e9,
    4e9,
    15,
    3,
    7,
    9,
    31,
    300,
    100000,
    5,
  ],
  float16: [
    Number.NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1,
    -1,
    3,
    6e-8,
    65504,
    0.1,
    11.1,
    -17,
  ],
  bfloat16: [
    Number.NaN,
    Infinity,
    -Infinity,
    0,
    -0,
    0.5,
    -0.5,
    1.5,
    2.5,
    -2.5,
    1,
    -1,
    3,
    1e-39,
    3e38,
    0.1,
    88.7,
    -103,
  ],
};

/** Operand k: the special values of its dtype, rotated by k so that operands meet in many pairs. */
function operand(dtype: DType, k: number): NdArray {
  const values = SPECIAL[dtype];
  const n = values.length * values.length;
  const data = storageFor(dtype, n);
  for (let i = 0; i < n; i++) {
    const j = k === 0 ? i % values.length : Math.floor(i / values.length) + (k - 1);
    data[i] = castScalar(values[j % values.length]!, dtype);
  }
  return new ConcreteArray([n], dtype, data);
}

const all = entries();
const initial = backend();
const saved = { ...fusedThresholds };

describe("the jit path of every elementwise primitive, per dtype", () => {
  beforeAll(() => {
    fusedThresholds.resident = 0;
    fusedThresholds.staged = 0;
  });
  afterAll(() => {
    Object.assign(fusedThresholds, saved);
    setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
  });

  it("lists the primitives (every elementwise one declares a tree)", () => {
    expect(all.length).toBeGreaterThan(100);
    const labels = new Set(all.map((e) => e.label));
    for (const l of MUST_BE_WASM) expect(labels.has(l), l).toBe(true);
  });

  for (const e of all) {
    const path = e.blocker === null ? "wasm" : `JS (${e.blocker} has no wasm rendering)`;
    it.runIf(simdSupported())(`${e.label}: ${path}`, () => {
      if (MUST_BE_WASM.includes(e.label)) expect(e.blocker).toBeNull();
      const args = e.dtypes.map((d, k) => operand(d, k));
      const f = (...xs: NdArray[]) => e.prim.bind1(xs, e.params as never);
      setBackend("wasm");
      const lowered = jit(f).lower(...args);
      const sources = lowered.executable.kernelSources;
      expect(sources).toHaveLength(1);
      if (e.blocker === null) expect(sources[0]).toMatch(/^wasm simd fused loop/);
      else {
        expect(sources[0]).not.toMatch(/^wasm/);
        expect(lowered.toString()).toContain(
          `(JS loop: ${e.blocker} in ${e.prim.name} has no wasm rendering)`,
        );
      }
      const got = (jit(f)(...args) as ConcreteArray).storage;
      const want = (f(...args) as ConcreteArray).storage;
      for (let i = 0; i < want.length; i++) {
        if (!Object.is(got[i], want[i]))
          throw new Error(
            `${e.label}: element ${i} (operands ${args.map((a) => (a as ConcreteArray).storage[i]).join(", ")}): jit ${got[i]}, eager ${want[i]}`,
          );
      }
    });
  }
});
