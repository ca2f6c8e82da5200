/**
 * The main job: train the tutorial's LeNet on the bundled MNIST digits, the functional way.
 *
 *   npm run train -- [--epochs 5] [--batch 64] [--lr 0.05] [--seed 0] [--max-batches N] [--out out]
 *                    [--save ckpt.safetensors] [--resume ckpt.safetensors] [--backend wasm|js]
 *
 * A training step is one pure function (loss, gradient, optimizer update) compiled by `jit`, with the
 * parameters and optimizer state donated so the step writes the new ones over the old buffers.
 * `--save` writes a checkpoint (params, optimizer state, epoch) after every epoch (`{epoch}` in the path
 * keeps one file per epoch); `--resume` continues from one with the next epoch. Given the same options,
 * the resumed run follows the same trajectory as one that never stopped. `--backend js` runs the jitted
 * steps on the portable JS kernels instead of the WebAssembly ones (to compare their speed).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import * as E from "fp-ts/lib/Either.js";
import {
  backend,
  jit,
  layers,
  type NdArray,
  nn,
  np,
  optim,
  random,
  setBackend,
  valueAndGrad,
  viz,
} from "tracegrad";
import { io } from "tracegrad/node";
import { type LeNetParams, lenet } from "./lenet.js";

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  seed: number;
  /** Stop each epoch after this many batches (for quick runs and tests). */
  maxBatches: number;
  /** Evaluate on at most this many test images. */
  maxTest: number;
  outDir: string;
  quiet: boolean;
  /** Write a checkpoint here after every epoch; `{epoch}` in the path is replaced by the epoch. */
  savePath?: string;
  /** Continue from this checkpoint. */
  resumePath?: string;
}

export interface TrainResult {
  testAccuracy: number[];
  losses: number[];
  seconds: number;
  params: LeNetParams;
}

const MNIST_MEAN = 0.1307;
const MNIST_STD = 0.3081;

/**
 * uint8 pixel bytes [N, 1, 32, 32] to the network's float32 input: scaled to [0, 1] and normalized
 * (torchvision's ToTensor then Normalize). Called inside the jitted step, so the host holds only the
 * bytes: the conversion is one fused loop (in wasm: a uint8 -> float32 cast) per batch.
 */
export function pixelsToInput(bytes: NdArray): NdArray {
  return np.divide(np.subtract(np.divide(bytes.astype("float32"), 255), MNIST_MEAN), MNIST_STD);
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
  const path = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    epochs: get("epochs", 5),
    batchSize: get("batch", 64),
    lr: get("lr", 0.05),
    momentum: get("momentum", 0.9),
    seed: get("seed", 0),
    maxBatches: get("max-batches", Number.POSITIVE_INFINITY),
    maxTest: get("max-test", Number.POSITIVE_INFINITY),
    outDir: outIndex >= 0 ? argv[outIndex + 1]! : "out",
    quiet: argv.includes("--quiet"),
    savePath: path("save"),
    resumePath: path("resume"),
  };
}

function progressBar(done: number, total: number, width = 28): string {
  const filled = Math.round((done / total) * width);
  return `[${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}]`;
}

