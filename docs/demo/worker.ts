/**
 * The demo's Worker: trains LeNet on the bundled digits and classifies drawn ones. In a dedicated Worker
 * with cross-origin isolation the large kernels run on Web Workers too (startThreads).
 */
import * as E from "fp-ts/lib/Either.js";
import { backend, DeviceArray, io, setBackend, startThreads } from "tracegrad";
import { decodeDigits } from "./digits.js";
import { pageOptions, type Reply, type Request } from "./protocol.js";
import {
  createTrainer,
  DEFAULT_TRAINER_OPTIONS,
  firstLosses,
  MNIST_NORMALIZATION,
  type Trainer,
  valueOf,
} from "./training.js";

interface WorkerScope {
  location: { search: string; href: string };
  postMessage(message: Reply): void;
  onmessage: ((event: { data: Request }) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;
const post = (reply: Reply) => scope.postMessage(reply);

/** Fetches a gzipped file next to this script and gunzips it. */
async function gunzipped(name: string): Promise<Uint8Array> {
  const response = await fetch(new URL(name, scope.location.href));
  if (!response.ok || !response.body) throw new Error(`${name}: HTTP ${response.status}`);
  const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Lets queued messages (a drawn digit) through between training steps; faster than setTimeout's clamp. */
const channel = new MessageChannel() as unknown as {
  port1: { onmessage: (() => void) | null };
  port2: { postMessage(message: null): void };
};
const yieldToEvents = (): Promise<void> =>
  new Promise((resolve) => {
    channel.port1.onmessage = () => resolve();
    channel.port2.postMessage(null);
  });

async function main(): Promise<void> {
  const options = pageOptions(scope.location.search);
  if (!options.relaxedSimd) setBackend("wasm", { relaxedSimd: false });
  await startThreads();
  // WebGPU in a Worker too; where there is none the page says why (a WebgpuUnavailableError).
  if (options.backend === "webgpu") await setBackend("webgpu");
  const files = {
    images: await gunzipped("digits-images.idx.gz"),
    labels: await gunzipped("digits-labels.idx.gz"),
  };
  const data = decodeDigits(files, { dtype: "float32", normalize: MNIST_NORMALIZATION });
  const trainer = createTrainer(data, { ...DEFAULT_TRAINER_OPTIONS, epochs: options.epochs });
  let float64Trainer: Trainer | null = null;
  const handle = async (request: Request): Promise<void> => {
    if (request.type === "predict") {
      // The drawn digit as an IDX image, prepared by the library as MNIST's own files are.
      const image = { shape: [1, 28, 28], elementType: "uint8", data: request.pixels } as const;
      const label = { shape: [1], elementType: "uint8", data: new Uint8Array(1) } as const;
      const input = io.mnist.fromIdx(image, label, { normalize: MNIST_NORMALIZATION });
      if (E.isLeft(input)) throw new Error(input.left.message);
      const out = trainer.probabilities(input.right.images);
      const probabilities = out instanceof DeviceArray ? await out.data() : out.toTypedArray();
      post({ type: "prediction", id: request.id, probabilities: Array.from(probabilities) });
    } else if (request.type === "losses") {
      float64Trainer ??= createTrainer(
        decodeDigits(files, { dtype: "float64", normalize: MNIST_NORMALIZATION }),
        {
          ...DEFAULT_TRAINER_OPTIONS,
          schedule: "constant",
        },
      );
      post({
        type: "losses",
        id: request.id,
        losses: firstLosses(float64Trainer, request.steps),
        backend: backend(),
      });
    } else {
      // Awaited so that a failure (in a step or the evaluation) reaches the page as an error.
      await train(trainer, request.epochs);
    }
  };
  scope.onmessage = (event) => {
    handle(event.data).catch((error: unknown) =>
      post({ type: "error", message: error instanceof Error ? error.message : String(error) }),
    );
  };
  post({
    type: "ready",
    backend: backend(),
    trainImages: data.train.labels.shape[0]!,
    testImages: data.test.labels.shape[0]!,
  });
}

let training = false;

async function train(trainer: Trainer, epochs: number): Promise<void> {
  if (training) return;
  training = true;
  for (let epoch = 1; epoch <= epochs; epoch++) {
    let step = 0;
    const started = performance.now();
    for (const batch of trainer.batches(epoch)) {
      // Under WebGPU this waits for the step's loss (the chart draws every step); the parameters stay on the GPU.
      const loss = await valueOf(trainer.step(batch));
      post({ type: "loss", epoch, step: ++step, loss });
      await yieldToEvents();
    }
    const imagesPerSecond =
      (step * DEFAULT_TRAINER_OPTIONS.batchSize) / ((performance.now() - started) / 1000);
    post({
      type: "epoch",
      epoch,
      accuracy: await trainer.evaluate(),
      imagesPerSecond,
      stepsPerEpoch: trainer.stepsPerEpoch,
    });
    await yieldToEvents();
  }
  post({ type: "done" });
  training = false;
}

main().catch((error: unknown) =>
  post({ type: "error", message: error instanceof Error ? error.message : String(error) }),
);
