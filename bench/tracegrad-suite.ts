/**
 * The tracegrad side of the benchmark: every workload eagerly and under jit (train steps donate their
 * parameters and optimizer state), plus the jitted plan's arena and the bytes it allocates per call in
 * steady state.
 */
import { charGpt, gptLoss, gptOptimizer } from "../docs/examples/char-gpt.js";
import { lenet } from "../docs/examples/lenet.js";
import type { Tuple } from "../src/core/tuple.js";
import {
  type Array,
  backend,
  jit,
  layers,
  nn,
  np,
  optim,
  random,
  valueAndGrad,
  whileLoop,
} from "../src/index.js";
import { countAllocatedBytes } from "../test/helpers/allocations.js";
import { errorMessage, type Measurement, timeAsync, timeSync } from "./timing.js";
import {
  type BenchMode,
  CHAIN_PATTERN,
  type ChainWorkload,
  type ConvWorkload,
  type GptTrainWorkload,
  LEARNING_RATE,
  type LinalgWorkload,
  type LstmTrainWorkload,
  type MlpTrainWorkload,
  type TimingBudget,
  type WhileLoopWorkload,
  type Workload,
  workloadsFor,
} from "./workloads.js";

/** What the jit planner reports for a workload's compiled plan, and what a steady-state call allocates. */
export interface JitMemory {
  readonly arenaBytes: number;
  readonly intermediateBytes: number;
  readonly slots: number;
  /** ArrayBuffer bytes allocated per call after warm-up (outputs that are not donated count). */
  readonly allocatedBytesPerCall: number;
  /** Milliseconds of the first `lower` (trace and compile the plan), once, before any call. */
  readonly compileMs: number;
}

export interface TracegradRow {
  readonly workload: Workload;
  readonly eager: Measurement;
  readonly jit: Measurement;
  readonly memory:
    | { readonly ok: true; readonly value: JitMemory }
    | { readonly ok: false; readonly error: string };
}

export interface TracegradSuiteResult {
  readonly backend: string;
  readonly rows: TracegradRow[];
}

interface PlanMemory {
  arenaBytes: number;
  intermediateBytes: number;
  slots: number;
  compileMs: number;
}

/** Timed compilations after the first: the first also pays one-time costs (JS warm-up, wasm modules). */
const COMPILE_RUNS = 3;

/**
 * The plan's memory figures, and how long `lower` (trace and compile) takes: the median of COMPILE_RUNS
 * compilations by fresh jitted functions, after the first (whose plan is `lowered`).
 */
function compileTimed(
  lowered: { executable: { memory: Omit<PlanMemory, "compileMs"> } },
  lowerFresh: () => unknown,
): PlanMemory {
  const times: number[] = [];
  for (let i = 0; i < COMPILE_RUNS; i++) {
    const start = performance.now();
    lowerFresh();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { ...lowered.executable.memory, compileMs: times[Math.floor(times.length / 2)]! };
}

/**
 * A workload ready to run: `eager()`, `jitted()` and `onnxRuntime(threads)` (the same function under
 * `jit(f, { backend: "onnxruntime", threads })`, whose calls resolve asynchronously) each build a fresh
 * call with its own state.
 */
interface BenchCase {
  eager(): () => void;
  jitted(): { call: () => void; plan: PlanMemory };
  onnxRuntime(threads: number): () => Promise<void>;
}

/**
 * A train step (forward, loss, backward, the optimizer: SGD unless given) over any parameter tree; jit
 * donates params and state.
 */
function trainStepCase<P>(
  initParams: () => P,
  loss: (p: P, x: Array, y: Array) => Array,
  x: Array,
  y: Array,
  optimizer: optim.GradientTransformation = optim.sgd({ lr: LEARNING_RATE }),
): BenchCase {
  type State = ReturnType<typeof optimizer.init>;
  const step = (p: P, s: State, xb: Array, yb: Array) => {
    const [value, grads] = valueAndGrad(loss)(p, xb, yb);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, value] as const;
  };
  // Every call reads the loss back, as a training loop does (and as the peers do).
  const runner = (stepFn: typeof step) => {
    let params = initParams();
    let state = optimizer.init(params);
    return {
      first: { params, state },
      call: () => {
        let value: Array;
        [params, state, value] = stepFn(params, state, x, y);
        value.item();
      },
    };
  };
  return {
    eager: () => runner(step).call,
    jitted: () => {
      const compiled = jit(step, { donateArgnums: [0, 1] });
      const { first, call } = runner(compiled);
      // lower() traces and compiles without running, so the donated arrays are still alive after it.
      const plan = compileTimed(compiled.lower(first.params, first.state, x, y), () =>
        jit(step, { donateArgnums: [0, 1] }).lower(first.params, first.state, x, y),
      );
      return { call, plan };
    },
    onnxRuntime: (threads) => {
      const compiled = jit(step, { backend: "onnxruntime", threads });
      let params = initParams();
      let state = optimizer.init(params);
      return async () => {
        let value: Array;
        [params, state, value] = await compiled(params, state, x, y);
        value.item();
      };
    },
  };
}

