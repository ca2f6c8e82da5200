/**
 * jax-js side of the benchmark, a runner process (see protocol.ts): its wasm device in Node, every
 * workload under its `jit` (it fuses and compiles, as tracegrad's jit does).
 *
 * jax-js arrays are reference counted: a function consumes its array arguments, so inputs reused across
 * calls are passed as `x.ref`. Its arrays are lazy, so each call ends with blockUntilReady on every
 * output. It has no max-pool op; 2x2 pooling is a reshape and a max, which its grad handles.
 */
import { readFileSync } from "node:fs";
import type * as JAX from "@jax-js/jax";
import { relaxedSimdSupported } from "../../src/backend/wasm/runtime.js";
import { errorMessage, type Measurement, timeAsync } from "../timing.js";
import { CHAIN_PATTERN, LEARNING_RATE, type PeerWorkload } from "../workloads.js";
import { isMissingModule, peerWorkload, serveRequests, workloadIndex } from "./protocol.js";

type Jax = typeof JAX;
type JArray = JAX.Array;
type Dense = { w: JArray; b: JArray };
type LenetParams = { conv1: Dense; conv2: Dense; fc1: Dense; fc2: Dense; fc3: Dense };

/** Deterministic normal-ish inputs without spending jax-js keys (which are consumed on use). */
function makeRandom(seed: number) {
  let state = seed >>> 0 || 1;
  const uniform = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state + 0.5) / 4294967296;
  };
  return (jax: Jax, shape: number[], scale = 1): JArray => {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      // Box-Muller
      data[i] = scale * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    }
    return jax.numpy.array(data).reshape(shape);
  };
}

function denseParams(jax: Jax, rand: ReturnType<typeof makeRandom>, inputs: number, outputs: number): Dense {
  return { w: rand(jax, [inputs, outputs], 1 / Math.sqrt(inputs)), b: jax.numpy.zeros([outputs]) };
}

function convParams(jax: Jax, rand: ReturnType<typeof makeRandom>, cin: number, cout: number): Dense {
  return { w: rand(jax, [cout, cin, 5, 5], 1 / Math.sqrt(cin * 25)), b: jax.numpy.zeros([cout]) };
}

function lenetInit(jax: Jax, rand: ReturnType<typeof makeRandom>): LenetParams {
  return {
    conv1: convParams(jax, rand, 1, 6),
    conv2: convParams(jax, rand, 6, 16),
    fc1: denseParams(jax, rand, 400, 120),
    fc2: denseParams(jax, rand, 120, 84),
    fc3: denseParams(jax, rand, 84, 10),
  };
}

/** Consumes p and x (each parameter is used exactly once). */
function lenetApply(jax: Jax, p: LenetParams, x: JArray): JArray {
  const { numpy: np, lax, nn } = jax;
  const convBlock = (layer: Dense, h: JArray): JArray => {
    const outChannels = layer.w.shape[0]!;
    const y = nn.relu(lax.conv(h, layer.w, [1, 1], "VALID").add(layer.b.reshape([1, outChannels, 1, 1])));
    const [n, c, height, width] = y.shape as [number, number, number, number];
    return np.max(y.reshape([n, c, height / 2, 2, width / 2, 2]), [3, 5]);
  };
  const linear = (layer: Dense, h: JArray) => np.matmul(h, layer.w).add(layer.b);
  const features = convBlock(p.conv2, convBlock(p.conv1, x));
  let h = features.reshape([features.shape[0]!, 400]);
  h = nn.relu(linear(p.fc1, h));
  h = nn.relu(linear(p.fc2, h));
  return linear(p.fc3, h);
}

function mlpApply(jax: Jax, layers: Dense[], x: JArray): JArray {
  let h = x;
  layers.forEach((layer, i) => {
    h = jax.numpy.matmul(h, layer.w).add(layer.b);
    if (i < layers.length - 1) h = jax.nn.relu(h);
  });
  return h;
}

