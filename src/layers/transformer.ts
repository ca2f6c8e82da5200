/**
 * Transformer layers, as torch.nn.TransformerEncoderLayer, TransformerDecoderLayer, TransformerEncoder and
 * TransformerDecoder: PyTorch's sub-module names (`self_attn`, `multihead_attn`, `linear1`, `linear2`,
 * `norm1`..`norm3`, `layers.0.…`, `norm`), default sizes and initialization, post-norm or pre-norm
 * (`normFirst`), relu or gelu, so a torch state dict loads unchanged and runs to the same outputs.
 *
 * Each layer is a `named` model of its sub-layers, so summary prints the module tree as torch does and the
 * training key is split among the dropouts as in any container.
 */
import type { NdArray } from "../core/array.js";
import { checkOptions, checkOptionValue } from "../core/options.js";
import { fmtShape, ShapeError } from "../core/shape.js";
import { gelu, relu } from "../nn/activations.js";
import { checkDropoutRate } from "../nn/dropout.js";
import { foldIn } from "../random/index.js";
import { joinPath } from "../tree/treedef.js";
import { type MultiheadAttentionParams, multiheadAttention } from "./attention.js";
import { dropout as dropoutLayer, type LinearParams, linear } from "./basic.js";
import { named } from "./containers.js";
import {
  type AnyLayer,
  type ApplyOptions,
  defineLayer,
  describeAt,
  type FloatDType,
  type ForwardContext,
  type Layer,
  type ParamTree,
  type SpecTree,
  splitKeys,
} from "./layer.js";
import { layerNorm, type NormParams } from "./norms.js";

/** Options of `transformerEncoderLayer` and `transformerDecoderLayer`, as PyTorch's constructor arguments. */
export interface TransformerLayerOptions {
  /** The hidden size of the feed-forward block (default 2048). */
  dimFeedforward?: number;
  /** Dropout probability after attention, in the feed-forward block and on the attention weights (default 0.1). */
  dropout?: number;
  /** The feed-forward block's activation: "relu" (default), "gelu" (exact, erf) or a function. */
  activation?: "relu" | "gelu" | ((x: NdArray) => NdArray);
  /** The layer norms' eps (default 1e-5). */
  layerNormEps?: number;
  /** Inputs and output are [N, L, E] instead of [L, N, E] (default false, as PyTorch). */
  batchFirst?: boolean;
  /** Pre-norm: normalize before attention and feed-forward (default false: post-norm, the 2017 paper's). */
  normFirst?: boolean;
  /** Biases in the linear layers, attention projections and layer norms (default true; PyTorch 2.1's bias). */
  bias?: boolean;
}

/** The call options of `transformerEncoderLayer`'s apply, as the forward's keyword arguments. */
export interface TransformerEncoderLayerCallOptions extends ApplyOptions {
  /** [L, L] or [N * nhead, L, L]: bool true where attending is NOT allowed, or a float bias added. */
  srcMask?: NdArray | null;
  /** [N, L] ([L] unbatched): bool true at padding positions, or a float bias added. */
  srcKeyPaddingMask?: NdArray | null;
  /**
   * Apply the causal mask in self-attention (with srcMask too if given). PyTorch 2 reads is_causal as a hint
   * that srcMask is causal; here it is the mask itself, so srcMask may be omitted.
   */
  isCausal?: boolean;
}

/** The call options of `transformerDecoderLayer`'s apply, as the forward's keyword arguments. */
export interface TransformerDecoderLayerCallOptions extends ApplyOptions {
  /** [T, T] or [N * nhead, T, T] self-attention mask (bool true = not allowed, or float added). */
  tgtMask?: NdArray | null;
  /** [T, S] or [N * nhead, T, S] mask of the attention over the memory. */
  memoryMask?: NdArray | null;
  /** [N, T] ([T] unbatched): bool true at target padding positions, or float added. */
  tgtKeyPaddingMask?: NdArray | null;
  /** [N, S] ([S] unbatched): bool true at memory padding positions, or float added. */
  memoryKeyPaddingMask?: NdArray | null;
  /** Apply the causal mask in self-attention (with tgtMask too if given). */
  tgtIsCausal?: boolean;
  /** Apply the causal mask [T, S] in the attention over the memory (with memoryMask too if given). */
  memoryIsCausal?: boolean;
}

