/**
 * The ceiling of the `onnxruntime` column, measured in the same process as the backend: a bare ONNX
 * Runtime session holding one MatMul node (as issue 22 measured it), fed by onnxruntime-node's public
 * API, against `jit(np.matmul, { backend: "onnxruntime" })`, in alternating rounds. Prints per-call
 * medians of wall time and of process CPU time (the CPU time is what to trust on a loaded machine:
 * session.run computes on the calling thread).
 *
 *   npx tsx bench/onnxruntime-probe.ts [size=1024] [threads=1] [rounds=5]
 */
import * as ort from "onnxruntime-node";
import { encodeModel } from "../src/compiler/onnx-model.js";
import { jit, np, random } from "../src/index.js";

const size = Number(process.argv[2] ?? 1024);
const threads = Number(process.argv[3] ?? 1);
const rounds = Number(process.argv[4] ?? 5);
const callsPerRound = size >= 1024 ? 8 : 40;
const flops = 2 * size ** 3;

function matmulModel(n: number): Uint8Array {
  const value = (name: string) => ({ name, dtype: "float32" as const, shape: [n, n] });
  return encodeModel(
    {
      name: "matmul",
      nodes: [{ opType: "MatMul", inputs: ["a", "b"], outputs: ["c"], attributes: {} }],
      initializers: [],
      inputs: [value("a"), value("b")],
      outputs: [value("c")],
    },
    17,
    "probe",
  );
}

interface Sample {
  wallMs: number;
  cpuMs: number;
}

async function timeCalls(call: () => Promise<unknown>): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < callsPerRound; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await call();
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(c0);
    samples.push({ wallMs, cpuMs: (c.user + c.system) / 1000 });
  }
  return samples;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const a = random.normal(random.key(1), [size, size]).concrete();
  const b = random.normal(random.key(2), [size, size]).concrete();
  const session = await ort.InferenceSession.create(matmulModel(size), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const ta = new ort.Tensor("float32", a.storage as Float32Array, [size, size]);
  const tb = new ort.Tensor("float32", b.storage as Float32Array, [size, size]);
  const out = new ort.Tensor("float32", new Float32Array(size * size), [size, size]);
  const runners: Record<string, () => Promise<unknown>> = {
    "bare ORT MatMul": () => session.run({ a: ta, b: tb }),
    "bare ORT, fetches": () => session.run({ a: ta, b: tb }, { c: out }),
    "jit onnxruntime": (() => {
      const f = jit(np.matmul, { backend: "onnxruntime", threads });
      return () => f(a, b);
    })(),
  };
  const samples = new Map<string, Sample[]>(Object.keys(runners).map((k) => [k, []]));
  for (const call of Object.values(runners)) await call(); // warm-up, and the jit session's creation
  for (let r = 0; r < rounds; r++)
    for (const [name, call] of Object.entries(runners)) samples.get(name)!.push(...(await timeCalls(call)));
  console.log(`matmul f32 ${size}, intraOpNumThreads ${threads}, ${rounds} rounds x ${callsPerRound} calls`);
  for (const [name, s] of samples) {
    const wall = median(s.map((x) => x.wallMs));
    const cpu = median(s.map((x) => x.cpuMs));
    console.log(
      `${name.padEnd(20)} wall ${wall.toFixed(2)} ms (${(flops / wall / 1e6).toFixed(1)} GFLOP/s)  cpu ${cpu.toFixed(2)} ms (${(flops / cpu / 1e6).toFixed(1)} GFLOP/s per CPU)`,
    );
  }
  console.log(
    `load average ${(await import("node:os"))
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(" ")}`,
  );
}

await main();
