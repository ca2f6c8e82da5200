import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { gemmKernel } from "../../src/backend/index.js";
import { matmulKernel } from "../../src/backend/js/matmul.js";
import { standaloneContext } from "../../src/backend/plan-memory.js";
import { emitGemmModule, type GemmDType, type GemmTuning } from "../../src/backend/wasm/gemm.js";
import { wasmGemm } from "../../src/backend/wasm/gemm-kernel.js";
import { isGemvShape } from "../../src/backend/wasm/gemv.js";
import { type FunctionBuilder, ModuleBuilder } from "../../src/backend/wasm/module-writer.js";
import {
  allocateMemory,
  compileModule,
  instantiateCompiled,
  relaxedSimdSupported,
  simdSupported,
  webAssembly,
} from "../../src/backend/wasm/runtime.js";
import {
  CHUNKS_FAILED,
  createWorkerPool,
  runChunks,
  threadsSupported,
  type WorkerPool,
} from "../../src/backend/wasm/threads.js";
import { backend, jit, np, setBackend } from "../../src/index.js";

const initial = backend();
afterEach(() => setBackend(initial.name === "js" ? "js" : "wasm", { threads: initial.threads }));

/** Deterministic values in [-1, 1) (mulberry32), in the storage of `dtype`. */
function randomArray(dtype: GemmDType, size: number, seed: number): Float32Array | Float64Array {
  const out = dtype === "float32" ? new Float32Array(size) : new Float64Array(size);
  let s = seed >>> 0;
  for (let i = 0; i < size; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), s | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}

interface Case {
  batch: number;
  m: number;
  k: number;
  n: number;
  seed: number;
}

/**
 * Runs the wasm kernel and the JS one and compares element by element, relative to the magnitude of the
 * terms summed (sum_p |a_ip b_pj|): the standard error bound of a dot product, which stays meaningful
 * when the terms cancel.
 */
function expectMatchesJs(
  dtype: GemmDType,
  { batch, m, k, n, seed }: Case,
  relativeTolerance: number,
  options: {
    relaxedSimd: boolean;
    tuning?: Partial<GemmTuning>;
    pool?: WorkerPool | null;
    columnChunks?: number;
  },
  calls = 1,
): void {
  const a = randomArray(dtype, batch * m * k, seed);
  const b = randomArray(dtype, batch * k * n, seed + 1);
  const want = dtype === "float32" ? new Float32Array(batch * m * n) : new Float64Array(batch * m * n);
  matmulKernel(a, b, want, batch, m, k, n);
  const got = want.slice();
  const kernel = wasmGemm(dtype, { batch, m, k, n }, options);
  for (let call = 0; call < calls; call++) {
    got.fill(Number.NaN);
    kernel(a, b, got);
    expectWithin(dtype, { batch, m, k, n }, a, b, got, want, relativeTolerance);
  }
}

function expectWithin(
  dtype: GemmDType,
  { batch, m, k, n }: Omit<Case, "seed">,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  relativeTolerance: number,
): void {
  for (let t = 0; t < batch; t++) {
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let magnitude = 0;
        for (let p = 0; p < k; p++) magnitude += Math.abs(a[(t * m + i) * k + p]! * b[(t * k + p) * n + j]!);
        const at = (t * m + i) * n + j;
        const error = Math.abs(got[at]! - want[at]!);
        if (!(error <= relativeTolerance * magnitude + 1e-300)) {
          throw new Error(
            `${dtype} ${batch}x${m}x${k}x${n} at [${t},${i},${j}]: got ${got[at]}, want ${want[at]} (error ${error}, terms ${magnitude})`,
          );
        }
      }
    }
  }
}

const shapes = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  m: fc.integer({ min: 1, max: 70 }),
  k: fc.integer({ min: 1, max: 70 }),
  n: fc.integer({ min: 1, max: 70 }),
  seed: fc.nat(),
});

/** Small blocks and other tiles, so that k blocks, m blocks and their remainders are all exercised. */
const tunings = fc.record({
  tileRows: fc.integer({ min: 1, max: 6 }),
  tileVectors: fc.integer({ min: 1, max: 3 }),
  kUnroll: fc.integer({ min: 1, max: 4 }),
  kBlock: fc.integer({ min: 1, max: 40 }),
  mBlock: fc.integer({ min: 1, max: 24 }),
});