/** A pure function of fixed inputs, eagerly and jitted (no donation: the inputs are reused). */
function pureCase<Args extends Array[]>(f: (...args: Args) => unknown, args: Args): BenchCase {
  return {
    eager: () => () => void f(...args),
    jitted: () => {
      const compiled = jit(f);
      const plan = compileTimed(compiled.lower(...args), () => jit(f).lower(...args));
      return { call: () => void compiled(...args), plan };
    },
    onnxRuntime: (threads) => {
      const compiled = jit(f, { backend: "onnxruntime", threads });
      return async () => void (await compiled(...args));
    },
  };
}

function mlp(sizes: readonly number[]) {
  const [input, hidden1, hidden2, classes] = sizes as [number, number, number, number];
  return layers.sequential(
    layers.linear(input, hidden1),
    layers.relu(),
    layers.linear(hidden1, hidden2),
    layers.relu(),
    layers.linear(hidden2, classes),
  );
}

/** `n` keys from `key` as a tuple to destructure (random.split gives exactly `n`, as an array of shape [n, 2]). */
function splitKeys<N extends number>(key: Array, n: N): Tuple<Array, N> {
  return [...random.split(key, n)] as Tuple<Array, N>;
}

function mlpCase(w: MlpTrainWorkload, key: Array): BenchCase {
  const model = mlp(w.sizes);
  const [initKey, xKey, yKey] = splitKeys(key, 3);
  const x = random.normal(xKey, [w.batch, w.sizes[0]!]);
  const labels = random.randint(yKey, [w.batch], 0, w.sizes[w.sizes.length - 1]!);
  return trainStepCase(
    () => model.init(initKey),
    (p, xb, yb) => nn.crossEntropy(model.apply(p, xb), yb),
    x,
    labels,
  );
}

/** torch.nn.LSTM(hidden, hidden) on [seq, batch, hidden]; MSE of the output against a random target. */
function lstmCase(w: LstmTrainWorkload, key: Array): BenchCase {
  const model = layers.lstm(w.hidden, w.hidden);
  const [initKey, xKey, yKey] = splitKeys(key, 3);
  return trainStepCase(
    () => model.init(initKey),
    (p, xb, yb) => nn.mseLoss(model.apply(p, xb)[0], yb),
    random.normal(xKey, [w.seq, w.batch, w.hidden]),
    random.normal(yKey, [w.seq, w.batch, w.hidden]),
  );
}

/** docs/examples/char-gpt.ts's model and optimizer on random tokens and random next tokens. */
function gptCase(w: GptTrainWorkload, key: Array): BenchCase {
  const config = {
    vocabSize: w.vocab,
    contextLength: w.context,
    width: w.width,
    layers: w.layers,
    heads: w.heads,
  };
  const model = charGpt(config);
  const [initKey, xKey, yKey] = splitKeys(key, 3);
  return trainStepCase(
    () => model.init(initKey),
    gptLoss(model, config),
    random.randint(xKey, [w.batch, w.context], 0, w.vocab),
    random.randint(yKey, [w.batch, w.context], 0, w.vocab),
    gptOptimizer({ lr: 1e-3, weightDecay: 0.1, clip: 1 }) as optim.GradientTransformation,
  );
}

function convCase(w: ConvWorkload, key: Array): BenchCase {
  const [xKey, wKey, bKey, cKey] = splitKeys(key, 4);
  const out = w.size - w.kernel + 1;
  const x = random.normal(xKey, [w.batch, w.inChannels, w.size, w.size]);
  const weight = random.normal(wKey, [w.outChannels, w.inChannels, w.kernel, w.kernel]);
  const bias = random.normal(bKey, [w.outChannels]);
  // Backward against a random cotangent: <conv(x), cotangent> has exactly that vector-Jacobian product.
  const cotangent = random.normal(cKey, [w.batch, w.outChannels, out, out]);
  const project = (input: Array, wt: Array, b: Array) =>
    np.sum(np.multiply(nn.conv2d(input, wt, b), cotangent));
  if (w.inputGradient) {
    const f = (input: Array, wt: Array, b: Array) =>
      valueAndGrad(project, { argnums: [0, 1, 2] })(input, wt, b);
    return pureCase(f, [x, weight, bias]);
  }
  const f = (input: Array, wt: Array, b: Array) =>
    valueAndGrad((wb: { wt: Array; b: Array }) => project(input, wb.wt, wb.b))({ wt, b });
  return pureCase(f, [x, weight, bias]);
}

