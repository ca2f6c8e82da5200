/**
 * The sequence-model ops of issue 21 against PyTorch (seq_ops.json, written by gen_seq_ops.py): every
 * functional op's outputs and vjp, and the layers layerNorm, groupNorm and embedding run with PyTorch's
 * parameters (loaded by their state_dict names through safetensors) for the output and every gradient.
 * float64, to the README's tolerance (1e-9 relative), eager and jitted for the forward pass; the functional
 * ops' forward pass in float32 too, to about 1e-4.
 */
import * as E from "fp-ts/lib/Either.js";
import { describe, expect, it } from "vitest";
import { io, jit, layers, type NdArray, nn, np, random, tree, vjp } from "../../src/index.js";
import {
  expectClose,
  FLOAT64_TOLERANCE,
  type GoldenArray,
  loadVjpCases,
  type Tolerance,
  toArray,
  type VjpCase,
} from "./golden.js";

type Attrs = Record<string, unknown>;
type Arrays = Record<string, NdArray>;
type OpImpl = (inputs: Arrays, attrs: Attrs) => Arrays;

const out = (x: NdArray): Arrays => ({ out: x });
const num = (attrs: Attrs, key: string): number => attrs[key] as number;
const optionalNum = (attrs: Attrs, key: string): number | undefined =>
  attrs[key] === null || attrs[key] === undefined ? undefined : (attrs[key] as number);
const reduction = (attrs: Attrs): nn.Reduction => attrs["reduction"] as nn.Reduction;
/** A stored 0/1 int64 mask as bool. */
const bool = (x: NdArray | undefined): NdArray | undefined =>
  x === undefined ? undefined : np.notEqual(x, 0);

const OPS: Record<string, OpImpl> = {
  mish: ({ x }) => out(nn.mish(x!)),
  selu: ({ x }) => out(nn.selu(x!)),
  relu6: ({ x }) => out(nn.relu6(x!)),
  hardtanh: ({ x }, a) => out(nn.hardtanh(x!, { minVal: num(a, "min_val"), maxVal: num(a, "max_val") })),
  hardswish: ({ x }) => out(nn.hardswish(x!)),
  logsigmoid: ({ x }) => out(nn.logSigmoid(x!)),
  glu: ({ x }, a) => out(nn.glu(x!, num(a, "dim"))),
  softsign: ({ x }) => out(nn.softsign(x!)),
  celu: ({ x }, a) => out(nn.celu(x!, { alpha: num(a, "alpha") })),
  layer_norm: ({ x, weight, bias }, a) =>
    out(nn.layerNorm(x!, a["normalized_shape"] as number[], { weight, bias, eps: num(a, "eps") })),
  rms_norm: ({ x, weight }, a) =>
    out(nn.rmsNorm(x!, a["normalized_shape"] as number[], { weight, eps: optionalNum(a, "eps") ?? null })),
  group_norm: ({ x, weight, bias }, a) =>
    out(nn.groupNorm(x!, num(a, "num_groups"), { weight, bias, eps: num(a, "eps") })),
  batch_norm: ({ x, running_mean, running_var, weight, bias }, a) => {
    const r = nn.batchNorm(x!, running_mean!, running_var!, {
      weight,
      bias,
      training: a["training"] as boolean,
      momentum: num(a, "momentum"),
      eps: num(a, "eps"),
    });
    return { out: r.y, running_mean: r.runningMean!, running_var: r.runningVar! };
  },
  embedding: ({ weight, indices }, a) =>
    out(nn.embedding(weight!, indices!, { paddingIdx: optionalNum(a, "padding_idx") ?? null })),
  scaled_dot_product_attention: ({ q, k, v, mask }, a) =>
    out(
      nn.scaledDotProductAttention(q!, k!, v!, {
        mask: a["mask"] === "bool" ? bool(mask) : mask,
        isCausal: a["is_causal"] as boolean,
        scale: optionalNum(a, "scale") ?? null,
      }),
    ),
  multi_head_attention: (inputs, a) => {
    const [output, weights] = nn.multiHeadAttention(
      inputs["query"]!,
      inputs["key"]!,
      inputs["value"]!,
      {
        inProjWeight: inputs["in_proj_weight"]!,
        inProjBias: inputs["in_proj_bias"] ?? null,
        outProjWeight: inputs["out_proj_weight"]!,
        outProjBias: inputs["out_proj_bias"] ?? null,
      },
      {
        numHeads: num(a, "num_heads"),
        attnMask: a["attn_mask"] === "float" ? inputs["attn_mask"] : bool(inputs["attn_mask"]),
        keyPaddingMask: bool(inputs["key_padding_mask"]),
        averageAttnWeights: a["average_attn_weights"] as boolean,
      },
    );
    return { out: output, weights: weights! };
  },
  kl_div: ({ input, target }, a) =>
    out(
      nn.klDiv(input!, target!, {
        reduction: a["reduction"] as nn.KlDivReduction,
        logTarget: a["log_target"] as boolean,
      }),
    ),
  cosine_embedding_loss: ({ x1, x2, y }, a) =>
    out(nn.cosineEmbedding(x1!, x2!, y!, { margin: num(a, "margin"), reduction: reduction(a) })),
  margin_ranking_loss: ({ x1, x2, y }, a) =>
    out(nn.marginRanking(x1!, x2!, y!, { margin: num(a, "margin"), reduction: reduction(a) })),
  cross_entropy: ({ input, target, weight }, a) =>
    out(
      nn.crossEntropy(input!, target!, {
        reduction: reduction(a),
        labelSmoothing: num(a, "label_smoothing"),
        ignoreIndex: num(a, "ignore_index"),
        ...(weight === undefined ? {} : { weight }),
      }),
    ),
  module: moduleCase,
};

