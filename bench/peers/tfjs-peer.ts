/**
 * TensorFlow.js side of the benchmark, a runner process (see protocol.ts): `tfjs-peer.ts cpu|wasm`.
 * Eager by nature (TF.js has no tracing compiler); layouts are TF.js's native NHWC and HWIO. Train steps use tf.variableGrads and tf.train.sgd, as a TF.js user would write them.
 */
import type * as TF from "@tensorflow/tfjs-core";
import { errorMessage, type Measurement, timeSync } from "../timing.js";
import { CHAIN_PATTERN, LEARNING_RATE, type PeerWorkload } from "../workloads.js";
import { isMissingModule, peerWorkload, serveRequests } from "./protocol.js";

type Tf = typeof TF;

interface Dense {
  weight: TF.Variable;
  bias: TF.Variable;
}

function dense(tf: Tf, inputs: number, outputs: number): Dense {
  return {
    weight: tf.variable(tf.randomNormal([inputs, outputs], 0, 1 / Math.sqrt(inputs))),
    bias: tf.variable(tf.zeros([outputs])),
  };
}

function conv(tf: Tf, inChannels: number, outChannels: number, kernel: number): Dense {
  return {
    weight: tf.variable(tf.randomNormal([kernel, kernel, inChannels, outChannels], 0, 0.1)),
    bias: tf.variable(tf.zeros([outChannels])),
  };
}

function lenet(tf: Tf) {
  const p = {
    conv1: conv(tf, 1, 6, 5),
    conv2: conv(tf, 6, 16, 5),
    fc1: dense(tf, 400, 120),
    fc2: dense(tf, 120, 84),
    fc3: dense(tf, 84, 10),
  };
  const linear = (layer: Dense, h: TF.Tensor2D) =>
    tf.add(tf.matMul(h, layer.weight), layer.bias) as TF.Tensor2D;
  const convRelu = (layer: Dense, h: TF.Tensor4D): TF.Tensor4D => {
    const activated = tf.relu(tf.add(tf.conv2d(h, layer.weight as TF.Tensor4D, 1, "valid"), layer.bias));
    return tf.maxPool(activated as TF.Tensor4D, 2, 2, "valid");
  };
  return (x: TF.Tensor4D): TF.Tensor2D => {
    const features = convRelu(p.conv2, convRelu(p.conv1, x));
    let h = tf.reshape(features, [x.shape[0], 400]) as TF.Tensor2D;
    h = tf.relu(linear(p.fc1, h));
    h = tf.relu(linear(p.fc2, h));
    return linear(p.fc3, h);
  };
}

function mlp(tf: Tf, sizes: readonly number[]) {
  const layers = sizes.slice(1).map((out, i) => dense(tf, sizes[i]!, out));
  return (x: TF.Tensor2D): TF.Tensor2D => {
    let h = x;
    layers.forEach((layer, i) => {
      h = tf.add(tf.matMul(h, layer.weight), layer.bias) as TF.Tensor2D;
      if (i < layers.length - 1) h = tf.relu(h);
    });
    return h;
  };
}

/** One step: loss and gradients of all trainable variables, SGD update, loss read back. */
function trainStep(tf: Tf, loss: () => TF.Scalar): () => void {
  const optimizer = tf.train.sgd(LEARNING_RATE);
  return () => {
    const value = tf.tidy(() => {
      const { value: v, grads } = tf.variableGrads(loss);
      optimizer.applyGradients(grads);
      return v;
    });
    value.dataSync();
    value.dispose();
  };
}

