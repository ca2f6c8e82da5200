/**
 * What the golden data (test/golden/seq-ops.test.ts) does not show of issue 21's functional ops and
 * layers: the semantics chosen where PyTorch gives NaN (fully masked attention rows), errors, option
 * checks, dropout's mask, the layers' parameters, initial values and reprs.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, layers, type NdArray, nn, np, random } from "../../src/index.js";
import { expectClose } from "../golden/golden.js";

const f64 = (data: number[], shape?: number[]): NdArray =>
  np.array(data, { dtype: "float64", ...(shape ? { shape } : {}) });
const i32 = (data: number[], shape?: number[]): NdArray =>
  np.array(data, { dtype: "int32", ...(shape ? { shape } : {}) });
const TIGHT = { atol: 1e-14, rtol: 1e-12 };
const values = (x: NdArray): number[] => Array.from(x.toTypedArray());
const key = random.key(7);

describe("scaledDotProductAttention", () => {
  const q = random.normal(random.key(1), [2, 3, 4], { dtype: "float64" });
  const k = random.normal(random.key(2), [2, 5, 4], { dtype: "float64" });
  const v = random.normal(random.key(3), [2, 5, 2], { dtype: "float64" });

  it("a query row that may attend to no key gives zeros and a zero gradient (PyTorch: NaN)", () => {
    const mask = np.array(
      [
        [true, false, true, false, false],
        [false, false, false, false, false],
        [true, true, true, true, true],
      ],
      { dtype: "bool" },
    );
    const y = nn.scaledDotProductAttention(q, k, v, { mask });
    expect(values(np.slice(y, [{}, { start: 1, stop: 2 }])).every((x) => x === 0)).toBe(true);
    expect(values(y).every(Number.isFinite)).toBe(true);
    // The other rows are softmax over the allowed keys only: the same as attending to those keys alone.
    const row0 = nn.scaledDotProductAttention(
      np.slice(q, [{}, { start: 0, stop: 1 }]),
      np.take(k, i32([0, 2]), { axis: 1 }),
      np.take(v, i32([0, 2]), { axis: 1 }),
    );
    expectClose(np.slice(y, [{}, { start: 0, stop: 1 }]), row0, TIGHT);
    const dq = grad((x: NdArray) => np.sum(nn.scaledDotProductAttention(x, k, v, { mask })))(q) as NdArray;
    expect(values(dq).every(Number.isFinite)).toBe(true);
    expect(values(np.slice(dq, [{}, { start: 1, stop: 2 }])).every((x) => x === 0)).toBe(true);
    // A float mask of -inf is the same as a false in a bool mask.
    const floatMask = np.where(mask, 0, Number.NEGATIVE_INFINITY).astype("float64");
    expectClose(nn.scaledDotProductAttention(q, k, v, { mask: floatMask }), y, TIGHT);
  });

  it("is stable for scores in the thousands", () => {
    const y = nn.scaledDotProductAttention(np.multiply(q, 1e4), k, v);
    expect(values(y).every(Number.isFinite)).toBe(true);
  });

  it("isCausal with a mask applies both; errors name the function", () => {
    const qs = random.normal(random.key(4), [3, 3], { dtype: "float64" });
    const mask = np.array(
      [
        [true, true, true],
        [false, true, true],
        [true, true, true],
      ],
      { dtype: "bool" },
    );
    const both = nn.scaledDotProductAttention(qs, qs, qs, { mask, isCausal: true });
    const combined = np.logicalAnd(mask, np.tril(np.ones([3, 3], { dtype: "bool" })));
    expectClose(both, nn.scaledDotProductAttention(qs, qs, qs, { mask: combined }), TIGHT);
    expect(() => nn.scaledDotProductAttention(q, k, v, { mask: np.ones([4, 5], { dtype: "bool" }) })).toThrow(
      /scaledDotProductAttention: mask of shape \[4,5\] does not broadcast/,
    );
    expect(() => nn.scaledDotProductAttention(q, v, v)).toThrow(/scaledDotProductAttention: expected q/);
    expect(() => nn.scaledDotProductAttention(q, k, v, { dropoutP: 0.1 })).toThrow(/needs a key/);
    expect(() => nn.scaledDotProductAttention(q, k, v, { causal: true } as never)).toThrow(
      /scaledDotProductAttention: unknown option 'causal'/,
    );
  });

  it("dropout on the weights uses the key's mask, as nn.dropout of the weights", () => {
    const y = nn.scaledDotProductAttention(q, k, v, { dropoutP: 0.5, key });
    const weights = nn.softmax(np.multiply(np.matmul(q, np.swapaxes(k, -1, -2)), 0.5));
    expectClose(y, np.matmul(nn.dropout(key, weights, 0.5), v), TIGHT);
  });
});

describe("multiHeadAttention", () => {
  const e = 4;
  const w = {
    inProjWeight: random.normal(random.key(5), [3 * e, e], { dtype: "float64" }),
    outProjWeight: random.normal(random.key(6), [e, e], { dtype: "float64" }),
  };
  const x = random.normal(random.key(8), [3, 2, e], { dtype: "float64" });

  it("batchFirst is the seq-first call on transposed inputs", () => {
    const [seqFirst, weights] = nn.multiHeadAttention(x, x, x, w, { numHeads: 2 });
    const xb = np.swapaxes(x, 0, 1);
    const [batchFirst, weightsB] = nn.multiHeadAttention(xb, xb, xb, w, { numHeads: 2, batchFirst: true });
    expectClose(batchFirst, np.swapaxes(seqFirst, 0, 1), TIGHT);
    expectClose(weightsB!, weights!, TIGHT);
    expect(nn.multiHeadAttention(x, x, x, w, { numHeads: 2, needWeights: false })[1]).toBeNull();
  });

  it("isCausal is the upper-triangle bool attnMask (true = blocked); dropout needs a key and uses it", () => {
    const blocked = np.triu(np.ones([3, 3], { dtype: "bool" }), { k: 1 });
    const [causal, wCausal] = nn.multiHeadAttention(x, x, x, w, { numHeads: 2, isCausal: true });
    const [masked, wMasked] = nn.multiHeadAttention(x, x, x, w, { numHeads: 2, attnMask: blocked });
    expectClose(causal, masked, TIGHT);
    expectClose(wCausal!, wMasked!, TIGHT);
    expect(values(np.slice(wCausal!, [{}, { start: 0, stop: 1 }, { start: 1 }])).every((v) => v === 0)).toBe(
      true,
    );
    expect(() => nn.multiHeadAttention(x, x, x, w, { numHeads: 2, dropoutP: 0.2 })).toThrow(
      /multiHeadAttention: dropoutP 0.2 > 0 needs a key/,
    );
    const a = nn.multiHeadAttention(x, x, x, w, { numHeads: 2, dropoutP: 0.5, key })[0];
    const b = nn.multiHeadAttention(x, x, x, w, { numHeads: 2, dropoutP: 0.5, key })[0];
    expectClose(a, b, { atol: 0, rtol: 0 });
    const plain = nn.multiHeadAttention(x, x, x, w, { numHeads: 2 })[0];
    expect(values(np.abs(np.subtract(a, plain))).some((v) => v > 1e-6)).toBe(true);
  });

  it("a fully padded batch element gives zeros, not NaN; errors name the function and shapes", () => {
    const keyPaddingMask = np.array(
      [
        [true, true, true],
        [false, true, false],
      ],
      { dtype: "bool" },
    );
    const [y, weights] = nn.multiHeadAttention(x, x, x, w, { numHeads: 2, keyPaddingMask });
    expect(values(y).every(Number.isFinite)).toBe(true);
    expect(values(np.slice(weights!, [{ start: 0, stop: 1 }])).every((v) => v === 0)).toBe(true);
    expect(() => nn.multiHeadAttention(x, x, x, w, { numHeads: 3 })).toThrow(
      /multiHeadAttention: numHeads must be a positive integer dividing the embedding size 4, got 3/,
    );
    expect(() => nn.multiHeadAttention(x, x, x, w, { numHeads: 2, attnMask: np.ones([2, 2]) })).toThrow(
      /multiHeadAttention: attnMask must be \[3, 3\] or \[4, 3, 3\]/,
    );
    expect(() =>
      nn.multiHeadAttention(x, x, x, { ...w, bias: w.outProjWeight } as never, { numHeads: 2 }),
    ).toThrow(/multiHeadAttention: weights: unknown option 'bias'/);
  });
});

describe("embedding", () => {
  const weight = random.normal(random.key(9), [5, 3], { dtype: "float64" });

  it("rejects indices outside [0, rows), negative ones too, eagerly and under jit", () => {
    expect(() => nn.embedding(weight, i32([0, 5]))).toThrow(
      /embedding: index 5 at flat index 1 is out of range for 5 embeddings/,
    );
    expect(() => nn.embedding(weight, i32([-1]))).toThrow(/embedding: index -1 at flat index 0/);
    expect(() => jit((idx: NdArray) => nn.embedding(weight, idx))(i32([2, 7]))).toThrow(/embedding: index 7/);
    expect(() => nn.embedding(weight, f64([1]))).toThrow(/embedding: indices must be an int32 array/);
    expect(() => nn.embedding(weight, i32([1]), { paddingIdx: 5 })).toThrow(
      /paddingIdx must be an integer in \[-5, 5\)/,
    );
  });

  it("the padding row's lookups return its values and pass it no gradient", () => {
    const idx = i32([3, 1, 3, 0]);
    const looked = nn.embedding(weight, idx, { paddingIdx: -2 });
    expectClose(looked, np.take(weight, idx, { axis: 0 }), { atol: 0, rtol: 0 });
    const g = grad((w: NdArray) => np.sum(nn.embedding(w, idx, { paddingIdx: 3 })))(weight) as NdArray;
    expect(values(g)).toEqual([1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe("normalization functions", () => {
  const x = random.normal(random.key(10), [2, 4, 3], { dtype: "float64" });

  it("rmsNorm's default eps is the dtype's machine epsilon", () => {
    const zeros = np.zeros([2, 3], { dtype: "float64" });
    expect(values(nn.rmsNorm(zeros, 3))).toEqual([0, 0, 0, 0, 0, 0]);
    const tiny = f64([1e-10, 0, 0], [1, 3]);
    // 1e-10 / sqrt(1e-20 / 3 + 2^-52)
    expectClose(nn.rmsNorm(tiny, [3]), f64([1e-10 / Math.sqrt(1e-20 / 3 + 2 ** -52), 0, 0], [1, 3]), TIGHT);
    const tiny32 = tiny.astype("float32");
    expectClose(
      nn.rmsNorm(tiny32, [3]).astype("float64"),
      f64([Math.fround(1e-10 / Math.sqrt(2 ** -23)), 0, 0], [1, 3]),
      {
        atol: 0,
        rtol: 1e-6,
      },
    );
  });

  it("shape errors name the function and the shapes", () => {
    expect(() => nn.layerNorm(x, [4])).toThrow(
      /layerNorm: input \[2,4,3\] must end with the normalized shape \[4\]/,
    );
    expect(() => nn.layerNorm(x, 3, { weight: np.ones([4], { dtype: "float64" }) })).toThrow(
      /layerNorm: weight must have shape \[3\], got \[4\]/,
    );
    expect(() => nn.groupNorm(x, 3)).toThrow(
      /groupNorm: numGroups must be a positive integer dividing the 4 channels/,
    );
    expect(() => nn.layerNorm(x, 3, { elementwiseAffine: false } as never)).toThrow(
      /layerNorm: unknown option/,
    );
    expect(() => nn.batchNorm(x, null, null)).toThrow(
      /batchNorm: evaluation mode \(training false\) needs runningMean/,
    );
    expect(() => nn.batchNorm(np.ones([1, 4], { dtype: "float64" }), null, null, { training: true })).toThrow(
      /batchNorm: training needs more than 1 value per channel/,
    );
  });

  it("groupNorm with one channel per group is instance norm; one group is layer norm over [C, *]", () => {
    expectClose(nn.groupNorm(x, 1), nn.layerNorm(x, [4, 3]), TIGHT);
    const perChannel = np.divide(
      np.subtract(x, np.mean(x, { axis: 2, keepdims: true })),
      np.sqrt(np.add(np.var(x, { axis: 2, keepdims: true }), 1e-5)),
    );
    expectClose(nn.groupNorm(x, 4), perChannel, { atol: 1e-13, rtol: 1e-12 });
  });

  it("batchNorm in training returns updated running statistics without a gradient through them", () => {
    const mean0 = np.zeros([4], { dtype: "float64" });
    const var0 = np.ones([4], { dtype: "float64" });
    const r = nn.batchNorm(x, mean0, var0, { training: true, momentum: 0.25 });
    const batchMean = np.mean(x, { axis: [0, 2] });
    expectClose(r.runningMean!, np.multiply(batchMean, 0.25), TIGHT);
    expectClose(r.runningVar!, np.add(0.75, np.multiply(np.var(x, { axis: [0, 2], ddof: 1 }), 0.25)), TIGHT);
    const g = grad((m: NdArray) => np.sum(nn.batchNorm(x, m, var0, { training: true }).runningMean!))(
      mean0,
    ) as NdArray;
    expectClose(g, np.full([4], 0.9, { dtype: "float64" }), TIGHT);
    const untracked = nn.batchNorm(x, null, null, { training: true });
    expect(untracked.runningMean).toBeNull();
  });
});

describe("dropout as a function", () => {
  const x = random.normal(random.key(11), [4, 5], { dtype: "float64" });

  it("is the dropout layer's computation: the same key gives the same mask", () => {
    const layer = layers.dropout(0.3);
    expectClose(nn.dropout(key, x, 0.3), layer.apply(null, x, { train: true, key }), { atol: 0, rtol: 0 });
    const y = values(nn.dropout(key, x, 0.3));
    values(x).forEach((v, i) => expect([0, v * (1 / 0.7)]).toContain(y[i]));
  });

  it("is the identity when not training or p = 0, zeros at p = 1; checks p and the key", () => {
    expect(nn.dropout(undefined, x, 0.5, { train: false })).toBe(x);
    expect(nn.dropout(undefined, x, 0)).toBe(x);
    expect(values(nn.dropout(key, x, 1)).every((v) => v === 0)).toBe(true);
    expect(() => nn.dropout(key, x, 1.5)).toThrow(
      /dropout: the dropout probability must be in \[0, 1\], got 1.5/,
    );
    expect(() => nn.dropout(undefined, x, 0.5)).toThrow(/dropout: a key is needed/);
    expect(() => nn.dropout(key, x, 0.5, { training: true } as never)).toThrow(
      /dropout: unknown option 'training'/,
    );
  });
});

describe("activations at their kinks and extremes", () => {
  const d = (f: (x: NdArray) => NdArray, xs: number[]): number[] =>
    values(grad((v: NdArray) => np.sum(f(v)))(f64(xs)) as NdArray);

  it("hardtanh, relu6 and hardswish have PyTorch's derivatives at the kinks", () => {
    expect(d(nn.hardtanh, [-1, 0, 1])).toEqual([0, 1, 0]);
    expect(d(nn.relu6, [0, 3, 6])).toEqual([0, 1, 0]);
    expect(d(nn.hardswish, [-3, 3])).toEqual([-0.5, 1.5]);
    expect(values(nn.hardswish(f64([-4, -3, 3, 4]))).map((v) => v + 0)).toEqual([0, 0, 3, 4]);
    expect(values(nn.hardtanh(f64([Number.NaN])))).toEqual([Number.NaN]);
  });

  it("logSigmoid, mish, softsign and selu are finite for huge inputs", () => {
    expect(values(nn.logSigmoid(f64([-1000, 0, 1000]))).map((v) => v + 0)).toEqual([-1000, -Math.LN2, 0]);
    expect(d(nn.logSigmoid, [-1000, 0, 1000])).toEqual([1, 0.5, 0]);
    expect(values(nn.mish(f64([-1000, 1000]))).map((v) => v + 0)).toEqual([0, 1000]);
    expect(d(nn.mish, [-1000, 1000]).every(Number.isFinite)).toBe(true);
    expect(d(nn.selu, [0])[0]).toBeCloseTo(1.0507009873554805 * 1.6732632423543772, 15);
    expect(d(nn.celu, [0])).toEqual([1]);
  });

  it("glu needs an even axis; celu a non-zero alpha", () => {
    expect(() => nn.glu(np.ones([2, 3]))).toThrow(/glu: the size 3 of axis -1 of input \[2,3\] must be even/);
    expect(() => nn.celu(np.ones([2]), { alpha: 0 })).toThrow(/celu: alpha must be finite and non-zero/);
    expect(() => nn.hardtanh(np.ones([2]), { minVal: 1, maxVal: 0 })).toThrow(
      /hardtanh: minVal 1 must not exceed maxVal 0/,
    );
  });
});

describe("losses: options and edge cases", () => {
  it("every new loss refuses unknown options and unknown reductions", () => {
    const a = f64([1, 2]);
    expect(() => nn.klDiv(a, a, { logTarget: false, weight: a } as never)).toThrow(
      /klDiv: unknown option 'weight'/,
    );
    expect(() => nn.klDiv(a, a, { reduction: "batch" as never })).toThrow(
      /klDiv: option reduction must be one of/,
    );
    expect(() => nn.cosineEmbedding(a, a, f64([1]).reshape([]), { p: 2 } as never)).toThrow(
      /cosineEmbedding: unknown option 'p'/,
    );
    expect(() => nn.marginRanking(a, a, a, { weight: a } as never)).toThrow(
      /marginRanking: unknown option 'weight'/,
    );
    expect(() => nn.crossEntropy(np.ones([2, 3]), i32([0, 1]), { classWeight: [1, 2, 3] } as never)).toThrow(
      /crossEntropy: unknown option 'classWeight'/,
    );
  });

  it("klDiv is 0 where the target is 0 (xlogy), and batchmean divides by the batch size", () => {
    const input = np.log(f64([0.5, 0.5, 0.25, 0.75], [2, 2]));
    const target = f64([1, 0, 0.5, 0.5], [2, 2]);
    const pointwise = [
      1 * (0 - Math.log(0.5)),
      0,
      0.5 * (Math.log(0.5) - Math.log(0.25)),
      0.5 * (Math.log(0.5) - Math.log(0.75)),
    ];
    expectClose(nn.klDiv(input, target, { reduction: "none" }), f64(pointwise, [2, 2]), TIGHT);
    expectClose(
      nn.klDiv(input, target, { reduction: "batchmean" }),
      f64([(pointwise[0]! + pointwise[2]! + pointwise[3]!) / 2]).reshape([]),
      TIGHT,
    );
  });

  it("cosineEmbedding and marginRanking check their shapes", () => {
    expect(() => nn.cosineEmbedding(np.ones([2, 3]), np.ones([2, 3]), np.ones([3]))).toThrow(
      /cosineEmbedding: target must have shape \[2\] for inputs \[2,3\], got \[3\]/,
    );
    expect(() => nn.marginRanking(np.ones([2]), np.ones([3]), np.ones([2]))).toThrow(
      /marginRanking: input shape \[2\]/,
    );
  });
});

describe("layers: layerNorm, rmsNorm, groupNorm, embedding", () => {
  const k = random.key(12);

  it("have PyTorch's parameter names, shapes, initial values and reprs", () => {
    const ln = layers.layerNorm([3, 4]);
    expect(ln.repr).toBe("LayerNorm((3, 4), eps=1e-05, elementwise_affine=True)");
    const p = ln.init(k) as { weight: NdArray; bias: NdArray };
    expect(Object.keys(p)).toEqual(["weight", "bias"]);
    expect(values(p.weight).every((v) => v === 1) && values(p.bias).every((v) => v === 0)).toBe(true);
    expect(layers.layerNorm(5, { bias: false }).paramSpec()).toEqual({ weight: expect.anything() });
    expect(layers.layerNorm(5, { elementwiseAffine: false }).init(k)).toBeNull();
    expect(layers.rmsNorm(5).repr).toBe("RMSNorm((5,), eps=None, elementwise_affine=True)");
    expect(layers.groupNorm(2, 6).repr).toBe("GroupNorm(2, 6, eps=1e-05, affine=True)");
    expect(Object.keys(layers.groupNorm(2, 6).init(k)!)).toEqual(["weight", "bias"]);
    expect(layers.embedding(10, 3).repr).toBe("Embedding(10, 3)");
    expect(layers.embedding(10, 3, { paddingIdx: -1 }).repr).toBe("Embedding(10, 3, padding_idx=9)");
  });

  it("embedding starts N(0, 1) with the padding row zero", () => {
    const emb = layers.embedding(400, 50, { paddingIdx: 2 });
    const { weight } = emb.init(k, { dtype: "float64" });
    expect(values(np.take(weight, 2, { axis: 0 })).every((v) => v === 0)).toBe(true);
    const rest = np.concatenate([np.slice(weight, [{ stop: 2 }]), np.slice(weight, [{ start: 3 }])]);
    const mean = np.mean(rest).item();
    const std = np.std(rest).item();
    expect(Math.abs(mean)).toBeLessThan(0.03); // 19,950 draws: the mean's standard error is 0.007
    expect(Math.abs(std - 1)).toBeLessThan(0.03);
    expect(emb.apply({ weight }, i32([2, 5])).shape).toEqual([2, 50]);
  });

  it("check their inputs with the layer's name", () => {
    expect(() => layers.groupNorm(4, 6)).toThrow(
      /groupNorm: numGroups must be a positive integer dividing numChannels 6/,
    );
    const gn = layers.groupNorm(2, 4);
    expect(() => gn.apply(gn.init(k), np.ones([2, 3, 5]))).toThrow(
      /groupNorm 2x2: expected input \[N,4,\*\], got \[2,3,5\]/,
    );
    const ln = layers.layerNorm(4);
    expect(() => ln.apply(ln.init(k), np.ones([2, 3]))).toThrow(
      /layerNorm \[4\]: layerNorm: input \[2,3\] must end/,
    );
    expect(() => layers.embedding(5, 2, { padding: 1 } as never)).toThrow(
      /embedding: unknown option 'padding'/,
    );
  });

  it("rmsNorm layer applies nn.rmsNorm with its weight", () => {
    const layer = layers.rmsNorm(3, { eps: 1e-6 });
    const x = random.normal(random.key(13), [2, 3], { dtype: "float64" });
    const weight = f64([1, 2, 3]);
    expectClose(layer.apply({ weight }, x), nn.rmsNorm(x, 3, { weight, eps: 1e-6 }), { atol: 0, rtol: 0 });
  });
});