/** The layer a module case names, with PyTorch's constructor arguments. */
function layerOf(a: Attrs): layers.Layer {
  switch (a["module"]) {
    case "LayerNorm":
      return layers.layerNorm(a["normalized_shape"] as number[], { eps: num(a, "eps") });
    case "GroupNorm":
      return layers.groupNorm(num(a, "num_groups"), num(a, "num_channels"), { eps: num(a, "eps") });
    case "Embedding":
      return layers.embedding(num(a, "num_embeddings"), num(a, "embedding_dim"), {
        paddingIdx: optionalNum(a, "padding_idx") ?? null,
      });
    default:
      throw new Error(`unknown module ${String(a["module"])}`);
  }
}

/**
 * The layer's params tree, loaded from PyTorch's state_dict (every input but `input`, stored values)
 * written as safetensors and read back into the layer's own template, so the names must be PyTorch's.
 * Kept per case; the module op then fills the same tree from its (possibly traced) inputs by path.
 */
const LOADED = new WeakMap<Attrs, layers.ParamTree>();

function loadStateDict(c: VjpCase): void {
  const layer = layerOf(c.attrs);
  const { input: _, ...stateDict } = inputsOf(c);
  const template = layer.init(random.key(0), { dtype: "float64" });
  const decoded = io.safetensors.decodeTree(io.safetensors.encode(stateDict), template);
  if (E.isLeft(decoded))
    throw new Error(`state_dict does not load into ${layer.repr}: ${decoded.left.message}`);
  const paths = tree.flattenWithPath(decoded.right).map(([path]) => path);
  expect(paths.sort()).toEqual(Object.keys(stateDict).sort());
  LOADED.set(c.attrs, decoded.right);
}

function moduleCase(inputs: Arrays, a: Attrs): Arrays {
  const loaded = LOADED.get(a);
  if (loaded === undefined) throw new Error("the case's state_dict was not loaded");
  const params = tree.mapWithPath((path) => inputs[path]!, loaded);
  return out(layerOf(a).apply(params, inputs["input"]!));
}

