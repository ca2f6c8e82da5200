/**
 * The benchmark workloads, described as data so that every runner (tracegrad, and the peers in their
 * own processes, Python included) measures exactly the same shapes. run.ts hands this list to the peers
 * as JSON.
 */

export type BenchMode = "full" | "quick";

interface WorkloadBase {
  /** Stable key used in the JSON the runners exchange. */
  readonly id: string;
  /** The row title in the report. */
  readonly label: string;
}

/** LeNet forward + MSE against a random [N, 10] target + backward + SGD(lr 0.01), as the tutorial. */
export interface LenetTrainWorkload extends WorkloadBase {
  readonly kind: "lenet-train";
  readonly batch: number;
}

/** LeNet forward only. */
export interface LenetInferWorkload extends WorkloadBase {
  readonly kind: "lenet-infer";
  readonly batch: number;
}

/** MLP 784-512-512-10 with ReLU: cross-entropy on class labels + backward + SGD(lr 0.01). */
export interface MlpTrainWorkload extends WorkloadBase {
  readonly kind: "mlp-train";
  readonly batch: number;
  readonly sizes: readonly number[];
}

/** float32 [n, n] @ [n, n]; reported in GFLOP/s. */
export interface MatmulWorkload extends WorkloadBase {
  readonly kind: "matmul";
  readonly size: number;
}

/**
 * One of LeNet's conv layers (valid padding, stride 1), forward and backward against a random cotangent.
 * `inputGradient` mirrors the train step: the first layer needs no gradient for its input.
 */
export interface ConvWorkload extends WorkloadBase {
  readonly kind: "conv";
  readonly batch: number;
  readonly inChannels: number;
  readonly outChannels: number;
  readonly size: number;
  readonly kernel: number;
  readonly inputGradient: boolean;
}

/** A chain of elementwise ops on one vector: what fusion is for. */
export interface ChainWorkload extends WorkloadBase {
  readonly kind: "chain";
  readonly elements: number;
  /** The pattern applied `repeats` times; each repeat is CHAIN_PATTERN.length ops. */
  readonly repeats: number;
}

/**
 * Sorting one float32 vector of standard normals: the whole vector (values and the permutation, as
 * torch.sort returns them; tracegrad's np.sort computes both), or with `k` the k largest (topK).
 */
export interface SortWorkload extends WorkloadBase {
  readonly kind: "sort";
  readonly elements: number;
  /** The k largest only (torch.topk, jax.lax.top_k); null sorts everything. */
  readonly k: number | null;
}

/**
 * A jitted whileLoop whose trip count is a constant of the traced program, over a small vector: the plan
 * runs it as one loop step over its body's plan, so it compiles in the same time for 10 and for 10,000
 * iterations (the compile column of the memory table). tracegrad only: no peer runs it.
 */
export interface WhileLoopWorkload extends WorkloadBase {
  readonly kind: "while-loop";
  readonly iterations: number;
  readonly elements: number;
}

/**
 * Scatter-add: `updates` float32 standard normals added into a float32 vector of `size` zeros at
 * uniformly random int32 positions, repeated ones accumulating (x.at(i).add(u); torch index_add).
 */
export interface ScatterAddWorkload extends WorkloadBase {
  readonly kind: "scatter-add";
  readonly size: number;
  readonly updates: number;
}

/** The linear-algebra rows (issue 20), each in float64. */
export type LinalgOp = "cholesky" | "solve" | "qr" | "eigh" | "svd";

/**
 * One float64 [n, n] matrix M of standard normals, and: `cholesky` of M Mᵀ / n + I (the lower factor);
 * `solve` of (M + n I) x = b for one vector b of standard normals; `eigh` of (M + Mᵀ) / 2 (eigenvalues and
 * eigenvectors); `qr` of M (reduced: Q, R); `svd` of M (reduced: U, S, Vᵀ).
 */
export interface LinalgWorkload extends WorkloadBase {
  readonly kind: "linalg";
  readonly op: LinalgOp;
  readonly size: number;
}

/** The ops with a bench row, in row order (each as its family lands on main). */
export const LINALG_OPS: readonly LinalgOp[] = ["cholesky", "solve", "qr", "eigh", "svd"];

/**
 * An LSTM train step, torch.nn.LSTM(hidden, hidden) over [seq, batch, hidden] float32: forward, MSE of the
 * output against a random target, backward, SGD(lr 0.01). Reported in tokens (batch * seq) per second.
 */
export interface LstmTrainWorkload extends WorkloadBase {
  readonly kind: "lstm-train";
  readonly batch: number;
  readonly seq: number;
  readonly hidden: number;
}