/** The chain, op for op as CHAIN_PATTERN says. */
export function tracegradChain(x: Array, repeats: number): Array {
  let y = x;
  for (let r = 0; r < repeats; r++) {
    for (const op of CHAIN_PATTERN) {
      if (op === "mul 1.5") y = np.multiply(y, 1.5);
      else if (op === "add 0.1") y = np.add(y, 0.1);
      else if (op === "maximum -1") y = np.maximum(y, -1);
      else y = np.minimum(y, 1);
    }
  }
  return y;
}

function chainCase(w: ChainWorkload, key: Array): BenchCase {
  const x = random.normal(key, [w.elements]);
  return pureCase((v: Array) => tracegradChain(v, w.repeats), [x]);
}

/** y <- tanh(1.5 y + 0.1), `iterations` times (a constant of the program): a loop step over its body's plan. */
function whileLoopCase(w: WhileLoopWorkload, key: Array): BenchCase {
  const x = random.normal(key, [w.elements]);
  const f = (v: Array) =>
    whileLoop(
      ([i]: Array[]) => i!.less(w.iterations),
      ([i, y]: Array[]) => [i!.add(1), np.tanh(y!.mul(1.5).add(0.1))],
      [np.zeros([], { dtype: "int32" }), v],
    )[1]!;
  return pureCase(f, [x]);
}

/** The matrices of LinalgWorkload, float64, and the op as np.linalg has it. */
function linalgCase(w: LinalgWorkload, key: Array): BenchCase {
  const n = w.size;
  const [mKey, bKey] = splitKeys(key, 2);
  const m = random.normal(mKey, [n, n], { dtype: "float64" });
  const eye = np.eye(n, n, { dtype: "float64" });
  switch (w.op) {
    case "cholesky":
      return pureCase(
        (a: Array) => np.linalg.cholesky(a),
        [np.add(np.divide(np.matmul(m, np.swapaxes(m, 0, 1)), n), eye)],
      );
    case "solve": {
      const b = random.normal(bKey, [n], { dtype: "float64" });
      return pureCase((a: Array, v: Array) => np.linalg.solve(a, v), [np.add(m, np.multiply(eye, n)), b]);
    }
    case "qr":
      return pureCase((a: Array) => np.linalg.qr(a), [m]);
    case "eigh":
      return pureCase((a: Array) => np.linalg.eigh(a), [np.divide(np.add(m, np.swapaxes(m, 0, 1)), 2)]);
    case "svd":
      return pureCase((a: Array) => np.linalg.svd(a, { fullMatrices: false }), [m]);
    default:
      throw new Error(`bench: no tracegrad case for linalg op ${w.op} yet`);
  }
}

function caseFor(w: Workload, key: Array): BenchCase {
  switch (w.kind) {
    case "while-loop":
      return whileLoopCase(w, key);
    case "lenet-train": {
      const [initKey, xKey, yKey] = splitKeys(key, 3);
      return trainStepCase(
        () => lenet.init(initKey),
        (p, xb, yb) => nn.mseLoss(lenet.apply(p, xb), yb),
        random.normal(xKey, [w.batch, 1, 32, 32]),
        random.normal(yKey, [w.batch, 10]),
      );
    }
    case "lenet-infer": {
      const [initKey, xKey] = splitKeys(key, 2);
      const params = lenet.init(initKey);
      const x = random.normal(xKey, [w.batch, 1, 32, 32]);
      return pureCase((input: Array) => lenet.apply(params, input), [x]);
    }
    case "mlp-train":
      return mlpCase(w, key);
    case "lstm-train":
      return lstmCase(w, key);
    case "gpt-train":
      return gptCase(w, key);
    case "matmul": {
      const [aKey, bKey] = splitKeys(key, 2);
      const a = random.normal(aKey, [w.size, w.size]);
      const b = random.normal(bKey, [w.size, w.size]);
      return pureCase((l: Array, r: Array) => np.matmul(l, r), [a, b]);
    }
    case "conv":
      return convCase(w, key);
    case "chain":
      return chainCase(w, key);
    case "sort": {
      const x = random.normal(key, [w.elements]);
      const k = w.k;
      return k === null
        ? pureCase((v: Array) => np.sort(v), [x])
        : pureCase((v: Array) => np.topK(v, k), [x]);
    }
    case "linalg":
      return linalgCase(w, key);
    case "scatter-add": {
      const [iKey, uKey] = splitKeys(key, 2);
      const x = np.zeros([w.size]);
      const positions = random.randint(iKey, [w.updates], 0, w.size);
      const updates = random.normal(uKey, [w.updates]);
      return pureCase((v: Array, i: Array, u: Array) => v.at(i).add(u), [x, positions, updates]);
    }
  }
}

