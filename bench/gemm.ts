/**
 * GEMM throughput, JS kernel against the emitted WebAssembly SIMD kernel: `npx tsx bench/gemm.ts`.
 * Relaxed SIMD (FMA) on Node 20 needs a V8 flag:
 *   node --experimental-wasm-relaxed-simd --import tsx bench/gemm.ts
 * Options: --sizes=128,512,1024  --dtype=float32|float64  --jit (also time jit(np.matmul) end to end).
 */
import { type GemmKernel, gemmKernel } from "../src/backend/index.js";
import { standaloneContext } from "../src/backend/plan-memory.js";
import { backend, jit, np, setBackend } from "../src/index.js";

const option = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const sizes = (option("sizes") ?? "128,512,1024").split(",").map(Number);
const dtype = option("dtype") === "float64" ? "float64" : "float32";
const withJit = process.argv.includes("--jit");

function randomMatrix(n: number): Float32Array | Float64Array {
  const out = dtype === "float32" ? new Float32Array(n * n) : new Float64Array(n * n);
  for (let i = 0; i < out.length; i++) out[i] = Math.random() * 2 - 1;
  return out;
}

/** Times `run` after warm-up, until both a minimum count of samples and of total time is reached. */
function sample(run: () => void, warmups: number): { median: number; best: number; samples: number } {
  for (let i = 0; i < warmups; i++) run();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < 5 || (performance.now() - start < 1000 && times.length < 50)) {
    const t0 = performance.now();
    run();
    times.push(performance.now() - t0);
    if (times.length >= 3 && performance.now() - start > 10_000) break; // slow JS at large sizes
  }
  times.sort((a, b) => a - b);
  return { median: times[times.length >> 1]!, best: times[0]!, samples: times.length };
}

const gflops = (n: number, ms: number): string => ((2 * n * n * n) / ms / 1e6).toFixed(2).padStart(7);

const wasmInfo = (() => {
  setBackend("wasm");
  return backend();
})();
const maxThreads = wasmInfo.threads;
console.log(`${dtype} GEMM, n x n @ n x n; wasm backend: ${JSON.stringify(wasmInfo)}`);
console.log("GFLOP/s (median / best over the samples; copies in and out of wasm memory included)");
console.log(`${"n".padStart(5)} | ${"backend".padEnd(22)} | median  |  best   | ms (median) | samples`);
for (const n of sizes) {
  const a = randomMatrix(n);
  const b = randomMatrix(n);
  const out = randomMatrix(n);
  const rows: [string, () => void, number][] = [];
  const configurations: { kind: "js" | "wasm"; threads: number }[] = [
    { kind: "js", threads: 1 },
    { kind: "wasm", threads: 1 },
    ...(maxThreads > 1 ? [{ kind: "wasm" as const, threads: maxThreads }] : []),
  ];
  for (const { kind, threads } of configurations) {
    setBackend(kind, { threads });
    const kernel: GemmKernel = gemmKernel(dtype, 1, n, n, n, standaloneContext());
    const label = kind === "js" ? "js" : `${backend().name} x${threads}`;
    rows.push([label, () => kernel(a, b, out), kind === "js" ? 1 : 5]);
  }
  if (withJit) {
    setBackend("wasm", { threads: maxThreads });
    const f = jit(np.matmul);
    const x = np.array(a, { shape: [n, n], dtype });
    const y = np.array(b, { shape: [n, n], dtype });
    rows.push([`jit(np.matmul) x${maxThreads}`, () => f(x, y), 5]);
  }
  for (const [label, run, warmups] of rows) {
    const { median, best, samples } = sample(run, warmups);
    console.log(
      `${String(n).padStart(5)} | ${label.padEnd(22)} | ${gflops(n, median)} | ${gflops(n, best)} | ${median.toFixed(2).padStart(11)} | ${samples}`,
    );
  }
}
