/**
 * Optimizers as pure gradient transformations (optax's design, torch.optim's names and update rules):
 * `const [updates, state2] = opt.update(grads, state, params); params = optim.applyUpdates(params, updates)`.
 * @module
 */
export type { GradientTransformation } from "./common.js";
export {
  type AdagradHyperparams,
  type AdagradOptions,
  type AdagradState,
  type AdamHyperparams,
  type AdamOptions,
  type AdamState,
  adagrad,
  adam,
  adamw,
  type RmspropHyperparams,
  type RmspropOptions,
  type RmspropState,
  rmsprop,
  type SgdHyperparams,
  type SgdOptions,
  type SgdState,
  sgd,
} from "./optimizers.js";
export type { LearningRate, Schedule } from "./schedules.js";
export * as schedules from "./schedules.js";
export {
  addWeightDecay,
  applyUpdates,
  type CountState,
  chain,
  clip,
  clipByGlobalNorm,
  identity,
  scale,
  scaleByLearningRate,
} from "./transforms.js";