/** A jitted SGD step: params in, [new params, loss] out; the loss is read back every call. */
type ParamTree = JAX.JsTree<JArray>;

function trainStep<P extends ParamTree>(
  jax: Jax,
  init: P,
  loss: (p: P, x: JArray, y: JArray) => JArray,
  x: JArray,
  y: JArray,
): () => Promise<void> {
  // jax-js's mapped argument types do not resolve for a generic tree; the step is typed at its edges.
  const untypedLoss = loss as unknown as (p: ParamTree, x: JArray, y: JArray) => JArray;
  const step = jax.jit((p: ParamTree, xb: JArray, yb: JArray): ParamTree => {
    const [value, grads] = jax.valueAndGrad(untypedLoss)(jax.tree.ref(p), xb, yb);
    const next = jax.tree.map((w: JArray, g: JArray) => w.sub(g.mul(LEARNING_RATE)), p, grads as ParamTree);
    return [next as ParamTree, value];
  });
  let params: ParamTree = init;
  return async () => {
    const [next, value] = step(params, x.ref, y.ref) as [ParamTree, JArray];
    params = next;
    await jax.blockUntilReady([next, value]);
    value.dataSync();
  };
}

/** A jitted pure function of fixed inputs; outputs are awaited, then freed. */
function pure(jax: Jax, f: (...args: JArray[]) => JAX.JsTree<JArray>, args: JArray[]): () => Promise<void> {
  const compiled = jax.jit(f);
  return async () => {
    const out = compiled(...args.map((a) => a.ref));
    await jax.blockUntilReady(out);
    jax.tree.dispose(out);
  };
}

function callFor(jax: Jax, w: PeerWorkload, seed: number): () => Promise<void> {
  const rand = makeRandom(seed);
  const { numpy: np, lax } = jax;
  switch (w.kind) {
    case "lenet-train": {
      const x = rand(jax, [w.batch, 1, 32, 32]);
      const y = rand(jax, [w.batch, 10]);
      const mse = (p: LenetParams, xb: JArray, yb: JArray) =>
        np.mean(np.square(lenetApply(jax, p, xb).sub(yb)));
      return trainStep(jax, lenetInit(jax, rand), mse, x, y);
    }
    case "lenet-infer": {
      const params = lenetInit(jax, rand);
      const x = rand(jax, [w.batch, 1, 32, 32]);
      const compiled = jax.jit((p: LenetParams, xb: JArray) => lenetApply(jax, p, xb));
      return async () => {
        const out = compiled(jax.tree.ref(params), x.ref);
        await out.blockUntilReady();
        out.dispose();
      };
    }
    case "mlp-train": {
      const sizes = w.sizes;
      const classes = sizes[sizes.length - 1]!;
      const layers = sizes.slice(1).map((out, i) => denseParams(jax, rand, sizes[i]!, out));
      const x = rand(jax, [w.batch, sizes[0]!]);
      const oneHot = new Float32Array(w.batch * classes);
      for (let i = 0; i < w.batch; i++) oneHot[i * classes + ((i * 7) % classes)] = 1;
      const target = np.array(oneHot).reshape([w.batch, classes]);
      // Cross-entropy on class labels (given one-hot): mean over the batch of -log_softmax at the label.
      const crossEntropy = (p: Dense[], xb: JArray, yb: JArray) =>
        np.mean(np.sum(jax.nn.logSoftmax(mlpApply(jax, p, xb), 1).mul(yb), 1)).mul(-1);
      return trainStep(jax, layers, crossEntropy, x, target);
    }
    case "matmul":
      return pure(jax, (a, b) => np.matmul(a!, b!), [
        rand(jax, [w.size, w.size]),
        rand(jax, [w.size, w.size]),
      ]);
    case "conv": {
      const out = w.size - w.kernel + 1;
      const weight = rand(jax, [w.outChannels, w.inChannels, w.kernel, w.kernel]);
      const bias = rand(jax, [w.outChannels]);
      const x = rand(jax, [w.batch, w.inChannels, w.size, w.size]);
      const cotangent = rand(jax, [w.batch, w.outChannels, out, out]);
      const project = (wt: JArray, b: JArray, input: JArray, ct: JArray) =>
        np.sum(
          lax
            .conv(input, wt, [1, 1], "VALID")
            .add(b.reshape([1, w.outChannels, 1, 1]))
            .mul(ct),
        );
      const argnums = w.inputGradient ? [0, 1, 2] : [0, 1];
      return pure(
        jax,
        (wt, b, input, ct) =>
          jax.valueAndGrad(project, { argnums })(wt!, b!, input!, ct!) as unknown as JAX.JsTree<JArray>,
        [weight, bias, x, cotangent],
      );
    }
    case "sort": {
      const k = w.k;
      const x = rand(jax, [w.elements]);
      return k === null
        ? pure(jax, (v) => np.sort(v!), [x])
        : pure(jax, (v) => lax.topK(v!, k) as unknown as JAX.JsTree<JArray>, [x]);
    }
    case "scatter-add":
      throw new Error("jax-js offers no scatter-add (no .at[...].add, segment_sum or index_add)");
    case "linalg":
      // Its np.linalg has these, but np.array of float64 data reaches for Float16Array, absent in Node 20.
      throw new Error("jax-js: float64 arrays fail in Node 20 (np.array uses Float16Array); not measured");
    case "gpt-train":
      throw new Error("jax-js row not written (no transformer written for it yet)");
    case "lstm-train":
      throw new Error("jax-js row not written (no LSTM written for it yet)");
    case "chain": {
      const chain = (x: JArray | undefined) => {
        let y = x!;
        for (let r = 0; r < w.repeats; r++) {
          for (const op of CHAIN_PATTERN) {
            if (op === "mul 1.5") y = y.mul(1.5);
            else if (op === "add 0.1") y = y.add(0.1);
            else if (op === "maximum -1") y = np.maximum(y, -1);
            else y = np.minimum(y, 1);
          }
        }
        return y;
      };
      return pure(jax, chain, [rand(jax, [w.elements])]);
    }
  }
}

