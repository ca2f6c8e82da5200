/**
 * seq_optim.json against PyTorch 1.13 and transformers' logits warpers (float64): 5 steps of
 * torch.optim.AdamW with parameter groups (weight decay on the matrices only) on a small
 * embedding-layernorm-MLP language model, as `adamw({ mask: decayMask })` and as `multiTransform` of two
 * adamw's (also with a different lr and betas per group), eagerly and jitted; and the keep masks of
 * `random.topKFilter` / `random.topPFilter` against TopKLogitsWarper / TopPLogitsWarper.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, type NdArray, nn, np, optim, random, tree } from "../../src/index.js";
import type { GradientTransformation, LabelTree } from "../../src/optim/index.js";
import {
  expectClose,
  type GoldenArray,
  type GoldenArrays,
  loadGolden,
  type Tolerance,
  toArray,
} from "./golden.js";

const TOLERANCE: Tolerance = { atol: 1e-12, rtol: 1e-9 };

interface GroupsCase {
  name: string;
  kind: "optimizer_groups";
  param_order: string[];
  params: GoldenArrays;
  inputs: { tokens: GoldenArray; targets: GoldenArray };
  param_groups: { names: string[]; hyperparameters: Record<string, unknown> }[];
  steps: number;
  losses: GoldenArray;
  final_loss: GoldenArray;
  final_params: GoldenArrays;
  final_state_sums: Record<string, Record<string, number>>;
}

interface FilterCase {
  name: string;
  kind: "logits_filter";
  filter: "top_k" | "top_p";
  argument: number;
  inputs: { logits: GoldenArray };
  outputs: { keep: GoldenArray };
}

const cases = loadGolden("seq_optim.json").cases as unknown as (GroupsCase | FilterCase)[];
const groupCases = cases.filter((c): c is GroupsCase => c.kind === "optimizer_groups");
const filterCases = cases.filter((c): c is FilterCase => c.kind === "logits_filter");

interface Linear {
  weight: NdArray;
  bias: NdArray;
}
interface SmallLm {
  emb: { weight: NdArray };
  ln: Linear;
  fc1: Linear;
  fc2: Linear;
}

/** The torch names (`fc1.weight`) as a nested tree. */
function nest(arrays: GoldenArrays): SmallLm {
  const at = (name: string) => toArray(arrays[name]!);
  const linear = (m: string): Linear => ({ weight: at(`${m}.weight`), bias: at(`${m}.bias`) });
  return { emb: { weight: at("emb.weight") }, ln: linear("ln"), fc1: linear("fc1"), fc2: linear("fc2") };
}

const linear = (p: Linear, x: NdArray): NdArray => np.add(np.matmul(x, np.transpose(p.weight)), p.bias);

/** torch.nn.LayerNorm over the last axis, written out (eps 1e-5, biased variance). */
function layerNorm(p: Linear, x: NdArray): NdArray {
  const mean = np.mean(x, { axis: -1, keepdims: true });
  const centered = np.subtract(x, mean);
  const variance = np.mean(np.multiply(centered, centered), { axis: -1, keepdims: true });
  return np.add(np.multiply(np.divide(centered, np.sqrt(np.add(variance, 1e-5))), p.weight), p.bias);
}

/** The case's model and cross-entropy loss, as a pure function of the params. */
function lossFn(c: GroupsCase): (p: SmallLm) => NdArray {
  const tokens = toArray(c.inputs.tokens);
  const targets = np.reshape(toArray(c.inputs.targets), [-1, 1]);
  return (p) => {
    const h = layerNorm(p.ln, np.take(p.emb.weight, tokens, { axis: 0 }));
    const logits = linear(p.fc2, np.tanh(linear(p.fc1, h)));
    const vocab = logits.shape[logits.ndim - 1]!;
    const logProbs = nn.logSoftmax(np.reshape(logits, [-1, vocab]), { axis: -1 });
    return np.negative(np.mean(np.takeAlongAxis(logProbs, targets, { axis: -1 })));
  };
}

/** torch's AdamW param group as our adamw options (weight decay of the group; no mask). */
function adamwOf(h: Record<string, unknown>): GradientTransformation {
  return optim.adamw({
    lr: h["lr"] as number,
    betas: h["betas"] as [number, number],
    eps: h["eps"] as number,
    weightDecay: h["weight_decay"] as number,
    amsgrad: h["amsgrad"] as boolean,
  });
}

/** The groups as labels: the torch group's index of each param. */
const labelsOf =
  (c: GroupsCase) =>
  (p: SmallLm): LabelTree =>
    tree.mapWithPath(
      (path: string) => `group${c.param_groups.findIndex((g) => g.names.includes(path))}`,
      p,
    ) as unknown as LabelTree;