/** The parameters of `transformerEncoderLayer`, by PyTorch's names. */
export type TransformerEncoderLayerParams = {
  self_attn: MultiheadAttentionParams;
  linear1: LinearParams;
  linear2: LinearParams;
  norm1: NormParams;
  norm2: NormParams;
};

/** The parameters of `transformerDecoderLayer`, by PyTorch's names. */
export type TransformerDecoderLayerParams = {
  self_attn: MultiheadAttentionParams;
  multihead_attn: MultiheadAttentionParams;
  linear1: LinearParams;
  linear2: LinearParams;
  norm1: NormParams;
  norm2: NormParams;
  norm3: NormParams;
};

/** A transformer encoder layer: `apply(params, src, { srcMask, srcKeyPaddingMask, isCausal, train, key })`. */
export type TransformerEncoderLayer = Layer<
  TransformerEncoderLayerParams,
  null,
  [src: NdArray, options?: TransformerEncoderLayerCallOptions],
  NdArray
>;

/** A transformer decoder layer: `apply(params, tgt, memory, { tgtMask, memoryMask, ..., train, key })`. */
export type TransformerDecoderLayer = Layer<
  TransformerDecoderLayerParams,
  null,
  [tgt: NdArray, memory: NdArray, options?: TransformerDecoderLayerCallOptions],
  NdArray
>;

const ENCODER_CALL_OPTIONS = ["srcMask", "srcKeyPaddingMask", "isCausal"] as const;
const DECODER_CALL_OPTIONS = [
  "tgtMask",
  "memoryMask",
  "tgtKeyPaddingMask",
  "memoryKeyPaddingMask",
  "tgtIsCausal",
  "memoryIsCausal",
] as const;
const LAYER_OPTIONS = [
  "dimFeedforward",
  "dropout",
  "activation",
  "layerNormEps",
  "batchFirst",
  "normFirst",
  "bias",
] as const;

interface LayerSettings {
  readonly dimFeedforward: number;
  readonly dropout: number;
  readonly activation: (x: NdArray) => NdArray;
  readonly eps: number;
  readonly batchFirst: boolean;
  readonly normFirst: boolean;
  readonly bias: boolean;
}

function settingsOf(
  who: string,
  dModel: number,
  nhead: number,
  options: TransformerLayerOptions,
): LayerSettings {
  checkOptions(who, options, LAYER_OPTIONS);
  for (const [what, n] of [
    ["dModel", dModel],
    ["nhead", nhead],
    ["dimFeedforward", options.dimFeedforward ?? 2048],
  ] as const) {
    if (!Number.isInteger(n) || n < 1)
      throw new RangeError(`${who}: ${what} must be a positive integer, got ${n}`);
  }
  if (dModel % nhead !== 0)
    throw new RangeError(`${who}: dModel ${dModel} must be divisible by nhead ${nhead}`);
  const dropout = options.dropout ?? 0.1;
  checkDropoutRate(who, dropout);
  const activation = options.activation ?? "relu";
  if (typeof activation !== "function") checkOptionValue(who, "activation", activation, ["relu", "gelu"]);
  const eps = options.layerNormEps ?? 1e-5;
  if (!(eps >= 0 && Number.isFinite(eps)))
    throw new RangeError(`${who}: layerNormEps must be a finite number >= 0, got ${eps}`);
  return {
    dimFeedforward: options.dimFeedforward ?? 2048,
    dropout,
    activation: typeof activation === "function" ? activation : activation === "gelu" ? gelu : relu,
    eps,
    batchFirst: options.batchFirst ?? false,
    normFirst: options.normFirst ?? false,
    bias: options.bias ?? true,
  };
}

/** The feed-forward block's and the norms' sub-layers, shared by both layers. */
function feedForwardLayers(dModel: number, s: LayerSettings) {
  return {
    linear1: linear(dModel, s.dimFeedforward, { bias: s.bias }),
    dropout: dropoutLayer(s.dropout),
    linear2: linear(s.dimFeedforward, dModel, { bias: s.bias }),
  };
}

