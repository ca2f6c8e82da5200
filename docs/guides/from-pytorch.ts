/**
 * The code of from-pytorch.md: the PyTorch "Neural Networks" tutorial's moves, one function each.
 * test/examples/guides.test.ts runs them.
 */
import {
  grad,
  io,
  jit,
  layers,
  type NdArray,
  nn,
  np,
  optim,
  random,
  stopGradient,
  tree,
  valueAndGrad,
  vjp,
} from "tracegrad";

// class Net(nn.Module): the sub-layers and the forward function, as one value.
export const net = layers.named(
  {
    conv1: layers.conv2d(1, 6, 5),
    conv2: layers.conv2d(6, 16, 5),
    fc1: layers.linear(16 * 5 * 5, 120),
    fc2: layers.linear(120, 84),
    fc3: layers.linear(84, 10),
  },
  (m, x) => {
    let h = nn.maxPool2d(nn.relu(m.conv1(x)), 2);
    h = nn.maxPool2d(nn.relu(m.conv2(h)), 2);
    h = nn.relu(m.fc1(h.flatten(1)));
    h = nn.relu(m.fc2(h));
    return m.fc3(h);
  },
  { name: "Net" },
);
type Params = ReturnType<typeof net.init>;

// nn.Sequential needs no forward function.
export const mlp = layers.sequential(layers.linear(10, 100), layers.sigmoid(), layers.linear(100, 4));

const [paramsKey, inputKey, targetKey, cotangentKey] = random.split(random.key(0), 4);

export function initAndApply() {
  const params = net.init(paramsKey!); // net = Net(): the parameters are a tree you hold
  const input = random.normal(inputKey!, [1, 1, 32, 32]);
  const out = net.apply(params, input); // out = net(input): shape [1, 10]
  const printed = layers.summary(net, params); // print(net), plus a table of parameters
  const count = tree.leaves(params).length; // len(list(net.parameters())): 10
  const numbers = tree.size(params); // sum(p.numel() for p in net.parameters()): 61706
  const names = tree.flattenWithPath(params).map(([path]) => path); // state_dict().keys(): "conv1.weight", ...
  return { params, input, out, printed, count, numbers, names };
}

export function lossBackward() {
  const { params, input } = initAndApply();
  const target = random.normal(targetKey!, [1, 10]);
  const loss = (p: Params, x: NdArray, y: NdArray) => nn.mseLoss(net.apply(p, x), y);
  const grads = grad(loss)(params, input, target); // loss.backward(): a tree shaped like params
  const conv1BiasGrad = grads.conv1.bias; // net.conv1.bias.grad
  return { grads, conv1BiasGrad };
}

export function backwardWithVector() {
  const { params, input } = initAndApply();
  // out.backward(v): the vector-Jacobian product of out = net(params) with v.
  const [out, pullback] = vjp((p: Params) => net.apply(p, input), params);
  const [grads] = pullback(random.normal(cotangentKey!, [1, 10])); // one cotangent per argument
  return { out, grads };
}

export function noZeroGrad() {
  const { params, input } = initAndApply();
  const loss = (p: Params) => np.sum(net.apply(p, input));
  // Gradients are returned, never accumulated into the parameters, so twice is the same as once.
  const first = grad(loss)(params).fc3.bias;
  const second = grad(loss)(params).fc3.bias;
  return { first, second };
}

export function dataLoader() {
  const [imagesKey, labelsKey, epochKey] = random.split(random.key(1), 3);
  // A data set of 10 one-channel 8x8 images with labels 0..2; rows are examples.
  const data = {
    images: random.normal(imagesKey!, [10, 1, 8, 8]),
    labels: random.randint(labelsKey!, [10], 0, 3),
  };
  // DataLoader(dataset, batch_size=4, shuffle=True): the key fixes this epoch's order; use a new key
  // (random.split, random.foldIn(key, epoch)) for each epoch. The last batch is smaller unless dropLast.
  const batchSizes: number[] = [];
  const targets: NdArray[] = [];
  for (const { x, y } of io.batches(epochKey!, data, 4)) {
    batchSizes.push(x.shape[0]!); // x: [4, 1, 8, 8], y: [4]
    targets.push(np.oneHot(y, 3)); // F.one_hot(y, 3).float(): [4, 3], float32
  }
  return { data, batchSizes, targets };
}

