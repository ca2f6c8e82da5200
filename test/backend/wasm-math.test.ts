import { describe, expect, it } from "vitest";
import { expf, logf, logisticf, tanhf } from "../../src/backend/js/f32-math.js";
import { emitF32Math, type F32MathName } from "../../src/backend/wasm/math.js";
import { ModuleBuilder } from "../../src/backend/wasm/module-writer.js";
import { allocateMemory, instantiate, simdSupported, webAssembly } from "../../src/backend/wasm/runtime.js";
import { rng } from "../helpers/numeric.js";

const REFERENCE: Record<F32MathName, (x: number) => number> = {
  exp: Math.exp,
  log: Math.log,
  tanh: Math.tanh,
  // The JS expression of the logistic primitive (src/ops/unary.ts), in double precision.
  logistic: (x) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x))),
};

/** Runs `name` over `xs` (four lanes per step, the last step padded) in a module of its own. */
function runWasm(name: F32MathName, xs: Float32Array): Float32Array {
  const n = Math.ceil(xs.length / 4) * 4;
  const pages = Math.max(1, Math.ceil((4 * n) / 65536));
  const module = new ModuleBuilder().importMemory({ module: "env", name: "memory", initialPages: pages });
  const f = module.function("run", ["i32", "i32"], []);
  const [ptr, end] = [f.param(0), f.param(1)];
  const x = f.local("v128");
  const y = f.local("v128");
  f.block().localGet(ptr).localGet(end).i32GeS().brIf(0);
  f.loop();
  f.localGet(ptr).v128Load({ align: 2 }).localSet(x);
  emitF32Math(f, name, x, y);
  f.localGet(ptr).localGet(y).v128Store({ align: 2 });
  f.localGet(ptr).i32Const(16).i32Add().localTee(ptr).localGet(end).i32LtS().brIf(0);
  f.end().end();
  const bytes = module.toBytes();
  expect(webAssembly!.validate(bytes)).toBe(true);
  const memory = allocateMemory(4 * n);
  const heap = new Float32Array(memory.buffer, 0, n);
  heap.set(xs);
  (instantiate(bytes, memory).exports["run"] as (p: number, e: number) => void)(0, 4 * n);
  return heap.slice(0, xs.length);
}

const bits = new Int32Array(1);
const asFloat = new Float32Array(bits.buffer);

/** Position of a float32 in the ordered sequence of all float32 values (±0 both 0). */
function ordinal(x: number): number {
  asFloat[0] = x;
  const b = bits[0]!;
  return b < 0 ? -(b & 0x7fffffff) : b;
}

/** Distance in float32 ulps (0 for two NaNs, Infinity when only one is NaN). */
function ulps(got: number, want: number): number {
  if (Number.isNaN(got) || Number.isNaN(want)) return Number.isNaN(got) && Number.isNaN(want) ? 0 : Infinity;
  return Math.abs(ordinal(got) - ordinal(want));
}

function fromBits(b: number): number {
  bits[0] = b;
  return asFloat[0]!;
}

/** Random float32 values: bit patterns over every exponent and both signs, then `count` in [lo, hi]. */
function samples(seed: number, lo: number, hi: number, count = 100_000): Float32Array {
  const next = rng(seed);
  const out: number[] = [];
  for (let i = 0; i < 100_000; i++) out.push(fromBits(Math.floor(((next() + 1) / 2) * 2 ** 32) | 0));
  for (let i = 0; i < count; i++) out.push(lo + ((next() + 1) / 2) * (hi - lo));
  return Float32Array.from(out);
}

const EDGES = [
  0,
  -0,
  Number.NaN,
  Infinity,
  -Infinity,
  1,
  -1,
  2 ** -149,
  -(2 ** -149),
  2 ** -126,
  2 ** -127,
  3e-39,
  -3e-39,
  1e-30,
  1e-10,
  1e-7,
  -1e-7,
  0.5,
  0.625,
  -0.625,
  Math.fround(0.625) * (1 - 2 ** -24),
  Math.SQRT1_2,
  Math.SQRT2,
  Math.LN2,
  9,
  -9,
  10,
  20,
  44.5,
  88,
  88.7,
  88.72283,
  88.72284,
  88.8,
  89,
  -87.3,
  -88.7,
  -100,
  -103,
  -103.97,
  -103.98,
  -104,
  -105,
  -150,
  3.4028234663852886e38,
  -3.4028234663852886e38,
  1e30,
  1 - 2 ** -24,
  1 + 2 ** -23,
];

/** The largest ulp error of `name` on `xs`, and the element where it occurs. */
function maxError(
  name: F32MathName,
  xs: Float32Array,
): { ulp: number; x: number; got: number; want: number } {
  const got = runWasm(name, xs);
  let worst = { ulp: -1, x: 0, got: 0, want: 0 };
  xs.forEach((x, i) => {
    const want = Math.fround(REFERENCE[name](x));
    const ulp = ulps(got[i]!, want);
    if (ulp > worst.ulp) worst = { ulp, x, got: got[i]!, want };
  });
  return worst;
}