const norm = (dModel: number, s: LayerSettings) => layerNorm(dModel, { eps: s.eps, bias: s.bias });

/**
 * torch.nn.TransformerEncoderLayer: self-attention and a feed-forward block (linear1, activation, dropout,
 * linear2), each with dropout and a residual connection, normalized after (default) or before (`normFirst`):
 *
 *     post-norm: x = norm1(x + dropout1(self_attn(x))); x = norm2(x + dropout2(ff(x)))
 *     pre-norm:  x = x + dropout1(self_attn(norm1(x))); x = x + dropout2(ff(norm2(x)))
 *
 * `apply(params, src, { srcMask, srcKeyPaddingMask, isCausal, train, key })` with src [L, N, dModel]
 * ([N, L, dModel] with batchFirst, [L, dModel] unbatched); the output has src's shape. Masks as
 * multiheadAttention's (bool true = not allowed). Dropout acts in training mode with a key.
 */
export function transformerEncoderLayer(
  dModel: number,
  nhead: number,
  options: TransformerLayerOptions = {},
): TransformerEncoderLayer {
  const who = "transformerEncoderLayer";
  const s = settingsOf(who, dModel, nhead, options);
  const attentionOptions = { dropout: s.dropout, bias: s.bias, batchFirst: s.batchFirst };
  const inner = named(
    {
      self_attn: multiheadAttention(dModel, nhead, attentionOptions),
      ...feedForwardLayers(dModel, s),
      norm1: norm(dModel, s),
      norm2: norm(dModel, s),
      dropout1: dropoutLayer(s.dropout),
      dropout2: dropoutLayer(s.dropout),
    },
    (m, [src, call]: [NdArray, TransformerEncoderLayerCallOptions]) => {
      const selfAttention = (x: NdArray): NdArray =>
        m.dropout1(
          m.self_attn(x, x, x, {
            attnMask: call.srcMask ?? null,
            keyPaddingMask: call.srcKeyPaddingMask ?? null,
            needWeights: false,
            isCausal: call.isCausal ?? false,
          })[0],
        );
      const feedForward = (x: NdArray): NdArray =>
        m.dropout2(m.linear2(m.dropout(s.activation(m.linear1(x)))));
      let x = src;
      if (s.normFirst) {
        x = x.add(selfAttention(m.norm1(x)));
        return x.add(feedForward(m.norm2(x)));
      }
      x = m.norm1(x.add(selfAttention(x)));
      return m.norm2(x.add(feedForward(x)));
    },
    { name: "TransformerEncoderLayer", inputs: ["src", "options"] },
  );
  return wrap<TransformerEncoderLayerParams, [src: NdArray, options?: TransformerEncoderLayerCallOptions]>(
    inner as unknown as AnyLayer,
    `transformerEncoderLayer ${dModel}, ${nhead} heads${s.normFirst ? ", norm first" : ""}`,
    ["src"],
    ENCODER_CALL_OPTIONS,
    dModel,
    s.batchFirst,
  );
}

/**
 * torch.nn.TransformerDecoderLayer: self-attention over the target, attention over the memory
 * (`multihead_attn`) and the feed-forward block, each with dropout and a residual connection, normalized
 * after (norm1..norm3, default) or before (`normFirst`) as in transformerEncoderLayer.
 *
 * `apply(params, tgt, memory, { tgtMask, memoryMask, tgtKeyPaddingMask, memoryKeyPaddingMask, tgtIsCausal,
 * memoryIsCausal, train, key })` with tgt [T, N, dModel] and memory [S, N, dModel] ([N, T, dModel] and
 * [N, S, dModel] with batchFirst; unbatched [T, dModel] and [S, dModel]); the output has tgt's shape.
 */
