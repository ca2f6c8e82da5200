/**
 * float16 in the wasm fused loop: the load (bits to float32) over all 65,536 bit patterns and the store
 * (float32 to float16 bits, round half to even) over edges, ties and random float32 bits, both against
 * core/half.ts (the JS loop's conversions), bit for bit, with the loop checked to be wasm.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { fusedThresholds } from "../../src/compiler/fused-wasm.js";
import { ConcreteArray } from "../../src/core/array.js";
import { fromFloat16Bits, toFloat16Bits } from "../../src/core/half.js";
import { backend, jit, type Array as NdArray, setBackend } from "../../src/index.js";
import { astype } from "../../src/ops/binary.js";

const initial = backend();
const saved = { ...fusedThresholds };

function runWasm(f: (x: NdArray) => NdArray, x: NdArray): ConcreteArray {
  const sources = jit(f).lower(x).executable.kernelSources;
  expect(sources).toHaveLength(1);
  expect(sources[0]).toMatch(/^wasm simd fused loop/);
  return jit(f)(x) as ConcreteArray;
}

/** float32 bits: edges, every float16 tie and its neighbours, and random bit patterns. */
function float32Cases(): Uint32Array {
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  const out: number[] = [];
  const push = (v: number): void => {
    f[0] = v;
    out.push(u[0]!, u[0]! ^ 0x80000000);
  };
  for (const v of [
    0,
    1,
    65504,
    65519.99,
    65520,
    65536,
    1e38,
    Infinity,
    Number.NaN,
    2 ** -14,
    2 ** -24,
    2 ** -25,
  ]) {
    push(v);
  }
  for (const bits of [0x7f800001, 0x7fc00000, 0x7fffffff, 0x00000001, 0x007fffff, 0x477fefff, 0x477ff000]) {
    out.push(bits, (bits | 0x80000000) >>> 0);
  }
  // Half way between neighbouring float16 values (ties, both parities) and one float32 ulp either side.
  for (let h = 0; h < 0x7c00; h++) {
    const mid = (fromFloat16Bits(h) + fromFloat16Bits(h + 1)) / 2;
    f[0] = mid;
    const m = u[0]!;
    for (const b of [m - 1, m, m + 1]) out.push(b >>> 0, (b | 0x80000000) >>> 0);
  }
  // Random bits, and random values in float16's range (exponents 2**-26 .. 2**16).
  let seed = 12345;
  const next = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed;
  };
  for (let i = 0; i < 100_000; i++) out.push(next());
  for (let i = 0; i < 100_000; i++) {
    const exponent = 101 + (next() % 43);
    out.push(((next() & 0x80000000) | (exponent << 23) | (next() & 0x7fffff)) >>> 0);
  }
  return Uint32Array.from(out);
}

describe.runIf(simdSupported())("float16 in wasm fused loops", () => {
  beforeAll(() => {
    fusedThresholds.resident = 0;
    fusedThresholds.staged = 0;
    setBackend("wasm");
  });
  afterAll(() => {
    Object.assign(fusedThresholds, saved);
    setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
  });

  it("loads every float16 bit pattern to float32 as core/half.ts does", () => {
    const bits = new Uint16Array(0x10000);
    for (let b = 0; b < 0x10000; b++) bits[b] = b;
    const x = new ConcreteArray([0x10000], "float16", bits);
    const got = new Uint32Array(
      (runWasm((v) => astype(v, "float32"), x).storage as Float32Array).slice().buffer,
    );
    const want = new Float32Array(0x10000);
    for (let b = 0; b < 0x10000; b++) want[b] = fromFloat16Bits(b);
    const wantBits = new Uint32Array(want.buffer);
    for (let b = 0; b < 0x10000; b++) {
      if (got[b] !== wantBits[b])
        throw new Error(
          `float16 0x${b.toString(16)}: got 0x${got[b]!.toString(16)}, want 0x${wantBits[b]!.toString(16)}`,
        );
    }
  });

  it("stores float32 as float16 bits as core/half.ts does (ties to even, overflow, subnormals, NaN)", () => {
    const cases = float32Cases();
    const values = new Float32Array(cases.buffer);
    const x = new ConcreteArray([values.length], "float32", values);
    const got = runWasm((v) => astype(v, "float16"), x).storage as Uint16Array;
    for (let i = 0; i < values.length; i++) {
      const want = toFloat16Bits(values[i]!);
      if (got[i] !== want)
        throw new Error(
          `float32 0x${cases[i]!.toString(16)}: got 0x${got[i]!.toString(16)}, want 0x${want.toString(16)}`,
        );
    }
  });

  it("loads broadcast and strided float16 operands and stores loop tails", () => {
    const a = new Uint16Array(7 * 5);
    const b = new Uint16Array(5);
    for (let i = 0; i < a.length; i++) a[i] = toFloat16Bits((i - 17) * 0.37);
    for (let i = 0; i < b.length; i++) b[i] = toFloat16Bits(1.5 - i * 0.7);
    const x = new ConcreteArray([7, 5], "float16", a);
    const y = new ConcreteArray([5], "float16", b);
    const f = (u: NdArray, v: NdArray): NdArray =>
      u
        .transpose()
        .mul(v.reshape([5, 1]))
        .add(v.reshape([5, 1]));
    const sources = jit(f).lower(x, y).executable.kernelSources;
    expect(sources.some((s) => /^wasm simd fused loop/.test(s))).toBe(true);
    const got = (jit(f)(x, y) as ConcreteArray).storage;
    const want = (f(x, y) as ConcreteArray).storage;
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it("rounds after every op of a float16 chain as the JS loop does", () => {
    const cases = float32Cases();
    const halves = new Uint16Array(cases.length);
    for (let i = 0; i < cases.length; i++) halves[i] = cases[i]! & 0xffff;
    const x = new ConcreteArray([halves.length], "float16", halves);
    const chain = (v: NdArray): NdArray => v.mul(3).add(1).tanh().mul(v).exp();
    const got = runWasm(chain, x).storage as Uint16Array;
    const want = chain(x) as ConcreteArray;
    for (let i = 0; i < halves.length; i++) {
      if (got[i] !== want.storage[i])
        throw new Error(
          `float16 0x${halves[i]!.toString(16)}: got 0x${got[i]!.toString(16)}, want 0x${want.storage[i]!.toString(16)}`,
        );
    }
  });
});
