/**
 * The law rows of issue 21's functional ops (nn's activations, normalization, embedding, dropout,
 * attention and losses): compositions of existing primitives, so each is a FunctionLawEntry whose jvp and
 * vjp are checked against central differences in float64, with vmap against stacking and jit against
 * eager (laws/gradients.test.ts runs every row). Inputs keep away from the kinks where a finite difference
 * would straddle a corner (hardtanh's bounds, hardswish's ±3, the hinges of the ranking losses).
 */
import * as fc from "fast-check";
import type { NdArray } from "../src/core/array.js";
import { nn, np, random } from "../src/index.js";
import type { ElementOptions } from "../src/testing/arbitraries.js";
import { testing } from "../src/testing.js";
import type { FunctionLawEntry, LawCase, LawFn } from "./registry-table.js";

const { arb } = testing;

const EXAMPLES = 3;

/** Cases from a config arbitrary: one function per config, three input lists (one checked, all for vmap). */
function cases<C>(
  config: fc.Arbitrary<C>,
  build: (c: C) => { fn: LawFn; inputs: fc.Arbitrary<NdArray[]> },
): fc.Arbitrary<LawCase> {
  return config.chain((c) => {
    const { fn, inputs } = build(c);
    return fc
      .array(inputs, { minLength: EXAMPLES, maxLength: EXAMPLES })
      .map((examples): LawCase => ({ description: JSON.stringify(c), fn, examples }));
  });
}

const arrays = (...arbs: fc.Arbitrary<NdArray>[]): fc.Arbitrary<NdArray[]> =>
  fc.tuple(...arbs).map((xs) => [...xs]);
const float = (shape: readonly number[], options: ElementOptions = {}) => arb.array({ shape, ...options });
const ints = (shape: readonly number[], min: number, max: number) =>
  arb.array({ shape, dtype: "int32", min, max });
const signs = (shape: readonly number[]) => ints(shape, 0, 1).map((x) => np.subtract(np.multiply(x, 2), 1));

/** Small shapes of rank 1 to 3, none empty. */
const SHAPES = arb.shape({ minRank: 1, maxRank: 3, minDim: 1, maxDim: 3 });
const dim = (min: number, max: number) => fc.integer({ min, max });

function elementwise(
  fn: string,
  primitive: string,
  f: LawFn,
  elements: ElementOptions = {},
  note?: string,
): FunctionLawEntry {
  return {
    kind: "differentiable",
    function: `nn.${fn}`,
    primitive,
    secondOrder: true,
    cases: cases(SHAPES, (shape) => ({ fn: f, inputs: arrays(float(shape, elements)) })),
    ...(note ? { note } : {}),
  };
}

