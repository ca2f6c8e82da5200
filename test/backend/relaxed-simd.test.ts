/**
 * Relaxed SIMD (fused multiply-add) by default: Node 20 gets it by turning V8's flag on in-process, float32
 * GEMMs then round once per multiply-add and stay within the documented bound of a float64 reference,
 * and the opt-outs (setBackend's relaxedSimd: false, TRACEGRAD_RELAXED_SIMD=0) give plain SIMD's bits.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { matmulKernel } from "../../src/backend/js/matmul.js";
import { wasmGemm } from "../../src/backend/wasm/gemm-kernel.js";
import { relaxedSimdSupported, simdSupported } from "../../src/backend/wasm/runtime.js";
import { backend, jit, np, setBackend } from "../../src/index.js";

const initial = backend();
afterEach(() =>
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads, relaxedSimd: true }),
);

/** Deterministic values in [-1, 1) (mulberry32). */
function randomFloat32(size: number, seed: number): Float32Array {
  const out = new Float32Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

/**
 * One row [-(1 + 2^-11), 1 + 2^-12] times one column [1, 1 + 2^-12]: the exact product sum is 2^-24.
 * Rounding the product (1 + 2^-11 + 2^-24) to float32 first (plain SIMD: mul, then add) loses the 2^-24
 * and gives 0; a fused multiply-add keeps it.
 */
const FUSED = {
  a: Float32Array.of(-(1 + 2 ** -11), 1 + 2 ** -12),
  b: Float32Array.of(1, 1 + 2 ** -12),
  fused: 2 ** -24,
  unfused: 0,
} as const;

const onNode20WithoutRelaxedSimd =
  process.versions.v8.startsWith("11.3.") && typeof process.getBuiltinModule === "function";

describe.runIf(simdSupported())("relaxed SIMD by default", () => {
  it.runIf(onNode20WithoutRelaxedSimd)(
    "Node 20: turns V8's relaxed SIMD flag on, so FMA is available",
    () => {
      // Node 20's V8 (11.3) validates f32x4.relaxed_madd only with --experimental-wasm-relaxed-simd; the
      // library sets it in-process. Were this false, every relaxed-SIMD test would be skipped silently.
      expect(relaxedSimdSupported()).toBe(true);
      expect(backend().relaxedSimd).toBe(true);
      expect(backend().name).toBe("wasm-relaxed-simd");
    },
  );

  it.runIf(relaxedSimdSupported())(
    "float32 GEMMs round once per multiply-add (and twice with the opt-out)",
    () => {
      // 2 x 2 operands (one row or column would take the matrix-vector kernel, which sums in lanes).
      const a2 = Float32Array.of(FUSED.a[0]!, FUSED.a[1]!, 0, 0);
      const b2 = Float32Array.of(FUSED.b[0]!, 0, FUSED.b[1]!, 0);
      const out = new Float32Array(4);
      wasmGemm("float32", { batch: 1, m: 2, k: 2, n: 2 }, { relaxedSimd: true })(a2, b2, out);
      expect(out[0]).toBe(FUSED.fused);
      wasmGemm("float32", { batch: 1, m: 2, k: 2, n: 2 }, { relaxedSimd: false })(a2, b2, out);
      expect(out[0]).toBe(FUSED.unfused);
      // The same through jit, by default and with setBackend's opt-out; the GEMM must be large enough to
      // run in wasm, so the pair sits in a 64 x 64 x 64 product of zeros.
      const size = 64;
      const a = new Float32Array(size * size);
      const b = new Float32Array(size * size);
      a.set(FUSED.a);
      b[0] = FUSED.b[0]!;
      b[size] = FUSED.b[1]!;
      const x = np.array(a, { shape: [size, size], dtype: "float32" });
      const y = np.array(b, { shape: [size, size], dtype: "float32" });
      setBackend("wasm");
      expect(jit(np.matmul)(x, y).toTypedArray()[0]).toBe(FUSED.fused);
      setBackend("wasm", { relaxedSimd: false });
      expect(backend().relaxedSimd).toBe(false);
      expect(backend().name).toBe("wasm-simd");
      expect(jit(np.matmul)(x, y).toTypedArray()[0]).toBe(FUSED.unfused);
      setBackend("js");
      expect(jit(np.matmul)(x, y).toTypedArray()[0]).toBe(FUSED.unfused);
    },
  );

  it.runIf(relaxedSimdSupported())(
    "fused float32 GEMMs are within k·2⁻²⁴·Σ|aᵢₚ bₚⱼ| of the float64 product, threaded or not",
    () => {
      const shapes = fc.record({
        batch: fc.integer({ min: 1, max: 2 }),
        m: fc.integer({ min: 1, max: 80 }),
        k: fc.integer({ min: 1, max: 700 }),
        n: fc.integer({ min: 1, max: 80 }),
        seed: fc.nat(),
      });
      setBackend("wasm", { threads: 2 });
      fc.assert(
        fc.property(shapes, ({ batch, m, k, n, seed }) => {
          const a = randomFloat32(batch * m * k, seed);
          const b = randomFloat32(batch * k * n, seed + 1);
          const want = new Float64Array(batch * m * n);
          matmulKernel(Float64Array.from(a), Float64Array.from(b), want, batch, m, k, n);
          const got = new Float32Array(batch * m * n);
          wasmGemm("float32", { batch, m, k, n }, { relaxedSimd: true })(a, b, got);
          const x = np.array(a, { shape: [batch, m, k], dtype: "float32" });
          const y = np.array(b, { shape: [batch, k, n], dtype: "float32" });
          const jitted = jit(np.matmul)(x, y).toTypedArray();
          for (let t = 0; t < batch; t++) {
            for (let i = 0; i < m; i++) {
              for (let j = 0; j < n; j++) {
                let terms = 0;
                for (let p = 0; p < k; p++)
                  terms += Math.abs(a[(t * m + i) * k + p]! * b[(t * k + p) * n + j]!);
                const at = (t * m + i) * n + j;
                const bound = k * 2 ** -24 * terms;
                expect(Math.abs(got[at]! - want[at]!)).toBeLessThanOrEqual(bound);
                expect(Math.abs(jitted[at]! - want[at]!)).toBeLessThanOrEqual(bound);
              }
            }
          }
        }),
        { numRuns: 25 },
      );
    },
  );

  it.runIf(relaxedSimdSupported())(
    "relaxedSimd: false gives the plain path's bits, the JS kernels' too",
    () => {
      const size = [37, 300, 45] as const; // m, k, n: odd tiles, more than one m block on two threads
      const a = randomFloat32(size[0] * size[1], 3);
      const b = randomFloat32(size[1] * size[2], 4);
      const x = np.array(a, { shape: [size[0], size[1]], dtype: "float32" });
      const y = np.array(b, { shape: [size[1], size[2]], dtype: "float32" });
      const f = (u: typeof x, v: typeof y) => np.tanh(np.matmul(u, v)).sum({ axis: 0 });
      const run = (): number[] => [...jit(f)(x, y).toTypedArray()];
      setBackend("wasm", { relaxedSimd: false });
      const plain = run();
      setBackend("js");
      expect(run()).toEqual(plain);
      setBackend("wasm", { relaxedSimd: true });
      const fused = run();
      expect(fused).not.toEqual(plain); // the opt-out changes something, so the equality above is not vacuous
    },
  );

  it("setBackend checks relaxedSimd", () => {
    expect(() => setBackend("wasm", { relaxedSimd: "no" as unknown as boolean })).toThrow(
      /setBackend: relaxedSimd must be true or false, got no/,
    );
  });
});

describe.runIf(simdSupported())("TRACEGRAD_RELAXED_SIMD", () => {
  const entry = fileURLToPath(new URL("../../src/index.ts", import.meta.url));
  const tsx = fileURLToPath(new URL("../../node_modules/tsx/dist/loader.mjs", import.meta.url));
  /** backend() in a fresh Node process with TRACEGRAD_RELAXED_SIMD set to `value`. */
  const backendWith = (value: string) =>
    spawnSync(
      process.execPath,
      [
        "--import",
        tsx,
        "--input-type=module",
        "-e",
        `import { backend } from ${JSON.stringify(entry)}; console.log(JSON.stringify(backend()));`,
      ],
      { encoding: "utf8", env: { ...process.env, TRACEGRAD_RELAXED_SIMD: value }, timeout: 120_000 },
    );

  it("0 makes plain SIMD the default, 1 relaxed SIMD where the engine has it", () => {
    const off = backendWith("0");
    expect(off.stderr).toBe("");
    expect(JSON.parse(off.stdout)).toMatchObject({ name: "wasm-simd", relaxedSimd: false });
    const on = backendWith("1");
    expect(JSON.parse(on.stdout)).toMatchObject({ relaxedSimd: relaxedSimdSupported() });
  });

  it("another value is an error that names the variable and the values it takes", () => {
    const bad = backendWith("maybe");
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/TRACEGRAD_RELAXED_SIMD=maybe: expected 0 .* or 1/);
  });
});