export function transformerDecoderLayer(
  dModel: number,
  nhead: number,
  options: TransformerLayerOptions = {},
): TransformerDecoderLayer {
  const who = "transformerDecoderLayer";
  const s = settingsOf(who, dModel, nhead, options);
  const attentionOptions = { dropout: s.dropout, bias: s.bias, batchFirst: s.batchFirst };
  const inner = named(
    {
      self_attn: multiheadAttention(dModel, nhead, attentionOptions),
      multihead_attn: multiheadAttention(dModel, nhead, attentionOptions),
      ...feedForwardLayers(dModel, s),
      norm1: norm(dModel, s),
      norm2: norm(dModel, s),
      norm3: norm(dModel, s),
      dropout1: dropoutLayer(s.dropout),
      dropout2: dropoutLayer(s.dropout),
      dropout3: dropoutLayer(s.dropout),
    },
    (m, [tgt, memory, call]: [NdArray, NdArray, TransformerDecoderLayerCallOptions]) => {
      const selfAttention = (x: NdArray): NdArray =>
        m.dropout1(
          m.self_attn(x, x, x, {
            attnMask: call.tgtMask ?? null,
            keyPaddingMask: call.tgtKeyPaddingMask ?? null,
            needWeights: false,
            isCausal: call.tgtIsCausal ?? false,
          })[0],
        );
      const memoryAttention = (x: NdArray): NdArray =>
        m.dropout2(
          m.multihead_attn(x, memory, memory, {
            attnMask: call.memoryMask ?? null,
            keyPaddingMask: call.memoryKeyPaddingMask ?? null,
            needWeights: false,
            isCausal: call.memoryIsCausal ?? false,
          })[0],
        );
      const feedForward = (x: NdArray): NdArray =>
        m.dropout3(m.linear2(m.dropout(s.activation(m.linear1(x)))));
      let x = tgt;
      if (s.normFirst) {
        x = x.add(selfAttention(m.norm1(x)));
        x = x.add(memoryAttention(m.norm2(x)));
        return x.add(feedForward(m.norm3(x)));
      }
      x = m.norm1(x.add(selfAttention(x)));
      x = m.norm2(x.add(memoryAttention(x)));
      return m.norm3(x.add(feedForward(x)));
    },
    { name: "TransformerDecoderLayer", inputs: ["tgt", "memory", "options"], requiredInputs: 2 },
  );
  return wrap<
    TransformerDecoderLayerParams,
    [tgt: NdArray, memory: NdArray, options?: TransformerDecoderLayerCallOptions]
  >(
    inner as unknown as AnyLayer,
    `transformerDecoderLayer ${dModel}, ${nhead} heads${s.normFirst ? ", norm first" : ""}`,
    ["tgt", "memory"],
    DECODER_CALL_OPTIONS,
    dModel,
    s.batchFirst,
  );
}

/**
 * The public layer around a `named` model whose last input is the call options: apply parses the options
 * (defineLayer's callOptions) and checks the inputs' feature size before the sub-layers run.
 */
function wrap<P extends ParamTree, In extends readonly unknown[]>(
  inner: AnyLayer,
  name: string,
  inputs: readonly string[],
  callOptions: readonly string[],
  dModel: number,
  batchFirst: boolean,
): Layer<P, null, In, NdArray> {
  return defineLayer<P, null, In, NdArray>({
    name,
    repr: inner.repr,
    children: inner.children,
    inputs,
    callOptions,
    arrayOutput: true,
    paramSpec: (dtype) => inner.paramSpec(dtype),
    init: (key, dtype) => inner.init(key, { dtype }) as P,
    forward(params, state, x, ctx) {
      const given = x as unknown as readonly unknown[];
      given
        .slice(0, inputs.length)
        .forEach((a, i) => checkSequence(name, ctx, inputs[i]!, a, dModel, batchFirst));
      const y = inner.forward(params as never, null as never, given as never, ctx) as { y: NdArray };
      return { y: y.y, state };
    },
  });
}

