/**
 * The optimizers against PyTorch 1.13 (float64): the tutorial's LeNet trained for 5 steps (RAdam: 8) on
 * one batch with SGD (plain, momentum, nesterov, weight decay), Adam, AdamW, RMSprop, Adadelta, Adamax,
 * NAdam, RAdam, ASGD and Rprop. Checks the loss before every step, the final loss and every final
 * parameter (tolerance from the golden README), and for the later six the sum of every state tensor.
 */
import { describe, expect, it } from "vitest";
import { grad, jit, NdArray, nn, np, optim } from "../../src/index.js";
import type { GradientTransformation } from "../../src/optim/index.js";
import {
  expectClose,
  type GoldenArrays,
  loadGolden,
  type ModelCase,
  type OptimizerCase,
  type Tolerance,
  toArray,
} from "./golden.js";

// The issue asks 1e-9 relative after 5 steps (the golden README suggests a looser 1e-7; we meet 1e-9).
const OPTIMIZER_TOLERANCE: Tolerance = { atol: 1e-12, rtol: 1e-9 };
const LOSS_TOLERANCE: Tolerance = { atol: 1e-12, rtol: 1e-9 };

interface Linear {
  weight: NdArray;
  bias: NdArray;
}
interface LeNetParams {
  conv1: Linear;
  conv2: Linear;
  fc1: Linear;
  fc2: Linear;
  fc3: Linear;
}

const linear = (p: Linear, x: NdArray): NdArray => np.add(np.matmul(x, np.transpose(p.weight)), p.bias);

/** The tutorial's Net, as a pure function of its parameters. */
function lenet(p: LeNetParams, x: NdArray): NdArray {
  let h = nn.maxPool2d(nn.relu(nn.conv2d(x, p.conv1.weight, p.conv1.bias)), 2);
  h = nn.maxPool2d(nn.relu(nn.conv2d(h, p.conv2.weight, p.conv2.bias)), 2);
  h = np.flatten(h, 1);
  h = nn.relu(linear(p.fc1, h));
  h = nn.relu(linear(p.fc2, h));
  return linear(p.fc3, h);
}

function nest(arrays: GoldenArrays): LeNetParams {
  const at = (module: string): Linear => ({
    weight: toArray(arrays[`${module}.weight`]!),
    bias: toArray(arrays[`${module}.bias`]!),
  });
  return { conv1: at("conv1"), conv2: at("conv2"), fc1: at("fc1"), fc2: at("fc2"), fc3: at("fc3") };
}

/** Our optimizer for the case's PyTorch class and param group. */
function optimizerFor(c: OptimizerCase): GradientTransformation {
  // PyTorch's param groups always carry lr; the other keys depend on the optimizer.
  const h = c.hyperparameters as { lr: number } & Record<string, number & boolean & [number, number]>;
  switch (c.optimizer) {
    case "SGD":
      return optim.sgd({
        lr: h.lr,
        momentum: h.momentum,
        dampening: h.dampening,
        nesterov: h.nesterov,
        weightDecay: h.weight_decay,
      });
    case "Adam":
      return optim.adam({
        lr: h.lr,
        betas: h.betas,
        eps: h.eps,
        weightDecay: h.weight_decay,
        amsgrad: h.amsgrad,
      });
    case "AdamW":
      return optim.adamw({
        lr: h.lr,
        betas: h.betas,
        eps: h.eps,
        weightDecay: h.weight_decay,
        amsgrad: h.amsgrad,
      });
    case "RMSprop":
      return optim.rmsprop({
        lr: h.lr,
        alpha: h.alpha,
        eps: h.eps,
        weightDecay: h.weight_decay,
        momentum: h.momentum,
        centered: h.centered,
      });
    case "Adadelta":
      return optim.adadelta({ lr: h.lr, rho: h.rho, eps: h.eps, weightDecay: h.weight_decay });
    case "Adamax":
      return optim.adamax({ lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weight_decay });
    case "NAdam":
      return optim.nadam({
        lr: h.lr,
        betas: h.betas,
        eps: h.eps,
        weightDecay: h.weight_decay,
        momentumDecay: h.momentum_decay,
      });
    case "RAdam":
      return optim.radam({ lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weight_decay });
    case "ASGD":
      return optim.asgd({ lr: h.lr, lambd: h.lambd, alpha: h.alpha, t0: h.t0, weightDecay: h.weight_decay });
    case "Rprop":
      return optim.rprop({ lr: h.lr, etas: h.etas, stepSizes: h.step_sizes });
    default:
      throw new Error(`no optimizer for ${c.optimizer}`);
  }
}

