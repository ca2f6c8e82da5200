/**
 * The multi-head attention layer, as torch.nn.MultiheadAttention: PyTorch's parameter names
 * (`in_proj_weight`, `in_proj_bias`, `out_proj.weight`, `out_proj.bias`; `q_proj_weight`, `k_proj_weight`,
 * `v_proj_weight` with kdim or vdim; `bias_k`, `bias_v`), default initialization, layouts and call, so a
 * torch state dict loads unchanged. The math is `nn.multiHeadAttention`.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions } from "../core/options.js";
import { multiHeadAttention as multiHeadAttentionFn } from "../nn/attention.js";
import { checkDropoutRate } from "../nn/dropout.js";
import { linear, pyBool, pyFloat, withLayerContext } from "./basic.js";
import { torchDefaultWeight, xavierNormal, xavierUniform, zeros } from "./init.js";
import {
  type AnyLayer,
  type ApplyOptions,
  defineLayer,
  describeAt,
  type FloatDType,
  type Layer,
  type SpecTree,
  spec,
  splitKeys,
} from "./layer.js";

/**
 * The parameters of `multiheadAttention`, by PyTorch's names and in its order: `in_proj_weight` [3E, E]
 * (or `q_proj_weight` [E, E], `k_proj_weight` [E, kdim], `v_proj_weight` [E, vdim]), `in_proj_bias` [3E],
 * `bias_k` and `bias_v` [1, 1, E] (addBiasKv), `out_proj` `{ weight [E, E], bias [E] }`; no biases with
 * `bias: false`.
 */
export type MultiheadAttentionParams = {
  in_proj_weight?: NdArray;
  q_proj_weight?: NdArray;
  k_proj_weight?: NdArray;
  v_proj_weight?: NdArray;
  in_proj_bias?: NdArray;
  bias_k?: NdArray;
  bias_v?: NdArray;
  out_proj: { weight: NdArray; bias?: NdArray };
};