function checkSequence(
  name: string,
  ctx: ForwardContext,
  what: string,
  x: unknown,
  dModel: number,
  batchFirst: boolean,
): void {
  const shape = (x as NdArray).shape;
  if ((shape.length !== 2 && shape.length !== 3) || shape[shape.length - 1] !== dModel) {
    throw new ShapeError(
      `${describeAt(name, ctx.path)}: expected ${what} ${batchFirst ? `[N, L, ${dModel}]` : `[L, N, ${dModel}]`} or unbatched [L, ${dModel}], got ${fmtShape(shape)}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------
// stacks

/** Options of `transformerEncoder` and `transformerDecoder`, as PyTorch's constructor arguments. */
export interface TransformerStackOptions {
  /** A final layer (PyTorch's `norm`, usually layerNorm(dModel)) applied to the last layer's output. */
  norm?: AnyLayer | null;
}

/** The call options of `transformerEncoder`'s apply, as TransformerEncoder.forward's keyword arguments. */
export interface TransformerEncoderCallOptions extends ApplyOptions {
  /** Every layer's srcMask. */
  mask?: NdArray | null;
  /** Every layer's srcKeyPaddingMask. */
  srcKeyPaddingMask?: NdArray | null;
  /** Every layer's isCausal. */
  isCausal?: boolean;
}

/** The parameters of a transformer stack: `layers` (PyTorch's ModuleList, one entry per layer) and `norm`. */
export type TransformerStackParams<L> = { layers: L[]; norm?: ParamTree };

/**
 * torch.nn.TransformerEncoder: `numLayers` copies of `encoderLayer` (each with its own parameters,
 * `layers.0.…`, `layers.1.…`) applied in turn, then the optional `norm`. `apply(params, src, { mask,
 * srcKeyPaddingMask, isCausal, train, key })`. Initialization draws each layer independently (PyTorch's
 * deepcopy starts every layer from the same values).
 */
export function transformerEncoder(
  encoderLayer: TransformerEncoderLayer,
  numLayers: number,
  options: TransformerStackOptions = {},
): Layer<
  TransformerStackParams<TransformerEncoderLayerParams>,
  null,
  [src: NdArray, options?: TransformerEncoderCallOptions],
  NdArray
> {
  return stack(
    "transformerEncoder",
    "TransformerEncoder",
    encoderLayer as unknown as AnyLayer,
    numLayers,
    options,
    {
      inputs: ["src"],
      callOptions: ["mask", "srcKeyPaddingMask", "isCausal"],
      layerOptions: (call) => ({
        srcMask: call.mask ?? null,
        srcKeyPaddingMask: call.srcKeyPaddingMask ?? null,
        isCausal: call.isCausal ?? false,
      }),
    },
  );
}

/** The call options of `transformerDecoder`'s apply, as TransformerDecoder.forward's keyword arguments. */
export interface TransformerDecoderCallOptions extends ApplyOptions {
  /** Every layer's tgtMask. */
  tgtMask?: NdArray | null;
  /** Every layer's memoryMask. */
  memoryMask?: NdArray | null;
  /** Every layer's tgtKeyPaddingMask. */
  tgtKeyPaddingMask?: NdArray | null;
  /** Every layer's memoryKeyPaddingMask. */
  memoryKeyPaddingMask?: NdArray | null;
  /** Every layer's tgtIsCausal. */
  tgtIsCausal?: boolean;
  /** Every layer's memoryIsCausal. */
  memoryIsCausal?: boolean;
}

/**
 * torch.nn.TransformerDecoder: `numLayers` copies of `decoderLayer` (`layers.0.…`), each reading the same
 * memory, then the optional `norm`. `apply(params, tgt, memory, { tgtMask, memoryMask, tgtKeyPaddingMask,
 * memoryKeyPaddingMask, tgtIsCausal, memoryIsCausal, train, key })`. Each layer is initialized
 * independently (PyTorch's deepcopy starts every layer from the same values).
 */
export function transformerDecoder(
  decoderLayer: TransformerDecoderLayer,
  numLayers: number,
  options: TransformerStackOptions = {},
): Layer<
  TransformerStackParams<TransformerDecoderLayerParams>,
  null,
  [tgt: NdArray, memory: NdArray, options?: TransformerDecoderCallOptions],
  NdArray
> {
  return stack(
    "transformerDecoder",
    "TransformerDecoder",
    decoderLayer as unknown as AnyLayer,
    numLayers,
    options,
    {
      inputs: ["tgt", "memory"],
      callOptions: DECODER_CALL_OPTIONS,
      layerOptions: (call) => call,
    },
  );
}

interface StackSignature {
  readonly inputs: readonly string[];
  readonly callOptions: readonly string[];
  /** The options each layer gets from the stack's call options. */
  readonly layerOptions: (call: Record<string, unknown>) => Record<string, unknown>;
}

function stack<P extends ParamTree, In extends readonly unknown[]>(
  who: string,
  torchName: string,
  layer: AnyLayer,
  numLayers: number,
  options: TransformerStackOptions,
  signature: StackSignature,
): Layer<P, null, In, NdArray> {
  checkOptions(who, options, ["norm"]);
  if (!Number.isInteger(numLayers) || numLayers < 1)
    throw new RangeError(`${who}: numLayers must be a positive integer, got ${numLayers}`);
  if (layer.hasState)
    throw new TypeError(
      `${who}: the layer ${layer.name} has state; a transformer stack takes stateless layers`,
    );
  const finalNorm = options.norm ?? null;
  if (finalNorm !== null && (!finalNorm.singleArray || finalNorm.hasState))
    throw new TypeError(
      `${who}: norm must be a stateless layer of one array in and one array out, got ${finalNorm.name}`,
    );
  const list = moduleList(Array.from({ length: numLayers }, () => layer));
  const children: [string, AnyLayer][] = [["layers", list]];
  if (finalNorm !== null) children.push(["norm", finalNorm]);
  const normHasParams = finalNorm !== null && hasParams(finalNorm);
  const name = `${who} ${numLayers} x ${layer.name}`;
  return defineLayer<P, null, In, NdArray>({
    name,
    repr: torchName,
    children,
    inputs: signature.inputs,
    callOptions: signature.callOptions,
    arrayOutput: signature.inputs.length === 1,
    paramSpec: (dtype) => ({
      layers: list.paramSpec(dtype),
      ...(normHasParams ? { norm: finalNorm.paramSpec(dtype) } : {}),
    }),
    init(key, dtype) {
      const [layersKey, normKey] = splitKeys(key, 2);
      return {
        layers: list.init(layersKey, { dtype }),
        ...(normHasParams ? { norm: finalNorm.init(normKey, { dtype }) } : {}),
      } as unknown as P;
    },
    forward(params, state, x, ctx) {
      const given = x as unknown as readonly unknown[];
      const call = given[signature.inputs.length] as Record<string, unknown>;
      const layerCall = signature.layerOptions(call);
      const p = params as unknown as { layers: ParamTree[]; norm?: ParamTree };
      const keys = ctx.key === undefined ? undefined : splitKeys(ctx.key, numLayers + 1);
      let y = given[0] as NdArray;
      for (let i = 0; i < numLayers; i++) {
        const rest = given.slice(1, signature.inputs.length);
        y = layer.forward(p.layers[i] as never, null as never, [y, ...rest, layerCall] as never, {
          train: ctx.train,
          key: keys?.[i],
          path: joinPath(ctx.path, `layers.${i}`),
        }).y as NdArray;
      }
      if (finalNorm !== null) {
        y = finalNorm.forward((normHasParams ? p.norm : null) as never, null as never, [y] as never, {
          train: ctx.train,
          key: keys === undefined ? undefined : foldIn(keys[numLayers]!, 0),
          path: joinPath(ctx.path, "norm"),
        }).y as NdArray;
      }
      return { y, state };
    },
  });
}

function hasParams(layer: AnyLayer): boolean {
  const spec = layer.paramSpec();
  return spec !== null && !(typeof spec === "object" && Object.keys(spec).length === 0);
}

/**
 * torch.nn.ModuleList: sub-layers under "0", "1", ..., whose params are a JS array (as a safetensors file's
 * `layers.0.…` keys decode). It is not callable; its owner applies the entries.
 */
function moduleList(entries: readonly AnyLayer[]): Layer<ParamTree[], null> {
  return defineLayer<ParamTree[]>({
    name: "ModuleList",
    repr: "ModuleList",
    children: entries.map((l, i) => [String(i), l] as const),
    paramSpec: (dtype: FloatDType): SpecTree => entries.map((l) => l.paramSpec(dtype)) as unknown as SpecTree,
    init(key, dtype) {
      const keys = splitKeys(key, entries.length);
      return entries.map((l, i) => l.init(keys[i]!, { dtype }));
    },
    forward() {
      throw new TypeError("ModuleList: a module list is not callable; its owner applies its entries");
    },
  });
}