/** The rows of nn's sequence-model functions. */
export function seqOpsLaws(): FunctionLawEntry[] {
  const dropoutKey = random.key(3);
  return [
    elementwise("mish", "tanh", (x) => nn.mish(x), { min: -4, max: 4 }),
    elementwise("selu", "expm1", (x) => nn.selu(x), { avoid: [0], margin: 0.1 }, "away from the kink at 0"),
    elementwise("relu6", "select", (x) => nn.relu6(x), { min: -2, max: 8, avoid: [0, 6], margin: 0.1 }),
    elementwise(
      "hardtanh",
      "select",
      (x) => nn.hardtanh(x, { minVal: -0.5, maxVal: 1.5 }),
      { avoid: [-0.5, 1.5], margin: 0.1 },
      "bounds -0.5 and 1.5, kept 0.1 away",
    ),
    elementwise("hardswish", "select", (x) => nn.hardswish(x), {
      min: -5,
      max: 5,
      avoid: [-3, 3],
      margin: 0.1,
    }),
    elementwise("logSigmoid", "log1p", (x) => nn.logSigmoid(x), {
      min: -6,
      max: 6,
      avoid: [0],
      margin: 0.05,
    }),
    elementwise("softsign", "abs", (x) => nn.softsign(x), { avoid: [0], margin: 0.05 }),
    elementwise("celu", "expm1", (x) => nn.celu(x, { alpha: 0.7 }), { avoid: [0], margin: 0.1 }, "alpha 0.7"),
    {
      kind: "differentiable",
      function: "nn.glu",
      primitive: "logistic",
      secondOrder: true,
      cases: cases(fc.record({ n: dim(1, 3), half: dim(1, 3) }), ({ n, half }) => ({
        fn: (x) => nn.glu(x, 0),
        inputs: arrays(float([2 * half, n])),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.layerNorm",
      primitive: "rsqrt",
      secondOrder: true,
      note: "over the last one or two axes, with weight and bias",
      cases: cases(
        fc.record({ n: dim(1, 3), a: dim(2, 3), b: dim(1, 3), two: fc.boolean() }),
        ({ n, a, b, two }) => {
          const normalized = two ? [a, b] : [b];
          return {
            fn: (x, w, bias) => nn.layerNorm(x, normalized, { weight: w, bias, eps: 1e-3 }),
            inputs: arrays(float([n, a, b]), float(normalized), float(normalized)),
          };
        },
      ),
    },
    {
      kind: "differentiable",
      function: "nn.rmsNorm",
      primitive: "rsqrt",
      secondOrder: true,
      cases: cases(fc.record({ n: dim(1, 3), d: dim(1, 4) }), ({ n, d }) => ({
        fn: (x, w) => nn.rmsNorm(x, d, { weight: w, eps: 1e-3 }),
        inputs: arrays(float([n, d], { avoid: [0], margin: 0.1 }), float([d])),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.groupNorm",
      primitive: "rsqrt",
      secondOrder: true,
      cases: cases(fc.record({ n: dim(1, 2), groups: dim(1, 2), per: dim(1, 2), l: dim(1, 3) }), (r) => {
        const c = r.groups * r.per;
        return {
          fn: (x, w, b) => nn.groupNorm(x, r.groups, { weight: w, bias: b, eps: 1e-3 }),
          inputs: arrays(float([r.n, c, r.l + 1]), float([c]), float([c])),
        };
      }),
    },
    {
      kind: "differentiable",
      function: "nn.batchNorm (training)",
      primitive: "sqrt",
      secondOrder: true,
      note: "the output in training mode (batch statistics), with weight and bias",
      cases: cases(fc.record({ n: dim(2, 3), c: dim(1, 3), l: dim(1, 2) }), ({ n, c, l }) => ({
        fn: (x, w, b) => nn.batchNorm(x, null, null, { weight: w, bias: b, training: true, eps: 1e-3 }).y,
        inputs: arrays(float([n, c, l]), float([c]), float([c])),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.embedding",
      primitive: "take",
      secondOrder: true,
      note: "int32 indices held fixed, no paddingIdx: its zero gradient departs from the derivative on purpose (PyTorch's), checked in test/nn/seq-ops.test.ts and the golden cases",
      cases: cases(fc.record({ rows: dim(1, 4), d: dim(1, 3), k: dim(1, 4) }), ({ rows, d, k }) => ({
        fn: (w, idx) => nn.embedding(w, idx),
        inputs: arrays(float([rows, d]), ints([k], 0, rows - 1)),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.dropout",
      primitive: "select",
      secondOrder: true,
      note: "p = 0.4 with one fixed key (the mask is a constant)",
      cases: cases(SHAPES, (shape) => ({
        fn: (x) => nn.dropout(dropoutKey, x, 0.4),
        inputs: arrays(float(shape)),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.scaledDotProductAttention",
      primitive: "matmul",
      secondOrder: true,
      note: "q [b, l, e], k and v [b, s, e]; a bool mask with key 0 always visible, or the causal mask",
      cases: cases(
        fc.record({ b: dim(1, 2), l: dim(1, 3), s: dim(1, 3), e: dim(1, 3), causal: fc.boolean() }),
        ({ b, l, s, e, causal }) => ({
          fn: (q, k, v, mask) =>
            nn.scaledDotProductAttention(
              q,
              k,
              v,
              causal ? { isCausal: true } : { mask: np.logicalOr(mask, firstKey(l, s)) },
            ),
          inputs: arrays(
            float([b, l, e]),
            float([b, s, e]),
            float([b, s, e]),
            arb.array({ shape: [l, s], dtype: "bool" }),
          ),
        }),
      ),
    },
    {
      kind: "differentiable",
      function: "nn.multiHeadAttention",
      primitive: "matmul",
      secondOrder: true,
      note: "seq-first [l, n, e] query and [s, n, e] key/value, packed projections with biases, 1 or 2 heads",
      cases: cases(
        fc.record({ l: dim(1, 3), s: dim(1, 3), n: dim(1, 2), heads: dim(1, 2), hd: dim(1, 2) }),
        ({ l, s, n, heads, hd }) => {
          const e = heads * hd;
          return {
            fn: (q, k, v, wIn, bIn, wOut, bOut) =>
              nn.multiHeadAttention(
                q,
                k,
                v,
                { inProjWeight: wIn, inProjBias: bIn, outProjWeight: wOut, outProjBias: bOut },
                { numHeads: heads, needWeights: false },
              )[0],
            inputs: arrays(
              float([l, n, e]),
              float([s, n, e]),
              float([s, n, e]),
              float([3 * e, e]),
              float([3 * e]),
              float([e, e]),
              float([e]),
            ),
          };
        },
      ),
    },
    {
      kind: "differentiable",
      function: "nn.klDiv",
      primitive: "xlogy",
      secondOrder: true,
      note: "positive targets; reduction batchmean",
      cases: cases(SHAPES, (shape) => ({
        fn: (input, target) => nn.klDiv(input, target, { reduction: "batchmean" }),
        inputs: arrays(float(shape), float(shape, { min: 0.1, max: 2 })),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.cosineEmbedding",
      primitive: "sqrt",
      secondOrder: true,
      note: "margin -1.5, so the hinge of a dissimilar pair is always active (no kink). x2 is x1 turned by 90 degrees in its first two coordinates (kept 0.2 from 0), then free ones: the cosine stays away from ±1, where its gradient is 0 and the dot-product test would compare rounding errors",
      cases: cases(fc.record({ n: dim(1, 3), d: dim(3, 4) }), ({ n, d }) => ({
        fn: (x1, rest, y) => {
          const turned = np.concatenate(
            [
              np.negative(np.slice(x1, [{}, { start: 1, stop: 2 }])),
              np.slice(x1, [{}, { start: 0, stop: 1 }]),
              rest,
            ],
            { axis: 1 },
          );
          return nn.cosineEmbedding(x1, turned, y, { margin: -1.5, reduction: "sum" });
        },
        inputs: arrays(float([n, d], { avoid: [0], margin: 0.2 }), float([n, d - 2]), signs([n])),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.marginRanking",
      primitive: "select",
      secondOrder: true,
      note: "x2 = x1 + d with |d| >= 0.1 and margin 0: the hinge is never within 0.1 of its kink",
      cases: cases(SHAPES, (shape) => ({
        fn: (x1, d, y) => nn.marginRanking(x1, np.add(x1, d), y),
        inputs: arrays(
          float(shape),
          float(shape, { min: -1, max: 1, avoid: [0], margin: 0.1 }),
          signs(shape),
        ),
      })),
    },
    {
      kind: "differentiable",
      function: "nn.crossEntropy (weight, labelSmoothing)",
      primitive: "exp",
      secondOrder: true,
      note: "class weights in [0.5, 2], labelSmoothing 0.1, int32 labels",
      cases: cases(fc.record({ n: dim(1, 3), c: dim(2, 4) }), ({ n, c }) => ({
        fn: (logits, w, t) => nn.crossEntropy(logits, t, { weight: w, labelSmoothing: 0.1 }),
        inputs: arrays(float([n, c]), float([c], { min: 0.5, max: 2 }), ints([n], 0, c - 1)),
      })),
    },
  ];
}

/** A bool [l, s] mask whose column 0 is true: every query sees at least one key. */
function firstKey(l: number, s: number): NdArray {
  return np.equal(np.broadcastTo(np.arange(s), [l, s]), 0);
}