/**
 * A character-level GPT train step (docs/examples/char-gpt.ts's model: pre-norm blocks with one packed
 * q/k/v projection, causal attention, a 4x tanh-GELU MLP, untied head without bias) on random int32
 * tokens [batch, context] and random next tokens: cross-entropy, backward, clipping by global norm 1,
 * AdamW (lr 1e-3, betas 0.9/0.99, weight decay 0.1 on the weight matrices only). Reported in tokens
 * (batch * context) per second.
 */
export interface GptTrainWorkload extends WorkloadBase {
  readonly kind: "gpt-train";
  readonly batch: number;
  readonly context: number;
  readonly width: number;
  readonly layers: number;
  readonly heads: number;
  readonly vocab: number;
}

/** The workloads the peers run (all but tracegrad's own). */
export type PeerWorkload = Exclude<Workload, WhileLoopWorkload>;

export function isPeerWorkload(w: Workload): w is PeerWorkload {
  return w.kind !== "while-loop";
}

export type Workload =
  | WhileLoopWorkload
  | LstmTrainWorkload
  | GptTrainWorkload
  | ScatterAddWorkload
  | LenetTrainWorkload
  | LenetInferWorkload
  | MlpTrainWorkload
  | MatmulWorkload
  | ConvWorkload
  | ChainWorkload
  | SortWorkload
  | LinalgWorkload;

/**
 * One repeat of the elementwise chain: x -> clip(x * 1.5 + 0.1, -1, 1). Cheap ops, so the chain measures
 * memory traffic and dispatch (what fusion removes) rather than a transcendental function; the clip
 * keeps any number of repeats finite. Every runner implements exactly these four ops in this order.
 */
export const CHAIN_PATTERN = ["mul 1.5", "add 0.1", "maximum -1", "minimum 1"] as const;

const CHAIN_REPEATS = 5;

export const LEARNING_RATE = 0.01;

/** How long to measure each (runner, workload) pair. */
export interface TimingBudget {
  /** Untimed calls first (compilation, caches, allocator warm-up): at least this many... */
  readonly warmup: number;
  /**
   * ...and for at least this long (a JS engine optimizes a hot function only after many calls, and
   * tracegrad's eager mode compiles a repeated gradient on its third call), within `budgetMs`.
   */
  readonly warmupMs: number;
  readonly minIterations: number;
  readonly maxIterations: number;
  /** Stop once this much time has been spent, once minIterations are done. */
  readonly budgetMs: number;
  /** Stop even before minIterations when this much time has been spent (very slow eager cases). */
  readonly hardCapMs: number;
}

/** The budget of one round (rounds.ts): a full run measures every pair ROUNDS.full times. */
export const BUDGETS: Record<BenchMode, TimingBudget> = {
  full: { warmup: 2, warmupMs: 300, minIterations: 5, maxIterations: 300, budgetMs: 600, hardCapMs: 4000 },
  quick: { warmup: 1, warmupMs: 0, minIterations: 2, maxIterations: 3, budgetMs: 30, hardCapMs: 2000 },
};

/** Rounds of the paired alternation: every runner measures every workload in each (paired.ts, rounds.ts). */
export const ROUNDS: Record<BenchMode, number> = { full: 3, quick: 1 };

export function matmulFlops(w: MatmulWorkload): number {
  return 2 * w.size ** 3;
}

/** The tokens one call of a sequence workload processes (batch * sequence length). */
export function tokensPerCall(w: LstmTrainWorkload | GptTrainWorkload): number {
  return w.kind === "gpt-train" ? w.batch * w.context : w.batch * w.seq;
}