/** Calls counted for the steady-state allocation figure (after the timed calls warmed everything up). */
const ALLOCATION_CALLS = 3;

/** tracegrad's two runners: every workload eagerly, or jitted (with the plan's memory figures). */
export type TracegradVariant = "eager" | "jit";

/**
 * One workload, eagerly or jitted, on inputs seeded by `index` (the workload's position in its mode's
 * list); the jitted variant also reports its plan's memory and the bytes a warmed-up call allocates.
 */
export function measureTracegrad(
  w: Workload,
  variant: TracegradVariant,
  index: number,
  budget: TimingBudget,
): { measurement: Measurement; memory?: TracegradRow["memory"] } {
  let benchCase: BenchCase;
  try {
    benchCase = caseFor(w, random.key(index));
  } catch (e) {
    const error = errorMessage(e);
    return {
      measurement: { ok: false, error },
      ...(variant === "jit" ? { memory: { ok: false, error } } : {}),
    };
  }
  if (variant === "eager") {
    try {
      return { measurement: { ok: true, timing: timeSync(benchCase.eager(), budget) } };
    } catch (e) {
      return { measurement: { ok: false, error: errorMessage(e) } };
    }
  }
  try {
    const { call, plan } = benchCase.jitted();
    const measurement: Measurement = { ok: true, timing: timeSync(call, budget) };
    try {
      const bytes = countAllocatedBytes(() => {
        for (let i = 0; i < ALLOCATION_CALLS; i++) call();
      });
      return {
        measurement,
        memory: { ok: true, value: { ...plan, allocatedBytesPerCall: bytes / ALLOCATION_CALLS } },
      };
    } catch (e) {
      return { measurement, memory: { ok: false, error: errorMessage(e) } };
    }
  } catch (e) {
    const error = errorMessage(e);
    return { measurement: { ok: false, error }, memory: { ok: false, error } };
  }
}

export function describeBackend(): string {
  const b = backend();
  const features = b.relaxedSimd ? "relaxed SIMD" : b.simd ? "SIMD" : "no SIMD";
  return `${b.name} for jit plans (${features}, ${b.threads} thread${b.threads === 1 ? "" : "s"})`;
}

// ---------------------------------------------------------------------------------------------------
// the ONNX Runtime backend of jit (the `onnxruntime` column): every workload's function, run by
// `jit(f, { backend: "onnxruntime", threads })`, whose calls are asynchronous. A workload the exporter
// cannot write fails on its first call with the exporter's error, which names the primitive.

function onnxRuntimeCall(w: Workload, key: Array, threads: number): () => Promise<void> {
  return caseFor(w, key).onnxRuntime(threads);
}

/** Times the ONNX Runtime backend on `workloads` (keys as measureTracegrad's, by position in the mode). */
export async function runOnnxRuntimeSuite(options: {
  readonly mode: BenchMode;
  readonly budget: TimingBudget;
  readonly workloadIds: readonly string[];
  readonly threads: number;
  readonly log?: (line: string) => void;
}): Promise<Record<string, Measurement>> {
  const results: Record<string, Measurement> = {};
  const all = workloadsFor(options.mode);
  for (const id of options.workloadIds) {
    const index = all.findIndex((w) => w.id === id);
    const w = all[index];
    if (w === undefined) continue;
    try {
      const call = onnxRuntimeCall(w, random.key(index), options.threads);
      results[id] = { ok: true, timing: await timeAsync(call, options.budget) };
    } catch (e) {
      results[id] = { ok: false, error: errorMessage(e) };
    }
    const m = results[id]!;
    options.log?.(
      `onnxruntime ${id.padEnd(22)} ${m.ok ? `${m.timing.medianMs.toFixed(2)} ms` : `failed (${m.error})`}`,
    );
  }
  return results;
}
