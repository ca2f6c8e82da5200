/// <reference lib="dom" />
/**
 * The LeNet training step (docs/examples/lenet.ts: convolutions, max pooling, linear layers, cross-entropy,
 * SGD with momentum, the demo's optimizer) jitted on WebGPU and on the CPU backend from the same float32
 * parameters, 20 steps each on the same batches; the WebGPU parameters and optimizer state stay on the
 * device between steps (donated) and the losses are read back at the end. Also one step's gradients and
 * LeNet's forward pass alone. Sets `window.pageResult` for jit-webgpu.test.ts.
 */
import {
  DeviceArray,
  jit,
  type NdArray,
  nn,
  np,
  optim,
  random,
  setBackend,
  tree,
  valueAndGrad,
} from "tracegrad";
import { type LeNetParams, lenet } from "../../../docs/examples/lenet.js";

export interface LenetResult {
  readonly backends: string[];
  /** Per step, |loss_gpu - loss_cpu| / |loss_cpu|. */
  readonly lossErrors: number[];
  readonly losses: number[];
  /** After 20 steps, max over parameters of max |gpu - cpu| / max |cpu|. */
  readonly paramError: number;
  /** Per gradient leaf at the first step, max |gpu - cpu| / max |cpu|. */
  readonly gradErrors: number[];
  readonly forwardError: number;
  readonly deviceOutputs: boolean;
  /** The step's plan listing, first line (dispatches, and the bytes of the values between them). */
  readonly planSummary: string;
  readonly error: string | null;
}

const STEPS = 20;
const BATCH = 16;

async function main(): Promise<LenetResult> {
  await setBackend("webgpu");
  const [initKey, dataKey] = random.split(random.key(3), 2);
  const params = lenet.init(initKey!);
  const images = random.normal(dataKey!, [STEPS, BATCH, 1, 32, 32]);
  const labels = np
    .mod(np.arange(STEPS * BATCH, undefined, undefined, { dtype: "int32" }).mul(7), 10)
    .reshape([STEPS, BATCH]);
  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 });
  const lossFn = (p: LeNetParams, x: NdArray, y: NdArray) => nn.crossEntropy(lenet.apply(p, x), y);
  const stepFn = (p: LeNetParams, s: ReturnType<typeof optimizer.init>, x: NdArray, y: NdArray) => {
    const [loss, grads] = valueAndGrad(lossFn)(p, x, y);
    const [updates, next] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), next, loss] as const;
  };
  const gpuStep = jit(stepFn, { backend: "webgpu", donateArgnums: [0, 1] });
  const cpuStep = jit(stepFn, { backend: "wasm" });
  const x0 = images.index(0);
  const y0 = labels.index(0);
  const lowered = gpuStep.lower(params, optimizer.init(params), x0, y0);
  const backends = [lowered.backend];
  const planSummary = lowered.toString().split("\n")[0]!;

  // The WebGPU step donates its arguments: give it its own copy.
  let gp: LeNetParams = tree.map((leaf: NdArray) => leaf.add(0), params);
  let gs = optimizer.init(params);
  let cp: LeNetParams = params;
  let cs = optimizer.init(params);
  const gpuLosses: NdArray[] = [];
  const cpuLosses: number[] = [];
  for (let k = 0; k < STEPS; k++) {
    const x = images.index(k);
    const y = labels.index(k);
    const [p1, s1, l1] = gpuStep(gp, gs, x, y);
    [gp, gs] = [p1, s1];
    gpuLosses.push(l1);
    const [p2, s2, l2] = cpuStep(cp, cs, x, y);
    [cp, cs] = [p2, s2];
    cpuLosses.push(l2.item());
  }
  const deviceOutputs = gpuLosses.every((l) => l instanceof DeviceArray);
  const losses: number[] = [];
  for (const l of gpuLosses) losses.push((await (l as DeviceArray).data())[0]!);
  const lossErrors = losses.map((l, k) => Math.abs(l - cpuLosses[k]!) / Math.abs(cpuLosses[k]!));

  let paramError = 0;
  const gpuLeaves = tree.leaves(gp) as NdArray[];
  const cpuLeaves = tree.leaves(cp) as NdArray[];
  for (const [k, leaf] of gpuLeaves.entries()) {
    const got = await (leaf as DeviceArray).data();
    const want = cpuLeaves[k]!.toTypedArray();
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]!));
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    paramError = Math.max(paramError, worst / scale);
  }

  const gradOf = (p: LeNetParams, x: NdArray, y: NdArray) => valueAndGrad(lossFn)(p, x, y)[1];
  const gpuGrads = tree.leaves(jit(gradOf, { backend: "webgpu" })(params, x0, y0)) as NdArray[];
  const cpuGrads = tree.leaves(jit(gradOf, { backend: "wasm" })(params, x0, y0)) as NdArray[];
  const gradErrors: number[] = [];
  for (const [k, leaf] of gpuGrads.entries()) {
    const got = await (leaf as DeviceArray).data();
    const want = cpuGrads[k]!.toTypedArray();
    let scale = 0;
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      scale = Math.max(scale, Math.abs(want[i]!));
      worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
    }
    gradErrors.push(worst / scale);
  }
  const forward = (p: LeNetParams, x: NdArray) => lenet.apply(p, x);
  const gpuForward = jit(forward, { backend: "webgpu" });
  backends.push(gpuForward.lower(params, x0).backend);
  const logits = await (gpuForward(params, x0) as DeviceArray).data();
  const expected = jit(forward, { backend: "wasm" })(params, x0).toTypedArray();
  let forwardError = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    forwardError = Math.max(forwardError, Math.abs(logits[i]! - expected[i]!));
  }
  return {
    backends,
    lossErrors,
    losses,
    paramError,
    gradErrors,
    forwardError: forwardError / scale,
    deviceOutputs,
    planSummary,
    error: null,
  };
}

main()
  .catch(
    (e: unknown): LenetResult => ({
      backends: [],
      lossErrors: [],
      losses: [],
      paramError: -1,
      gradErrors: [],
      forwardError: -1,
      deviceOutputs: false,
      planSummary: "",
      error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e),
    }),
  )
  .then((result) => {
    (window as unknown as { pageResult: LenetResult }).pageResult = result;
  });