/** The suite: full sizes, or small ones that keep every row for a smoke test. */
export function workloadsFor(mode: BenchMode): Workload[] {
  const quick = mode === "quick";
  const lenetTrainBatches = quick ? [1, 2, 4] : [1, 32, 128];
  const lenetInferBatches = quick ? [1, 4] : [1, 128];
  const mlpBatch = quick ? 4 : 128;
  const mlpSizes = quick ? [784, 32, 32, 10] : [784, 512, 512, 10];
  const matmulSizes = quick ? [16, 32, 64] : [128, 512, 1024];
  const convBatch = quick ? 2 : 32;
  const chainElements = quick ? 4096 : 1 << 20;
  const sortElements = quick ? 4096 : 1_000_000;
  const sortSize = quick ? "4096" : "1M";
  const scatterUpdates = quick ? 4096 : 1_000_000;
  const scatterSize = quick ? 256 : 65_536;
  const lstm = quick ? { batch: 4, seq: 5, hidden: 16 } : { batch: 32, seq: 50, hidden: 256 };
  const gpt = quick
    ? { batch: 2, context: 8, width: 16, layers: 1, heads: 2, vocab: 75 }
    : { batch: 16, context: 64, width: 128, layers: 4, heads: 4, vocab: 75 };
  // Row ids name the full-size workload, so quick and full reports share their rows.
  const fullTrain = [1, 32, 128];
  const fullInfer = [1, 128];
  const fullMatmul = [128, 512, 1024];
  const fullLinalg = [64, 256, 512];
  const linalgSizes = quick ? [8, 16, 32] : fullLinalg;
  return [
    ...lenetTrainBatches.map(
      (batch, i): LenetTrainWorkload => ({
        kind: "lenet-train",
        id: `lenet-train-b${fullTrain[i]}`,
        label: `LeNet train step, batch ${batch}`,
        batch,
      }),
    ),
    ...lenetInferBatches.map(
      (batch, i): LenetInferWorkload => ({
        kind: "lenet-infer",
        id: `lenet-infer-b${fullInfer[i]}`,
        label: `LeNet inference, batch ${batch}`,
        batch,
      }),
    ),
    {
      kind: "mlp-train",
      id: "mlp-train-b128",
      label: `MLP ${mlpSizes.join("-")} train step, batch ${mlpBatch}`,
      batch: mlpBatch,
      sizes: mlpSizes,
    },
    ...matmulSizes.map(
      (size, i): MatmulWorkload => ({
        kind: "matmul",
        id: `matmul-${fullMatmul[i]}`,
        label: `matmul f32 ${size}x${size}`,
        size,
      }),
    ),
    {
      kind: "conv",
      id: "conv1-fwd-bwd-b32",
      label: `conv1 1->6 5x5 on 32x32, fwd+bwd, batch ${convBatch}`,
      batch: convBatch,
      inChannels: 1,
      outChannels: 6,
      size: 32,
      kernel: 5,
      inputGradient: false,
    },
    {
      kind: "conv",
      id: "conv2-fwd-bwd-b32",
      label: `conv2 6->16 5x5 on 14x14, fwd+bwd, batch ${convBatch}`,
      batch: convBatch,
      inChannels: 6,
      outChannels: 16,
      size: 14,
      kernel: 5,
      inputGradient: true,
    },
    {
      kind: "chain",
      id: "elementwise-chain-1m",
      label: `elementwise chain, ${CHAIN_REPEATS * CHAIN_PATTERN.length} ops on ${chainElements >= 1 << 20 ? `${chainElements / (1 << 20)}M` : chainElements} f32`,
      elements: chainElements,
      repeats: CHAIN_REPEATS,
    },
    { kind: "sort", id: "sort-1m", label: `sort ${sortSize} f32`, elements: sortElements, k: null },
    { kind: "sort", id: "topk-10-1m", label: `topK 10 of ${sortSize} f32`, elements: sortElements, k: 10 },
    ...[10, 10_000].map(
      (iterations): WhileLoopWorkload => ({
        kind: "while-loop",
        id: `while-loop-${iterations}`,
        label: `whileLoop, ${iterations.toLocaleString("en-US")} iterations on 64 f32`,
        iterations,
        elements: 64,
      }),
    ),
    {
      kind: "lstm-train",
      id: "lstm-train-b32-s50-h256",
      label: `LSTM ${lstm.hidden}->${lstm.hidden} train step, batch ${lstm.batch}, seq ${lstm.seq}`,
      ...lstm,
    },
    {
      kind: "gpt-train",
      id: "gpt-train-b16-c64",
      label: `char GPT ${gpt.layers}x${gpt.width} train step (AdamW), batch ${gpt.batch}, context ${gpt.context}`,
      ...gpt,
    },
    {
      kind: "scatter-add",
      id: "scatter-add-1m-64k",
      label: `scatter-add of ${quick ? "4096" : "1M"} updates into ${quick ? "256" : "64k"} f32`,
      size: scatterSize,
      updates: scatterUpdates,
    },
    ...LINALG_OPS.flatMap((op) =>
      linalgSizes.map(
        (size, i): LinalgWorkload => ({
          kind: "linalg",
          id: `linalg-${op}-${fullLinalg[i]}`,
          label: `${op} f64 ${size}x${size}`,
          op,
          size,
        }),
      ),
    ),
  ];
}

/** Train steps are the workloads jit compiles with donated parameters and optimizer state. */
export function isTrainStep(w: Workload): boolean {
  return (
    w.kind === "lenet-train" || w.kind === "mlp-train" || w.kind === "lstm-train" || w.kind === "gpt-train"
  );
}