const RANGES: Record<F32MathName, [number, number]> = {
  exp: [-110, 95],
  log: [0, 4],
  tanh: [-12, 12],
  logistic: [-110, 30],
};

describe.runIf(simdSupported())("float32 SIMD math (wasm/math.ts)", () => {
  for (const name of ["exp", "log", "tanh", "logistic"] as const) {
    it(`${name} is within 2 ulp of Math.fround(Math.${name}) on 200k samples and the edge cases`, () => {
      const [lo, hi] = RANGES[name];
      const worst = maxError(name, samples(name.length * 7919, lo, hi));
      expect(worst.ulp, JSON.stringify(worst)).toBeLessThanOrEqual(2);
      const edges = Float32Array.from([...EDGES, ...EDGES.map((x) => -x)]);
      const got = runWasm(name, edges);
      edges.forEach((x, i) => {
        const want = Math.fround(REFERENCE[name](x));
        expect(ulps(got[i]!, want), `${name}(${x}) = ${got[i]}, want ${want}`).toBeLessThanOrEqual(2);
        if (want === 0 || !Number.isFinite(want)) expect(got[i]).toBe(want); // exact zeros, infinities, NaN
      });
    });
  }

  it("is bit-identical to the float32 JS functions (js/f32-math.ts) on 200k samples and the edge cases", () => {
    const js: Record<F32MathName, (x: number) => number> = {
      exp: expf,
      log: logf,
      tanh: tanhf,
      logistic: logisticf,
    };
    for (const name of ["exp", "log", "tanh", "logistic"] as const) {
      const [lo, hi] = RANGES[name];
      const xs = Float32Array.from([
        ...samples(name.length * 104729, lo, hi),
        ...EDGES,
        ...EDGES.map((x) => -x),
      ]);
      const got = runWasm(name, xs);
      let mismatches = 0;
      let first = "";
      xs.forEach((x, i) => {
        const want = js[name](x);
        if (!(Object.is(got[i], want) || (Number.isNaN(got[i]) && Number.isNaN(want)))) {
          if (!mismatches++) first = `${name}(${x}): wasm ${got[i]}, JS ${want}`;
        }
      });
      expect([name, mismatches, first]).toEqual([name, 0, ""]);
    }
  });

  it("special values match the JS functions", () => {
    const at = (name: F32MathName, x: number): number => runWasm(name, Float32Array.of(x))[0]!;
    expect(at("exp", -Infinity)).toBe(0);
    expect(at("exp", Infinity)).toBe(Infinity);
    expect(at("exp", 0)).toBe(1);
    expect(at("exp", -0)).toBe(1);
    expect(at("exp", Number.NaN)).toBeNaN();
    expect(at("log", 0)).toBe(-Infinity);
    expect(at("log", -0)).toBe(-Infinity);
    expect(at("log", -1)).toBeNaN();
    expect(at("log", -Infinity)).toBeNaN();
    expect(at("log", Infinity)).toBe(Infinity);
    expect(at("log", 1)).toBe(0);
    expect(at("log", Number.NaN)).toBeNaN();
    expect(at("tanh", Infinity)).toBe(1);
    expect(at("tanh", -Infinity)).toBe(-1);
    expect(Object.is(at("tanh", -0), -0)).toBe(true);
    expect(Object.is(at("tanh", 0), 0)).toBe(true);
    expect(at("tanh", Number.NaN)).toBeNaN();
    expect(at("logistic", Infinity)).toBe(1);
    expect(at("logistic", -Infinity)).toBe(0);
    expect(at("logistic", 0)).toBe(0.5);
    expect(at("logistic", -0)).toBe(0.5);
    expect(at("logistic", Number.NaN)).toBeNaN();
  });

  it("computes in place (input and output the same local)", () => {
    for (const name of ["exp", "log", "tanh", "logistic"] as const) {
      const module = new ModuleBuilder().importMemory({ module: "env", name: "memory", initialPages: 1 });
      const f = module.function("run", [], []);
      const x = f.local("v128");
      f.i32Const(0).v128Load().localSet(x);
      emitF32Math(f, name, x, x);
      f.i32Const(0).localGet(x).v128Store();
      const memory = allocateMemory(65536);
      const heap = new Float32Array(memory.buffer, 0, 4);
      heap.set([0.5, 2, -0, 7]);
      (instantiate(module.toBytes(), memory).exports["run"] as () => void)();
      [0.5, 2, -0, 7].forEach((v, i) => {
        expect(ulps(heap[i]!, Math.fround(REFERENCE[name](v)))).toBeLessThanOrEqual(2);
      });
    }
  });
});