function jaxVersion(): string {
  try {
    const entry = new URL(import.meta.resolve("@jax-js/jax"));
    const manifest = JSON.parse(readFileSync(new URL("../package.json", entry), "utf8")) as {
      version: string;
    };
    return manifest.version;
  } catch {
    return "?";
  }
}

let jax: Jax;

await serveRequests(
  async () => {
    try {
      jax = await import("@jax-js/jax");
    } catch (e) {
      if (!isMissingModule(e)) throw e;
      return { status: "not installed", description: `jax-js: ${errorMessage(e)}` };
    }
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) throw new Error(`jax-js: no wasm device (got ${devices.join(", ")})`);
    jax.defaultDevice("wasm");
    // jax-js spreads wasm work over Web Workers, which Node does not have as a global.
    const threads =
      typeof (globalThis as { Worker?: unknown }).Worker === "undefined" ? "1 thread" : "workers";
    const relaxed = relaxedSimdSupported() ? "relaxed SIMD available" : "no relaxed SIMD";
    return { status: "ok", description: `jax-js ${jaxVersion()}, wasm device, jit, ${threads}, ${relaxed}` };
  },
  async (request) => {
    const w = peerWorkload(request);
    let measurement: Measurement;
    try {
      const timing = await timeAsync(callFor(jax, w, workloadIndex(request) + 1), request.budget);
      measurement = { ok: true, timing };
      console.error(`jax-js  ${w.id.padEnd(22)} ${timing.medianMs.toFixed(2)} ms`);
    } catch (e) {
      measurement = { ok: false, error: errorMessage(e) };
      console.error(`jax-js  ${w.id.padEnd(22)} failed: ${errorMessage(e)}`);
    }
    return { measurement };
  },
);
