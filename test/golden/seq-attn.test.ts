/**
 * layers.multiheadAttention, transformerEncoderLayer, transformerDecoderLayer, transformerEncoder and
 * transformerDecoder against torch.nn's modules (float64, eval mode, PyTorch 1.13, data made by
 * gen_seq_attn.py): on PyTorch's own parameters (moved off their initial values), the printed module, the
 * parameter names and order, the outputs (and attention weights), and the gradient of every parameter and
 * input for a random cotangent on every output.
 */
import * as E from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import { io, layers, type NdArray, np, tree, vjp } from "../../src/index.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArray,
  type GoldenArrays,
  loadGolden,
  toArray,
} from "./golden.js";

interface AttnCase {
  name: string;
  kind: "module";
  module:
    | "MultiheadAttention"
    | "TransformerEncoderLayer"
    | "TransformerDecoderLayer"
    | "TransformerEncoder"
    | "TransformerDecoder";
  torch: string;
  attrs: Record<string, unknown>;
  call: Record<string, boolean>;
  masks: Record<string, "bool" | "float">;
  param_order: string[];
  params: GoldenArrays;
  inputs: GoldenArrays;
  outputs: GoldenArrays;
  cotangent: GoldenArrays;
  grads: GoldenArrays;
}

const cases = loadGolden("seq_attn.json").cases as unknown as AttnCase[];

/** A stored mask: int64 0/1 as a bool array (1 = not allowed), or the float mask. */
function maskOf(c: AttnCase, name: string): NdArray | undefined {
  const g = c.inputs[name];
  if (g === undefined) return undefined;
  return c.masks[name] === "bool" ? np.notEqual(toArray(g), 0) : toArray(g);
}

/** The layer options from torch's constructor arguments. */
function layerOptions(a: Record<string, unknown>) {
  return {
    ...(a["dim_feedforward"] === undefined ? {} : { dimFeedforward: a["dim_feedforward"] as number }),
    ...(a["dropout"] === undefined ? {} : { dropout: a["dropout"] as number }),
    ...(a["activation"] === undefined ? {} : { activation: a["activation"] as "relu" | "gelu" }),
    ...(a["layer_norm_eps"] === undefined ? {} : { layerNormEps: a["layer_norm_eps"] as number }),
    ...(a["batch_first"] === undefined ? {} : { batchFirst: a["batch_first"] as boolean }),
    ...(a["norm_first"] === undefined ? {} : { normFirst: a["norm_first"] as boolean }),
  };
}

type Run = (params: unknown, inputs: NdArray[]) => NdArray[];