const TOLERANCE: Record<GemmDType, number> = { float32: 1e-5, float64: 1e-12 };
const featureSets = [false, ...(relaxedSimdSupported() ? [true] : [])];

describe.runIf(simdSupported())("wasm GEMM", () => {
  for (const dtype of ["float32", "float64"] as const) {
    for (const relaxedSimd of featureSets) {
      const label = `${dtype}${relaxedSimd ? " (relaxed SIMD)" : ""}`;

      it(`${label}: matches the JS kernel on random shapes, odd sizes included`, () => {
        fc.assert(
          fc.property(shapes, (c) => expectMatchesJs(dtype, c, TOLERANCE[dtype], { relaxedSimd })),
          { numRuns: 60 },
        );
      });

      it(`${label}: matches the JS kernel with other tiles and blockings`, () => {
        fc.assert(
          fc.property(shapes, tunings, (c, tuning) =>
            expectMatchesJs(dtype, c, TOLERANCE[dtype], { relaxedSimd, tuning }),
          ),
          { numRuns: 60 },
        );
      });
    }

    it(`${dtype}: operands stored transposed match the JS kernel on their transposes`, () => {
      const transposeOf = (x: Float32Array | Float64Array, batch: number, rows: number, cols: number) => {
        const out = x.slice();
        for (let t = 0; t < batch; t++)
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++)
              out[t * rows * cols + c * rows + r] = x[t * rows * cols + r * cols + c]!;
        return out;
      };
      const layouts = fc.record({ transposeA: fc.boolean(), transposeB: fc.boolean() });
      const threadPool = threadsSupported() ? createWorkerPool(1) : null;
      fc.assert(
        fc.property(
          shapes,
          layouts,
          tunings,
          fc.boolean(),
          fc.integer({ min: 0, max: 9 }),
          ({ batch, m, k, n, seed }, layout, tuning, threaded, columnChunks) => {
            const a = randomArray(dtype, batch * m * k, seed);
            const b = randomArray(dtype, batch * k * n, seed + 1);
            const want =
              dtype === "float32" ? new Float32Array(batch * m * n) : new Float64Array(batch * m * n);
            matmulKernel(a, b, want, batch, m, k, n);
            // The kernel gets A as [k, m] and B as [n, k] where transposed.
            const aStored = layout.transposeA ? transposeOf(a, batch, m, k) : a;
            const bStored = layout.transposeB ? transposeOf(b, batch, k, n) : b;
            const got = want.slice().fill(Number.NaN);
            const pool = threaded ? threadPool : null;
            const split = { columnChunks }; // threaded: column panels (> 0) or m blocks
            wasmGemm(dtype, { batch, m, k, n }, { relaxedSimd: false, tuning, pool, ...split, ...layout })(
              aStored,
              bStored,
              got,
            );
            expectWithin(dtype, { batch, m, k, n }, a, b, got, want, TOLERANCE[dtype]);
            // The JS fallback of gemmKernel takes the same layouts.
            const js = want.slice().fill(Number.NaN);
            setBackend("js");
            gemmKernel(dtype, batch, m, k, n, standaloneContext(), layout)(aStored, bStored, js);
            setBackend("wasm");
            expectWithin(dtype, { batch, m, k, n }, a, b, js, want, TOLERANCE[dtype]);
          },
        ),
        { numRuns: 60 },
      );
    });

    it(`${dtype}: B packed once (prepackedB) is reused until invalidated, bit for bit the packing kernel`, () => {
      const transposeOf = (x: Float32Array | Float64Array, batch: number, rows: number, cols: number) => {
        const out = x.slice();
        for (let t = 0; t < batch; t++)
          for (let r = 0; r < rows; r++)
            for (let c = 0; c < cols; c++)
              out[t * rows * cols + c * rows + r] = x[t * rows * cols + r * cols + c]!;
        return out;
      };
      const layouts = fc.record({ transposeA: fc.boolean(), transposeB: fc.boolean() });
      const threadPool = threadsSupported() ? createWorkerPool(1) : null;
      fc.assert(
        fc.property(
          shapes,
          layouts,
          tunings,
          fc.boolean(),
          fc.integer({ min: 0, max: 9 }),
          ({ batch, m, k, n, seed }, layout, tuning, threaded, columnChunks) => {
            const size = { batch, m, k, n };
            const [a1, a2] = [seed, seed + 2].map((s) => randomArray(dtype, batch * m * k, s)) as [
              Float32Array,
              Float32Array,
            ];
            const [b1, b2] = [seed + 1, seed + 3].map((s) => randomArray(dtype, batch * k * n, s)) as [
              Float32Array,
              Float32Array,
            ];
            // The kernel gets A as [k, m] and B as [n, k] where transposed.
            const storedA = (a: Float32Array) => (layout.transposeA ? transposeOf(a, batch, m, k) : a);
            const storedB = (b: Float32Array) => (layout.transposeB ? transposeOf(b, batch, k, n) : b);
            const options = { relaxedSimd: false, tuning, pool: threaded ? threadPool : null, columnChunks };
            const packing = wasmGemm(dtype, size, { ...options, ...layout });
            const prepacked = wasmGemm(dtype, size, { ...options, ...layout, prepackedB: true });
            const product = (kernel: typeof packing, a: Float32Array, b: Float32Array) => {
              const out =
                dtype === "float32" ? new Float32Array(batch * m * n) : new Float64Array(batch * m * n);
              out.fill(Number.NaN);
              kernel(storedA(a), storedB(b), out);
              return out;
            };
            const want = (a: Float32Array, b: Float32Array) => {
              const out =
                dtype === "float32" ? new Float32Array(batch * m * n) : new Float64Array(batch * m * n);
              matmulKernel(a, b, out, batch, m, k, n);
              return out;
            };
            const first = product(prepacked, a1, b1);
            expectWithin(dtype, size, a1, b1, first, want(a1, b1), TOLERANCE[dtype]);
            expect(first).toEqual(product(packing, a1, b1));
            // B goes through the same staging: the panels packed from b1 are used again (the matrix-vector
            // kernels read B in place and pack nothing).
            const reused = product(prepacked, a2, b2);
            const gemv = isGemvShape(size) && !layout.transposeA && !layout.transposeB;
            if (m * n > 0 && k > 0 && !gemv) expect(reused).toEqual(product(packing, a2, b1));
            prepacked.invalidatePackedB();
            const repacked = product(prepacked, a2, b2);
            expectWithin(dtype, size, a2, b2, repacked, want(a2, b2), TOLERANCE[dtype]);
            expect(repacked).toEqual(product(packing, a2, b2));
          },
        ),
        { numRuns: 60 },
      );
    });

    it(`${dtype}: one row or one column (the matrix-vector kernels) matches the JS kernel`, () => {
      const vectorShapes = fc.record({
        batch: fc.integer({ min: 1, max: 3 }),
        rows: fc.integer({ min: 1, max: 90 }),
        k: fc.integer({ min: 1, max: 90 }),
        oneRow: fc.boolean(),
        seed: fc.nat(),
      });
      for (const relaxedSimd of featureSets) {
        fc.assert(
          fc.property(vectorShapes, ({ batch, rows, k, oneRow, seed }) =>
            expectMatchesJs(
              dtype,
              oneRow ? { batch, m: 1, k, n: rows, seed } : { batch, m: rows, k, n: 1, seed },
              TOLERANCE[dtype],
              { relaxedSimd },
              2,
            ),
          ),
          { numRuns: 80 },
        );
      }
      // The shapes of LeNet's linear layers at batch 1, forward and backward.
      for (const [m, k, n] of [
        [120, 400, 1],
        [1, 120, 400],
        [1, 84, 10],
        [10, 84, 1],
      ] as const) {
        expectMatchesJs(dtype, { batch: 1, m, k, n, seed: m + k }, TOLERANCE[dtype], { relaxedSimd: false });
      }
    });

    it(`${dtype}: handles shapes past one block and tile exactly at the edges`, () => {
      for (const [batch, m, k, n] of [
        [1, 1, 1, 1],
        [1, 4, 8, 8],
        [1, 64, 256, 8],
        [2, 65, 257, 9],
        [1, 130, 600, 67],
        [1, 3, 300, 1],
      ] as const) {
        expectMatchesJs(dtype, { batch, m, k, n, seed: m + k + n }, TOLERANCE[dtype], { relaxedSimd: false });
      }
    });

    it(`${dtype}: k = 0 gives zeros, m = 0 or n = 0 writes nothing`, () => {
      const out = dtype === "float32" ? new Float32Array(6).fill(7) : new Float64Array(6).fill(7);
      const empty = dtype === "float32" ? new Float32Array(0) : new Float64Array(0);
      wasmGemm(dtype, { batch: 1, m: 2, k: 0, n: 3 }, { relaxedSimd: false })(empty, empty, out);
      expect([...out]).toEqual([0, 0, 0, 0, 0, 0]);
      wasmGemm(dtype, { batch: 2, m: 0, k: 5, n: 3 }, { relaxedSimd: false })(
        empty,
        randomArray(dtype, 30, 1),
        empty,
      );
    });
  }

  it("emits modules that validate, specialised on the shape", () => {
    const small = emitGemmModule("float32", { batch: 1, m: 5, k: 7, n: 9 }, { relaxedSimd: false });
    const large = emitGemmModule("float32", { batch: 2, m: 300, k: 700, n: 90 }, { relaxedSimd: false });
    expect(webAssembly!.validate(small.bytes)).toBe(true);
    expect(webAssembly!.validate(large.bytes)).toBe(true);
    // Packed B: 700 rows of 90 columns rounded up to whole 8-column panels.
    expect(large.layout.scratchBytes).toBe(4 * 700 * 96);
    // Loops keep the code small for large shapes.
    expect(large.bytes.length).toBeLessThan(20_000);
    expect(() => emitGemmModule("float64", { batch: 1, m: -1, k: 2, n: 2 }, { relaxedSimd: false })).toThrow(
      RangeError,
    );
  });
});