function callFor(tf: Tf, w: PeerWorkload): () => void {
  switch (w.kind) {
    case "lenet-train": {
      const model = lenet(tf);
      const x = tf.randomNormal([w.batch, 32, 32, 1]) as TF.Tensor4D;
      const y = tf.randomNormal([w.batch, 10]);
      return trainStep(tf, () => tf.mean(tf.squaredDifference(model(x), y)) as TF.Scalar);
    }
    case "lenet-infer": {
      const model = lenet(tf);
      const x = tf.randomNormal([w.batch, 32, 32, 1]) as TF.Tensor4D;
      return () => tf.tidy(() => void model(x));
    }
    case "mlp-train": {
      const model = mlp(tf, w.sizes);
      const classes = w.sizes[w.sizes.length - 1]!;
      const x = tf.randomNormal([w.batch, w.sizes[0]!]) as TF.Tensor2D;
      const labels = tf.randomUniform([w.batch], 0, classes, "int32") as TF.Tensor1D;
      const target = tf.oneHot(labels, classes);
      // Cross-entropy on class labels, written out: mean over the batch of -log_softmax at the label.
      return trainStep(
        tf,
        () => tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(model(x)), target), 1))) as TF.Scalar,
      );
    }
    case "matmul": {
      const a = tf.randomNormal([w.size, w.size]);
      const b = tf.randomNormal([w.size, w.size]);
      return () => tf.matMul(a, b).dispose();
    }
    case "conv": {
      const out = w.size - w.kernel + 1;
      const x = tf.randomNormal([w.batch, w.size, w.size, w.inChannels]) as TF.Tensor4D;
      const weight = tf.randomNormal([w.kernel, w.kernel, w.inChannels, w.outChannels]) as TF.Tensor4D;
      const bias = tf.randomNormal([w.outChannels]);
      const cotangent = tf.randomNormal([w.batch, out, out, w.outChannels]);
      const project = (input: TF.Tensor4D, wt: TF.Tensor4D, b: TF.Tensor) =>
        tf.sum(tf.mul(tf.add(tf.conv2d(input, wt, 1, "valid"), b), cotangent));
      const gradients = w.inputGradient
        ? () =>
            tf.grads((input, wt, b) => project(input as TF.Tensor4D, wt as TF.Tensor4D, b!))([
              x,
              weight,
              bias,
            ])
        : () => tf.grads((wt, b) => project(x, wt as TF.Tensor4D, b!))([weight, bias]);
      return () => tf.tidy(() => void gradients());
    }
    case "sort": {
      // tf has no sort: topk of every element is the full (descending) sort.
      const x = tf.randomNormal([w.elements]);
      const k = w.k ?? w.elements;
      return () =>
        tf.tidy(() => {
          const { values, indices } = tf.topk(x, k);
          values.dataSync();
          indices.dataSync();
        });
    }
    case "linalg":
      throw new Error("TensorFlow.js has no float64 and no cholesky, eigh, svd or solve");
    case "scatter-add": {
      // scatterND sums repeated indices; added to x, as x.at(i).add(u).
      const x = tf.zeros([w.size]);
      const positions = tf.randomUniformInt([w.updates, 1], 0, w.size);
      const updates = tf.randomNormal([w.updates]);
      return () =>
        tf.tidy(() => {
          tf.add(x, tf.scatterND(positions, updates, [w.size])).dataSync();
        });
    }
    case "gpt-train":
      throw new Error("TF.js row not written (no transformer written for it)");
    case "lstm-train":
      throw new Error("TF.js row not written (its tf.layers.lstm is a Keras layer, not a functional op)");
    case "chain": {
      const x = tf.randomNormal([w.elements]);
      return () =>
        tf.tidy(() => {
          let y: TF.Tensor = x;
          for (let r = 0; r < w.repeats; r++) {
            for (const op of CHAIN_PATTERN) {
              if (op === "mul 1.5") y = tf.mul(y, 1.5);
              else if (op === "add 0.1") y = tf.add(y, 0.1);
              else if (op === "maximum -1") y = tf.maximum(y, -1);
              else y = tf.minimum(y, 1);
            }
          }
        });
    }
  }
}

const backendName = process.argv[2] === "wasm" ? "wasm" : "cpu";
let tf: Tf;

await serveRequests(
  async () => {
    try {
      tf = await import("@tensorflow/tfjs-core");
      // tfjs-core alone has no gradient functions; the @tensorflow/tfjs bundle registers them like this.
      await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");
      await import(backendName === "cpu" ? "@tensorflow/tfjs-backend-cpu" : "@tensorflow/tfjs-backend-wasm");
    } catch (e) {
      if (!isMissingModule(e)) throw e;
      return { status: "not installed", description: `TF.js ${backendName}: ${errorMessage(e)}` };
    }
    // The wasm and cpu modules each register a backend; the highest-priority one would win otherwise.
    if (!(await tf.setBackend(backendName)))
      throw new Error(`TF.js could not initialize its ${backendName} backend`);
    await tf.ready();
    let wasm = "";
    if (backendName === "wasm") {
      const module = await import("@tensorflow/tfjs-backend-wasm");
      const simd = String(await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT"));
      wasm = ` (SIMD ${simd}), ${module.getThreadsCount()} thread(s)`;
    }
    return { status: "ok", description: `TF.js ${tf.version_core}, ${backendName} backend${wasm}` };
  },
  async (request) => {
    const w = peerWorkload(request);
    // A scope per workload frees its inputs afterwards.
    tf.engine().startScope();
    let measurement: Measurement;
    try {
      const timing = timeSync(callFor(tf, w), request.budget);
      measurement = { ok: true, timing };
      console.error(`tfjs-${backendName}  ${w.id.padEnd(22)} ${timing.medianMs.toFixed(2)} ms`);
    } catch (e) {
      measurement = { ok: false, error: errorMessage(e) };
      console.error(`tfjs-${backendName}  ${w.id.padEnd(22)} failed: ${errorMessage(e)}`);
    }
    tf.engine().endScope();
    tf.disposeVariables();
    return { measurement };
  },
);
