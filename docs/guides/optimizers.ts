/**
 * The code of optimizers.md: optimizers as pure gradient transformations, chains, and schedules.
 * test/examples/guides.test.ts runs every function.
 */
import { grad, jit, type NdArray, np, optim, tree } from "tracegrad";

type Params = { w: NdArray; b: NdArray };
const target = np.array([1, -2, 3]);
const loss = (p: Params) => np.sum(p.w.sub(target).square()).add(np.sum(p.b.square()));
const start: Params = { w: np.zeros([3]), b: np.ones([2]) };

export function updateAndApply() {
  const optimizer = optim.adam({ lr: 0.1 });
  let params = start;
  let state = optimizer.init(params); // step count, first and second moments: a tree of arrays
  for (let i = 0; i < 200; i++) {
    const grads = grad(loss)(params);
    const [updates, nextState] = optimizer.update(grads, state, params);
    params = optim.applyUpdates(params, updates); // params + updates, leaf by leaf
    state = nextState;
  }
  return { params, finalLoss: loss(params).item() };
}

export function torchOptimizers() {
  // torch.optim's names, hyperparameters and update rules:
  const sgd = optim.sgd({ lr: 0.01, momentum: 0.9, nesterov: true, weightDecay: 5e-4 });
  const adam = optim.adam({ lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8 });
  const adamw = optim.adamw({ lr: 1e-3, weightDecay: 0.01 }); // decoupled weight decay
  const rmsprop = optim.rmsprop({ lr: 0.01, alpha: 0.99 });
  const adagrad = optim.adagrad({ lr: 0.01 });
  return { sgd, adam, adamw, rmsprop, adagrad };
}

export function moreOptimizers() {
  // torch.optim's other optimizers, with its option names (etas, stepSizes, lambd, t0, ...):
  const adadelta = optim.adadelta({ lr: 1.0, rho: 0.9 });
  const adamax = optim.adamax({ lr: 2e-3 });
  const nadam = optim.nadam({ lr: 2e-3, momentumDecay: 4e-3 });
  const radam = optim.radam({ lr: 1e-3 });
  const asgd = optim.asgd({ lr: 0.01, t0: 100 }); // its state's ax is the averaged model
  const rprop = optim.rprop({ lr: 0.01, etas: [0.5, 1.2], stepSizes: [1e-6, 50] });
  // optax's, with optax's option names:
  const lamb = optim.lamb({ learningRate: 1e-3, weightDecay: 0.01 });
  const lion = optim.lion({ learningRate: 1e-4, weightDecay: 1e-3 });
  const adafactor = optim.adafactor({ learningRate: 1e-2 });
  const lbfgs = optim.lbfgs({ memorySize: 10, linesearch: null }); // full steps -P g, traceable
  return { adadelta, adamax, nadam, radam, asgd, rprop, lamb, lion, adafactor, lbfgs };
}

export function anyOptimizer() {
  // Every optimizer is an optim.GradientTransformation, whatever its state: the type for a record of
  // different ones, or for a function that trains with any of them.
  const candidates: Record<string, optim.GradientTransformation> = {
    sgd: optim.sgd({ lr: 0.1, momentum: 0.9 }),
    adam: optim.adam({ lr: 0.1 }),
    rmsprop: optim.rmsprop({ lr: 0.03 }),
  };
  const train = (optimizer: optim.GradientTransformation, steps: number): number => {
    let params = start;
    let state = optimizer.init(params);
    for (let i = 0; i < steps; i++) {
      const [updates, nextState] = optimizer.update(grad(loss)(params), state, params);
      params = optim.applyUpdates(params, updates);
      state = nextState;
    }
    return loss(params).item();
  };
  const finalLoss = Object.fromEntries(Object.entries(candidates).map(([name, o]) => [name, train(o, 200)]));
  return { finalLoss }; // { sgd: ..., adam: ..., rmsprop: ... }
}

export function chains() {
  // Small transformations compose into an optimizer, applied left to right (optax.chain).
  const clippedSgd = optim.chain(
    optim.clipByGlobalNorm(1.0), // rescale the whole gradient tree to norm <= 1
    optim.addWeightDecay(1e-4), // + 1e-4 * params (L2)
    optim.scaleByLearningRate(0.1), // * -0.1: the descent step
  );
  // Without the clipping, this chain is exactly optim.sgd({ lr: 0.1, weightDecay: 1e-4 }):
  const chained = optim.chain(optim.addWeightDecay(1e-4), optim.scaleByLearningRate(0.1));
  const sgd = optim.sgd({ lr: 0.1, weightDecay: 1e-4 });
  const grads = grad(loss)(start);
  const [fromChain] = chained.update(grads, chained.init(start), start);
  const [fromSgd] = sgd.update(grads, sgd.init(start), start);
  const [clipped] = clippedSgd.update(grads, clippedSgd.init(start), start);
  return { fromChain, fromSgd, clipped };
}

