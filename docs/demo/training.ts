/**
 * The demo's training, shared by the page's Worker and the Node side of its browser test: LeNet
 * (docs/examples/lenet.ts), SGD with momentum and a cosine-decayed learning rate, as `npm run train`.
 */
import { DeviceArray, io, jit, type NdArray, nn, np, optim, random, tree, valueAndGrad } from "tracegrad";
import { type LeNetParams, lenet } from "../examples/lenet.js";

/** The normalization of training, also applied to a drawn digit. */
export const MNIST_NORMALIZATION = { mean: 0.1307, std: 0.3081 } as const;

export interface TrainerOptions {
  readonly batchSize: number;
  readonly lr: number;
  readonly momentum: number;
  readonly seed: number;
  /** Epochs the learning rate decays over. */
  readonly epochs: number;
  /**
   * The learning rate: cosine-decayed to zero over `epochs`, or constant. The decay takes Math.cos, which
   * engines compute differently in the last bit (Chrome's V8 and Node 20's do), the constant rate does not.
   */
  readonly schedule: "cosine" | "constant";
}

export const DEFAULT_TRAINER_OPTIONS: TrainerOptions = {
  batchSize: 64,
  lr: 0.05,
  momentum: 0.9,
  seed: 0,
  epochs: 3,
  schedule: "cosine",
};

export interface Trainer {
  /** Training steps in one epoch (whole batches only). */
  readonly stepsPerEpoch: number;
  /** The batches of an epoch (1-based), in the order its key gives. */
  batches(epoch: number): Iterable<io.Batch>;
  /**
   * One training step on a batch; returns its loss as a scalar array (on the GPU under WebGPU, where the
   * parameters stay too: read it with `valueOf`).
   */
  step(batch: io.Batch): NdArray;
  /** The fraction of the test split classified correctly. */
  evaluate(): Promise<number>;
  /** Class probabilities of images [N, 1, 32, 32], as an [N, 10] array. */
  probabilities(images: NdArray): NdArray;
}

/** A LeNet trainer over `data`, its parameters from `random.key(seed)` as in docs/examples/lenet-mnist.ts. */
export function createTrainer(data: io.mnist.MnistSplits, options: TrainerOptions): Trainer {
  const [initKey, dataKey] = random.split(random.key(options.seed));
  // lenet.init gives float32; train in the data's float dtype.
  const dtype = data.train.images.dtype;
  let params = tree.map((a: NdArray) => a.astype(dtype), lenet.init(initKey!));
  const stepsPerEpoch = Math.floor(data.train.labels.shape[0]! / options.batchSize);
  const lr =
    options.schedule === "cosine"
      ? optim.schedules.cosineDecay({
          init: options.lr,
          decaySteps: Math.max(1, stepsPerEpoch * options.epochs),
        })
      : options.lr;
  const optimizer = optim.sgd({ lr, momentum: options.momentum });
  let optState = optimizer.init(params);
  const lossFn = (p: LeNetParams, x: NdArray, y: NdArray) => nn.crossEntropy(lenet.apply(p, x), y);
  const trainStep = jit(
    (p: LeNetParams, s: typeof optState, x: NdArray, y: NdArray) => {
      const [loss, grads] = valueAndGrad(lossFn)(p, x, y);
      const [updates, nextState] = optimizer.update(grads, s, p);
      return [optim.applyUpdates(p, updates), nextState, loss] as const;
    },
    { donateArgnums: [0, 1] },
  );
  const correctCount = jit((p: LeNetParams, x: NdArray, y: NdArray) =>
    np.sum(np.equal(np.argmax(lenet.apply(p, x), { axis: 1 }), y)),
  );
  const softmax = jit((p: LeNetParams, x: NdArray) => nn.softmax(lenet.apply(p, x), { axis: 1 }));
  const testCount = data.test.labels.shape[0]!;
  return {
    stepsPerEpoch,
    *batches(epoch) {
      let step = 0;
      for (const batch of io.batches(random.foldIn(dataKey!, epoch), data.train, options.batchSize, {
        dropLast: true,
      })) {
        if (step++ >= stepsPerEpoch) return;
        yield batch;
      }
    },
    step({ x, y }) {
      let loss: NdArray;
      [params, optState, loss] = trainStep(params, optState, x, y);
      return loss;
    },
    async evaluate() {
      let correct = 0;
      const chunk = 500;
      for (let start = 0; start < testCount; start += chunk) {
        const stop = Math.min(start + chunk, testCount);
        const x = np.slice(data.test.images, [{ start, stop }]);
        const y = np.slice(data.test.labels, [{ start, stop }]);
        correct += await valueOf(correctCount(params, x, y));
      }
      return correct / testCount;
    },
    probabilities(images) {
      return softmax(params, images);
    },
  };
}

/** The value of a one-element array, on the host or on the GPU (read back asynchronously). */
export async function valueOf(x: NdArray): Promise<number> {
  return x instanceof DeviceArray ? (await x.data())[0]! : x.item();
}

/** The losses of the first `steps` training steps of epoch 1 (the browser test compares page and Node). */
export function firstLosses(trainer: Trainer, steps: number): number[] {
  const losses: number[] = [];
  for (const batch of trainer.batches(1)) {
    if (losses.length >= steps) break;
    losses.push(trainer.step(batch).item());
  }
  return losses;
}