/** The layer for a case, its float input names (in the data's order), and its outputs as a list. */
function build(c: AttnCase): {
  layer: layers.AnyLayer;
  inputNames: string[];
  outputNames: string[];
  run: Run;
} {
  const a = c.attrs;
  const outputNames = Object.keys(c.outputs);
  if (c.module === "MultiheadAttention") {
    const layer = layers.multiheadAttention(a["embed_dim"] as number, a["num_heads"] as number, {
      ...(a["batch_first"] === undefined ? {} : { batchFirst: a["batch_first"] as boolean }),
      ...(a["bias"] === undefined ? {} : { bias: a["bias"] as boolean }),
      ...(a["kdim"] === undefined ? {} : { kdim: a["kdim"] as number }),
      ...(a["vdim"] === undefined ? {} : { vdim: a["vdim"] as number }),
      ...(a["add_bias_kv"] === undefined ? {} : { addBiasKv: a["add_bias_kv"] as boolean }),
      ...(a["add_zero_attn"] === undefined ? {} : { addZeroAttn: a["add_zero_attn"] as boolean }),
    });
    const selfAttention = "x" in c.inputs;
    const call = {
      attnMask: maskOf(c, "attn_mask") ?? maskOf(c, "attn_mask_3d") ?? null,
      keyPaddingMask: maskOf(c, "key_padding_mask") ?? null,
      needWeights: c.call["need_weights"] ?? true,
      averageAttnWeights: c.call["average_attn_weights"] ?? true,
      isCausal: c.call["is_causal"] ?? false,
    };
    return {
      layer: layer as unknown as layers.AnyLayer,
      inputNames: selfAttention ? ["x"] : ["query", "key", "value"],
      outputNames,
      run: (params, xs) => {
        const [q, k, v] = selfAttention ? [xs[0]!, xs[0]!, xs[0]!] : [xs[0]!, xs[1]!, xs[2]!];
        const [y, w] = layer.apply(params as layers.MultiheadAttentionParams, q, k, v, call);
        if (call.needWeights) return [y, w!];
        expect(w).toBeNull();
        return [y];
      },
    };
  }
  const dModel = a["d_model"] as number;
  const nhead = a["nhead"] as number;
  const norm =
    a["norm"] === true ? layers.layerNorm(dModel, { eps: (a["layer_norm_eps"] as number) ?? 1e-5 }) : null;
  if (c.module === "TransformerEncoderLayer" || c.module === "TransformerEncoder") {
    const one = layers.transformerEncoderLayer(dModel, nhead, layerOptions(a));
    const mask = maskOf(c, "src_mask") ?? null;
    const srcKeyPaddingMask = maskOf(c, "src_key_padding_mask") ?? null;
    const isCausal = c.call["is_causal"] ?? false;
    if (c.module === "TransformerEncoder") {
      const stack = layers.transformerEncoder(one, a["num_layers"] as number, { norm });
      return {
        layer: stack as unknown as layers.AnyLayer,
        inputNames: ["src"],
        outputNames,
        run: (params, [src]) => [stack.apply(params as never, src!, { mask, srcKeyPaddingMask, isCausal })],
      };
    }
    return {
      layer: one as unknown as layers.AnyLayer,
      inputNames: ["src"],
      outputNames,
      run: (params, [src]) => [
        one.apply(params as never, src!, { srcMask: mask, srcKeyPaddingMask, isCausal }),
      ],
    };
  }
  const one = layers.transformerDecoderLayer(dModel, nhead, layerOptions(a));
  const call = {
    tgtMask: maskOf(c, "tgt_mask") ?? null,
    memoryMask: maskOf(c, "memory_mask") ?? null,
    tgtKeyPaddingMask: maskOf(c, "tgt_key_padding_mask") ?? null,
    memoryKeyPaddingMask: maskOf(c, "memory_key_padding_mask") ?? null,
    tgtIsCausal: c.call["tgt_is_causal"] ?? false,
  };
  const layer =
    c.module === "TransformerDecoder"
      ? layers.transformerDecoder(one, a["num_layers"] as number, { norm })
      : one;
  return {
    layer: layer as unknown as layers.AnyLayer,
    inputNames: ["tgt", "memory"],
    outputNames,
    run: (params, [tgt, memory]) => [(layer as typeof one).apply(params as never, tgt!, memory!, call)],
  };
}

/** The nested params tree from the state dict's dotted names (as a safetensors file decodes). */
function paramsOf(c: AttnCase): unknown {
  const entries = c.param_order.map((k) => [k, toArray(c.params[k]!)] as const);
  const decoded = io.safetensors.unflattenPaths(entries);
  if (E.isLeft(decoded)) throw new Error(decoded.left.message);
  return decoded.right;
}

describe("golden attention and transformer layers (float64, PyTorch 1.13)", () => {
  it("covers MultiheadAttention, the encoder and decoder layers and stacks", () => {
    const kinds = new Set(cases.map((c) => c.module));
    expect([...kinds].sort()).toEqual([
      "MultiheadAttention",
      "TransformerDecoder",
      "TransformerDecoderLayer",
      "TransformerEncoder",
      "TransformerEncoderLayer",
    ]);
    expect(cases.length).toBeGreaterThanOrEqual(19);
  });

  for (const c of cases) {
    it(`${c.name}: outputs, weights and every gradient`, () => {
      const { layer, inputNames, outputNames, run } = build(c);
      // The module prints as torch's, and its parameter paths are the state dict's keys, in order.
      expect(layers.formatLayer(layer)).toBe(c.torch);
      expect(tree.flattenWithPath(layer.paramSpec()).map(([p]) => p)).toEqual(c.param_order);
      const params = paramsOf(c);
      const xs = inputNames.map((k) => toArray(c.inputs[k]!));
      const [outs, back] = vjp((p: unknown, inputs: NdArray[]) => run(p, inputs), params, xs);
      expect(outs.length).toBe(outputNames.length);
      outs.forEach((o, i) => {
        expectClose(o, c.outputs[outputNames[i]!]!, FLOAT64_TOLERANCE, `${c.name} ${outputNames[i]}`);
      });
      const [gParams, gInputs] = back(outputNames.map((n) => toArray(c.cotangent[n]!)));
      const flat = new Map(tree.flattenWithPath<NdArray>(gParams));
      for (const k of c.param_order)
        expectClose(flat.get(k)!, c.grads[k]!, FLOAT64_TOLERANCE, `${c.name} d${k}`);
      inputNames.forEach((k, i) => {
        expectClose(gInputs[i]!, c.grads[k] as GoldenArray, FLOAT64_TOLERANCE, `${c.name} d ${k}`);
      });
    });
  }
});