export function atoms() {
  // Every optimizer is a chain of atoms, as optax builds them; chained by hand they give its updates:
  const adamByHand = optim.chain(
    optim.addWeightDecay(0.01), // torch's L2 penalty on the gradient
    optim.scaleByAdam({ betas: [0.9, 0.999] }), // m̂ / (sqrt(v̂) + eps), state expAvg, expAvgSq
    optim.scaleByLearningRate(1e-3), // * -lr
  );
  const adam = optim.adam({ lr: 1e-3, weightDecay: 0.01 });
  const grads = grad(loss)(start);
  const [byHand] = adamByHand.update(grads, adamByHand.init(start), start);
  const [fromAdam] = adam.update(grads, adam.init(start), start);
  return { byHand, fromAdam };
}

export function schedules() {
  // A schedule maps the number of updates done so far to a value; use it wherever a learning rate goes.
  const lr = optim.schedules.warmupCosineDecay({ peak: 0.1, warmupSteps: 10, decaySteps: 100 });
  const values = [0, 5, 10, 55, 100].map((step) => lr(step)); // [0, 0.05, 0.1, 0.05, 0]
  const optimizer = optim.sgd({ lr, momentum: 0.9 });
  // Schedules are also array formulas of the step count, so they work inside jit.
  const step = jit((p: Params, s: optim.SgdState) => {
    const [updates, next] = optimizer.update(grad(loss)(p), s, p);
    return [optim.applyUpdates(p, updates), next] as const;
  });
  let [params, state] = [start, optimizer.init(start)];
  for (let i = 0; i < 100; i++) [params, state] = step(params, state);
  const stepDecay = optim.schedules.stepDecay({ init: 0.1, stepSize: 30, gamma: 0.1 }); // torch's StepLR
  // Your own schedule, written once: the formula runs on numbers and, inside jit, on arrays.
  const halving = optim.schedules.makeSchedule((m, step) =>
    m.multiply(0.1, m.power(0.5, m.floor(m.divide(step, 10)))),
  );
  return {
    values,
    finalLoss: loss(params).item(),
    count: state.count.item(),
    stepDecay: stepDecay(30),
    halving: [halving(9), halving(10), halving.onArray(np.scalar(25, "int32")).item()],
  };
}

export function stateIsATree() {
  const optimizer = optim.adam({ lr: 0.1 });
  const state = optimizer.init(start);
  // Nothing hides inside the optimizer: its state can be inspected, saved (io.save) and restored.
  const paths = tree.flattenWithPath(state).map(([path]) => path);
  return { paths };
}

export function transformerRecipes() {
  type Model = { embedding: { weight: NdArray }; norm: { weight: NdArray; bias: NdArray }; head: Params };
  const model: Model = {
    embedding: { weight: np.ones([10, 3]) },
    norm: { weight: np.ones([3]), bias: np.zeros([3]) },
    head: { w: np.zeros([3]), b: np.ones([2]) },
  };
  const grads = tree.map((p: NdArray) => np.onesLike(p), model);
  // No weight decay on biases and norm scales: decayMask is true for matrices (rank >= 2) only.
  const mask = optim.decayMask(model); // { embedding: { weight: true }, norm: { weight: false, ... }, ... }
  const adamw = optim.adamw({ lr: 1e-3, weightDecay: 0.1, mask: optim.decayMask });
  // The same with optax's atoms: decay on the masked leaves, between Adam's scaling and the step.
  const adamwByHand = optim.chain(
    optim.scaleByAdam(),
    optim.addDecayedWeights(0.1, { mask: optim.decayMask }),
    optim.scaleByLearningRate(1e-3),
  );
  // torch's parameter groups: one transformation per label, each with its own state.
  const groups = optim.multiTransform(
    {
      decay: optim.adamw({ lr: 1e-3, weightDecay: 0.1 }),
      noDecay: optim.adamw({ lr: 3e-4, weightDecay: 0 }),
    },
    (params: Model) => tree.map((p: NdArray) => (p.ndim >= 2 ? "decay" : "noDecay"), params),
  );
  // Gradient accumulation: the inner optimizer steps every 4th call, on the mean of the 4 gradients.
  const accumulated = optim.multiSteps(adamw, 4);
  // Hyperparameters in the state, changeable between (jitted) steps:
  const injected = optim.injectHyperparams(optim.adamw)({ lr: 1e-3, weightDecay: 0.1 });
  let state = injected.init(model);
  state = { ...state, hyperparams: { ...state.hyperparams, lr: np.scalar(1e-4, "float64") } };
  const [updates] = injected.update(grads, state, model);
  // A moving average of the parameters, to evaluate with instead of the last ones:
  const average = optim.emaParams(0.999);
  let emaState = average.init(model);
  emaState = average.update(optim.applyUpdates(model, updates), emaState);
  const run = (opt: optim.GradientTransformation) => opt.update(grads, opt.init(model), model)[0];
  return {
    mask,
    adamw: run(adamw),
    adamwByHand: run(adamwByHand),
    groups: run(groups),
    accumulated: run(accumulated),
    updates,
    ema: emaState.ema,
  };
}
