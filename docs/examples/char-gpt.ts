/**
 * A character-level GPT (a decoder-only transformer, as nanoGPT's) trained on Jane Austen's
 * "Persuasion", bundled in data/text (its source and licence are in data/text/README.md).
 *
 *   npm run gpt -- [--minutes 9] [--steps 20000] [--batch 16] [--context 64] [--width 128] [--layers 4]
 *                  [--heads 4] [--lr 3e-3] [--warmup 0.03] [--weight-decay 0.1] [--clip 1] [--eval-every 100]
 *                  [--sample 600] [--temperature 0.8] [--top-k 20] [--seed 0] [--out out]
 *
 * Training stops at `--steps` or after `--minutes` of training, whichever comes first, and the
 * learning rate follows a warm-up and cosine decay over whichever of the two is further along, so a
 * run cut short by the clock still ends with a decayed learning rate. The step (loss, gradient, clip,
 * AdamW) is one jitted function with the params and optimizer state donated. Every `--eval-every`
 * steps it measures the loss on held-out text; at the end it writes the train/validation curves as an
 * SVG, prints a sampled passage, and prints the validation loss over the whole held-out tenth of the
 * book beside the unigram baseline (the cross-entropy of the letter frequencies alone).
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import {
  backend,
  jit,
  layers,
  type NdArray,
  nn,
  np,
  optim,
  random,
  tree,
  valueAndGrad,
  viz,
} from "tracegrad";

/** The model's size. */
export interface GptConfig {
  /** Distinct characters of the text. */
  vocabSize: number;
  /** The longest context the model sees (its position table's length). */
  contextLength: number;
  /** The residual stream's width (embedding size). */
  width: number;
  /** Transformer blocks. */
  layers: number;
  /** Attention heads per block; they divide the width. */
  heads: number;
}

/**
 * One pre-norm transformer block, as GPT-2's: x + attn(ln1(x)), then x + mlp(ln2(x)). The attention's
 * query, key and value come from one packed projection (`attn`, nanoGPT's c_attn), split into heads and
 * attended causally by `nn.scaledDotProductAttention`.
 */
export function block(width: number, heads: number) {
  if (width % heads !== 0) throw new RangeError(`block: heads (${heads}) must divide the width (${width})`);
  const headSize = width / heads;
  return layers.named(
    {
      ln1: layers.layerNorm(width),
      attn: layers.linear(width, 3 * width),
      proj: layers.linear(width, width),
      ln2: layers.layerNorm(width),
      fc: layers.linear(width, 4 * width),
      fcProj: layers.linear(4 * width, width),
    },
    (m, x) => {
      const [b, t] = x.shape as [number, number, number];
      // The linear layers see [B * T, C]: one GEMM each (and one for each weight's gradient) rather than
      // B batched ones, whose weight gradients would be B partial products summed afterwards.
      const rows = np.reshape(x, [b * t, width]);
      // [B * T, 3C] -> three [B, heads, T, headSize]
      const [q, k, v] = np
        .split(m.attn(m.ln1(rows)), 3, { axis: -1 })
        .map((a) => np.transpose(np.reshape(a, [b, t, heads, headSize]), [0, 2, 1, 3])) as [
        NdArray,
        NdArray,
        NdArray,
      ];
      const attended = nn.scaledDotProductAttention(q, k, v, { isCausal: true });
      const merged = np.reshape(np.transpose(attended, [0, 2, 1, 3]), [b * t, width]);
      const afterAttention = np.add(rows, m.proj(merged));
      const out = np.add(
        afterAttention,
        m.fcProj(nn.gelu(m.fc(m.ln2(afterAttention)), { approximate: "tanh" })),
      );
      return np.reshape(out, [b, t, width]);
    },
    { name: "Block" },
  );
}

