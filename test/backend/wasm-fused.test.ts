import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { simdSupported } from "../../src/backend/wasm/runtime.js";
import { threadsSupported } from "../../src/backend/wasm/threads.js";
import { fusedThresholds, wasmFusedCalls } from "../../src/compiler/fused-wasm.js";
import { backend, type DType, jit, type Array as NdArray, nn, np, setBackend } from "../../src/index.js";
import { broadcastInDimPrim } from "../../src/ops/layout.js";
import { rng } from "../helpers/numeric.js";

const initial = backend();
const thresholds = { ...fusedThresholds };
beforeEach(() => {
  // Every group on the wasm path, however small (the thresholds are a speed choice only).
  fusedThresholds.resident = 1;
  fusedThresholds.staged = 1;
});
afterEach(() => {
  Object.assign(fusedThresholds, thresholds);
  setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads });
});

type Fn = (...args: NdArray[]) => NdArray | NdArray[];

/** Values that exercise every special case: NaN, ±Infinity, ±0, halves (round), and plain numbers. */
const SPECIAL = [Number.NaN, Infinity, -Infinity, 0, -0, 0.5, -0.5, 1.5, 2.5, -2.5, 1, -1, 3];

function randomArray(shape: number[], dtype: "float32" | "float64", seed: number, special = 0.2): NdArray {
  const next = rng(seed);
  const n = shape.reduce((p, d) => p * d, 1);
  const data = dtype === "float32" ? new Float32Array(n) : new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const u = next();
    data[i] = Math.abs(u) < special ? SPECIAL[Math.floor(((next() + 1) / 2) * SPECIAL.length)]! : next() * 4;
  }
  return np.array(data, { shape });
}

/** Runs `f` jitted on the wasm backend (checking that every fused loop is wasm) and on the JS one. */
function bothBackends(f: Fn, args: NdArray[], expectWasm = true): { wasm: NdArray[]; js: NdArray[] } {
  const run = (kind: "js" | "wasm"): NdArray[] => {
    setBackend(kind);
    const g = jit((...a: NdArray[]) => f(...a));
    if (kind === "wasm" && expectWasm) {
      const { executable } = g.lower(...args);
      const fusedCount = executable.steps.filter((s) => s.kind === "fused").length;
      const wasmCount = executable.kernelSources.filter((s) => s.startsWith("wasm simd fused loop")).length;
      expect(wasmCount).toBe(fusedCount);
    }
    const out = g(...args);
    return Array.isArray(out) ? out : [out];
  };
  const wasm = run("wasm");
  const js = run("js");
  return { wasm, js };
}

/** Float64 and bool: identical (NaN matches NaN, and -0 must match -0). */
function expectIdentical(got: NdArray[], want: NdArray[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, k) => {
    const w = want[k]!;
    expect(g.dtype).toBe(w.dtype);
    expect(g.shape).toEqual(w.shape);
    const a = g.toTypedArray();
    const b = w.toTypedArray();
    for (let i = 0; i < b.length; i++) {
      if (!Object.is(a[i], b[i]))
        throw new Error(
          `output ${k} element ${i}: wasm ${a[i]}, js ${b[i]} (${g.dtype}${JSON.stringify(g.shape)})`,
        );
    }
  });
}

/** Float32: within 1e-5 relative (the JS loop computes in double precision), specials identical. */
function expectNear(got: NdArray[], want: NdArray[], rtol = 1e-5): void {
  expect(got.length).toBe(want.length);
  got.forEach((g, k) => {
    const w = want[k]!;
    expect(g.dtype).toBe(w.dtype);
    const a = g.toTypedArray();
    const b = w.toTypedArray();
    for (let i = 0; i < b.length; i++) {
      const x = Number(a[i]);
      const y = Number(b[i]);
      if (Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y))) continue;
      if (!(Math.abs(x - y) <= rtol * Math.max(Math.abs(x), Math.abs(y)) + 1e-30))
        throw new Error(`output ${k} element ${i}: wasm ${x}, js ${y}`);
    }
  });
}

