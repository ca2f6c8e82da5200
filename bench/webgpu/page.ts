/// <reference lib="dom" />
/// <reference types="@webgpu/types" />
/**
 * The WebGPU prototype's page (issue 23): the tiled WGSL GEMM (gemm-wgsl.ts) against tracegrad's jitted
 * wasm matmul on the same inputs, for correctness (largest error relative to the largest |C|) and speed
 * (median GFLOP/s). Results go to `window.webgpuBench` for run.ts, and into the page's table.
 */
import { backend, jit, type NdArray, np, random } from "../../src/index.js";
import { type GemmShape, gemmWgsl, gemmWorkgroups } from "./gemm-wgsl.js";

export interface GemmRow extends GemmShape {
  readonly wasmMs: number;
  readonly webgpuMs: number;
  /** max |C_webgpu - C_wasm| / max |C_wasm| */
  readonly relativeError: number;
}

export interface PageResult {
  readonly adapter: string;
  readonly wasmBackend: string;
  readonly rows: GemmRow[];
  readonly error: string | null;
}

declare const window: { webgpuBench?: PageResult; location: { search: string } };

/** Timed rounds per measurement: `?rounds=N` (the test asks for 1: it checks values, not speed). */
const ROUNDS = Number(new URLSearchParams(window.location.search).get("rounds") ?? 9);

const median = (xs: number[]): number => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;

/** Times `run` (which resolves when its work is done): median of `rounds` after one warm-up. */
async function timeMs(run: () => Promise<void> | void, rounds: number): Promise<number> {
  await run();
  const times: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return median(times);
}

async function gemmRow(device: GPUDevice, shape: GemmShape, seed: number): Promise<GemmRow> {
  const { m, k, n, transposeA, transposeB } = shape;
  const [ka, kb] = random.split(random.key(seed), 2);
  const a = random.normal(ka!, transposeA ? [k, m] : [m, k]);
  const b = random.normal(kb!, transposeB ? [n, k] : [k, n]);
  const product = jit((x: NdArray, y: NdArray) =>
    np.matmul(transposeA ? np.transpose(x) : x, transposeB ? np.transpose(y) : y),
  );
  const expected = product(a, b).toTypedArray() as Float32Array;
  const wasmMs = await timeMs(() => void product(a, b).toTypedArray(), ROUNDS);

  const storage = (data: Float32Array) => {
    const buffer = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    return buffer;
  };
  const aBuffer = storage(a.toTypedArray() as Float32Array);
  const bBuffer = storage(b.toTypedArray() as Float32Array);
  const cBuffer = device.createBuffer({
    size: m * n * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const readBuffer = device.createBuffer({
    size: m * n * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const module = device.createShaderModule({ code: gemmWgsl(shape) });
  const pipeline = device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [aBuffer, bBuffer, cBuffer].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const [groupsX, groupsY] = gemmWorkgroups(m, n);
  const dispatch = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(groupsX, groupsY);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  const webgpuMs = await timeMs(dispatch, ROUNDS);
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(cBuffer, 0, readBuffer, 0, m * n * 4);
  device.queue.submit([encoder.finish()]);
  await readBuffer.mapAsync(GPUMapMode.READ);
  const got = new Float32Array(readBuffer.getMappedRange().slice(0));
  readBuffer.unmap();
  for (const buffer of [aBuffer, bBuffer, cBuffer, readBuffer]) buffer.destroy();
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(got[i]! - expected[i]!));
  }
  return { ...shape, wasmMs, webgpuMs, relativeError: scale > 0 ? worst / scale : worst };
}

/** Square products the issue asks GFLOP/s of, and edge shapes no tile divides, transposed too. */
const SHAPES: GemmShape[] = [
  ...[128, 256, 512].map((s) => ({ m: s, k: s, n: s, transposeA: false, transposeB: false })),
  { m: 6, k: 25, n: 1000, transposeA: false, transposeB: false },
  { m: 67, k: 33, n: 129, transposeA: true, transposeB: false },
  { m: 130, k: 17, n: 63, transposeA: false, transposeB: true },
  { m: 1, k: 200, n: 5, transposeA: true, transposeB: true },
];

async function main(): Promise<PageResult> {
  const wasmBackend = JSON.stringify(backend());
  if (!("gpu" in navigator)) return { adapter: "none", wasmBackend, rows: [], error: "no navigator.gpu" };
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return { adapter: "none", wasmBackend, rows: [], error: "no WebGPU adapter" };
  const device = await adapter.requestDevice();
  // `info` is newer than @webgpu/types 0.1.38 (Chromium 114+ has it).
  const info = (adapter as GPUAdapter & { info?: { vendor: string; architecture: string } }).info;
  const rows: GemmRow[] = [];
  for (const [i, shape] of SHAPES.entries()) rows.push(await gemmRow(device, shape, i));
  return {
    adapter: info ? `${info.vendor} ${info.architecture}`.trim() : "unnamed",
    wasmBackend,
    rows,
    error: null,
  };
}

function show(result: PageResult): void {
  const table = document.getElementById("results")!;
  const gflops = (r: GemmRow, ms: number) => ((2 * r.m * r.k * r.n) / ms / 1e6).toFixed(2);
  table.innerHTML =
    `<tr><th>shape</th><th>wasm ms</th><th>wasm GFLOP/s</th><th>WebGPU ms</th><th>WebGPU GFLOP/s</th><th>rel. error</th></tr>` +
    result.rows
      .map(
        (r) =>
          `<tr><td>${r.transposeA ? "Aᵀ" : "A"}[${r.m}×${r.k}] @ ${r.transposeB ? "Bᵀ" : "B"}[${r.k}×${r.n}]</td>` +
          `<td>${r.wasmMs.toFixed(3)}</td><td>${gflops(r, r.wasmMs)}</td><td>${r.webgpuMs.toFixed(3)}</td>` +
          `<td>${gflops(r, r.webgpuMs)}</td><td>${r.relativeError.toExponential(1)}</td></tr>`,
      )
      .join("");
  document.getElementById("status")!.textContent = result.error ?? `adapter: ${result.adapter}`;
}

main()
  .catch((e: unknown): PageResult => ({ adapter: "none", wasmBackend: "", rows: [], error: String(e) }))
  .then((result) => {
    window.webgpuBench = result;
    show(result);
  });