describe.runIf(simdSupported() && threadsSupported())("wasm GEMM on worker threads", () => {
  const pool = createWorkerPool(1);

  /** A kernel over one shared page with a chunk counter at byte 0: `rows` is written by `define`. */
  const chunkKernel = (define: (rows: FunctionBuilder) => void, chunks: number) => {
    const module = new ModuleBuilder().importMemory({
      module: "env",
      name: "memory",
      initialPages: 1,
      maximumPages: 1,
      shared: true,
    });
    define(module.function("rows", ["i32", "i32"], []));
    const memory = allocateMemory(65536, true);
    const compiled = compileModule(module.toBytes());
    const rows = instantiateCompiled(compiled, memory).exports["rows"] as (c: number, t: number) => void;
    const id = pool!.register(compiled, memory, 0, chunks);
    expect(id).not.toBeNull();
    const words = new Int32Array(memory.buffer);
    return { words, run: () => runChunks(pool!, id!, words, 0, chunks, rows) };
  };
  /** rows(c): memory[64 + 4c] += c + 1 */
  const countChunks = (rows: FunctionBuilder): void => {
    const chunk = rows.param(0);
    rows.localGet(chunk).i32Const(2).i32Shl();
    rows
      .localGet(chunk)
      .i32Const(2)
      .i32Shl()
      .i32Load({ offset: 64 })
      .localGet(chunk)
      .i32Const(1)
      .i32Add()
      .i32Add();
    rows.i32Store({ offset: 64 });
  };

  it("registers a module with the workers and runs every chunk exactly once", () => {
    expect(pool?.workers).toBe(1);
    const chunks = 1000;
    const { words, run } = chunkKernel(countChunks, chunks);
    for (let call = 1; call <= 3; call++) {
      run();
      for (let c = 0; c < chunks; c++) expect(words[16 + c]).toBe(call * (c + 1));
    }
  });

  it("throws a worker's trap from the calling thread, stops the other chunks, and the pool goes on", () => {
    // rows(c, thread): on a worker, a load out of bounds; on the calling thread, wait until a thread
    // failed (as GEMM's m blocks wait for packing), which only the worker's error can end.
    const failing = chunkKernel((rows) => {
      rows.localGet(rows.param(1)).if();
      rows.i32Const(-16).i32Load().drop();
      rows.end();
      rows.loop();
      rows.i32Const(0).memory("i32AtomicLoad").i32Const(CHUNKS_FAILED).op("i32GeU").i32Eqz().brIf(0);
      rows.end();
    }, 2);
    expect(() => failing.run()).toThrow(/a kernel failed on worker thread 1: .*out of bounds/);
    const counting = chunkKernel(countChunks, 100);
    counting.run();
    for (let c = 0; c < 100; c++) expect(counting.words[16 + c]).toBe(c + 1);
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`${dtype}: splitting m blocks between threads matches the JS kernel, call after call`, () => {
      fc.assert(
        fc.property(shapes, fc.integer({ min: 4, max: 24 }), (c, mBlock) =>
          expectMatchesJs(dtype, c, TOLERANCE[dtype], { relaxedSimd: false, pool, tuning: { mBlock } }, 3),
        ),
        { numRuns: 25 },
      );
    });

    it(`${dtype}: splitting column panels between threads matches the JS kernel, call after call`, () => {
      // Panel counts that do not divide into the chunks, edge panels narrower than a vector, k and m
      // past their blocks (small tunings), and chunks asked for beyond the panels there are.
      fc.assert(
        fc.property(shapes, tunings, fc.integer({ min: 1, max: 12 }), (c, tuning, columnChunks) => {
          for (const relaxedSimd of featureSets)
            expectMatchesJs(dtype, c, TOLERANCE[dtype], { relaxedSimd, pool, tuning, columnChunks }, 3);
        }),
        { numRuns: 40 },
      );
      // LeNet's conv1 forward GEMM at batch 4 ([6, 25] @ [25, 4*784]) and conv2's at batch 3, default tiles.
      for (const [m, k, n] of [
        [6, 25, 4 * 784],
        [16, 150, 3 * 100 + 3],
      ] as const)
        expectMatchesJs(dtype, { batch: 1, m, k, n, seed: n }, TOLERANCE[dtype], {
          relaxedSimd: false,
          pool,
          columnChunks: 8,
        });
    });
  }

  it("jit(np.matmul) with few rows (conv1's [6, 25] @ [25, N*784]) gives one thread's bits on two", () => {
    // Past the threaded threshold with m = 6: the columns are split between the threads (each element
    // still sums in k order), so the product is the single-threaded kernel's, bit for bit.
    const n = 40 * 784 + 5;
    const x = np.array(randomArray("float32", 6 * 25, 7), { shape: [6, 25], dtype: "float32" });
    const y = np.array(randomArray("float32", 25 * n, 8), { shape: [25, n], dtype: "float32" });
    const product = (threads: number) => {
      setBackend("wasm", { threads });
      return jit(np.matmul)(x, y).toTypedArray();
    };
    const one = product(1);
    const two = product(2);
    expect(two).toEqual(one);
    const want = new Float32Array(6 * n);
    matmulKernel(x.toTypedArray(), y.toTypedArray(), want, 1, 6, 25, n);
    for (let i = 0; i < want.length; i += 97)
      expect(Math.abs(two[i]! - want[i]!)).toBeLessThanOrEqual(25 * 1e-5);
  });

  it("jit(np.matmul) of a large product uses the threads and equals eager", () => {
    setBackend("wasm", { threads: 2 });
    expect(backend().threads).toBe(2);
    const x = np.array(randomArray("float32", 300 * 200, 5), { shape: [300, 200], dtype: "float32" });
    const y = np.array(randomArray("float32", 200 * 90, 6), { shape: [200, 90], dtype: "float32" });
    const f = jit(np.matmul);
    const want = np.matmul(x, y).toTypedArray();
    for (let call = 0; call < 3; call++) {
      const got = f(x, y).toTypedArray();
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(200 * 1e-5);
    }
  });
});