/**
 * The decoder-only transformer: token and position embeddings, `layers` blocks, a final layer norm and
 * a linear head to the next character's logits. `apply(params, tokens)` maps int32 tokens [B, T]
 * (T at most the context length) to logits [B, T, vocabSize].
 */
export function charGpt(config: GptConfig) {
  const { vocabSize, contextLength, width, heads } = config;
  const blocks: Record<string, ReturnType<typeof block>> = {};
  for (let i = 0; i < config.layers; i++) blocks[`h${i}`] = block(width, heads);
  return layers.named(
    {
      wte: layers.embedding(vocabSize, width),
      wpe: layers.embedding(contextLength, width),
      ...blocks,
      lnF: layers.layerNorm(width),
      head: layers.linear(width, vocabSize, { bias: false }),
    },
    (m, tokens) => {
      const t = tokens.shape[1]!;
      if (tokens.ndim !== 2 || t > contextLength) {
        throw new RangeError(
          `charGpt: expected int32 tokens [B, T] with T <= ${contextLength}, got shape [${tokens.shape.join(", ")}]`,
        );
      }
      let x = np.add(m.wte(tokens), m.wpe(np.arange(0, t, 1, { dtype: "int32" })));
      const bound = m as unknown as Record<string, (x: NdArray) => NdArray>;
      for (let i = 0; i < config.layers; i++) x = bound[`h${i}`]!(x);
      const b = tokens.shape[0]!;
      return np.reshape(m.head(m.lnF(np.reshape(x, [b * t, width]))), [b, t, vocabSize]);
    },
    { name: "CharGPT" },
  );
}

/** The params of a `charGpt` model. */
export type GptParams = ReturnType<ReturnType<typeof charGpt>["init"]>;

/**
 * GPT-2's initialization: weights and embeddings N(0, 0.02), the projections into the residual stream
 * (`proj`, `fcProj`) N(0, 0.02 / sqrt(2 * layers)), biases zero, norms one (as the layers made them).
 */
export function gpt2Init(params: GptParams, key: random.Key, config: GptConfig): GptParams {
  const residualStd = 0.02 / Math.sqrt(2 * config.layers);
  return layers.reinit(params, key, (path, leaf, k) => {
    if (/^ln|\.ln/.test(path)) return leaf;
    if (path.endsWith(".bias")) return np.zerosLike(leaf);
    const std = /\.(proj|fcProj)\.weight$/.test(path) ? residualStd : 0.02;
    return np.multiply(random.normal(k, leaf.shape, { dtype: leaf.dtype }), std);
  });
}

/** The model's loss: the mean cross-entropy of the next character at every position of `x` [B, T]. */
export function gptLoss(model: ReturnType<typeof charGpt>, config: GptConfig) {
  return (p: GptParams, x: NdArray, y: NdArray): NdArray =>
    nn.crossEntropy(np.reshape(model.apply(p, x), [-1, config.vocabSize]), np.reshape(y, [-1]));
}

/** Options of `gptOptimizer`. */
export interface GptOptimizerOptions {
  /** The learning rate the state starts with (`withLearningRate` changes it between steps). */
  lr: number;
  /** Decoupled weight decay of the weight matrices. */
  weightDecay: number;
  /** The gradient's global norm is clipped to this. */
  clip: number;
}

/**
 * The gradient clipped by its global norm, then AdamW (betas 0.9, 0.99) whose weight decay skips the
 * biases and norms (vectors: `optim.decayMask`) and the two embedding tables, as GPT recipes do. The
 * learning rate is injected into the state (`optim.injectHyperparams`), so the host sets it every step
 * without retracing the jitted step.
 */
export function gptOptimizer(options: GptOptimizerOptions) {
  return optim.chain(
    optim.clipByGlobalNorm(options.clip),
    optim.injectHyperparams(optim.adamw)({
      lr: options.lr,
      weightDecay: options.weightDecay,
      betas: [0.9, 0.99],
      mask: (p: GptParams) => optim.decayMask(p, { exclude: /^(wte|wpe)\./ }),
    }),
  );
}