function inputsOf(c: VjpCase, floatDtype: "float32" | "float64" = "float64"): Arrays {
  return Object.fromEntries(
    Object.entries(c.inputs).map(([k, g]) => [k, toArray(g, g.dtype === "int64" ? "int32" : floatDtype)]),
  );
}

/** float32: about 1e-4 relative, with an absolute floor scaled to the array's magnitude (as ops.test.ts). */
function float32Tolerance(ref: GoldenArray): Tolerance {
  const scale = ref.data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return { atol: 1e-5 * Math.max(scale, 1), rtol: 1e-4 };
}

function checkForward(c: VjpCase, outs: Arrays, floatDtype: "float32" | "float64" = "float64"): void {
  for (const [name, ref] of Object.entries({ ...c.outputs, ...(c.intermediates ?? {}) })) {
    const got = outs[name];
    expect(got, `output ${name}`).toBeDefined();
    expect(got!.dtype).toBe(floatDtype);
    const tolerance = floatDtype === "float64" ? FLOAT64_TOLERANCE : float32Tolerance(ref);
    expectClose(got!, ref, tolerance, `${c.name}: ${name}`);
  }
}

function checkGradients(c: VjpCase, impl: OpImpl): void {
  const inputs = inputsOf(c);
  const names = Object.keys(c.inputs).filter((k) => c.inputs[k]!.dtype === "float64");
  const f = (...xs: NdArray[]): Arrays => {
    const all = { ...inputs, ...Object.fromEntries(names.map((n, i) => [n, xs[i]!])) };
    const outs = impl(all, c.attrs);
    return Object.fromEntries(Object.keys(c.cotangent).map((k) => [k, outs[k]!]));
  };
  const [, vjpFn] = vjp(f, ...names.map((n) => inputs[n]!));
  const grads = vjpFn(Object.fromEntries(Object.entries(c.cotangent).map(([k, g]) => [k, toArray(g)])));
  const compared = names.filter((name, i) => {
    const ref = c.grads[name];
    if (ref === undefined) return false; // PyTorch differentiates it not (a mask, running statistics, class weights)
    expectClose(grads[i]!, ref, FLOAT64_TOLERANCE, `${c.name}: grad ${name}`);
    return true;
  });
  expect(compared.sort()).toEqual(Object.keys(c.grads).sort());
}

const CASES = loadVjpCases("seq_ops.json");

describe("golden seq_ops.json", () => {
  it("maps every op and covers the issue's functions and modules", () => {
    expect([...new Set(CASES.map((c) => c.op))].filter((op) => OPS[op] === undefined)).toEqual([]);
    const modules = new Set(CASES.filter((c) => c.op === "module").map((c) => c.attrs["module"]));
    expect([...modules].sort()).toEqual(["Embedding", "GroupNorm", "LayerNorm"]);
  });

  for (const c of CASES) {
    const impl = OPS[c.op]!;
    it(`${c.name} [${c.op}] forward, eager and jitted`, () => {
      if (c.op === "module") loadStateDict(c);
      const inputs = inputsOf(c);
      checkForward(c, impl(inputs, c.attrs));
      const names = Object.keys(inputs);
      const jitted = jit((...xs: NdArray[]) =>
        impl(Object.fromEntries(names.map((n, i) => [n, xs[i]!])), c.attrs),
      );
      checkForward(c, jitted(...names.map((n) => inputs[n]!)));
    });
    it(`${c.name} [${c.op}] vjp`, () => {
      if (c.op === "module") loadStateDict(c);
      checkGradients(c, impl);
    });
  }
});

describe("golden seq_ops.json (float32 forward)", () => {
  for (const c of CASES.filter((c) => c.op !== "module")) {
    it(`${c.name} [${c.op}]`, () => checkForward(c, OPS[c.op]!(inputsOf(c, "float32"), c.attrs), "float32"));
  }
});