describe("backend selection", () => {
  it("reports and switches the active backend", () => {
    setBackend("js");
    expect(backend()).toEqual({
      name: "js",
      webgpu: null,
      simd: false,
      relaxedSimd: false,
      threads: 1,
      platform: "node",
    });
    if (!simdSupported()) {
      expect(() => setBackend("wasm")).toThrow(/SIMD/);
      return;
    }
    setBackend("wasm");
    const info = backend();
    expect(info.simd).toBe(true);
    expect(info.relaxedSimd).toBe(relaxedSimdSupported());
    expect(info.name).toBe(relaxedSimdSupported() ? "wasm-relaxed-simd" : "wasm-simd");
    expect(info.threads).toBeGreaterThanOrEqual(1);
    setBackend("wasm", { threads: 1 });
    expect(backend().threads).toBe(1);
    expect(() => setBackend("wasm", { threads: 0 })).toThrow(/threads/);
  });

  it.runIf(simdSupported())("gemmKernel gives the same products on both backends, at any size", () => {
    for (const [dtype, batch, m, k, n] of [
      ["float32", 1, 2, 3, 4],
      ["float32", 2, 33, 17, 21],
      ["float64", 3, 16, 16, 16],
      ["int32", 1, 20, 20, 20],
    ] as const) {
      const make = (size: number, seed: number) =>
        dtype === "int32"
          ? Int32Array.from(randomArray("float64", size, seed), (v) => Math.round(v * 9))
          : randomArray(dtype, size, seed);
      const a = make(batch * m * k, 1);
      const b = make(batch * k * n, 2);
      const results = (["js", "wasm"] as const).map((kind) => {
        setBackend(kind);
        const out = dtype === "int32" ? new Int32Array(batch * m * n) : make(batch * m * n, 0).fill(0);
        gemmKernel(dtype, batch, m, k, n, standaloneContext())(a, b, out);
        return [...out];
      });
      results[1]!.forEach((v, i) => expect(v).toBeCloseTo(results[0]![i]!, 4));
    }
  });
});