/** The state of `gptOptimizer`. */
export type GptOptimizerState = ReturnType<ReturnType<typeof gptOptimizer>["init"]>;

/** `state` with the learning rate the next update uses set to `lr`. */
export function withLearningRate(state: GptOptimizerState, lr: number): GptOptimizerState {
  const [clipState, inject] = state as [unknown, optim.InjectHyperparamsState];
  return [
    clipState,
    { ...inject, hyperparams: { ...inject.hyperparams, lr: np.array(lr, { dtype: "float64" }) } },
  ] as GptOptimizerState;
}

/** One training step: loss and gradient, the optimizer's update, the new params; jit it with donation. */
export function makeTrainStep(
  lossOf: (p: GptParams, x: NdArray, y: NdArray) => NdArray,
  optimizer: ReturnType<typeof gptOptimizer>,
) {
  return (p: GptParams, s: GptOptimizerState, x: NdArray, y: NdArray) => {
    const [loss, grads] = valueAndGrad(lossOf)(p, x, y);
    const [updates, nextState] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), nextState, loss] as const;
  };
}

/** A text as int32 character codes over its sorted alphabet. */
export interface Corpus {
  /** The distinct characters, sorted; a token is an index into it. */
  alphabet: string[];
  /** The first 90% of the text, encoded. */
  train: Int32Array;
  /** The last 10%, encoded: never trained on. */
  validation: Int32Array;
}

/** Splits `text` into training and validation parts (the last `validationFraction`) and encodes them. */
export function makeCorpus(text: string, validationFraction = 0.1): Corpus {
  const alphabet = [...new Set(text)].sort();
  const index = new Map(alphabet.map((c, i) => [c, i]));
  const codes = Int32Array.from(text, (c) => index.get(c)!);
  const cut = Math.floor(codes.length * (1 - validationFraction));
  return { alphabet, train: codes.subarray(0, cut), validation: codes.subarray(cut) };
}

/**
 * The unigram baseline in nats per character: the cross-entropy on `validation` of the character
 * frequencies counted in `train` (add-one smoothed, so an unseen character costs a finite amount).
 */
export function unigramBaseline(corpus: Corpus): number {
  const counts = new Float64Array(corpus.alphabet.length).fill(1);
  for (const c of corpus.train) counts[c]! += 1;
  const total = counts.reduce((a, b) => a + b, 0);
  let nats = 0;
  for (const c of corpus.validation) nats -= Math.log(counts[c]! / total);
  return nats / corpus.validation.length;
}

/** Windows of `length + 1` characters starting at `starts`: the inputs [B, length] and next characters. */
function windows(codes: Int32Array, starts: ArrayLike<number>, length: number): { x: NdArray; y: NdArray } {
  const b = starts.length;
  const x = new Int32Array(b * length);
  const y = new Int32Array(b * length);
  for (let i = 0; i < b; i++) {
    const s = starts[i]!;
    x.set(codes.subarray(s, s + length), i * length);
    y.set(codes.subarray(s + 1, s + length + 1), i * length);
  }
  return { x: np.array(x, { shape: [b, length] }), y: np.array(y, { shape: [b, length] }) };
}

export interface TrainOptions {
  /** The text to learn (default: the bundled "Persuasion"). */
  text?: string;
  /** Model size; the vocabulary comes from the text. */
  contextLength: number;
  width: number;
  layers: number;
  heads: number;
  batchSize: number;
  /** Stop after this many steps... */
  steps: number;
  /** ...or after this many minutes of training, whichever comes first. */
  minutes: number;
  /** Peak learning rate. */
  lr: number;
  /** The fraction of the run spent warming the learning rate up from 0. */
  warmup: number;
  weightDecay: number;
  /** Clip the gradient to this global norm. */
  clip: number;
  /** Measure the validation loss every this many steps (on `evalBatches` fixed batches). */
  evalEvery: number;
  evalBatches: number;
  /** Characters to sample at the end (0: none). */
  sampleLength: number;
  temperature: number;
  topK: number;
  seed: number;
  outDir: string;
  quiet: boolean;
}

