import { describe, expect, it } from "vitest";
import { checkOptions, checkOptionValue, optionKeys } from "../../src/core/options.js";
import { io as nodeIo } from "../../src/node.js";
import { testing as testingWithArb } from "../../src/testing.js";

const { arb } = testingWithArb;

import {
  checkpoint,
  customJvp,
  grad,
  hessian,
  io,
  jacfwd,
  jacrev,
  jit,
  layers,
  type NdArray,
  nn,
  np,
  optim,
  random,
  scan,
  testing,
  valueAndGrad,
  viz,
  vmap,
} from "../../src/index.js";

// Every public function that takes an option bag, called with one unknown key: each must throw a
// TypeError naming the function and the key (a JS caller's typo is never silently ignored).
const bogus = { bogusOption: 1 } as never;
const x = np.ones([2, 3]);
const key = random.key(0);
const labels = np.array([0, 1], { dtype: "int32" });
const images = np.ones([1, 1, 4, 4]);

const CALLS: [string, () => unknown][] = [
  // np
  ["sum", () => np.sum(x, bogus)],
  ["mean", () => np.mean(x, bogus)],
  ["max", () => np.max(x, bogus)],
  ["min", () => np.min(x, bogus)],
  ["prod", () => np.prod(x, bogus)],
  ["any", () => np.any(x, bogus)],
  ["all", () => np.all(x, bogus)],
  ["var", () => np.var(x, bogus)],
  ["std", () => np.std(x, bogus)],
  ["argmax", () => np.argmax(x, bogus)],
  ["argmin", () => np.argmin(x, bogus)],
  ["cumsum", () => np.cumsum(x, bogus)],
  ["take", () => np.take(x, labels, bogus)],
  ["takeAlongAxis", () => np.takeAlongAxis(x, np.zeros([2, 1], { dtype: "int32" }), bogus)],
  ["scatterAdd", () => np.scatterAdd(x, labels, 1, bogus)],
  ["oneHot", () => np.oneHot(labels, 3, bogus)],
  ["concatenate", () => np.concatenate([x, x], bogus)],
  ["stack", () => np.stack([x, x], bogus)],
  ["split", () => np.split(x, 2, bogus)],
  ["pad", () => np.pad(x, 1, bogus)],
  ["flip", () => np.flip(x, bogus)],
  ["repeat", () => np.repeat(x, 2, bogus)],
  ["array", () => np.array([1], bogus)],
  ["full", () => np.full([2], 1, bogus)],
  ["zeros", () => np.zeros([2], bogus)],
  ["ones", () => np.ones([2], bogus)],
  ["zerosLike", () => np.zerosLike(x, bogus)],
  ["onesLike", () => np.onesLike(x, bogus)],
  ["fullLike", () => np.fullLike(x, 2, bogus)],
  ["arange", () => np.arange(0, 3, 1, bogus)],
  ["linspace", () => np.linspace(0, 1, 3, bogus)],
  ["eye", () => np.eye(2, 2, bogus)],
  ["sum", () => x.sum(bogus)],
  // nn
  ["mseLoss", () => nn.mseLoss(x, x, bogus)],
  ["l1Loss", () => nn.l1Loss(x, x, bogus)],
  ["huberLoss", () => nn.huberLoss(x, x, bogus)],
  ["smoothL1Loss", () => nn.smoothL1Loss(x, x, bogus)],
  ["nllLoss", () => nn.nllLoss(x, labels, bogus)],
  ["crossEntropy", () => nn.crossEntropy(x, labels, bogus)],
  ["binaryCrossEntropy", () => nn.binaryCrossEntropy(x.mul(0.5), x, bogus)],
  ["binaryCrossEntropyWithLogits", () => nn.binaryCrossEntropyWithLogits(x, x, bogus)],
  ["softplus", () => nn.softplus(x, bogus)],
  ["gelu", () => nn.gelu(x, bogus)],
  ["leakyRelu", () => nn.leakyRelu(x, bogus)],
  ["elu", () => nn.elu(x, bogus)],
  ["logsumexp", () => nn.logsumexp(x, bogus)],
  ["softmax", () => nn.softmax(x, bogus)],
  ["logSoftmax", () => nn.logSoftmax(x, bogus)],
  ["conv2d", () => nn.conv2d(images, np.ones([1, 1, 2, 2]), null, bogus)],
  ["convTranspose2d", () => nn.convTranspose2d(images, np.ones([1, 1, 2, 2]), null, bogus)],
  ["maxPool2d", () => nn.maxPool2d(images, 2, bogus)],
  ["avgPool2d", () => nn.avgPool2d(images, 2, bogus)],
  // layers
  ["linear", () => layers.linear(2, 3, bogus)],
  ["conv2d", () => layers.conv2d(1, 2, 3, bogus)],
  ["maxPool2d", () => layers.maxPool2d(2, bogus)],
  ["avgPool2d", () => layers.avgPool2d(2, bogus)],
  ["flatten", () => layers.flatten(bogus)],
  ["softmax", () => layers.softmax(bogus)],
  ["lambda", () => layers.lambda((v) => v, bogus)],
  ["batchNorm1d", () => layers.batchNorm1d(2, bogus)],
  ["batchNorm2d", () => layers.batchNorm2d(2, bogus)],
  ["named", () => layers.named({ fc: layers.linear(2, 2) }, (m, v) => m.fc(v), bogus)],
  ["linear 2->3: init", () => layers.linear(2, 3).init(key, bogus)],
  [
    "linear 2->3: apply",
    () => layers.linear(2, 3).apply(layers.linear(2, 3).init(key), x.reshape([3, 2]), bogus),
  ],
  ["kaimingUniform", () => layers.init.kaimingUniform(bogus)],
  ["kaimingNormal", () => layers.init.kaimingNormal(bogus)],
  ["xavierUniform", () => layers.init.xavierUniform(bogus)],
  ["xavierNormal", () => layers.init.xavierNormal(bogus)],
  ["normal", () => layers.init.normal(bogus)],
  ["uniform", () => layers.init.uniform(bogus)],
  // optim
  ["sgd", () => optim.sgd({ lr: 0.1, ...(bogus as object) })],
  ["adam", () => optim.adam(bogus)],
  ["adamw", () => optim.adamw(bogus)],
  ["rmsprop", () => optim.rmsprop(bogus)],
  ["adagrad", () => optim.adagrad(bogus)],
  ["adadelta", () => optim.adadelta(bogus)],
  ["adamax", () => optim.adamax(bogus)],
  ["nadam", () => optim.nadam(bogus)],
  ["radam", () => optim.radam(bogus)],
  ["asgd", () => optim.asgd(bogus)],
  ["rprop", () => optim.rprop(bogus)],
  ["lamb", () => optim.lamb({ learningRate: 0.1, ...(bogus as object) })],
  ["lion", () => optim.lion({ learningRate: 0.1, ...(bogus as object) })],
  ["adafactor", () => optim.adafactor(bogus)],
  ["lbfgs", () => optim.lbfgs(bogus)],
  ["trace", () => optim.trace({ momentum: 0.9, ...(bogus as object) })],
  ["scaleByAdam", () => optim.scaleByAdam(bogus)],
  ["scaleByRms", () => optim.scaleByRms(bogus)],
  ["scaleByRss", () => optim.scaleByRss(bogus)],
  [
    "addDecoupledWeightDecay",
    () => optim.addDecoupledWeightDecay({ lr: 0.1, weightDecay: 0.1, ...(bogus as object) }),
  ],
  ["addDecayedWeights", () => optim.addDecayedWeights(0.1, bogus)],
  ["ema", () => optim.ema(0.9, bogus)],
  ["decayMask", () => optim.decayMask({ w: np.zeros([2, 2]) }, bogus)],
  ["injectHyperparams", () => optim.injectHyperparams(optim.sgd, bogus)],
  ["schedules.stepDecay", () => optim.schedules.stepDecay({ init: 1, stepSize: 2, ...(bogus as object) })],
  [
    "schedules.exponentialDecay",
    () =>
      optim.schedules.exponentialDecay({ init: 1, decayRate: 0.5, transitionSteps: 2, ...(bogus as object) }),
  ],
  [
    "schedules.cosineDecay",
    () => optim.schedules.cosineDecay({ init: 1, decaySteps: 2, ...(bogus as object) }),
  ],
  [
    "schedules.linearSchedule",
    () => optim.schedules.linearSchedule({ init: 1, end: 0, transitionSteps: 2, ...(bogus as object) }),
  ],
  [
    "schedules.linearWarmup",
    () => optim.schedules.linearWarmup({ peak: 1, warmupSteps: 2, ...(bogus as object) }),
  ],
  [
    "schedules.warmupCosineDecay",
    () => optim.schedules.warmupCosineDecay({ peak: 1, warmupSteps: 2, decaySteps: 4, ...(bogus as object) }),
  ],
  // transforms
  ["grad", () => grad((v: NdArray) => v.sum(), bogus)],
  ["valueAndGrad", () => valueAndGrad((v: NdArray) => v.sum(), bogus)],
  ["jacfwd", () => jacfwd((v: NdArray) => v, bogus)],
  ["jacrev", () => jacrev((v: NdArray) => v, bogus)],
  ["hessian", () => hessian((v: NdArray) => v.sum(), bogus)],
  ["vmap", () => vmap((v: NdArray) => v, bogus)],
  ["customJvp", () => customJvp((v: NdArray) => v, bogus)],
  ["jit", () => jit((v: NdArray) => v, bogus)],
  ["scan", () => scan((c: NdArray, r: NdArray) => [c, r], np.zeros([]), np.ones([2]), bogus)],
  ["checkpoint", () => checkpoint((v: NdArray) => v, bogus)],
  // random
  ["random.uniform", () => random.uniform(key, [2], bogus)],
  ["random.normal", () => random.normal(key, [2], bogus)],
  ["random.truncatedNormal", () => random.truncatedNormal(key, -1, 1, [2], bogus)],
  ["random.randint", () => random.randint(key, [2], 0, 3, bogus)],
  ["random.gumbel", () => random.gumbel(key, [2], bogus)],
  ["random.exponential", () => random.exponential(key, [2], bogus)],
  ["random.categorical", () => random.categorical(key, x, bogus)],
  ["random.permutation", () => random.permutation(key, 3, bogus)],
  ["random.choice", () => random.choice(key, 3, bogus)],
  // io, testing, viz
  ["io.batches", () => io.batches(key, { images: x, labels }, 1, bogus).next()],
  ["safetensors.encode", () => io.safetensors.encode({ w: x }, bogus)],
  ["io.encodeCheckpoint", () => io.encodeCheckpoint({ w: x }, bogus)],
  ["mnist.splitDigits", () => io.mnist.splitDigits([], bogus)],
  ["mnist.loadBundled", () => nodeIo.mnist.loadBundled(bogus)],
  ["mnist.loadIdxFiles", () => nodeIo.mnist.loadIdxFiles("/nonexistent", bogus)],
  ["checkGrads", () => testing.checkGrads((v: NdArray) => v.sum(), [x], bogus)],
  ["testing.assertAllClose", () => testing.assertAllClose(x, x, bogus)],
  ["testing.propertyParameters", () => testing.propertyParameters(bogus)],
  ["testing.arbitraries.shape", () => arb.shape(bogus)],
  ["testing.arbitraries.elements", () => arb.elements(2, bogus)],
  ["testing.arbitraries.array", () => arb.array(bogus)],
  ["testing.arbitraries.broadcastableShapes", () => arb.broadcastableShapes(bogus)],
  ["testing.arbitraries.broadcastablePair", () => arb.broadcastablePair(bogus)],
  ["testing.arbitraries.tree", () => arb.tree(arb.array(), bogus)],
  ["lineChart", () => viz.lineChart([], { title: "", xLabel: "", leftLabel: "", ...(bogus as object) })],
];