describe.runIf(simdSupported())("jit(np.matmul) on the wasm backend", () => {
  it("equals eager matmul, for matrices, batches, vectors and both float dtypes", () => {
    setBackend("wasm");
    const cases: [number[], number[]][] = [
      [
        [33, 47],
        [47, 29],
      ],
      [
        [3, 20, 30],
        [3, 30, 25],
      ],
      [[64], [64, 70]],
      [
        [2, 1, 40, 50],
        [3, 50, 45],
      ],
    ];
    for (const dtype of ["float32", "float64"] as const) {
      cases.forEach(([sx, sy], c) => {
        const size = (s: number[]) => s.reduce((p, d) => p * d, 1);
        const x = np.array(randomArray(dtype, size(sx), 10 + c), { shape: sx, dtype });
        const y = np.array(randomArray(dtype, size(sy), 20 + c), { shape: sy, dtype });
        const eager = np.matmul(x, y);
        const compiled = jit(np.matmul)(x, y);
        expect(compiled.shape).toEqual(eager.shape);
        expect(compiled.dtype).toBe(dtype);
        const got = compiled.toTypedArray();
        const want = eager.toTypedArray();
        const k = sx[sx.length - 1]!;
        // Each element sums k terms of magnitude < 1.
        for (let i = 0; i < want.length; i++)
          expect(Math.abs(got[i]! - want[i]!)).toBeLessThanOrEqual(TOLERANCE[dtype] * k);
      });
    }
  });

  it("keeps int32 matmul exact (JS kernel) under jit", () => {
    setBackend("wasm");
    const x = np.array(
      Array.from({ length: 40 * 30 }, (_, i) => (i % 7) - 3),
      { shape: [40, 30], dtype: "int32" },
    );
    const y = np.array(
      Array.from({ length: 30 * 20 }, (_, i) => (i % 5) - 2),
      { shape: [30, 20], dtype: "int32" },
    );
    expect([...jit(np.matmul)(x, y).toTypedArray()]).toEqual([...np.matmul(x, y).toTypedArray()]);
  });
});