const FILES = [
  "optim_sgd.json",
  "optim_sgd_momentum.json",
  "optim_sgd_nesterov.json",
  "optim_sgd_weight_decay.json",
  "optim_adam.json",
  "optim_adamw.json",
  "optim_rmsprop.json",
  "optim_adadelta.json",
  "optim_adamax.json",
  "optim_nadam.json",
  "optim_radam.json",
  "optim_asgd.json",
  "optim_rprop.json",
];

/** torch's state name (`exp_avg_sq`) as ours (`expAvgSq`). */
const camel = (name: string): string => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** The sum of our state field `field` for the parameter at `path` (a scalar field is shared by all). */
function stateSum(state: Record<string, unknown>, field: string, path: string): number {
  const value = state[field];
  if (value instanceof NdArray) return value.item();
  const [module, leaf] = path.split(".") as [keyof LeNetParams, keyof Linear];
  return np.sum((value as LeNetParams)[module][leaf]).item();
}

/** Trains 5 steps from lenet.json's params and checks losses and final params against the case. */
function checkTrajectory(model: ModelCase, file: string, useJit: boolean): void {
  const c = loadGolden<OptimizerCase>(file).cases[0]!;
  expect(c.kind).toBe("optimizer");
  const input = toArray(model.inputs.input);
  const target = toArray(model.inputs.target);
  const loss = (p: LeNetParams): NdArray => nn.mseLoss(lenet(p, input), target);
  const opt = optimizerFor(c);
  const trainStep = (p: LeNetParams, s: unknown): [LeNetParams, unknown, NdArray] => {
    const l = loss(p);
    const [updates, next] = opt.update(grad(loss)(p), s, p);
    return [optim.applyUpdates(p, updates), next, l];
  };
  const step = useJit ? jit(trainStep) : trainStep;
  let params = nest(model.params);
  let state = opt.init(params);
  const losses: number[] = [];
  for (let t = 0; t < c.steps; t++) {
    const [p, s, l] = step(params, state);
    losses.push(l.item());
    params = p;
    state = s;
  }
  expectClose(np.array(losses, { dtype: "float64" }), c.losses, LOSS_TOLERANCE, `${file} losses`);
  expectClose(loss(params), c.final_loss, LOSS_TOLERANCE, `${file} final loss`);
  for (const module of ["conv1", "conv2", "fc1", "fc2", "fc3"] as const) {
    for (const leaf of ["weight", "bias"] as const) {
      const path = `${module}.${leaf}`;
      expectClose(params[module][leaf], c.final_params[path]!, OPTIMIZER_TOLERANCE, `${file} ${path}`);
    }
  }
  for (const [path, sums] of Object.entries(c.final_state_sums ?? {})) {
    for (const [name, want] of Object.entries(sums)) {
      const got = stateSum(state as Record<string, unknown>, camel(name), path);
      expect(Math.abs(got - want), `${file} state ${name} of ${path}: ${got} vs ${want}`).toBeLessThanOrEqual(
        1e-12 + 1e-9 * Math.abs(want),
      );
    }
  }
}

describe("golden optimizers: LeNet, 5 steps (float64, PyTorch 1.13)", () => {
  // Every optimizer case starts from the params and batch of lenet.json's "lenet_tutorial".
  const model = loadGolden<ModelCase>("lenet.json").cases.find((m) => m.name === "lenet_tutorial")!;

  it.each(FILES)("%s", (file) => checkTrajectory(model, file, false));

  // The same through one jitted training step, the way the library is meant to be used.
  it.each(FILES)("%s under jit", (file) => checkTrajectory(model, file, true));
});