export const defaultOptions: TrainOptions = {
  contextLength: 64,
  width: 128,
  layers: 4,
  heads: 4,
  batchSize: 16,
  steps: 20_000,
  minutes: 9,
  lr: 3e-3,
  warmup: 0.03,
  weightDecay: 0.1,
  clip: 1,
  evalEvery: 100,
  evalBatches: 4,
  sampleLength: 600,
  temperature: 0.8,
  topK: 20,
  seed: 0,
  outDir: "out",
  quiet: false,
};

export interface TrainResult {
  /** Training loss of every step. */
  losses: number[];
  /** [step, loss] of every periodic validation. */
  validation: [number, number][];
  /** The final validation loss over the whole held-out text, nats per character. */
  validationLoss: number;
  unigram: number;
  steps: number;
  /** Seconds spent in the training loop (compilation and periodic validation included). */
  seconds: number;
  sample: string;
  params: GptParams;
}

const here = dirname(fileURLToPath(import.meta.url));
/** The bundled text (see data/text/README.md). */
export const bundledTextPath = join(here, "../../data/text/persuasion.txt");

function progressBar(fraction: number, width = 28): string {
  const filled = Math.min(width, Math.round(fraction * width));
  return `[${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}]`;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = (s: string) => {
    if (!options.quiet) process.stdout.write(s);
  };
  const interactive = process.stdout.isTTY === true;
  const corpus = makeCorpus(options.text ?? readFileSync(bundledTextPath, "utf8"));
  const config: GptConfig = {
    vocabSize: corpus.alphabet.length,
    contextLength: options.contextLength,
    width: options.width,
    layers: options.layers,
    heads: options.heads,
  };
  const t = config.contextLength;
  const unigram = unigramBaseline(corpus);
  log(
    `character-level GPT on ${corpus.train.length + corpus.validation.length} characters (${corpus.alphabet.length} distinct; the last ${corpus.validation.length} held out)\n`,
  );

  const model = charGpt(config);
  const [initKey, reinitKey, dataKey, sampleKey] = random.split(random.key(options.seed), 4);
  let params = gpt2Init(model.init(initKey!), reinitKey!, config);
  const kernels = backend();
  const parameterCount = tree.leaves(params).reduce((n, leaf) => n + leaf.size, 0);
  log(
    `${config.layers} layers, ${config.heads} heads, width ${config.width}, context ${t}: ${parameterCount.toLocaleString("en-US")} parameters; kernels: ${kernels.name}, ${kernels.threads} thread${kernels.threads === 1 ? "" : "s"}\n`,
  );

  // The learning rate follows a warm-up and cosine decay over the run's progress (in 10,000ths).
  const schedule = optim.schedules.warmupCosineDecay({
    peak: options.lr,
    warmupSteps: Math.max(1, Math.round(options.warmup * 10_000)),
    decaySteps: 10_000,
    end: options.lr / 10,
  });
  const optimizer = gptOptimizer({ lr: options.lr, weightDecay: options.weightDecay, clip: options.clip });
  let optState = optimizer.init(params);
  const lossOf = gptLoss(model, config);
  const trainStep = jit(makeTrainStep(lossOf, optimizer), { donateArgnums: [0, 1] });
  const evalLoss = jit(lossOf);

  // Fixed validation batches for the periodic check: evenly spaced windows over the held-out text.
  const evalWindows = Array.from({ length: options.evalBatches }, (_, i) => {
    const n = options.batchSize;
    const span = corpus.validation.length - t - 1;
    const starts = Array.from({ length: n }, (_, j) =>
      Math.floor(((i * n + j) / (options.evalBatches * n)) * span),
    );
    return windows(corpus.validation, starts, t);
  });
  const periodicValidation = (p: GptParams): number =>
    evalWindows.reduce((total, { x, y }) => total + evalLoss(p, x, y).item(), 0) / evalWindows.length;

  const losses: number[] = [];
  const validation: [number, number][] = [];
  const budgetMs = options.minutes * 60_000;
  const started = performance.now();
  let step = 0;
  let running = 0;
  let lastLine = started;
  while (step < options.steps) {
    const elapsed = performance.now() - started;
    if (elapsed >= budgetMs) break;
    // How far along the run is: by steps or by the clock, whichever is further.
    const progress = Math.max(step / options.steps, elapsed / budgetMs);
    optState = withLearningRate(optState, schedule(Math.min(9_999, Math.floor(progress * 10_000))));
    const offsets = random
      .randint(random.foldIn(dataKey!, step), [options.batchSize], 0, corpus.train.length - t - 1)
      .toTypedArray();
    const { x, y } = windows(corpus.train, offsets, t);
    let loss: NdArray;
    [params, optState, loss] = trainStep(params, optState, x, y);
    const value = loss.item();
    losses.push(value);
    running = step === 0 ? value : 0.98 * running + 0.02 * value;
    step++;
    const now = performance.now();
    if (step % options.evalEvery === 0) {
      const v = periodicValidation(params);
      validation.push([step, v]);
      if (!interactive) {
        const rate = step / ((now - started) / 1000);
        log(
          `step ${step} loss ${running.toFixed(3)} validation ${v.toFixed(3)} (${rate.toFixed(2)} steps/s, ${((now - started) / 1000).toFixed(0)} s)\n`,
        );
      }
    }
    if (interactive && (now - lastLine > 250 || step === options.steps)) {
      lastLine = now;
      const rate = step / ((now - started) / 1000);
      const last = validation[validation.length - 1];
      log(
        `\r${progressBar(Math.max(step / options.steps, (now - started) / budgetMs))} step ${step} loss ${running.toFixed(3)}${last ? ` val ${last[1].toFixed(3)}` : ""} ${rate.toFixed(2)} steps/s ${((now - started) / 1000).toFixed(0)} s `,
      );
    }
  }
  const seconds = (performance.now() - started) / 1000;
  if (interactive) log("\n");
  log(
    `trained ${step} steps (${(step * options.batchSize * t).toLocaleString("en-US")} characters) in ${seconds.toFixed(1)} s\n`,
  );

  mkdirSync(options.outDir, { recursive: true });
  const chartPath = join(options.outDir, "char-gpt-curves.svg");
  writeFileSync(
    chartPath,
    viz.lineChart(
      [
        {
          label: "training loss (per step)",
          points: losses.map((l, i) => [i + 1, l]),
          color: "#1f77b4",
        },
        { label: "validation loss", points: validation, color: "#d62728" },
        {
          label: "unigram baseline",
          points: [
            [0, unigram],
            [Math.max(1, step), unigram],
          ],
          color: "#7f7f7f",
        },
      ],
      {
        title: "character-level GPT on Persuasion (tracegrad, AdamW)",
        xLabel: "step",
        leftLabel: "cross-entropy, nats/char",
        xRange: [0, Math.max(1, step)],
        clipLeftQuantile: 0.99,
      },
    ),
  );
  log(`wrote ${chartPath}\n`);

  const sample = options.sampleLength > 0 ? generate(model, params, corpus, config, options, sampleKey!) : "";
  if (sample !== "")
    log(`\nsampled at temperature ${options.temperature}, top-k ${options.topK}:\n\n${sample}\n\n`);

  // The whole held-out text in consecutive windows (each character predicted from 0..T-1 before it).
  const validationLoss = heldOutLoss(evalLoss, params, corpus.validation, t, 64);
  log(`validation loss ${validationLoss.toFixed(3)} nats/char (unigram baseline ${unigram.toFixed(3)})\n`);
  return { losses, validation, validationLoss, unigram, steps: step, seconds, sample, params };
}