const describeWasm = simdSupported() ? describe : describe.skip;

const dims = fc.constantFrom(1, 2, 3, 4, 5, 7, 8, 9, 13);
const shapeArb = fc.array(dims, { minLength: 0, maxLength: 4 });
/** A shape and a broadcastable operand shape: some dims set to 1, some leading dims dropped. */
const broadcastCase = fc
  .record({
    shape: shapeArb,
    ones: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    drop: fc.nat(4),
    seed: fc.nat(),
    dtype: fc.constantFrom<"float32" | "float64">("float32", "float64"),
  })
  .map(({ shape, ones, drop, seed, dtype }) => {
    const other = shape.map((d, i) => (ones[i] ? 1 : d)).slice(Math.min(drop, shape.length));
    return { shape, other, seed, dtype };
  });

describeWasm("wasm fused loops", () => {
  it("is used for a simple program (no silent fallback) and says what it computes", () => {
    setBackend("wasm");
    const f = (x: NdArray, b: NdArray) => np.where(np.lessEqual(x.add(b), 0), x.mul(2), np.maximum(x, b));
    const x = randomArray([6, 7, 5], "float32", 1);
    const b = randomArray([7, 1], "float32", 2);
    const { executable } = jit(f).lower(x, b);
    expect(executable.steps.filter((s) => s.kind === "fused")).toHaveLength(1);
    expect(executable.kernelSources).toHaveLength(1);
    expect(executable.kernelSources[0]).toMatch(/^wasm simd fused loop over float32\[6,7,5\]/);
    expect(executable.kernelSources[0]).toMatch(/select\(/);
  });

  it("broadcast arithmetic, max/min, compare and select equal the JS loop on every broadcast kind", () => {
    fc.assert(
      fc.property(broadcastCase, ({ shape, other, seed, dtype }) => {
        const x = randomArray(shape, dtype, seed);
        const y = randomArray(other, dtype, seed + 1);
        const s = randomArray([], dtype, seed + 2);
        const f = (a: NdArray, b: NdArray, c: NdArray) => {
          const m = np.maximum(a, b);
          const n = np.minimum(b, a);
          const t = np.where(np.less(a, b), m.sub(c), n.mul(b).add(2)).div(np.abs(b).add(1));
          return [t, np.greaterEqual(a, b), np.notEqual(a, c), np.equal(b, a), np.negative(n)];
        };
        const { wasm, js } = bothBackends(f, [x, y, s]);
        if (dtype === "float64") expectIdentical(wasm, js);
        else expectNear(wasm, js);
      }),
      { numRuns: 60 },
    );
  });

  it("exact ops (compare, select, max, min, unary) are bit-identical in float32 and float64", () => {
    fc.assert(
      fc.property(broadcastCase, ({ shape, other, seed, dtype }) => {
        const x = randomArray(shape, dtype, seed, 0.5);
        const y = randomArray(other, dtype, seed + 1, 0.5);
        const f = (a: NdArray, b: NdArray) => [
          np.maximum(a, b),
          np.minimum(a, b),
          np.maximum(b, a),
          np.where(np.greater(a, b), a, b),
          np.sign(a),
          np.floor(a),
          np.ceil(b),
          np.round(a),
          np.sqrt(np.abs(a)),
          np.isnan(a),
          np.isfinite(b),
          np.lessEqual(a, b),
          np.greater(b, a),
        ];
        const { wasm, js } = bothBackends(f, [x, y]);
        expectIdentical(wasm, js);
      }),
      { numRuns: 60 },
    );
  });

  it("bool logic and conversions between float32, float64 and bool", () => {
    fc.assert(
      fc.property(broadcastCase, ({ shape, other, seed }) => {
        const x = randomArray(shape, "float32", seed, 0.5);
        const y = randomArray(other, "float64", seed + 1, 0.5);
        const f = (a: NdArray, b: NdArray) => {
          const a64 = np.astype(a, "float64");
          const p = np.less(a64, b);
          const q = np.greater(np.astype(b, "float32"), a);
          const r = np.logicalOr(np.logicalAnd(p, np.logicalNot(q)), np.logicalXor(p, np.isnan(a64)));
          return [
            r,
            np.astype(r, "float32"),
            np.astype(q, "float64").add(a64),
            np.astype(a64.mul(b), "float32"),
            np.astype(a, "bool"),
            np.astype(b, "bool"),
            np.where(r, a64, b),
            np.equal(p, q),
          ];
        };
        const { wasm, js } = bothBackends(f, [x, y]);
        expectIdentical(wasm, js);
      }),
      { numRuns: 60 },
    );
  });

  it("full reductions absorbed into the loop (sum in element order; max/min with NaN and ±0)", () => {
    fc.assert(
      fc.property(broadcastCase, ({ shape, other, seed, dtype }) => {
        const x = randomArray(shape, dtype, seed, 0.05);
        const y = randomArray(other, dtype, seed + 1, 0.05);
        const z = randomArray(shape, dtype, seed + 2, 0.6);
        const cases: Fn[] = [
          (a, b) => np.sum(np.square(a.sub(b))),
          (a, b) => np.max(np.maximum(a, b).mul(-1)),
          (a) => np.min(a.add(1)),
        ];
        for (const f of cases) {
          const { wasm, js } = bothBackends(f, [x, y]);
          if (dtype === "float64") expectIdentical(wasm, js);
          else expectNear(wasm, js, 1e-5);
        }
        // NaN, ±Infinity and signed zeros: max/min pick exactly as the JS loop does.
        for (const f of [(a: NdArray) => np.max(a.mul(1)), (a: NdArray) => np.min(a.mul(1))]) {
          const { wasm, js } = bothBackends(f, [z]);
          expectIdentical(wasm, js);
        }
      }),
      { numRuns: 40 },
    );
  });

  it("partial reductions absorbed into the loop (each output in element order, any axes, any threads)", () => {
    const reductionCase = fc.record({
      shape: fc.array(dims, { minLength: 1, maxLength: 4 }),
      keep: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
      seed: fc.nat(),
      dtype: fc.constantFrom<"float32" | "float64">("float32", "float64"),
      threads: fc.constantFrom(1, 2),
    });
    fusedThresholds.threaded = 8;
    fc.assert(
      fc.property(reductionCase, ({ shape, keep, seed, dtype, threads }) => {
        // At least one axis reduced and one kept (all reduced is the full reduction above).
        const axes = shape.map((_, d) => d).filter((d) => !keep[d]);
        if (axes.length === 0 || axes.length === shape.length) return;
        const x = randomArray(shape, dtype, seed, 0.05);
        const y = randomArray(shape.slice(1), dtype, seed + 1, 0.05);
        const z = randomArray(shape, dtype, seed + 2, 0.6);
        // The loop's other outputs are stored alongside (as a layer norm's backward pass does).
        const cases: Fn[] = [
          (a, b) => np.sum(np.square(a.sub(b)), { axis: axes }),
          (a, b) => {
            const t = a.mul(b);
            return [t.add(1), np.sum(t, { axis: axes })];
          },
          (a, b) => np.max(np.maximum(a, b).mul(-1), { axis: axes }),
          (a) => np.min(a.add(1), { axis: axes }),
        ];
        setBackend("wasm", { threads });
        for (const f of cases) {
          const { wasm, js } = bothBackends(f, [x, y]);
          if (dtype === "float64") expectIdentical(wasm, js);
          else expectNear(wasm, js, 1e-5);
        }
        for (const f of [
          (a: NdArray) => np.max(a.mul(1), { axis: axes }),
          (a: NdArray) => np.min(a.mul(1), { axis: axes }),
          (a: NdArray) => np.sum(a.mul(1), { axis: axes }),
        ]) {
          const { wasm, js } = bothBackends(f, [z]);
          expectIdentical(wasm, js);
        }
      }),
      { numRuns: 60 },
    );
  });

  it.runIf(threadsSupported())(
    "a loop over few elements but many operands is split between the threads",
    () => {
      setBackend("wasm", { threads: 2 });
      fusedThresholds.threaded = 1 << 30;
      fusedThresholds.threadedOperandElements = 6 * 256;
      const [a, b, c] = [1, 2, 3].map((seed) => randomArray([16, 16], "float32", seed)) as [
        NdArray,
        NdArray,
        NdArray,
      ];
      const lower = (f: Fn, args: NdArray[]) =>
        jit((...x: NdArray[]) => f(...x))
          .lower(...args)
          .executable.kernelSources.join("\n");
      // An Adam-like update: three inputs, three outputs (6 x 256 operand elements) is split; one in, one out is not.
      const update: Fn = (p, m, v) => [p.sub(m.mul(0.1)), m.mul(0.9).add(p), v.mul(0.99).add(m.mul(m))];
      expect(lower(update, [a, b, c])).toMatch(/chunks over 2 threads/);
      expect(lower((p) => p.mul(2), [a])).not.toMatch(/chunks/);
      const { wasm, js } = bothBackends(update, [a, b, c]);
      expectNear(wasm, js);
    },
  );

  it.runIf(threadsSupported())("a reduction over the last axis is split between the threads by rows", () => {
    fusedThresholds.threaded = 8;
    setBackend("wasm", { threads: 2 });
    const x = randomArray([64, 30], "float32", 3);
    const lower = (f: Fn) =>
      jit((a: NdArray) => f(a))
        .lower(x)
        .executable.kernelSources.join("\n");
    expect(lower((a) => np.sum(a.mul(a), { axis: 1 }))).toMatch(/loops \[64, 30\].*chunks over 2 threads/);
    // Over the rows: every output sums every chunk's rows, so one thread sums them in order.
    expect(lower((a) => np.sum(a.mul(a), { axis: 0 }))).not.toMatch(/chunks/);
    const threadedBefore = wasmFusedCalls.threaded;
    const { wasm, js } = bothBackends((a) => np.sum(a.mul(a), { axis: 1 }), [x]);
    expectIdentical(wasm, js);
    expect(wasmFusedCalls.threaded).toBeGreaterThan(threadedBefore);
  });

  it("signed zeros and NaN in max/min match the JS expression exactly", () => {
    const a = np.array(new Float64Array([0, -0, 0, -0, Number.NaN, 1, Number.NaN, -Infinity, 5]));
    const b = np.array(new Float64Array([-0, 0, 0, -0, 1, Number.NaN, Number.NaN, Infinity, 5]));
    const f = (x: NdArray, y: NdArray) => [np.maximum(x, y), np.minimum(x, y), np.sign(x.mul(y))];
    const { wasm, js } = bothBackends(f, [a, b]);
    expectIdentical(wasm, js);
    expect(Object.is(wasm[0]!.toTypedArray()[1], 0)).toBe(true);
    expect(Object.is(wasm[0]!.toTypedArray()[0], -0)).toBe(true);
  });

  it("in-place loops over intermediates (a bool and a float output over a dying input)", () => {
    fc.assert(
      fc.property(
        fc.record({ shape: fc.array(dims, { minLength: 2, maxLength: 3 }), seed: fc.nat() }),
        ({ shape, seed }) => {
          for (const dtype of ["float32", "float64"] as const) {
            const x = randomArray(shape, dtype, seed);
            const b = randomArray([shape[shape.length - 1]!], dtype, seed + 1);
            // The transposes are separate steps, so the loop reads and writes plan memory in place.
            const f = (v: NdArray, c: NdArray) => {
              const t = np.transpose(np.transpose(v).mul(2));
              const mask = np.lessEqual(t.add(c), 0);
              const y = np.where(mask, np.zerosLike(t), t);
              return [np.transpose(np.astype(mask, dtype)), np.transpose(y)];
            };
            const { wasm, js } = bothBackends(f, [x, b]);
            expectIdentical(wasm, js);
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it("non-contiguous inner strides (a broadcast whose innermost dim is a size-1 input dim)", () => {
    // input [5, 1] into [3, 5, 4] along dims [1, 2]: stride 0 inside, 1 outside.
    const x = randomArray([3, 5, 4], "float64", 7);
    const b = randomArray([5, 1], "float64", 8);
    const f = (v: NdArray, c: NdArray) =>
      v.mul(broadcastInDimPrim.bind1([c], { shape: [3, 5, 4], broadcastDimensions: [1, 2] }));
    const { wasm, js } = bothBackends(f, [x, b]);
    expectIdentical(wasm, js);
  });

  it("float32 exp, log, tanh and logistic run in the wasm loop and match eager evaluation", () => {
    const cases: Fn[] = [
      (v) => np.exp(v.mul(0.5)).add(1),
      (v) => np.log(np.abs(v).add(0.25)).mul(2),
      (v, w) => nn.sigmoid(v.mul(w).add(0.5)),
      (v) => np.tanh(np.tanh(v).mul(2)).mul(v),
      (v, w) => [np.exp(v.sub(w)), np.log(np.abs(w)), nn.sigmoid(v), np.tanh(w)],
      (v) => np.sum(np.exp(np.tanh(v))),
    ];
    fc.assert(
      fc.property(broadcastCase, ({ shape, other, seed }) => {
        const x = randomArray(shape, "float32", seed);
        const y = randomArray(other, "float32", seed + 1);
        for (const f of cases) {
          const { wasm } = bothBackends(f, [x, y]);
          setBackend("js");
          const eager = f(x, y);
          // Per element within 1e-5 relative, with an absolute floor where a result is near 0.
          const want = Array.isArray(eager) ? eager : [eager];
          wasm.forEach((g, k) => {
            const a = g.toTypedArray();
            const b = want[k]!.toTypedArray();
            for (let i = 0; i < b.length; i++) {
              const [p, q] = [Number(a[i]), Number(b[i])];
              if (Object.is(p, q) || (Number.isNaN(p) && Number.isNaN(q))) continue;
              if (!(Math.abs(p - q) <= 1e-5 * Math.max(Math.abs(p), Math.abs(q)) + 1e-6))
                throw new Error(`case ${cases.indexOf(f)} output ${k} element ${i}: wasm ${p}, eager ${q}`);
            }
          });
        }
      }),
      { numRuns: 30 },
    );
  });

  it("special values of float32 exp, log, tanh and logistic in the wasm loop are as in JS", () => {
    const x = np.array(
      new Float32Array([Number.NaN, Infinity, -Infinity, 0, -0, -1, 100, -100, 1e-40, 88.8, -104, 0.5]),
    );
    const f = (v: NdArray) => [np.exp(v), np.log(v), np.tanh(v), nn.sigmoid(v)];
    setBackend("wasm");
    const sources = jit(f).lower(x).executable.kernelSources.join("\n");
    for (const op of ["exp", "log", "tanh", "logistic"])
      expect(sources).toMatch(new RegExp(`= ${op}\\(in0\\)`));
    expect(sources).toMatch(/^wasm simd fused loop/);
    const { wasm, js } = bothBackends(f, [x]);
    expectNear(wasm, js);
    expect(Object.is(wasm[2]!.toTypedArray()[4], -0)).toBe(true);
    expect([...wasm[0]!.toTypedArray().slice(0, 5)]).toEqual([Number.NaN, Infinity, 0, 1, 1]);
    expect([...wasm[1]!.toTypedArray().slice(3, 6)]).toEqual([-Infinity, -Infinity, Number.NaN]);
    expect([...wasm[3]!.toTypedArray().slice(1, 3)]).toEqual([1, 0]);
  });

  it("falls back to the JS loop for ops without a SIMD form, with the same results", () => {
    // tanh has a SIMD form in float32 only: float64 must equal JS bit for bit.
    const x = randomArray([5, 9], "float64", 3, 0);
    const cases: Fn[] = [(v) => np.tanh(v).mul(3), (v) => np.sin(v).mul(3)];
    setBackend("wasm");
    for (const f of cases) {
      const { executable } = jit(f).lower(x);
      expect(executable.kernelSources[0]).not.toMatch(/^wasm/);
      const { wasm, js } = bothBackends(f, [x], false);
      expectIdentical(wasm, js);
    }
    // float64 exp and log (fdlibm's, backend/wasm/math64.ts) and the logistic built on exp do.
    for (const f of [
      (v: NdArray) => np.exp(v).add(1),
      (v: NdArray) => nn.sigmoid(v.mul(2)),
      (v: NdArray) => np.log(np.abs(v)).mul(2),
    ]) {
      const { wasm, js } = bothBackends(f, [x]);
      expectIdentical(wasm, js);
    }
    // expm1 and log1p have no SIMD form in either dtype.
    const y = randomArray([5, 9], "float32", 4, 0);
    for (const f of [(v: NdArray) => np.expm1(v).add(1), (v: NdArray) => np.log1p(np.abs(v)).mul(2)]) {
      setBackend("wasm");
      expect(jit(f).lower(y).executable.kernelSources[0]).not.toMatch(/^wasm/);
      const { wasm, js } = bothBackends(f, [y], false);
      expectNear(wasm, js);
    }
  });

  it("small groups stay in JS at the default thresholds", () => {
    Object.assign(fusedThresholds, thresholds);
    setBackend("wasm");
    const f = (v: NdArray) => v.mul(2).add(1);
    const small = jit(f).lower(randomArray([3], "float32", 1)).executable;
    expect(small.kernelSources[0]).not.toMatch(/^wasm/);
    const large = jit(f).lower(randomArray([300], "float32", 1)).executable;
    expect(large.kernelSources[0]).toMatch(/^wasm/);
  });

  it.runIf(threadsSupported())(
    "loops split between the threads equal the JS loop, in place and staged",
    () => {
      fusedThresholds.threaded = 8;
      const sourcesOf = (f: Fn, args: NdArray[]): string => {
        setBackend("wasm", { threads: 2 });
        return jit((...a: NdArray[]) => f(...a))
          .lower(...args)
          .executable.kernelSources.join("\n");
      };
      fc.assert(
        fc.property(broadcastCase, ({ shape, other, seed, dtype }) => {
          const x = randomArray(shape, dtype, seed);
          const y = randomArray(other, dtype, seed + 1);
          // Two loops: one over the inputs (staged), one over its intermediates (in the plan memory).
          const f = (a: NdArray, b: NdArray) => {
            const t = np.where(np.less(a, b), np.maximum(a, b).mul(3), np.minimum(b, a).sub(1));
            const u = np
              .sqrt(np.abs(t.mul(0.01)))
              .add(t)
              .div(np.abs(b).add(1));
            return [u.mul(t).add(b), np.greaterEqual(u, t), np.negative(u)];
          };
          setBackend("wasm", { threads: 2 });
          const { wasm, js } = bothBackends(f, [x, y]);
          if (dtype === "float64") expectIdentical(wasm, js);
          else expectNear(wasm, js);
        }),
        { numRuns: 60 },
      );
      // In-place loops (outputs over a dying input) give the same results split or not. (A bool mask
      // written over its float input is never split; test/jit/lenet-step.test.ts has that case.)
      const inPlace = (v: NdArray, c: NdArray) => {
        const t = np.transpose(np.transpose(v).mul(2)); // separate steps: the loop below works in place
        const mask = np.lessEqual(t.add(c), 0);
        return [np.transpose(np.astype(mask, "float32")), np.transpose(np.where(mask, np.zerosLike(t), t))];
      };
      const big = randomArray([32, 6, 28, 28], "float32", 11);
      const bias = randomArray([28], "float32", 12);
      setBackend("wasm", { threads: 2 });
      expect(sourcesOf(inPlace, [big, bias])).toMatch(/chunks over 2 threads/);
      const threadedBefore = wasmFusedCalls.threaded;
      for (let run = 0; run < 5; run++) {
        const { wasm, js } = bothBackends(inPlace, [big, bias]);
        expectIdentical(wasm, js);
      }
      // The loops without such overlap (the transposes' neighbours) did run split.
      expect(wasmFusedCalls.threaded).toBeGreaterThan(threadedBefore);
      // Which loops were split: a 2-D one over its rows, a 1-D one cut into [outer, whole vectors].
      const rows = sourcesOf((a) => a.mul(2).add(np.ones([5, 1])), [randomArray([5, 13], "float32", 3)]);
      expect(rows).toMatch(/loops \[5, 13\].*in 5 chunks over 2 threads/);
      const flat = sourcesOf((a) => np.maximum(a, 0), [randomArray([4096], "float32", 4)]);
      expect(flat).toMatch(/loops \[16, 256\].*in 8 chunks over 2 threads/);
      // Not split: a prime length (no whole-vector split), a full reduction (summed in element order).
      expect(sourcesOf((a) => a.mul(2), [randomArray([13], "float32", 5)])).not.toMatch(/chunks/);
      expect(sourcesOf((a) => a.mul(2).sum(), [randomArray([64], "float64", 6)])).not.toMatch(/chunks/);
      // One thread: nothing to split.
      setBackend("wasm", { threads: 1 });
      const single = jit((a: NdArray) => a.mul(2)).lower(randomArray([64], "float32", 7));
      expect(single.executable.kernelSources.join("\n")).not.toMatch(/chunks/);
    },
  );

  it("int32 groups run in wasm and wrap as the JS loop does", () => {
    const next = rng(5);
    const edge = [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 65536, -65536, 46341, 7, -7];
    const data = Int32Array.from({ length: 37 }, (_, i) =>
      i < edge.length ? edge[i]! : Math.trunc(next() * 2 ** 31),
    );
    const x = np.array(data);
    const y = np.array(Int32Array.from(data).reverse());
    const f = (v: NdArray, w: NdArray) => {
      const s = v.mul(w).add(v.mul(3)).sub(1);
      return [
        s,
        np.negative(np.abs(s)),
        np.maximum(v, w),
        np.minimum(v, w),
        np.sign(s),
        np.where(np.less(v, w), np.astype(v, "float32"), np.astype(w, "float32")),
        np.astype(s, "float64"),
        np.astype(np.greaterEqual(v, 0), "int32").add(np.astype(np.notEqual(v, w), "int32")),
        np.power(v, 2),
      ];
    };
    const { wasm, js } = bothBackends(f, [x, y]);
    expectIdentical(wasm, js);
    expect(wasm[0]!.toTypedArray()[3]).toBe(
      (Math.imul(2 ** 31 - 1, data[data.length - 4]!) + 3 * (2 ** 31 - 1) - 1) | 0,
    );
  });

  it("a node without a wasm rendering sends its loop to JS, and the printed plan names it", () => {
    setBackend("wasm");
    const x = randomArray([64], "float64", 3);
    const lowered = jit((v: NdArray) => np.tanh(v.mul(2)).add(1)).lower(x);
    expect(lowered.executable.kernelSources[0]).not.toMatch(/^wasm/);
    expect(lowered.toString()).toMatch(
      /fused\[[a-z_,]*\btanh\b[a-z_,]*\] -> float64\[64\]\n +\(JS loop: tanh\(float64\) in tanh has no wasm rendering\)/,
    );
    // float32 tanh has one: no note.
    const y = randomArray([64], "float32", 3);
    const f32 = jit((v: NdArray) => np.tanh(v.mul(2)).add(1)).lower(y);
    expect(f32.executable.kernelSources[0]).toMatch(/^wasm/);
    expect(f32.toString()).not.toMatch(/JS loop/);
    const { wasm, js } = bothBackends((v) => np.tanh(v.mul(2)).add(1), [x], false);
    expectIdentical(wasm, js);
  });

  it("dtypes: every float and bool output kind has the right storage", () => {
    const dtypes: DType[] = ["float32", "float64"];
    for (const d of dtypes) {
      const x = randomArray([4, 6], d as "float32" | "float64", 9);
      const { wasm } = bothBackends((v) => [v.add(1), np.less(v, 0)], [x]);
      expect(wasm[0]!.dtype).toBe(d);
      expect(wasm[1]!.dtype).toBe("bool");
    }
  });
});
