/**
 * layers.multiheadAttention and the transformer layers beyond the golden data (test/golden/seq-attn.test.ts):
 * the call options in apply (with train and key, in one object or two), clear errors for unknown or
 * unsupported options, PyTorch's default initialization, training-mode dropout, summary, sequential
 * chaining, jit, vmap and gradients against finite differences in float64.
 */
import { describe, expect, it } from "vitest";
import { jit, layers, type NdArray, np, random, ShapeError, tree, vmap } from "../../src/index.js";
import { checkGrads } from "../../src/testing/index.js";

const f64 = { dtype: "float64" } as const;
const normal = (seed: number, shape: number[]) => random.normal(random.key(seed), shape, f64);
const maxDiff = (a: NdArray, b: NdArray): number => np.max(np.abs(a.sub(b))).item();

describe("multiheadAttention layer", () => {
  const mha = layers.multiheadAttention(8, 2);
  const params = mha.init(random.key(0), f64);
  const q = normal(1, [4, 3, 8]);
  const kv = normal(2, [5, 3, 8]);

  it("has PyTorch's parameter names, shapes and default initialization", () => {
    expect(tree.flattenWithPath(params).map(([p, l]) => [p, l.shape])).toEqual([
      ["in_proj_weight", [24, 8]],
      ["in_proj_bias", [24]],
      ["out_proj.weight", [8, 8]],
      ["out_proj.bias", [8]],
    ]);
    // xavier_uniform_ on [3E, E]: bound sqrt(6 / (E + 3E)); the draws fill most of it.
    const bound = Math.sqrt(6 / 32);
    const w = np.abs(params.in_proj_weight!);
    expect(np.max(w).item()).toBeLessThanOrEqual(bound);
    expect(np.max(w).item()).toBeGreaterThan(0.9 * bound);
    // out_proj.weight as nn.Linear's default: U(-1/sqrt(E), 1/sqrt(E)).
    expect(np.max(np.abs(params.out_proj.weight)).item()).toBeLessThanOrEqual(1 / Math.sqrt(8));
    expect(np.max(np.abs(params.in_proj_bias!)).item()).toBe(0);
    expect(np.max(np.abs(params.out_proj.bias!)).item()).toBe(0);
    const separate = layers.multiheadAttention(8, 2, { kdim: 3, vdim: 5, bias: false, addBiasKv: true });
    expect(tree.flattenWithPath(separate.paramSpec()).map(([p, l]) => [p, l.shape])).toEqual([
      ["q_proj_weight", [8, 8]],
      ["k_proj_weight", [8, 3]],
      ["v_proj_weight", [8, 5]],
      ["bias_k", [1, 1, 8]],
      ["bias_v", [1, 1, 8]],
      ["out_proj.weight", [8, 8]],
    ]);
  });

  it("takes the call options with train and key in one object or two, and returns null weights on request", () => {
    const blocked = np.triu(np.ones([4, 5], { dtype: "bool" }), { k: 1 });
    const [y1, w1] = mha.apply(params, q, kv, kv, { attnMask: blocked });
    const [y2, w2] = mha.apply(params, q, kv, kv, { attnMask: blocked, train: false });
    const [y3] = mha.apply(params, q, kv, kv, { attnMask: blocked }, { train: false });
    expect(maxDiff(y1, y2)).toBe(0);
    expect(maxDiff(y1, y3)).toBe(0);
    expect(maxDiff(w1!, w2!)).toBe(0);
    expect(w1!.shape).toEqual([3, 4, 5]);
    // Blocked keys get no weight.
    expect(np.max(np.where(blocked, w1!, 0)).item()).toBe(0);
    const [y4, w4] = mha.apply(params, q, kv, kv, { attnMask: blocked, needWeights: false });
    expect(w4).toBeNull();
    expect(maxDiff(y1, y4)).toBe(0);
    expect(mha.apply(params, q, kv, kv, { averageAttnWeights: false })[1]!.shape).toEqual([3, 2, 4, 5]);
    // isCausal is the lower-triangular mask.
    const causalMask = np.triu(np.ones([4, 4], { dtype: "bool" }), { k: 1 });
    const [yc] = mha.apply(params, q, q, q, { isCausal: true });
    const [ym] = mha.apply(params, q, q, q, { attnMask: causalMask });
    expect(maxDiff(yc, ym)).toBeLessThan(1e-15);
  });

  it("throws a clear error for an unknown or unsupported option", () => {
    expect(() => mha.apply(params, q, kv, kv, { attnMsk: null } as never)).toThrow(
      /apply: unknown option 'attnMsk'; the options are 'keyPaddingMask', 'needWeights', 'attnMask', 'averageAttnWeights', 'isCausal', 'train', 'key'/,
    );
    expect(() => layers.multiheadAttention(8, 2, { addBiasKV: true } as never)).toThrow(
      /multiheadAttention: unknown option 'addBiasKV'/,
    );
    expect(() => layers.multiheadAttention(8, 3)).toThrow(/embedDim 8 must be divisible by numHeads 3/);
    expect(() => mha.apply(params, q, kv, kv, { train: false } as never, { train: true })).toThrow(
      /option train given twice/,
    );
    expect(() => mha.apply(params, q, normal(3, [5, 3, 4]), kv)).toThrow(ShapeError);
    expect(() => (mha.apply as (...args: unknown[]) => unknown)(params, q, kv)).toThrow(
      /expected inputs \(query, key, value\)/,
    );
    // Inside a model, train and key are the model's, not a sub-layer call's.
    const model = layers.named({ attn: mha }, (m, x) => m.attn(x, x, x, { train: true } as never)[0]);
    expect(() => model.apply({ attn: params }, q)).toThrow(
      /attn \(.*\): call options: unknown option 'train'/,
    );
  });

  it("drops attention weights in training mode with a key, and needs the key", () => {
    const dropping = layers.multiheadAttention(8, 2, { dropout: 0.5 });
    const p = dropping.init(random.key(0), f64);
    expect(() => dropping.apply(p, q, kv, kv, { train: true })).toThrow(
      /training mode with dropout 0.5 needs a key/,
    );
    const key = random.key(7);
    const [a, wa] = dropping.apply(p, q, kv, kv, { train: true, key });
    const [b] = dropping.apply(p, q, kv, kv, { train: true, key });
    const [evalOut, evalWeights] = dropping.apply(p, q, kv, kv);
    expect(maxDiff(a, b)).toBe(0);
    expect(maxDiff(a, evalOut)).toBeGreaterThan(1e-3);
    // Dropped weights are 0, kept ones scaled by 1 / (1 - p), as PyTorch returns them.
    const perHead = dropping.apply(p, q, kv, kv, { train: true, key, averageAttnWeights: false })[1]!;
    const evalPerHead = dropping.apply(p, q, kv, kv, { averageAttnWeights: false })[1]!;
    const kept = np.notEqual(perHead, 0);
    expect(Boolean(np.any(np.logicalNot(kept)).item())).toBe(true);
    expect(Boolean(np.any(kept).item())).toBe(true);
    expect(maxDiff(perHead, np.where(kept, np.multiply(evalPerHead, 2), 0))).toBeLessThan(1e-12);
    // The averaged weights are the mean of the dropped per-head ones.
    expect(maxDiff(wa!, np.mean(perHead, { axis: 1 }))).toBeLessThan(1e-12);
    expect(wa!.shape).toEqual(evalWeights!.shape);
  });

  it("prints as torch and shows in summary", () => {
    expect(layers.formatLayer(mha)).toBe(
      "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)\n)",
    );
    const text = layers.summary(mha, params);
    expect(text).toContain("in_proj_weight   [24, 8]  float64");
    expect(text).toContain("Total: 288 parameters in 4 arrays");
  });

  it("gives the same output under jit and, per example, under vmap of the unbatched call", () => {
    const f = (p: layers.MultiheadAttentionParams, x: NdArray, m: NdArray) =>
      mha.apply(p, x, m, m, { isCausal: false, keyPaddingMask: null })[0];
    const eager = f(params, q, kv);
    expect(maxDiff(jit(f)(params, q, kv), eager)).toBeLessThan(1e-13);
    // vmap over the batch axis (axis 1 of [L, N, E]) of the unbatched layer.
    const perExample = vmap((x: NdArray, m: NdArray) => f(params, x, m), { inAxes: [1, 1], outAxes: 1 })(
      q,
      kv,
    );
    expect(maxDiff(perExample, eager)).toBeLessThan(1e-13);
  });

  it("has gradients that match finite differences (float64)", () => {
    const small = layers.multiheadAttention(4, 2, { kdim: 3, vdim: 2, addBiasKv: true, addZeroAttn: true });
    const p = small.init(random.key(3), f64);
    const x = normal(4, [3, 2, 4]);
    const k = normal(5, [4, 2, 3]);
    const v = normal(6, [4, 2, 2]);
    const padding = np.array([
      [false, false, true, true],
      [false, true, false, false],
    ]);
    checkGrads(
      (pp: layers.MultiheadAttentionParams, xx: NdArray, kk: NdArray, vv: NdArray) => {
        const [y, w] = small.apply(pp, xx, kk, vv, { keyPaddingMask: padding });
        return y.sum().add(w!.mul(w!).sum());
      },
      [p, x, k, v],
      { modes: ["rev"], maxCoordinates: 8 },
    );
  });
});