/** The mean loss over every character of `codes` after the first, in consecutive windows of `t`. */
function heldOutLoss(
  evalLoss: (p: GptParams, x: NdArray, y: NdArray) => NdArray,
  params: GptParams,
  codes: Int32Array,
  t: number,
  batch: number,
): number {
  const starts: number[] = [];
  for (let s = 0; s + t + 1 <= codes.length; s += t) starts.push(s);
  let total = 0;
  for (let i = 0; i < starts.length; i += batch) {
    const chunk = starts.slice(i, i + batch);
    // Pad the last batch with copies of its first window, and count only the real ones.
    while (chunk.length < batch) chunk.push(chunk[0]!);
    const { x, y } = windows(codes, chunk, t);
    const real = Math.min(batch, starts.length - i);
    total += evalLoss(params, x, y).item() * real;
  }
  return total / starts.length;
}

/**
 * Samples `sampleLength` characters after a prompt taken from the held-out text: each step runs the
 * model on the last `contextLength` characters (right-padded until there are that many; the causal mask
 * keeps the padding from mattering) and draws the next one with `random.categorical` at the temperature
 * from the `topK` most likely.
 */
function generate(
  model: ReturnType<typeof charGpt>,
  params: GptParams,
  corpus: Corpus,
  config: GptConfig,
  options: TrainOptions,
  key: random.Key,
): string {
  const t = config.contextLength;
  const next = jit((p: GptParams, window: NdArray, position: NdArray, k: random.Key) => {
    const logits = np.take(model.apply(p, window), position, { axis: 1 }); // [1, 1, vocab]
    const filtered = random.topKFilter(np.reshape(logits, [config.vocabSize]), options.topK);
    return random.categorical(k, filtered, { temperature: options.temperature });
  });
  const promptLength = Math.floor(t / 2);
  const codes: number[] = Array.from(corpus.validation.subarray(0, promptLength));
  for (let i = 0; i < options.sampleLength; i++) {
    const context = codes.slice(-t);
    const window = new Int32Array(t);
    window.set(context);
    const position = np.array(context.length - 1, { dtype: "int32" });
    codes.push(next(params, np.array(window, { shape: [1, t] }), position, random.foldIn(key, i)).item());
  }
  return codes.map((c) => corpus.alphabet[c]).join("");
}