export function optimizerStep() {
  const { params, input } = initAndApply();
  const target = random.normal(targetKey!, [1, 10]);
  const loss = (p: Params, x: NdArray, y: NdArray) => nn.mseLoss(net.apply(p, x), y);

  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 }); // optim.SGD(net.parameters(), ...)
  let state = optimizer.init(params); // the momentum buffers live here, not in the optimizer
  let current = params;
  const before = loss(current, input, target).item();
  for (let i = 0; i < 3; i++) {
    const grads = grad(loss)(current, input, target); // no zero_grad() first
    const [updates, nextState] = optimizer.update(grads, state, current); // optimizer.step() is
    current = optim.applyUpdates(current, updates); // these two lines
    state = nextState;
  }
  const after = loss(current, input, target).item();
  return { before, after };
}

export function jittedTrainingStep() {
  const { params, input } = initAndApply();
  const target = random.normal(targetKey!, [1, 10]);
  const loss = (p: Params, x: NdArray, y: NdArray) => nn.mseLoss(net.apply(p, x), y);
  const optimizer = optim.sgd({ lr: 0.01, momentum: 0.9 });
  type State = ReturnType<typeof optimizer.init>;

  // The whole step as one pure function, compiled once by jit.
  const step = jit((p: Params, s: State, x: NdArray, y: NdArray) => {
    const [value, grads] = valueAndGrad(loss)(p, x, y);
    const [updates, nextState] = optimizer.update(grads, s, p);
    return [optim.applyUpdates(p, updates), nextState, value] as const;
  });
  let [p, s] = [params, optimizer.init(params)];
  const losses: number[] = [];
  for (let i = 0; i < 5; i++) {
    let value: NdArray;
    [p, s, value] = step(p, s, input, target);
    losses.push(value.item());
  }
  return { losses };
}

export function trainAndEvalMode() {
  const model = layers.sequential(
    layers.linear(4, 8),
    layers.relu(),
    layers.dropout(0.5),
    layers.linear(8, 2),
  );
  const params = model.init(random.key(1));
  const x = np.ones([3, 4]);
  // net.train(): pass the mode and a key for the dropout masks.
  const training = model.apply(params, x, { train: true, key: random.key(2) });
  // net.eval(): the default; dropout passes everything through and the output is deterministic.
  const evaluation = model.apply(params, x);
  return { training, evaluation };
}

export function customInit() {
  const params = mlp.init(random.key(3));
  // net.apply(init_fn): a rule on each parameter's path (and a key of its own) gives its new value.
  const xavier = layers.init.xavierUniform();
  const reinitialized = layers.reinit(params, random.key(4), (path, leaf, key) =>
    path.endsWith(".weight") ? xavier(key, leaf.shape) : np.zerosLike(leaf),
  );
  // Without randomness, tree.mapWithPath does the same kind of walk.
  const halved = tree.mapWithPath(
    (path: string, leaf: NdArray) => (path.startsWith("2.") ? leaf.mul(0.5) : leaf),
    params,
  );
  return { params, reinitialized, halved };
}

export function noGrad() {
  // with torch.no_grad(): nothing is recorded unless you ask for a gradient, so evaluation is just apply.
  // Inside a differentiated function, stopGradient blocks the flow through one value:
  const f = (x: NdArray) => x.mul(stopGradient(x)).sum(); // d/dx = stop(x), not 2x
  const g = grad(f)(np.array([1, 2, 3])); // [1, 2, 3]
  return { g };
}