/** Our optimizers for a case: every one must follow torch's trajectory. */
function optimizersFor(c: GroupsCase): Record<string, GradientTransformation> {
  const [decay, noDecay] = c.param_groups.map((g) => g.hyperparameters) as [
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  const out: Record<string, GradientTransformation> = {
    multiTransform: optim.multiTransform({ group0: adamwOf(decay), group1: adamwOf(noDecay) }, labelsOf(c)),
  };
  // With one lr and betas for both groups, torch's groups are adamw with a decay mask.
  const same = ["lr", "betas", "eps", "amsgrad"].every(
    (k) => JSON.stringify(decay[k]) === JSON.stringify(noDecay[k]),
  );
  if (same) {
    out["adamw mask decayMask"] = optim.adamw({
      lr: decay["lr"] as number,
      weightDecay: decay["weight_decay"] as number,
      mask: optim.decayMask,
    });
  }
  return out;
}

/** Our state's torch-named buffer (`exp_avg`) of the param at `path`, summed. */
function stateSum(state: unknown, field: string, path: string, label: string): number {
  const flat = (state as { innerStates?: Record<string, unknown> }).innerStates?.[label] ?? state;
  const camel = field.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase());
  const buffers = (flat as Record<string, unknown>)[camel];
  const leaf = tree.flattenWithPath(buffers).find(([p]) => p === path);
  if (leaf === undefined) throw new Error(`no ${camel} for ${path}`);
  return np.sum(leaf[1]).item();
}

function checkTrajectory(c: GroupsCase, opt: GradientTransformation, useJit: boolean): void {
  const loss = lossFn(c);
  const trainStep = (p: SmallLm, s: unknown): [SmallLm, unknown, NdArray] => {
    const [updates, next] = opt.update(grad(loss)(p), s, p);
    return [optim.applyUpdates(p, updates), next, loss(p)];
  };
  const step = useJit ? jit(trainStep) : trainStep;
  let params = nest(c.params);
  let state = opt.init(params);
  const losses: number[] = [];
  for (let t = 0; t < c.steps; t++) {
    const [p, s, l] = step(params, state);
    losses.push(l.item());
    params = p;
    state = s;
  }
  expectClose(np.array(losses, { dtype: "float64" }), c.losses, TOLERANCE, `${c.name} losses`);
  expectClose(loss(params), c.final_loss, TOLERANCE, `${c.name} final loss`);
  const finals = Object.fromEntries(tree.flattenWithPath(params));
  for (const name of c.param_order)
    expectClose(finals[name]!, c.final_params[name]!, TOLERANCE, `${c.name} ${name}`);
  for (const [path, sums] of Object.entries(c.final_state_sums)) {
    const label = `group${c.param_groups.findIndex((g) => g.names.includes(path))}`;
    for (const [field, want] of Object.entries(sums)) {
      const got = stateSum(state, field, path, label);
      expect(Math.abs(got - want), `${c.name} ${field} of ${path}: ${got} vs ${want}`).toBeLessThanOrEqual(
        1e-12 + 1e-9 * Math.abs(want),
      );
    }
  }
}

describe("golden: AdamW with torch parameter groups, small LM, 5 steps (float64, PyTorch 1.13)", () => {
  it("decayMask selects exactly torch's decay group (dim >= 2)", () => {
    for (const c of groupCases) {
      const mask = tree.flattenWithPath<boolean>(optim.decayMask(nest(c.params)));
      expect(mask.filter(([, m]) => m).map(([p]) => p)).toEqual(c.param_groups[0]!.names);
      expect(mask.filter(([, m]) => !m).map(([p]) => p)).toEqual(c.param_groups[1]!.names);
    }
  });

  for (const c of groupCases) {
    for (const [name, opt] of Object.entries(optimizersFor(c))) {
      it(`${c.name}: ${name}`, () => checkTrajectory(c, opt, false));
      it(`${c.name}: ${name}, jitted step`, () => checkTrajectory(c, opt, true));
    }
  }

  it("without the mask (decay on every param) the trajectory differs from torch's groups", () => {
    const c = groupCases[0]!;
    const unmasked = optim.adamw({ lr: 0.01, weightDecay: 0.1 });
    expect(() => checkTrajectory(c, unmasked, false)).toThrow(/adamw_groups .* reference/);
  });
});

describe("golden: top-k / top-p filters against transformers' warpers", () => {
  it.each(filterCases.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const logits = toArray(c.inputs.logits);
    const filter = (x: NdArray) =>
      c.filter === "top_k" ? random.topKFilter(x, c.argument) : random.topPFilter(x, c.argument);
    for (const f of [filter, jit(filter)]) {
      const out = f(logits);
      const keep = np.astype(np.isfinite(out), "int32");
      expect(Array.from(keep.toTypedArray()), c.name).toEqual(c.outputs.keep.data);
      // The kept logits are unchanged.
      expectClose(np.where(np.isfinite(out), out, 0), np.where(np.isfinite(out), logits, 0), {
        atol: 0,
        rtol: 0,
      });
    }
  });
});