function parseArgs(argv: readonly string[]): TrainOptions {
  const get = (name: string, fallback: number): number => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return fallback;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v)) throw new Error(`--${name} expects a number, got ${argv[i + 1]}`);
    return v;
  };
  const outIndex = argv.indexOf("--out");
  const d = defaultOptions;
  return {
    contextLength: get("context", d.contextLength),
    width: get("width", d.width),
    layers: get("layers", d.layers),
    heads: get("heads", d.heads),
    batchSize: get("batch", d.batchSize),
    steps: get("steps", d.steps),
    minutes: get("minutes", d.minutes),
    lr: get("lr", d.lr),
    warmup: get("warmup", d.warmup),
    weightDecay: get("weight-decay", d.weightDecay),
    clip: get("clip", d.clip),
    evalEvery: get("eval-every", d.evalEvery),
    evalBatches: get("eval-batches", d.evalBatches),
    sampleLength: get("sample", d.sampleLength),
    temperature: get("temperature", d.temperature),
    topK: get("top-k", d.topK),
    seed: get("seed", d.seed),
    outDir: outIndex >= 0 ? argv[outIndex + 1]! : d.outDir,
    quiet: argv.includes("--quiet"),
  };
}

// Run as a script (not when imported by the tests).
if (process.argv[1] && /char-gpt\.ts$/.test(process.argv[1])) {
  train(parseArgs(process.argv.slice(2))).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
