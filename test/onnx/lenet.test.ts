/**
 * The exported LeNet (docs/examples/lenet.ts) run in ONNX Runtime against tracegrad: inference, and the
 * whole training step (cross-entropy loss, every gradient through conv, max-pool and the linear layers,
 * the SGD-updated parameters), in float32 and float64.
 */
import { describe, expect, it } from "vitest";
import { type LeNetParams, lenet } from "../../docs/examples/lenet.js";
import {
  type DType,
  jit,
  type NdArray,
  nn,
  np,
  onnx,
  optim,
  random,
  tree,
  valueAndGrad,
} from "../../src/index.js";
import { runOnnx } from "./ort.js";

const TOLERANCE: Record<"float32" | "float64", number> = { float32: 2e-4, float64: 1e-11 };

function setup(dtype: "float32" | "float64", batch: number) {
  const params = tree.map((p: NdArray) => p.astype(dtype), lenet.init(random.key(0))) as LeNetParams;
  const x = random.normal(random.key(1), [batch, 1, 32, 32], { dtype });
  const y = random.randint(random.key(2), [batch], 0, 10);
  return { params, x, y };
}

function expectClose(actual: NdArray, expected: NdArray, dtype: "float32" | "float64"): void {
  expect(actual.shape).toEqual(expected.shape);
  expect(actual.dtype).toBe(expected.dtype as DType);
  const scale = Math.max(1, np.max(np.abs(expected)).item());
  const err = np.max(np.abs(np.subtract(actual, expected))).item();
  expect(err / scale).toBeLessThan(TOLERANCE[dtype]);
}

const sgd = optim.sgd({ lr: 0.05 });
function trainStep(p: LeNetParams, x: NdArray, y: NdArray) {
  const [loss, grads] = valueAndGrad((q: LeNetParams) => nn.crossEntropy(lenet.apply(q, x), y))(p);
  const [updates] = sgd.update(grads, sgd.init(p), p);
  return { loss, grads, params: optim.applyUpdates(p, updates) };
}

describe("onnx export of LeNet, run in ONNX Runtime", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`inference, ${dtype}`, async () => {
      const { params, x } = setup(dtype, 3);
      const model = onnx.exportProgram((p: LeNetParams, xs: NdArray) => lenet.apply(p, xs), params, x);
      const [logits] = await runOnnx(model, [...tree.leaves(params), x] as NdArray[]);
      expectClose(logits!, lenet.apply(params, x), dtype);
    });

    it(`the training step (loss, gradients, updated parameters), ${dtype}`, async () => {
      const { params, x, y } = setup(dtype, 4);
      const model = onnx.exportProgram(trainStep, params, x, y);
      const outs = await runOnnx(model, [...tree.leaves(params), x, y] as NdArray[]);
      const expected = tree.leaves(trainStep(params, x, y)) as NdArray[];
      expect(outs.length).toBe(expected.length);
      outs.forEach((o, i) => expectClose(o, expected[i]!, dtype));
    });
  }
});

describe("jit(f).lower(...).toOnnx()", () => {
  it("writes the jitted training step's program, with its captured constants, as exportProgram does", async () => {
    const { params, x, y } = setup("float32", 2);
    const lowered = jit(trainStep).lower(params, x, y);
    const outs = await runOnnx(lowered.toOnnx(), [...tree.leaves(params), x, y] as NdArray[]);
    const expected = tree.leaves(trainStep(params, x, y)) as NdArray[];
    expect(outs.length).toBe(expected.length);
    outs.forEach((o, i) => expectClose(o, expected[i]!, "float32"));
  });
});