describe("transformer layers", () => {
  const encoder = layers.transformerEncoderLayer(8, 2, { dimFeedforward: 16, batchFirst: true });
  const decoder = layers.transformerDecoderLayer(8, 2, {
    dimFeedforward: 16,
    normFirst: true,
    activation: "gelu",
  });
  const pe = encoder.init(random.key(0), f64);
  const pd = decoder.init(random.key(1), f64);
  const src = normal(2, [3, 5, 8]);
  const tgt = normal(3, [4, 3, 8]);
  const memory = normal(4, [5, 3, 8]);

  it("have PyTorch's names, defaults and repr", () => {
    expect(tree.flattenWithPath(pe).map(([p]) => p)).toEqual([
      "self_attn.in_proj_weight",
      "self_attn.in_proj_bias",
      "self_attn.out_proj.weight",
      "self_attn.out_proj.bias",
      "linear1.weight",
      "linear1.bias",
      "linear2.weight",
      "linear2.bias",
      "norm1.weight",
      "norm1.bias",
      "norm2.weight",
      "norm2.bias",
    ]);
    // dim_feedforward 2048 and dropout 0.1 by default.
    const defaults = layers.transformerEncoderLayer(8, 2);
    expect(layers.formatLayer(defaults)).toContain(
      "(linear1): Linear(in_features=8, out_features=2048, bias=True)",
    );
    expect(layers.formatLayer(defaults)).toContain("(dropout1): Dropout(p=0.1, inplace=False)");
    const noBias = layers.transformerEncoderLayer(8, 2, { bias: false, dimFeedforward: 4 });
    expect(tree.flattenWithPath(noBias.paramSpec()).map(([p]) => p)).toEqual([
      "self_attn.in_proj_weight",
      "self_attn.out_proj.weight",
      "linear1.weight",
      "linear2.weight",
      "norm1.weight",
      "norm2.weight",
    ]);
    expect(layers.summary(decoder, pd)).toContain("multihead_attn.in_proj_weight");
  });

  it("throw clear errors for unknown options and bad inputs", () => {
    expect(() => layers.transformerEncoderLayer(8, 2, { activation: "tanh" } as never)).toThrow(
      /transformerEncoderLayer: option activation must be one of "relu", "gelu", got "tanh"/,
    );
    expect(() => layers.transformerEncoderLayer(8, 2, { layerNormEPS: 1e-6 } as never)).toThrow(
      /unknown option 'layerNormEPS'/,
    );
    expect(() => encoder.apply(pe, src, { mask: null } as never)).toThrow(
      /apply: unknown option 'mask'; the options are 'srcMask', 'srcKeyPaddingMask', 'isCausal', 'train', 'key'/,
    );
    expect(() => decoder.apply(pd, tgt, memory, { srcMask: null } as never)).toThrow(
      /unknown option 'srcMask'/,
    );
    expect(() => encoder.apply(pe, normal(5, [3, 5, 6]))).toThrow(
      /expected src \[N, L, 8\] or unbatched \[L, 8\], got \[3,5,6\]/,
    );
    expect(() => layers.transformerEncoder(encoder, 0)).toThrow(/numLayers must be a positive integer/);
    expect(() => layers.transformerEncoder(encoder, 2, { enableNestedTensor: false } as never)).toThrow(
      /transformerEncoder: unknown option 'enableNestedTensor'/,
    );
  });

  it("apply dropout only in training mode, with a key", () => {
    expect(() => encoder.apply(pe, src, { train: true })).toThrow(/training mode/);
    const key = random.key(9);
    const a = encoder.apply(pe, src, { isCausal: true, train: true, key });
    const b = encoder.apply(pe, src, { isCausal: true }, { train: true, key });
    const evalOut = encoder.apply(pe, src, { isCausal: true });
    expect(maxDiff(a, b)).toBe(0);
    expect(maxDiff(a, evalOut)).toBeGreaterThan(1e-3);
    expect(maxDiff(evalOut, encoder.apply(pe, src, { isCausal: true, train: false }))).toBe(0);
  });

  it("chain in sequential (one array in, one out) like a stack without a norm", () => {
    const chained = layers.sequential(encoder, encoder);
    const stack = layers.transformerEncoder(encoder, 2);
    const ps = stack.init(random.key(2), f64);
    const viaSequential = chained.apply({ 0: ps.layers[0]!, 1: ps.layers[1]! } as never, src);
    expect(maxDiff(viaSequential, stack.apply(ps, src))).toBe(0);
    expect(tree.flattenWithPath(ps).map(([p]) => p)[0]).toBe("layers.0.self_attn.in_proj_weight");
  });

  it("unbatched inputs give the batched result of one example", () => {
    const one = decoder.apply(pd, np.take(tgt, 1, { axis: 1 }), np.take(memory, 1, { axis: 1 }), {
      tgtIsCausal: true,
    });
    const all = decoder.apply(pd, tgt, memory, { tgtIsCausal: true });
    expect(maxDiff(one, np.take(all, 1, { axis: 1 }))).toBeLessThan(1e-13);
  });

  it("have gradients that match finite differences (float64), under jit too", () => {
    const small = layers.transformerDecoderLayer(4, 2, { dimFeedforward: 6, activation: "gelu" });
    const p = small.init(random.key(5), f64);
    const t = normal(6, [3, 2, 4]);
    const m = normal(7, [4, 2, 4]);
    const memoryPadding = np.array([
      [false, false, false, true],
      [false, true, false, false],
    ]);
    const f = (pp: typeof p, tt: NdArray, mm: NdArray) =>
      np.sin(small.apply(pp, tt, mm, { tgtIsCausal: true, memoryKeyPaddingMask: memoryPadding })).sum();
    checkGrads(f, [p, t, m], { modes: ["rev"], maxCoordinates: 8 });
    expect(Math.abs(jit(f)(p, t, m).item() - f(p, t, m).item())).toBeLessThan(1e-12);
  });
});