describe("every public option bag rejects an unknown key", () => {
  it.each(CALLS)("%s", (name, call) => {
    expect(call).toThrow(TypeError);
    expect(call).toThrow(`${name}: unknown option 'bogusOption'; the options are `);
  });

  it("io.save rejects too (asynchronously)", async () => {
    await expect(nodeIo.save("/tmp/never-written.safetensors", { w: x }, bogus)).rejects.toThrow(
      "io.save: unknown option 'bogusOption'; the options are 'metadata'",
    );
  });

  it("a non-object in the options position is an error, not ignored (np.sum(x, 1) is not numpy's axis=1)", () => {
    expect(() => np.sum(x, 1 as never)).toThrow(
      "sum: options must be an object with keys among 'axis', 'keepdims', got number 1",
    );
  });
});

describe("checkOptions and checkOptionValue", () => {
  it("list the allowed keys and values", () => {
    expect(() => checkOptions("f", { b: 1 }, ["a", "c"])).toThrow(
      "f: unknown option 'b'; the options are 'a', 'c'",
    );
    expect(() => checkOptions("f", { b: 1 }, [])).toThrow("f: unknown option 'b'; it takes no options");
    expect(() => checkOptions("f", undefined, ["a"])).not.toThrow();
    expect(() => checkOptions("f", { a: undefined }, ["a"])).not.toThrow();
    expect(checkOptionValue("f", "mode", "x", ["x", "y"])).toBe("x");
    expect(checkOptionValue("f", "mode", undefined, ["x", "y"])).toBeUndefined();
    expect(() => checkOptionValue("f", "mode", "z", ["x", "y"])).toThrow(
      'f: option mode must be one of "x", "y", got "z"',
    );
  });

  it("optionKeys lists an interface's keys, checked complete by the compiler", () => {
    expect(optionKeys<{ a?: number; b: string }>({ a: true, b: true })).toEqual(["a", "b"]);
    // @ts-expect-error: key b is missing, so the list would be incomplete.
    optionKeys<{ a?: number; b: string }>({ a: true });
  });

  it("values a function does not implement are rejected", () => {
    expect(() => nn.gelu(x, { approximate: "sigmoid" as never })).toThrow(RangeError);
    expect(() => nn.mseLoss(x, x, { reduction: "avg" as never })).toThrow(/option reduction must be one of/);
    expect(() => layers.init.kaimingUniform({ mode: "fan_in" as never })).toThrow(
      /kaimingUniform: option mode must be one of "fanIn", "fanOut", got "fan_in"/,
    );
    expect(() => testing.checkGrads((v: NdArray) => v.sum(), [x], { order: 3 as never })).toThrow(RangeError);
    expect(() => jit((v: NdArray) => v, { cacheSize: 0 })).toThrow(
      /jit: cacheSize must be a positive integer/,
    );
  });
});
