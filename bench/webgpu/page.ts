/// <reference lib="dom" />
/**
 * The WebGPU benchmark page (issue 23): matmul GFLOP/s and the LeNet training step's time on each backend,
 * jit on the CPU kernels (wasm, this page's thread) and on WebGPU, same inputs, medians after a warm-up.
 * A WebGPU call returns at once; its time is that of `calls` calls back to back up to the moment the last
 * one's output is read back (`await x.data()`), divided by `calls`. Results go to `window.webgpuBench` for
 * run.ts and into the page. On Chromium's software adapter (SwiftShader) the WebGPU figures say nothing
 * about real GPUs.
 */
import {
  backend,
  type DeviceArray,
  jit,
  type NdArray,
  nn,
  np,
  optim,
  random,
  setBackend,
  tree,
  valueAndGrad,
} from "tracegrad";
import { type LeNetParams, lenet } from "../../docs/examples/lenet.js";

export interface BenchRow {
  readonly name: string;
  /** Multiply-adds x 2 per call, for GFLOP/s (0: not a GEMM). */
  readonly flops: number;
  readonly cpuMs: number;
  readonly webgpuMs: number;
  /** max |webgpu - cpu| / max |cpu| of the outputs compared. */
  readonly relativeError: number;
}

export interface PageResult {
  readonly adapter: string;
  readonly cpuBackend: string;
  readonly rows: BenchRow[];
  readonly error: string | null;
}

declare const window: { webgpuBench?: PageResult; location: { search: string } };

/** Timed rounds per measurement: `?rounds=N` (default 7). */
const ROUNDS = Number(new URLSearchParams(window.location.search).get("rounds") ?? 7);

const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

async function timeMs(run: () => Promise<void> | void, rounds: number, perRound = 1): Promise<number> {
  await run();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await run();
    times.push((performance.now() - t0) / perRound);
  }
  return median(times);
}

function relativeError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  }
  return worst / Math.max(scale, 1e-30);
}

async function matmulRow(size: number, seed: number): Promise<BenchRow> {
  const [ka, kb] = random.split(random.key(seed), 2);
  const a = random.normal(ka!, [size, size]);
  const b = random.normal(kb!, [size, size]);
  const cpu = jit(np.matmul, { backend: "wasm" });
  const gpu = jit(np.matmul, { backend: "webgpu" });
  const cpuMs = await timeMs(() => void cpu(a, b), ROUNDS);
  const calls = 4;
  const webgpuMs = await timeMs(
    async () => {
      let out = gpu(a, b);
      for (let c = 1; c < calls; c++) out = gpu(a, b);
      await (out as DeviceArray).data();
    },
    ROUNDS,
    calls,
  );
  const got = await (gpu(a, b) as DeviceArray).data();
  return {
    name: `matmul ${size}`,
    flops: 2 * size ** 3,
    cpuMs,
    webgpuMs,
    relativeError: relativeError(got, cpu(a, b).toTypedArray()),
  };
}

async function lenetRow(batch: number): Promise<BenchRow> {
  const [initKey, dataKey] = random.split(random.key(5), 2);
  const params = lenet.init(initKey!);
  const x = random.normal(dataKey!, [batch, 1, 32, 32]);
  const y = np.mod(np.arange(batch, undefined, undefined, { dtype: "int32" }), 10);
  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 });
  const lossFn = (p: LeNetParams, xb: NdArray, yb: NdArray) => nn.crossEntropy(lenet.apply(p, xb), yb);
  const step = (p: LeNetParams, s: ReturnType<typeof optimizer.init>, xb: NdArray, yb: NdArray) => {
    const [loss, grads] = valueAndGrad(lossFn)(p, xb, yb);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, loss] as const;
  };
  const cpu = jit(step, { backend: "wasm" });
  const gpu = jit(step, { backend: "webgpu", donateArgnums: [0, 1] });
  const cpuState = { p: params, s: optimizer.init(params) };
  const cpuMs = await timeMs(() => {
    const [p, s] = cpu(cpuState.p, cpuState.s, x, y);
    [cpuState.p, cpuState.s] = [p, s];
  }, ROUNDS);
  const gpuState = {
    p: tree.map((l: NdArray) => l.add(0), params) as LeNetParams,
    s: optimizer.init(params),
  };
  const calls = 3;
  const webgpuMs = await timeMs(
    async () => {
      let loss: NdArray | null = null;
      for (let c = 0; c < calls; c++) {
        const [p, s, l] = gpu(gpuState.p, gpuState.s, x, y);
        [gpuState.p, gpuState.s, loss] = [p, s, l];
      }
      await (loss as DeviceArray).data();
    },
    ROUNDS,
    calls,
  );
  const fresh = optimizer.init(params);
  const [, , gpuLoss] = jit(step, { backend: "webgpu" })(params, fresh, x, y);
  const [, , cpuLoss] = cpu(params, fresh, x, y);
  return {
    name: `LeNet train step, batch ${batch}`,
    flops: 0,
    cpuMs,
    webgpuMs,
    relativeError: relativeError(await (gpuLoss as DeviceArray).data(), cpuLoss.toTypedArray()),
  };
}

async function main(): Promise<PageResult> {
  const cpuBackend = backend().name;
  const info = await setBackend("webgpu");
  const rows: BenchRow[] = [];
  for (const [i, size] of [128, 256, 512].entries()) rows.push(await matmulRow(size, i));
  for (const batch of [1, 32]) rows.push(await lenetRow(batch));
  return { adapter: info.webgpu ?? "none", cpuBackend, rows, error: null };
}

function show(result: PageResult): void {
  const table = document.getElementById("results")!;
  const gflops = (r: BenchRow, ms: number) => (r.flops ? (r.flops / ms / 1e6).toFixed(2) : "");
  table.innerHTML =
    "<tr><th>workload</th><th>CPU ms</th><th>CPU GFLOP/s</th><th>WebGPU ms</th><th>WebGPU GFLOP/s</th><th>rel. error</th></tr>" +
    result.rows
      .map(
        (r) =>
          `<tr><td>${r.name}</td><td>${r.cpuMs.toFixed(3)}</td><td>${gflops(r, r.cpuMs)}</td>` +
          `<td>${r.webgpuMs.toFixed(3)}</td><td>${gflops(r, r.webgpuMs)}</td><td>${r.relativeError.toExponential(1)}</td></tr>`,
      )
      .join("");
  document.getElementById("status")!.textContent =
    result.error ?? `WebGPU adapter: ${result.adapter}; CPU kernels: ${result.cpuBackend}`;
}

main()
  .catch((e: unknown): PageResult => ({ adapter: "none", cpuBackend: "", rows: [], error: String(e) }))
  .then((result) => {
    window.webgpuBench = result;
    show(result);
  });
