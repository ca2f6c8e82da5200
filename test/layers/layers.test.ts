import { describe, expect, it } from "vitest";
import {
  grad,
  layers,
  type NdArray,
  nn,
  np,
  random,
  ShapeDtype,
  ShapeError,
  tree,
  valueAndGrad,
  vmap,
} from "../../src/index.js";
import { TreeStructureError } from "../../src/tree/index.js";
import { expectClose } from "../golden/golden.js";

const { init } = layers;
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const shapesOf = (t: unknown): Record<string, readonly number[]> =>
  Object.fromEntries(tree.flattenWithPath(t).map(([p, l]) => [p, l.shape]));
const meanOf = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
const stdOf = (v: number[]): number => {
  const m = meanOf(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length);
};

function lenet() {
  return layers.named(
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
}

const fizzBuzz = () => layers.sequential(layers.linear(10, 100), layers.sigmoid(), layers.linear(100, 4));

describe("LeNet as named layers", () => {
  const model = lenet();
  const params = model.init(random.key(0));

  it("has PyTorch's state_dict keys, shapes and 61,706 parameters", () => {
    expect(Object.keys(params)).toEqual(["conv1", "conv2", "fc1", "fc2", "fc3"]);
    expect(shapesOf(params)).toEqual({
      "conv1.weight": [6, 1, 5, 5],
      "conv1.bias": [6],
      "conv2.weight": [16, 6, 5, 5],
      "conv2.bias": [16],
      "fc1.weight": [120, 400],
      "fc1.bias": [120],
      "fc2.weight": [84, 120],
      "fc2.bias": [84],
      "fc3.weight": [10, 84],
      "fc3.bias": [10],
    });
    expect(tree.leaves(params)).toHaveLength(10);
    expect(tree.size(params)).toBe(61_706);
    expect(params.conv1.weight.dtype).toBe("float32");
  });

  it("maps a batch [N,1,32,32] to [N,10] and differentiates", () => {
    const x = random.normal(random.key(1), [2, 1, 32, 32]);
    expect(model.apply(params, x).shape).toEqual([2, 10]);
    const g = grad((p: typeof params) => nn.mseLoss(model.apply(p, x), np.zeros([2, 10])))(params);
    expect(shapesOf(g)).toEqual(shapesOf(params));
  });

  it("inits float64 on request, deterministically by key", () => {
    const a = model.init(random.key(7), { dtype: "float64" });
    const b = model.init(random.key(7), { dtype: "float64" });
    const c = model.init(random.key(8), { dtype: "float64" });
    expect(tree.leaves(a).every((l) => l.dtype === "float64")).toBe(true);
    expect(values(a.fc1.weight)).toEqual(values(b.fc1.weight));
    expect(values(a.fc1.weight)).not.toEqual(values(c.fc1.weight));
    // Each layer gets its own key: two identically shaped layers differ.
    const twins = layers.sequential(layers.linear(3, 3), layers.linear(3, 3)).init(random.key(0));
    expect(values(twins["0"].weight)).not.toEqual(values(twins["1"].weight));
    expect(model.paramSpec("float64")).toMatchObject({
      conv1: { weight: { shape: [6, 1, 5, 5], dtype: "float64" } },
    });
  });

  it("summary prints like print(net) plus a parameter table and the total", () => {
    const text = layers.summary(model, params);
    expect(text).toContain(
      [
        "Net(",
        "  (conv1): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))",
        "  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))",
        "  (fc1): Linear(in_features=400, out_features=120, bias=True)",
        "  (fc2): Linear(in_features=120, out_features=84, bias=True)",
        "  (fc3): Linear(in_features=84, out_features=10, bias=True)",
        ")",
      ].join("\n"),
    );
    expect(text).toMatch(/conv1\.weight\s+\[6, 1, 5, 5\]\s+float32\s+150\n/);
    expect(text).toMatch(/fc1\.weight\s+\[120, 400\]\s+float32\s+48,000\n/);
    expect(text.trimEnd().endsWith("Total: 61,706 parameters in 10 arrays")).toBe(true);
    // Without params, the spec's shapes.
    expect(layers.summary(model)).toContain("Total: 61,706 parameters in 10 arrays");
  });
});

describe("sequential", () => {
  it("keys params by module index, skipping parameterless ones, as nn.Sequential (FizzBuzz: 0 and 2)", () => {
    const model = fizzBuzz();
    const params = model.init(random.key(0));
    expect(Object.keys(params)).toEqual(["0", "2"]);
    expect(tree.flattenWithPath(params).map(([p]) => p)).toEqual([
      "0.weight",
      "0.bias",
      "2.weight",
      "2.bias",
    ]);
    expect(model.apply(params, np.zeros([8, 10])).shape).toEqual([8, 4]);
    expect(layers.summary(model, params)).toContain(
      [
        "Sequential(",
        "  (0): Linear(in_features=10, out_features=100, bias=True)",
        "  (1): Sigmoid()",
        "  (2): Linear(in_features=100, out_features=4, bias=True)",
        ")",
      ].join("\n"),
    );
  });

  it("nests: paths and printed structure", () => {
    const model = layers.sequential(
      layers.sequential(layers.linear(2, 3), layers.tanh()),
      layers.relu(),
      layers.linear(3, 1),
    );
    const params = model.init(random.key(1));
    expect(tree.flattenWithPath(params).map(([p]) => p)).toEqual([
      "0.0.weight",
      "0.0.bias",
      "2.weight",
      "2.bias",
    ]);
    expect(layers.formatLayer(model)).toBe(
      [
        "Sequential(",
        "  (0): Sequential(",
        "    (0): Linear(in_features=2, out_features=3, bias=True)",
        "    (1): Tanh()",
        "  )",
        "  (1): ReLU()",
        "  (2): Linear(in_features=3, out_features=1, bias=True)",
        ")",
      ].join("\n"),
    );
    const x = np.array([[1, -2]]);
    const manual = nn
      .relu(nn.tanh(x.matmul(params["0"]["0"].weight.T).add(params["0"]["0"].bias)))
      .matmul(params["2"].weight.T)
      .add(params["2"].bias);
    expect(values(model.apply(params, x))).toEqual(values(manual));
  });
});

describe("leaf layers", () => {
  const key = random.key(3);

  it("linear computes x @ W^T + b over the last axis, with or without bias", () => {
    const layer = layers.linear(3, 2);
    const params = layer.init(key, { dtype: "float64" });
    const x = np.array([[[1, 2, 3]], [[4, 5, 6]]], { dtype: "float64" });
    const y = layer.apply(params, x);
    expect(y.shape).toEqual([2, 1, 2]);
    expectClose(y, x.matmul(params.weight.T).add(params.bias), { atol: 1e-15, rtol: 0 });
    const noBias = layers.linear(3, 2, { bias: false });
    const p2 = noBias.init(key);
    expect(Object.keys(p2)).toEqual(["weight"]);
    expect(noBias.repr).toBe("Linear(in_features=3, out_features=2, bias=False)");
  });

  it("conv2d has weight [out, in/groups, kh, kw] and the options' output sizes", () => {
    const conv = layers.conv2d(4, 8, [3, 5], { stride: 2, padding: [1, 2], dilation: 1, groups: 2 });
    const params = conv.init(key);
    expect(shapesOf(params)).toEqual({ weight: [8, 2, 3, 5], bias: [8] });
    expect(conv.apply(params, np.zeros([2, 4, 9, 9])).shape).toEqual([2, 8, 5, 5]);
    expect(conv.repr).toBe("Conv2d(4, 8, kernel_size=(3, 5), stride=(2, 2), padding=(1, 2), groups=2)");
    const dilated = layers.conv2d(1, 1, 3, { dilation: 2, bias: false });
    expect(dilated.apply(dilated.init(key), np.zeros([1, 1, 7, 7])).shape).toEqual([1, 1, 3, 3]);
    expect(dilated.repr).toBe("Conv2d(1, 1, kernel_size=(3, 3), stride=(1, 1), dilation=(2, 2), bias=False)");
    // Matches the functional op.
    const x = random.normal(random.key(4), [1, 4, 6, 6]);
    expect(values(conv.apply(params, x))).toEqual(
      values(nn.conv2d(x, params.weight, params.bias, { stride: 2, padding: [1, 2], groups: 2 })),
    );
  });

  it("pooling, flatten and activations", () => {
    const x = random.normal(random.key(5), [2, 3, 8, 8]);
    const none = null;
    expect(layers.maxPool2d(2).apply(none, x).shape).toEqual([2, 3, 4, 4]);
    expect(values(layers.maxPool2d(3, { stride: 2, padding: 1 }).apply(none, x))).toEqual(
      values(nn.maxPool2d(x, 3, { stride: 2, padding: 1 })),
    );
    expect(values(layers.avgPool2d(2).apply(none, x))).toEqual(values(nn.avgPool2d(x, 2)));
    expect(layers.flatten().apply(none, x).shape).toEqual([2, 192]);
    expect(layers.flatten({ startAxis: 2 }).apply(none, x).shape).toEqual([2, 3, 64]);
    expect(values(layers.relu().apply(none, x))).toEqual(values(nn.relu(x)));
    expect(values(layers.sigmoid().apply(none, x))).toEqual(values(nn.sigmoid(x)));
    expect(values(layers.tanh().apply(none, x))).toEqual(values(nn.tanh(x)));
    const s = layers.softmax({ axis: 1 }).apply(none, x);
    expectClose(s.sum({ axis: 1 }), np.ones([2, 8, 8]), { atol: 1e-6, rtol: 0 });
    expect(layers.maxPool2d(2).repr).toBe(
      "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)",
    );
    expect(layers.avgPool2d(2).repr).toBe("AvgPool2d(kernel_size=2, stride=2, padding=0)");
    expect(layers.flatten().repr).toBe("Flatten(start_dim=1, end_dim=-1)");
    expect(layers.softmax({ axis: 1 }).repr).toBe("Softmax(dim=1)");
    expect(layers.maxPool2d(2).init(key)).toBeNull();
  });
});

describe("initialization", () => {
  it("PyTorch's default: weights and biases within 1/sqrt(fanIn), uniform statistics", () => {
    for (const [layer, fanIn] of [
      [layers.linear(400, 120), 400],
      [layers.conv2d(6, 16, 5), 150],
    ] as const) {
      const params = layer.init(random.key(11), { dtype: "float64" });
      const bound = 1 / Math.sqrt(fanIn);
      const w = values(params.weight);
      const b = values(params.bias);
      expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(bound);
      // U(-b, b): mean 0, std b/sqrt(3); the max comes close to the bound.
      expect(Math.abs(meanOf(w))).toBeLessThan(0.05 * bound);
      expect(stdOf(w) / (bound / Math.sqrt(3))).toBeCloseTo(1, 1);
      expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(0.99 * bound);
    }
  });

  it("the initializers: bounds and standard deviations as torch.nn.init", () => {
    const key = random.key(12);
    const shape = [200, 50, 3, 3];
    const fanIn = 50 * 9;
    const fanOut = 200 * 9;
    const check = (x: NdArray, bound: number | null, std: number) => {
      const v = values(x);
      expect(x.shape).toEqual(shape);
      if (bound !== null) expect(Math.max(...v.map(Math.abs))).toBeLessThanOrEqual(bound);
      expect(Math.abs(meanOf(v))).toBeLessThan(0.02 * std);
      expect(stdOf(v) / std).toBeCloseTo(1, 1);
    };
    const kb = Math.sqrt(6 / fanIn);
    check(init.kaimingUniform()(key, shape, "float64"), kb, kb / Math.sqrt(3));
    const relu = Math.sqrt(2 / fanOut);
    check(init.kaimingNormal({ mode: "fanOut", nonlinearity: "relu" })(key, shape, "float64"), null, relu);
    const xb = Math.sqrt(6 / (fanIn + fanOut));
    check(init.xavierUniform()(key, shape, "float64"), xb, xb / Math.sqrt(3));
    check(init.xavierNormal({ gain: 2 })(key, shape, "float64"), null, 2 * Math.sqrt(2 / (fanIn + fanOut)));
    check(init.normal({ std: 0.02 })(key, shape, "float64"), null, 0.02);
    const u = values(init.uniform({ minval: 2, maxval: 3 })(key, [1000]));
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    expect(values(init.zeros(key, [3]))).toEqual([0, 0, 0]);
    expect(values(init.ones(key, [2], "float64"))).toEqual([1, 1]);
    expect(init.ones(key, [2], "float64").dtype).toBe("float64");
    expect(values(init.constant(0.5)(key, [2]))).toEqual([0.5, 0.5]);
    expect(init.calculateGain("leakyRelu", Math.sqrt(5))).toBeCloseTo(Math.sqrt(1 / 3), 15);
    expect(() => init.kaimingUniform()(key, [5])).toThrow(/at least 2 dims/);
  });

  it("custom initializers per layer", () => {
    const layer = layers.linear(4, 3, { weightInit: init.constant(2), biasInit: init.zeros });
    const params = layer.init(random.key(0));
    expect(values(params.weight)).toEqual(new Array(12).fill(2));
    expect(values(params.bias)).toEqual([0, 0, 0]);
  });

  it("reinit applies a rule by path with one key per leaf, deterministically", () => {
    const model = lenet();
    const params = model.init(random.key(0));
    const rule = (path: string, leaf: NdArray, key: random.Key) =>
      path.endsWith("weight")
        ? init.xavierUniform()(key, leaf.shape, "float32")
        : init.zeros(key, leaf.shape);
    const a = layers.reinit(params, random.key(1), rule);
    const b = layers.reinit(params, random.key(1), rule);
    expect(tree.flattenWithPath(a).map(([p]) => p)).toEqual(tree.flattenWithPath(params).map(([p]) => p));
    expect(values(a.fc1.bias)).toEqual(new Array(120).fill(0));
    expect(values(a.fc1.weight)).toEqual(values(b.fc1.weight));
    const bound = Math.sqrt(6 / (400 + 120));
    expect(Math.max(...values(a.fc1.weight).map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(values(a.fc1.weight)).not.toEqual(values(params.fc1.weight));
    // fc2 and fc3 have different shapes; conv-shaped twins would still get different keys.
    const twins = layers.sequential(layers.linear(3, 3), layers.linear(3, 3)).init(random.key(0));
    const re = layers.reinit(twins, random.key(2), (_p, leaf, key) => init.normal()(key, leaf.shape));
    expect(values(re["0"].weight)).not.toEqual(values(re["1"].weight));
    // Keeping the leaf keeps it.
    expect(layers.reinit(params, random.key(1), (_p, leaf) => leaf).conv1.weight).toBe(params.conv1.weight);
    expect(() => layers.reinit(params, random.key(1), () => np.zeros([1]))).toThrow(
      /changed the shape of conv1\.weight/,
    );
  });
});

describe("dropout", () => {
  const x = np.ones([100, 100]);
  const layer = layers.dropout(0.3);

  it("is the identity in evaluation mode (the default)", () => {
    expect(layer.apply(null, x)).toBe(x);
    expect(layer.apply(null, x, { train: false, key: random.key(0) })).toBe(x);
  });

  it("in training mode zeroes about p of the elements and scales the rest by 1/(1-p)", () => {
    const y = values(layer.apply(null, x, { train: true, key: random.key(0) }));
    const kept = y.filter((v) => v !== 0);
    expect(new Set(kept)).toEqual(new Set([Math.fround(1 / 0.7)]));
    expect(1 - kept.length / y.length).toBeCloseTo(0.3, 1);
    // The expectation is preserved.
    expect(meanOf(y)).toBeCloseTo(1, 1);
  });

  it("is deterministic by key and differs between keys", () => {
    const a = values(layer.apply(null, x, { train: true, key: random.key(1) }));
    const b = values(layer.apply(null, x, { train: true, key: random.key(1) }));
    const c = values(layer.apply(null, x, { train: true, key: random.key(2) }));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it("p = 0 and p = 1, a missing key, a bad p", () => {
    expect(layers.dropout(0).apply(null, x, { train: true, key: random.key(0) })).toBe(x);
    expect(
      values(layers.dropout(1).apply(null, x, { train: true, key: random.key(0) })).every((v) => v === 0),
    ).toBe(true);
    expect(() => layer.apply(null, x, { train: true })).toThrow(/dropout p=0\.3: training mode needs a key/);
    expect(() => layers.dropout(1.5)).toThrow(RangeError);
    expect(layer.repr).toBe("Dropout(p=0.3, inplace=False)");
  });

  it("inside containers each dropout gets its own key, and training differentiates", () => {
    const model = layers.sequential(layers.linear(10, 50), layers.dropout(0.5), layers.dropout(0.5));
    const params = model.init(random.key(0));
    const input = np.ones([4, 10]);
    const train = { train: true, key: random.key(5) };
    const y = model.apply(params, input, train);
    expect(values(y)).toEqual(values(model.apply(params, input, train)));
    // Two independent masks keep about 1/4 of the elements.
    const zeroFraction = values(y).filter((v) => v === 0).length / y.size;
    expect(zeroFraction).toBeGreaterThan(0.6);
    expect(zeroFraction).toBeLessThan(0.9);
    const g = grad((p: typeof params) => model.apply(p, input, train).sum())(params);
    expect(shapesOf(g)).toEqual(shapesOf(params));
    // The named forward gets a key of its own in training mode, and none otherwise.
    const keys: (random.Key | undefined)[] = [];
    const m = layers.named({ drop: layers.dropout(0.5) }, (l, h, ctx) => {
      keys.push(ctx.key);
      return l.drop(h);
    });
    m.apply({}, input, train);
    m.apply({}, input);
    expect(keys[0]?.shape).toEqual([2]);
    expect(keys[1]).toBeUndefined();
    // A sub-layer called twice (shared) draws a fresh mask on each call.
    const twice = layers.named({ drop: layers.dropout(0.5) }, (l, h) => l.drop(h).sub(l.drop(h)));
    expect(values(twice.apply({}, input, train)).some((v) => v !== 0)).toBe(true);
  });
});

describe("batchNorm", () => {
  const data = [
    [1, 2, 3],
    [4, 0, -1],
    [2, 2, 8],
    [-3, 5, 1],
  ];
  const x = np.array(data, { dtype: "float64" });
  const columns = [0, 1, 2].map((c) => data.map((row) => row[c]!));

  it("trains with batch statistics and updates running stats with momentum 0.1 and unbiased variance", () => {
    const bn = layers.batchNorm1d(3);
    const { params, state } = bn.initWithState(random.key(0), { dtype: "float64" });
    expect(values(state.runningMean)).toEqual([0, 0, 0]);
    expect(values(state.runningVar)).toEqual([1, 1, 1]);
    const weighted = {
      weight: np.array([1, 2, 0.5], { dtype: "float64" }),
      bias: np.array([0, 1, -1], { dtype: "float64" }),
    };
    const { y, state: next } = bn.applyWithState(weighted, state, x, { train: true });
    const means = columns.map(meanOf);
    const biasedVars = columns.map((col, c) => meanOf(col.map((v) => (v - means[c]!) ** 2)));
    const expected = data.map((row) =>
      row.map(
        (v, c) => ((v - means[c]!) / Math.sqrt(biasedVars[c]! + 1e-5)) * [1, 2, 0.5][c]! + [0, 1, -1][c]!,
      ),
    );
    expectClose(y, np.array(expected, { dtype: "float64" }), { atol: 1e-14, rtol: 1e-13 });
    expectClose(
      next.runningMean,
      np.array(
        means.map((m) => 0.1 * m),
        { dtype: "float64" },
      ),
      { atol: 1e-15, rtol: 1e-14 },
    );
    expectClose(
      next.runningVar,
      np.array(
        biasedVars.map((v) => 0.9 + 0.1 * v * (4 / 3)),
        { dtype: "float64" },
      ),
      { atol: 1e-15, rtol: 1e-14 },
    );
    // The default params are weight 1, bias 0.
    expect(values(params.weight)).toEqual([1, 1, 1]);
    expect(values(params.bias)).toEqual([0, 0, 0]);
  });

  it("evaluates with the running statistics and leaves them unchanged", () => {
    const bn = layers.batchNorm1d(3);
    const { params } = bn.initWithState(random.key(0), { dtype: "float64" });
    const state = {
      runningMean: np.array([1, 2, 3], { dtype: "float64" }),
      runningVar: np.array([4, 1, 0.25], { dtype: "float64" }),
    };
    const { y, state: after } = bn.applyWithState(params, state, x);
    const expected = data.map((row) =>
      row.map((v, c) => (v - [1, 2, 3][c]!) / Math.sqrt([4, 1, 0.25][c]! + 1e-5)),
    );
    expectClose(y, np.array(expected, { dtype: "float64" }), { atol: 1e-14, rtol: 1e-13 });
    expect(after).toBe(state);
  });

  it("batchNorm2d normalizes each channel over N, H, W; state threads through containers", () => {
    const model = layers.sequential(layers.conv2d(2, 4, 3), layers.batchNorm2d(4), layers.relu());
    const { params, state } = model.initWithState(random.key(0));
    expect(Object.keys(params)).toEqual(["0", "1"]);
    expect(Object.keys(state)).toEqual(["1"]);
    expect(model.hasState).toBe(true);
    const input = random.normal(random.key(1), [3, 2, 6, 6]);
    const { y, state: next } = model.applyWithState(params, state, input, { train: true });
    expect(y.shape).toEqual([3, 4, 4, 4]);
    const pre = nn.conv2d(input, params["0"].weight, params["0"].bias);
    const channelMeans = values(pre.mean({ axis: [0, 2, 3] }));
    expectClose(next["1"].runningMean, np.array(channelMeans.map((m) => 0.1 * m)), {
      atol: 1e-6,
      rtol: 1e-5,
    });
    const normalized = model.applyWithState(params, state, input, { train: true }).y;
    // Before the relu, each channel would have mean 0; after it, the mean is positive and finite.
    expect(values(normalized).every((v) => v >= 0 && Number.isFinite(v))).toBe(true);
    // The gradient flows through batch statistics; the new state comes back as aux.
    const [, g] = valueAndGrad(
      (p: typeof params) => {
        const out = model.applyWithState(p, state, input, { train: true });
        return [out.y.sum(), out.state];
      },
      { hasAux: true },
    )(params);
    expect(shapesOf(g)).toEqual(shapesOf(params));
    expect(layers.formatLayer(model)).toContain(
      "(1): BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)",
    );
  });

  it("needs applyWithState, more than one value per channel in training, and the right input", () => {
    const bn = layers.batchNorm2d(3);
    const { params, state } = bn.initWithState(random.key(0));
    expect(() => bn.apply(params, np.zeros([2, 3, 4, 4]))).toThrow(/has state .*applyWithState/);
    expect(() => bn.applyWithState(params, state, np.zeros([1, 3, 1, 1]), { train: true })).toThrow(
      /more than 1 value per channel/,
    );
    expect(() => bn.applyWithState(params, state, np.zeros([2, 4, 5, 5]))).toThrow(
      "batchNorm2d 3: expected input [N,3,H,W], got [2,4,5,5]",
    );
    const noAffine = layers.batchNorm1d(3, { affine: false });
    expect(noAffine.init(random.key(0))).toBeNull();
    const out = noAffine.applyWithState(null, noAffine.initState(), x, { train: true });
    expectClose(out.y.mean({ axis: 0 }), np.zeros([3], { dtype: "float64" }), { atol: 1e-15, rtol: 0 });
    // [N, C, L] input for batchNorm1d.
    expect(noAffine.applyWithState(null, noAffine.initState(), np.ones([2, 3, 5])).y.shape).toEqual([
      2, 3, 5,
    ]);
  });
});

describe("errors name the layer and the shapes", () => {
  const model = lenet();
  const params = model.init(random.key(0));

  it("wrong input rank or channel count", () => {
    expect(() => model.apply(params, np.zeros([4, 3, 32, 32]))).toThrow(
      "conv1 (conv2d 1->6, k=5): expected input [N,1,H,W], got [4,3,32,32]",
    );
    expect(() => model.apply(params, np.zeros([1, 32, 32]))).toThrow(ShapeError);
    expect(() => layers.maxPool2d(2).apply(null, np.zeros([3, 3]))).toThrow(
      "maxPool2d k=2: expected input [N,C,H,W], got [3,3]",
    );
  });

  it("wrong feature count, including deep inside a model", () => {
    expect(() =>
      layers.linear(400, 120).apply(layers.linear(400, 120).init(random.key(0)), np.zeros([2, 399])),
    ).toThrow("linear 400->120: expected input [...,400], got [2,399]");
    // A 28x28 image leaves 16*4*4 = 256 features for fc1.
    expect(() => model.apply(params, np.zeros([2, 1, 28, 28]))).toThrow(
      "fc1 (linear 400->120): expected input [...,400], got [2,256]",
    );
    const fb = fizzBuzz();
    expect(() => fb.apply(fb.init(random.key(0)), np.zeros([8, 12]))).toThrow(
      "0 (linear 10->100): expected input [...,10], got [8,12]",
    );
  });

  it("ops' own shape errors are prefixed with the layer", () => {
    expect(() => model.apply(params, np.zeros([1, 1, 4, 4]))).toThrow(/^conv1 \(conv2d 1->6, k=5\): /);
  });

  it("params of the wrong structure or shape", () => {
    const missingBias = { ...params, conv1: { weight: params.conv1.weight } } as unknown as typeof params;
    expect(() => model.apply(missingBias, np.zeros([1, 1, 32, 32]))).toThrow(TreeStructureError);
    expect(() => model.apply(missingBias, np.zeros([1, 1, 32, 32]))).toThrow(
      /at conv1: keys \{weight,bias\} vs \{weight\}/,
    );
    const swapped = { ...params, fc2: params.fc3 } as typeof params;
    expect(() => model.apply(swapped, np.zeros([1, 1, 32, 32]))).toThrow(
      "Net: params fc2.weight has shape [10,84], expected [84,120]",
    );
    const fb = fizzBuzz();
    const wrongKeys = { "0": params.fc1, "1": params.fc2 } as unknown as ReturnType<typeof fb.init>;
    expect(() => fb.apply(wrongKeys, np.zeros([1, 10]))).toThrow(/keys \{0,2\} vs \{0,1\}/);
  });

  it("bad constructor arguments and dtypes", () => {
    expect(() => layers.linear(0, 3)).toThrow(RangeError);
    expect(() => layers.conv2d(3, 4, 3, { groups: 2 })).toThrow(/divisible by groups 2/);
    expect(() => model.init(random.key(0), { dtype: "int32" as "float32" })).toThrow(/float32 or float64/);
  });
});

describe("transforms over layers", () => {
  it("vmap of a model over examples matches the batched call", () => {
    const model = fizzBuzz();
    const params = model.init(random.key(0));
    const x = random.normal(random.key(1), [5, 10]);
    const perExample = vmap((xi: NdArray) => model.apply(params, xi))(x);
    expectClose(perExample, model.apply(params, x), { atol: 1e-6, rtol: 1e-6 });
  });

  it("a custom layer from defineLayer", () => {
    const scale = layers.defineLayer<{ s: NdArray }>({
      name: "scale",
      repr: "Scale()",
      paramSpec: (dtype) => ({ s: new ShapeDtype([1], dtype) }),
      init: (_key, dtype) => ({ s: np.full([1], 3, { dtype }) }),
      forward: (p, state, x) => ({ y: x.mul(p.s), state }),
    });
    const p = scale.init(random.key(0));
    expect(values(scale.apply(p, np.array([1, 2])))).toEqual([3, 6]);
  });
});