export async function train(options: TrainOptions): Promise<TrainResult> {
  const log = (s: string) => {
    if (!options.quiet) process.stdout.write(s);
  };
  // A progress bar redrawn in place on a terminal; into a file or a pipe, one line per epoch.
  const interactive = process.stdout.isTTY === true;
  // The images as uint8 bytes: no float copy on the host (pixelsToInput converts inside the jitted step).
  const data = io.mnist.loadBundled({ dtype: "uint8" });
  const testCount = Math.min(options.maxTest, data.test.labels.shape[0]!);
  log(
    `LeNet on the bundled MNIST digits: ${data.train.labels.shape[0]} training and ${testCount} test images (32x32)\n`,
  );

  const [initKey, dataKey] = random.split(random.key(options.seed));
  let params = lenet.init(initKey!);
  log(`${layers.summary(lenet, params)}\n`);
  const kernels = backend();
  log(`kernels: ${kernels.name}, ${kernels.threads} thread${kernels.threads === 1 ? "" : "s"}\n`);

  // SGD with momentum; the learning rate follows a cosine decay to zero over the whole run, which
  // settles the last epoch instead of letting it bounce around the minimum.
  const stepsPerEpoch = Math.min(
    Math.floor(data.train.labels.shape[0]! / options.batchSize),
    options.maxBatches,
  );
  const lr = optim.schedules.cosineDecay({
    init: options.lr,
    decaySteps: Math.max(1, stepsPerEpoch * options.epochs),
  });
  const optimizer = optim.sgd({ lr, momentum: options.momentum });
  let optState = optimizer.init(params);
  let firstEpoch = 1;
  if (options.resumePath) {
    const loaded = await io.load(options.resumePath, { params, optState, epoch: 0 });
    if (E.isLeft(loaded)) throw new Error(`--resume ${options.resumePath}: ${loaded.left.message}`);
    ({ params, optState } = loaded.right);
    firstEpoch = loaded.right.epoch + 1;
    log(`resumed from ${options.resumePath} after epoch ${loaded.right.epoch}\n`);
  }

  const lossFn = (p: LeNetParams, x: NdArray, y: NdArray) =>
    nn.crossEntropy(lenet.apply(p, pixelsToInput(x)), y);
  const trainStep = jit(
    (p: LeNetParams, s: typeof optState, x: NdArray, y: NdArray) => {
      const [loss, grads] = valueAndGrad(lossFn)(p, x, y);
      const [updates, nextState] = optimizer.update(grads, s, p);
      return [optim.applyUpdates(p, updates), nextState, loss] as const;
    },
    { donateArgnums: [0, 1] },
  );
  const predict = jit((p: LeNetParams, x: NdArray) =>
    np.argmax(lenet.apply(p, pixelsToInput(x)), { axis: 1 }),
  );

  const evaluate = (p: LeNetParams): number => {
    let correct = 0;
    const chunk = 500;
    for (let start = 0; start < testCount; start += chunk) {
      const stop = Math.min(start + chunk, testCount);
      const x = np.slice(data.test.images, [{ start, stop }]);
      const y = np.slice(data.test.labels, [{ start, stop }]);
      correct += np.sum(np.equal(predict(p, x), y)).item();
    }
    return correct / testCount;
  };

  const losses: number[] = [];
  const testAccuracy: number[] = [];
  const started = performance.now();
  for (let epoch = firstEpoch; epoch <= options.epochs; epoch++) {
    const epochKey = random.foldIn(dataKey!, epoch);
    const epochStart = performance.now();
    let step = 0;
    let seen = 0;
    let running = 0;
    for (const { x, y } of io.batches(epochKey, data.train, options.batchSize, { dropLast: true })) {
      if (step >= options.maxBatches) break;
      let loss: NdArray;
      [params, optState, loss] = trainStep(params, optState, x, y);
      const value = loss.item();
      losses.push(value);
      running = step === 0 ? value : 0.95 * running + 0.05 * value;
      step++;
      seen += x.shape[0]!;
      if (interactive && (step % 5 === 0 || step === stepsPerEpoch)) {
        const rate = seen / ((performance.now() - epochStart) / 1000);
        log(
          `\repoch ${epoch}/${options.epochs} ${progressBar(step, stepsPerEpoch)} ${step}/${stepsPerEpoch} loss ${running.toFixed(4)} ${rate.toFixed(0)} img/s`,
        );
      }
    }
    if (!interactive) {
      const rate = seen / ((performance.now() - epochStart) / 1000);
      log(
        `epoch ${epoch}/${options.epochs} ${step} steps, loss ${running.toFixed(4)} ${rate.toFixed(0)} img/s`,
      );
    }
    const accuracy = evaluate(params);
    testAccuracy.push(accuracy);
    log(
      `  test accuracy ${(accuracy * 100).toFixed(2)}%  (${((performance.now() - epochStart) / 1000).toFixed(1)} s)\n`,
    );
    if (options.savePath) {
      await io.save(options.savePath.replace("{epoch}", String(epoch)), { params, optState, epoch });
    }
  }
  const seconds = (performance.now() - started) / 1000;
  log(
    `trained ${options.epochs - firstEpoch + 1} epochs in ${seconds.toFixed(1)} s; final test accuracy ${(testAccuracy[testAccuracy.length - 1]! * 100).toFixed(2)}%\n`,
  );

  mkdirSync(options.outDir, { recursive: true });
  const svg = viz.lineChart(
    [
      {
        label: "training loss (per step)",
        points: losses.map((l, i) => [firstEpoch - 1 + (i + 1) / stepsPerEpoch, l]),
        color: "#1f77b4",
      },
      {
        label: "test accuracy (per epoch)",
        points: testAccuracy.map((a, i) => [firstEpoch + i, a]),
        color: "#d62728",
        axis: "right",
      },
    ],
    {
      title: "LeNet on MNIST (tracegrad, SGD + momentum)",
      xLabel: "epoch",
      leftLabel: "cross-entropy loss",
      rightLabel: "test accuracy",
      // Accuracy from 0.8 up: its points sit above the loss curve, which is low by the first epoch's end.
      rightRange: [Math.min(0.8, ...testAccuracy), 1],
      xRange: [firstEpoch - 1, options.epochs],
      // The first steps' spikes would flatten the rest of the loss curve.
      clipLeftQuantile: 0.99,
    },
  );
  const chartPath = join(options.outDir, "lenet-curves.svg");
  writeFileSync(chartPath, svg);
  log(`wrote ${chartPath}\n`);
  return { testAccuracy, losses, seconds, params };
}

// Run as a script (not when imported by the tests).
if (process.argv[1] && /lenet-mnist\.ts$/.test(process.argv[1])) {
  const argv = process.argv.slice(2);
  const backendIndex = argv.indexOf("--backend");
  if (backendIndex >= 0) {
    const kind = argv[backendIndex + 1];
    if (kind !== "js" && kind !== "wasm") throw new Error(`--backend expects js or wasm, got ${kind}`);
    setBackend(kind);
  }
  train(parseArgs(argv)).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