/** Options of `multiheadAttention`, as torch.nn.MultiheadAttention's constructor arguments. */
export interface MultiheadAttentionOptions {
  /** Dropout probability of the attention weights in training mode (default 0). */
  dropout?: number;
  /** Biases on the input and output projections (default true). */
  bias?: boolean;
  /** Learned `bias_k` and `bias_v` appended to the keys and values of every sequence (default false). */
  addBiasKv?: boolean;
  /** A zero key and value appended to every head's sequence (default false). */
  addZeroAttn?: boolean;
  /** The size of the key's features (default embedDim); with vdim, separate q/k/v projection weights. */
  kdim?: number | null;
  /** The size of the value's features (default embedDim). */
  vdim?: number | null;
  /** Inputs and output are [N, L, E] instead of [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
}

/**
 * The call options of `multiheadAttention`'s apply, as torch.nn.MultiheadAttention.forward's keyword
 * arguments, beside `train` and `key`.
 */
export interface MultiheadAttentionCallOptions extends ApplyOptions {
  /** [N, S] ([S] unbatched): bool true at keys to ignore (padding), or a float bias added to the scores. */
  keyPaddingMask?: NdArray | null;
  /** Return the attention weights (default true); false returns `[output, null]`. */
  needWeights?: boolean;
  /** [L, S] or [N * numHeads, L, S]: bool true where attending is NOT allowed, or a float bias added. */
  attnMask?: NdArray | null;
  /** Average the weights over the heads, [N, L, S] (default true); false gives [N, numHeads, L, S]. */
  averageAttnWeights?: boolean;
  /** Query i attends to keys 0..i only (applied here, with attnMask too if given; see nn.multiHeadAttention). */
  isCausal?: boolean;
}

/** The call option names of multiheadAttention (without train and key). */
export const MULTIHEAD_ATTENTION_CALL_OPTIONS = [
  "keyPaddingMask",
  "needWeights",
  "attnMask",
  "averageAttnWeights",
  "isCausal",
] as const;

function checkCount(who: string, what: string, n: number): void {
  if (!Number.isInteger(n) || n < 1)
    throw new RangeError(`${who}: ${what} must be a positive integer, got ${n}`);
}

/**
 * torch.nn.MultiheadAttention: `apply(params, query, key, value, { attnMask, keyPaddingMask, needWeights,
 * isCausal, averageAttnWeights, train, key })` returns `[output, weights]`. query is [L, N, E], key
 * [S, N, kdim] and value [S, N, vdim] ([N, L, E] ... with batchFirst; [L, E] ... unbatched); output has the
 * query's shape. weights are the attention weights after dropout, [N, L, S] averaged over heads or
 * [N, numHeads, L, S] ([L, S] / [numHeads, L, S] unbatched), and `null` when needWeights is false.
 *
 * Masks as PyTorch: a bool attnMask or keyPaddingMask is true where attending is NOT allowed; a float one
 * is added to the scores. A query that may attend to no key gets zero weights and output (PyTorch: NaN).
 * Default initialization as PyTorch: xavier-uniform input projections (each of q/k/v separately with
 * kdim/vdim), zero biases, out_proj.weight as nn.Linear's default, xavier-normal bias_k and bias_v.
 */
export function multiheadAttention(
  embedDim: number,
  numHeads: number,
  options: MultiheadAttentionOptions = {},
): Layer<
  MultiheadAttentionParams,
  null,
  [query: NdArray, key: NdArray, value: NdArray, options?: MultiheadAttentionCallOptions],
  [output: NdArray, weights: NdArray | null]
> {
  const who = "multiheadAttention";
  checkCount(who, "embedDim", embedDim);
  checkCount(who, "numHeads", numHeads);
  checkOptions(who, options, ["dropout", "bias", "addBiasKv", "addZeroAttn", "kdim", "vdim", "batchFirst"]);
  if (embedDim % numHeads !== 0)
    throw new RangeError(`${who}: embedDim ${embedDim} must be divisible by numHeads ${numHeads}`);
  const dropout = options.dropout ?? 0;
  checkDropoutRate(who, dropout);
  const bias = options.bias ?? true;
  const addBiasKv = options.addBiasKv ?? false;
  const addZeroAttn = options.addZeroAttn ?? false;
  const kdim = options.kdim ?? embedDim;
  const vdim = options.vdim ?? embedDim;
  checkCount(who, "kdim", kdim);
  checkCount(who, "vdim", vdim);
  const batchFirst = options.batchFirst ?? false;
  // PyTorch packs the three projections when they all read E features.
  const packed = kdim === embedDim && vdim === embedDim;
  const e = embedDim;
  const name = `multiheadAttention ${e}, ${numHeads} heads`;
  const outProjRepr = `NonDynamicallyQuantizableLinear(in_features=${e}, out_features=${e}, bias=${pyBool(bias)})`;
  // A child for printing as torch does (its params live under the attention layer's out_proj).
  const outProj: AnyLayer = { ...linear(e, e, { bias }), repr: outProjRepr } as unknown as AnyLayer;

  const projectionShapes: [string, number[]][] = packed
    ? [["in_proj_weight", [3 * e, e]]]
    : [
        ["q_proj_weight", [e, e]],
        ["k_proj_weight", [e, kdim]],
        ["v_proj_weight", [e, vdim]],
      ];
  const paramSpec = (dtype: FloatDType): SpecTree => {
    const out: Record<string, SpecTree> = {};
    for (const [n, s] of projectionShapes) out[n] = spec(s, dtype);
    if (bias) out.in_proj_bias = spec([3 * e], dtype);
    if (addBiasKv) {
      out.bias_k = spec([1, 1, e], dtype);
      out.bias_v = spec([1, 1, e], dtype);
    }
    out.out_proj = bias
      ? { weight: spec([e, e], dtype), bias: spec([e], dtype) }
      : { weight: spec([e, e], dtype) };
    return out;
  };

  const extras = [
    dropout !== 0 ? `dropout=${pyFloat(dropout)}` : "",
    bias ? "" : "bias=False",
    addBiasKv ? "add_bias_kv=True" : "",
    addZeroAttn ? "add_zero_attn=True" : "",
    packed ? "" : `kdim=${kdim}, vdim=${vdim}`,
    batchFirst ? "batch_first=True" : "",
  ].filter((x) => x !== "");

  return defineLayer<
    MultiheadAttentionParams,
    null,
    [query: NdArray, key: NdArray, value: NdArray, options?: MultiheadAttentionCallOptions],
    [NdArray, NdArray | null]
  >({
    name: extras.length === 0 ? name : `${name} (${extras.join(", ")})`,
    // torch prints the module with its out_proj child only: MultiheadAttention(\n  (out_proj): ...\n).
    repr: "MultiheadAttention",
    children: [["out_proj", outProj]],
    inputs: ["query", "key", "value"],
    callOptions: MULTIHEAD_ATTENTION_CALL_OPTIONS,
    arrayOutput: false,
    paramSpec,
    init(key, dtype) {
      const keys = splitKeys(key, 7);
      const params: Record<string, unknown> = {};
      projectionShapes.forEach(([n, s], i) => {
        params[n] = xavierUniform()(keys[i]!, s, dtype);
      });
      if (bias) params.in_proj_bias = zeros(keys[3], [3 * e], dtype);
      if (addBiasKv) {
        params.bias_k = xavierNormal()(keys[4], [1, 1, e], dtype);
        params.bias_v = xavierNormal()(keys[6], [1, 1, e], dtype);
      }
      const weight = torchDefaultWeight(keys[5], [e, e], dtype);
      params.out_proj = bias ? { weight, bias: zeros(keys[5], [e], dtype) } : { weight };
      return params as MultiheadAttentionParams;
    },
    forward(params, state, [query, key, value, call], ctx) {
      const c = call ?? {};
      const dropping = ctx.train && dropout > 0;
      if (dropping && ctx.key === undefined) {
        throw new TypeError(
          `${describeAt(name, ctx.path)}: training mode with dropout ${dropout} needs a key: apply(params, query, key, value, { train: true, key })`,
        );
      }
      const y = withLayerContext(name, ctx, () =>
        multiHeadAttentionFn(
          query,
          key,
          value,
          {
            ...(packed
              ? { inProjWeight: params.in_proj_weight! }
              : {
                  qProjWeight: params.q_proj_weight!,
                  kProjWeight: params.k_proj_weight!,
                  vProjWeight: params.v_proj_weight!,
                }),
            inProjBias: params.in_proj_bias ?? null,
            outProjWeight: params.out_proj.weight,
            outProjBias: params.out_proj.bias ?? null,
            biasK: params.bias_k ?? null,
            biasV: params.bias_v ?? null,
          },
          {
            numHeads,
            attnMask: c.attnMask ?? null,
            keyPaddingMask: c.keyPaddingMask ?? null,
            needWeights: c.needWeights ?? true,
            averageAttnWeights: c.averageAttnWeights ?? true,
            isCausal: c.isCausal ?? false,
            addZeroAttn,
            batchFirst,
            ...(dropping ? { dropoutP: dropout, key: ctx.key } : {}),
          },
        ),
      );
      return { y, state };
    },
  });
}
